"""Figures: valid plotly specs that show what the backend computed."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from services.display import HIST_BINS
from ui import figures


def test_slider_path_figures_are_valid_plotly_specs():
    rng = np.random.default_rng(0)
    values = rng.normal(0.3, 0.5, 784)
    data = np.full(HIST_BINS, 1 / HIST_BINS)
    for fig in (figures.pixel_histogram(values, data, "t"), figures.logit_histogram(rng.normal(-3, 4, 784))):
        go.Figure(fig)  # raises on any invalid property


def test_side_by_side_keeps_each_panel_on_its_own_axes():
    rng = np.random.default_rng(0)
    data = np.full(HIST_BINS, 1 / HIST_BINS)
    panels = [figures.pixel_histogram(rng.normal(0.3, 0.5, 784), data, "left"),
              figures.logit_histogram(rng.normal(-3, 4, 784))]
    spec = figures.side_by_side(panels)
    fig = go.Figure(spec)  # raises on any invalid property
    layout = spec["layout"]
    assert [(t["xaxis"], t["yaxis"]) for t in spec["data"]] == [("x", "y"), ("x", "y"), ("x2", "y2"), ("x2", "y3")]
    (a0, a1), (b0, b1) = layout["xaxis"]["domain"], layout["xaxis2"]["domain"]
    assert 0 == a0 < a1 < b0 < b1 == 1, "panels left to right, not overlapping"
    assert layout["yaxis"]["type"] == "log" and layout["yaxis3"]["overlaying"] == "y2", "axis settings move along"
    assert {(s["xref"], s["yref"]) for s in layout["shapes"]} == {("x", "y domain")}, "the [0, 1] band stays on its panel"
    assert [a["text"].split("<br>")[0] for a in layout["annotations"]] == ["left", panels[1]["layout"]["title"]["text"]]
    assert fig.data[0].y == tuple(panels[0]["data"][0]["y"]), "bar heights unchanged"


def test_pixel_histogram_bars_are_percent_of_pixels_and_nothing_else_depends_on_the_values():
    values = np.concatenate([np.full(700, 0.5), np.full(80, -0.2), np.full(4, 1.3)])
    spec = figures.pixel_histogram(values, np.zeros(HIST_BINS), "t")
    bars = spec["data"][0]["y"]
    assert abs(sum(v for v in bars if v) - 100) < 0.01
    below = sum(v for x, v in zip(spec["data"][0]["x"], bars) if v and x < 0)
    assert abs(below - 100 * 80 / 784) < 0.01
    # The explorer's panel redraws only the bars when nothing else changed (ui/latent_panel.js).
    other = figures.pixel_histogram(np.linspace(-1, 2, 784), np.zeros(HIST_BINS), "t")
    assert other["layout"] == spec["layout"]
    assert [{k: v for k, v in t.items() if k != "y"} for t in other["data"]] == \
        [{k: v for k, v in t.items() if k != "y"} for t in spec["data"]]
    logits = [figures.logit_histogram(v) for v in (np.full(784, -5.0), np.linspace(-20, 10, 784))]
    assert logits[0]["layout"] == logits[1]["layout"], "fixed axes for the logits too"
    band = spec["layout"]["shapes"][0]
    assert (band["x0"], band["x1"]) == (0, 1)
