"""Charts that tell the truth at a glance: one trace per checkpoint, the [0, 1] band on the pixel
axis, the sigmoid never hidden, legends that name what is drawn, readable log ticks, and a
colour-blind-safe palette with one meaning per colour."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from services.display import HIST_BINS, out_of_range_overlay
from ui import figures
from vae.heads import HEADS

RNG = np.random.default_rng(0)
DATA = np.full(HIST_BINS, 1 / HIST_BINS)


def test_several_models_of_the_same_head_each_get_their_own_trace_named_by_checkpoint():
    values = {"mnist-sigmoid-z20": RNG.uniform(0, 1, 784), "mnist-raw-z20": RNG.normal(0.2, 0.4, 784),
              "user/mine": RNG.normal(0.3, 0.5, 784), "mnist-raw-z20-on-sigmoid-encoder": RNG.normal(0, 1, 784)}
    heads = {"mnist-sigmoid-z20": "sigmoid", "mnist-raw-z20": "raw", "user/mine": "raw",
             "mnist-raw-z20-on-sigmoid-encoder": "raw"}
    fig = figures.overlaid_histograms(values, heads, DATA, "t")
    names = [t.name for t in fig.data]
    assert names[:-1] == ["mnist-sigmoid-z20", "mnist-raw-z20", "user/mine (raw)", "mnist-raw-z20-on-sigmoid-encoder"]
    assert names[-1] == "pixels of the data", "the grey data line is in the legend"
    raws = [t for t in fig.data if t.name != "pixels of the data" and "sigmoid-z20" not in t.name]
    assert len({(t.line.color, t.line.dash) for t in raws}) == 3, "same head, same colour, told apart by dash"
    assert {t.line.color for t in raws} == {figures.COLORS["raw"]}


def test_the_sigmoid_is_drawn_widest_and_first_so_an_identical_curve_runs_visibly_on_top():
    x = RNG.uniform(0, 1, 784)
    fig = figures.overlaid_histograms({"m-logits": x, "m-sigmoid": x}, {"m-logits": "logits", "m-sigmoid": "sigmoid"},
                                      None, "t")
    assert [t.name for t in fig.data] == ["m-sigmoid", "m-logits"], "sigmoid underneath, logits on top"
    assert fig.data[0].line.width > fig.data[1].line.width and fig.data[1].line.dash != "solid"


def test_activation_chart_shades_the_unit_band_on_the_pixel_axis_and_names_each_head_by_its_curve():
    fig = figures.activation_curves()
    band = [s for s in fig.layout.shapes if s.type == "rect"]
    assert len(band) == 1 and (band[0].yref, band[0].y0, band[0].y1) == ("y", 0, 1) and band[0].xref == "paper"
    by_head = {t.name.split(":")[0].split(" head")[0]: t for t in fig.data}
    assert fig.data[0].name.startswith("sigmoid"), "the sigmoid is drawn first, widest"
    assert max(t.line.width for t in fig.data) == fig.data[0].line.width > max(t.line.width for t in fig.data[1:])
    logits = by_head["logits"]
    assert "sigmoid" in logits.name and "identity" not in logits.name, "its line is a sigmoid; so is its label"
    np.testing.assert_allclose(logits.y, fig.data[0].y), "identical curves: the dashed one must stay visible"
    assert logits.line.dash != "solid"
    assert "identity" in by_head["raw"].name


@pytest.mark.parametrize("fig", [
    figures.pixel_histogram(RNG.normal(0.3, 0.5, 784), DATA, "t"),
    figures.logit_histogram(RNG.normal(-3, 4, 784)),
    figures.overlaid_histograms({"a": RNG.uniform(0, 1, 10_000)}, {"a": "sigmoid"}, DATA, "t").to_dict(),
], ids=["pixels", "logits", "overlaid"])
def test_log_axes_label_powers_of_ten_as_percentages(fig):
    go.Figure(fig)  # a valid spec
    axis = fig["layout"]["yaxis"]
    assert axis["type"] == "log"
    assert all(np.log10(v) == round(np.log10(v)) for v in axis["tickvals"]), "no minor ticks (5, 2, ...)"
    assert all(t.endswith("%") and "µ" not in t for t in axis["ticktext"])


def test_slider_histograms_have_a_legend_for_the_bars_and_the_data_line():
    spec = figures.side_by_side([figures.pixel_histogram(RNG.normal(0.3, 0.5, 784), DATA, "t")])
    assert spec["layout"]["showlegend"] is True
    assert [t["name"] for t in spec["data"]] == ["this image", "pixels of the data"]


def test_legends_sit_below_the_axis_title_not_on_it():
    fig = figures.overlaid_histograms({"a": RNG.uniform(0, 1, 784)}, {"a": "sigmoid"}, DATA, "t")
    legend = fig.layout.legend
    assert legend.yref == "container" and legend.y == 0 and legend.yanchor == "bottom"
    assert fig.layout.margin.b >= 55 + 22, "room for the tick labels, the axis title and a legend row"


def test_no_chart_shows_a_mode_bar():
    assert figures.CHART_CONFIG["displayModeBar"] is False


def _overlay_colour(value: float) -> np.ndarray:
    return out_of_range_overlay(np.full(784, value, dtype=np.float32), scale=1)[0, 0].astype(float)


def _hue(colour) -> np.ndarray:
    if isinstance(colour, str):
        colour = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    c = np.asarray(colour, dtype=float)
    return c / max(np.linalg.norm(c), 1e-9)


def test_one_meaning_per_colour_no_head_looks_like_below_0_or_above_1():
    below, above = _hue(_overlay_colour(-1.0)), _hue(_overlay_colour(2.0))
    for head in HEADS:
        colour = _hue(figures.COLORS[head])
        assert colour @ below < 0.95 and colour @ above < 0.95, f"{head} drawn in the overlays' blue or red"
    assert len({figures.COLORS[h] for h in HEADS}) == len(HEADS), "one colour per head"


def test_latent_scatter_tells_ten_classes_apart_by_colour_and_marker_shape():
    mu = RNG.normal(size=(200, 2))
    labels = np.arange(200) % 10
    fig = figures.latent_scatter(mu, labels, tuple(str(k) for k in range(10)))
    markers = [(t.marker.color, t.marker.symbol) for t in fig.data]
    assert len(set(markers)) == 10 and len({s for _, s in markers}) == 10, "each class its own shape"
    assert {c for c, _ in markers} <= set(figures.OKABE_ITO)
    assert "click" not in (fig.layout.title.text or "").lower(), "the instruction lives outside the chart"


def _tour_figures():
    from services import evidence
    from ui import evidence_figures

    table = evidence.by_head_and_lr(evidence.final_table(evidence.load_results(evidence.SHIPPED["whole"])))
    return table, [evidence_figures.metric_vs_lr(table, "bce").to_dict(), evidence_figures.grad_norm_vs_lr(table).to_dict()]


def test_the_tours_log_axes_tick_the_learning_rates_run_and_powers_of_ten_only():
    table, figs = _tour_figures()
    for fig in figs:
        x, y = fig["layout"]["xaxis"], fig["layout"]["yaxis"]
        assert x["type"] == y["type"] == "log"
        assert sorted(x["tickvals"]) == sorted(set(table["lr"])), "a tick at each learning rate run, none between"
        assert x["ticktext"] == [f"{v:g}" for v in sorted(set(table["lr"]))], "written as numbers, no SI prefixes"
        assert all(np.log10(v) == round(np.log10(v)) for v in y["tickvals"]), "no minor ticks (5, 2, ...)"
        assert not any("µ" in t or t in ("2", "5") for t in y["ticktext"])
