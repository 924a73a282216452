"""Plotly figures. Kept small on purpose: pre-binned bars, fixed axes, no mode bar,
so a slider move sends a few kilobytes and the browser redraws quickly.

The figures on the slider path are plain JSON spec dicts: building a ``go.Figure`` validates
every property, which was most of a slider move (bench/RESULTS.md, slider latency). The tests
validate each spec once with ``go.Figure(spec)`` instead."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from services.display import HIST_BINS, HIST_RANGE, histogram
from vae.heads import HEADS

HIST_LO, HIST_HI = HIST_RANGE

STATIC = {"displayModeBar": False, "staticPlot": True}
# For st.plotly_chart: no mode bar (on a phone it covers the chart's title), no logo, no network.
CHART_CONFIG = {"displayModeBar": False, "displaylogo": False}

# Okabe & Ito's colour-blind-safe palette (https://jfly.uni-koeln.de/color/). One meaning per colour
# across the app: blue and red mean "< 0" and "> 1" in the out-of-range overlays
# (services.display.out_of_range_overlay), so no head is drawn in either.
OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000")
COLORS = {"sigmoid": "#009E73", "raw": "#CC79A7", "logits": "#56B4E9",
          "continuous-bernoulli": "#E69F00", "clamp": "#8C7A00", "data": "#7f7f7f"}
# Line styles keep heads apart where colours alone would not (print, colour vision).
DASHES = {"sigmoid": "solid", "raw": "solid", "logits": "dash", "continuous-bernoulli": "dashdot", "clamp": "dot"}
BAND_FILL, BAND_LINE = "rgba(127,127,127,0.13)", "rgba(127,127,127,0.9)"
_MARGIN = dict(l=10, r=10, t=36, b=10)


def _centres() -> list[float]:
    edges = np.linspace(HIST_LO, HIST_HI, HIST_BINS + 1)
    return ((edges[:-1] + edges[1:]) / 2).round(4).tolist()


def _nonzero(values: np.ndarray) -> list[float | None]:
    """Plain floats, zeros as gaps (log axes). Lists, not arrays: plotly validates a short list
    several times faster than it converts a numpy array."""
    return [round(float(v), 4) if v > 0 else None for v in values]


def _unit_band(axis: str = "x") -> list[dict]:
    """Layout shapes: the [0, 1] band shaded, dotted lines at 0 and 1, on the pixel-value axis
    (``"x"`` for histograms of pixel values, ``"y"`` where pixel values run up the chart)."""
    line = dict(width=1, dash="dot", color=BAND_LINE)
    other = "y" if axis == "x" else "x"
    band = {f"{axis}ref": axis, f"{other}ref": "paper", f"{axis}0": 0, f"{axis}1": 1, f"{other}0": 0, f"{other}1": 1}
    return [dict(type="rect", layer="below", fillcolor=BAND_FILL, line=dict(width=0), **band)] + [
        dict(type="line", line=line, **dict(band, **{f"{axis}0": v, f"{axis}1": v})) for v in (0, 1)]


def decade_ticks(lo_exp: int, hi_exp: int, suffix: str = "") -> dict:
    """Log-axis ticks at the powers of ten only, written out ("0.1", "1", "1000"; "1e8" far out):
    Plotly's own log ticks label the minor steps ("5", "2") and use SI prefixes ("100µ")."""
    exps = range(lo_exp, hi_exp + 1)
    text = [(np.format_float_positional(10.0 ** e, trim="-") if -4 <= e <= 5 else f"1e{e}") + suffix for e in exps]
    return dict(tickvals=[10.0 ** e for e in exps], ticktext=text)


def decade_ticks_for(values: np.ndarray) -> dict:
    """:func:`decade_ticks` spanning the positive finite ``values`` (plotted on a log axis)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    if not len(v):
        return {}
    return decade_ticks(int(np.floor(np.log10(v.min()))), int(np.ceil(np.log10(v.max()))))


def _percent_ticks(lo_exp: int, hi_exp: int) -> dict:
    return decade_ticks(lo_exp, hi_exp, "%")


def _percent_axis() -> dict:
    """Percent of an image's 784 pixels on a log axis with a fixed range: one pixel (0.13%) to all."""
    return dict(type="log", range=[-1.3, 2.05], title=dict(text="% of pixels"), fixedrange=True,
                **_percent_ticks(-1, 2))


# Room at the bottom of a slider-path histogram for its tick labels and a one-line legend.
_LEGEND_BELOW = dict(orientation="h", x=0, xanchor="left", y=-0.16, yanchor="top", font=dict(size=11))


def pixel_histogram(values: np.ndarray, data_fraction: np.ndarray, title: str,
                    color: str = COLORS["sigmoid"], height: int = 250) -> dict:
    """Histogram of one image's output values (percent of pixels, log scale) over the
    fixed range [-1, 2], the [0, 1] band shaded, the data's pixel histogram overlaid.

    Only the bar heights depend on ``values``: title, axes and shapes stay the same from one
    latent point to the next, which lets the explorer's panel redraw just the bars (the counts
    outside [0, 1] are printed beside the images)."""
    counts, _ = histogram(values, HIST_LO, HIST_HI, HIST_BINS)
    x = _centres()
    return dict(
        data=[dict(type="bar", x=x, y=_nonzero(100 * counts / np.asarray(values).size), marker=dict(color=color),
                   name="this image", width=(HIST_HI - HIST_LO) / HIST_BINS),
              dict(type="scatter", x=x, y=_nonzero(100 * data_fraction), mode="lines",
                   line=dict(color=COLORS["data"], width=1.5, shape="hvh"), name="pixels of the data")],
        layout=dict(
            title=dict(text=title, font=dict(size=13)),
            height=height, margin=dict(_MARGIN, l=55, b=50), bargap=0, showlegend=True, legend=_LEGEND_BELOW,
            shapes=_unit_band(), xaxis=dict(range=[HIST_LO, HIST_HI], fixedrange=True), yaxis=_percent_axis()))


def logit_histogram(pre: np.ndarray, height: int = 250) -> dict:
    """Pre-activation logits of a sigmoid decoder (percent of pixels, log scale, fixed axes like
    :func:`pixel_histogram`) with the sigmoid curve that maps them into (0, 1)."""
    lo, hi, bins = -20.0, 10.0, 60
    counts, edges = histogram(pre, lo, hi, bins)
    return dict(
        data=[dict(type="bar", x=((edges[:-1] + edges[1:]) / 2).tolist(), y=_nonzero(100 * counts / np.asarray(pre).size),
                   marker=dict(color="rgba(0,158,115,0.35)"), name="logits", width=(hi - lo) / bins),
              dict(type="scatter", x=_SIGMOID_T, y=_SIGMOID_Y, yaxis="y2", mode="lines",
                   line=dict(color=COLORS["sigmoid"], width=2.5), name="sigmoid(t)")],
        layout=dict(
            title=dict(text="Pre-activation logits and the sigmoid that maps them into (0, 1)", font=dict(size=13)),
            height=height, margin=dict(_MARGIN, l=55, b=50), bargap=0, showlegend=True, legend=_LEGEND_BELOW,
            xaxis=dict(range=[lo, hi], fixedrange=True), yaxis=_percent_axis(),
            yaxis2=dict(overlaying="y", side="right", range=[-0.05, 1.05], title=dict(text="sigmoid"),
                        fixedrange=True, tickvals=[0, 0.5, 1])))


def _axis_ref(letter: str, i: int) -> str:
    return letter if i == 1 else f"{letter}{i}"


def _axis_key(ref: str) -> str:
    return f"{ref[0]}axis{ref[1:]}"


def side_by_side(specs: list[dict], gap: float = 0.1) -> dict:
    """Single-panel specs (as built above) as one figure, panels left to right, each with its own
    axes, shapes and title. One figure is one Plotly redraw per slider move instead of one per
    chart (bench/RESULTS.md, browser latency)."""
    width = (1 - gap * (len(specs) - 1)) / len(specs)
    data, annotations, shapes = [], [], []
    first = specs[0]["layout"]
    layout: dict = dict(bargap=0, showlegend=first.get("showlegend", False), legend=first.get("legend", {}),
                        height=max(s["layout"]["height"] for s in specs),
                        # room right for a last panel's second y axis
                        margin=dict(first["margin"], r=max(10, 45 * ("yaxis2" in specs[-1]["layout"]))))
    next_x, next_y = 1, 1
    for k, spec in enumerate(specs):
        src = spec["layout"]
        x0 = k * (width + gap)
        xref = _axis_ref("x", next_x)
        # this panel's y axes in order ("y", then "y2" if overlaid) -> fresh names
        ymap = {}
        for old in sorted((key for key in src if key.startswith("yaxis")), key=lambda key: int(key[5:] or 1)):
            ymap[_axis_ref("y", int(old[5:] or 1))] = _axis_ref("y", next_y)
            next_y += 1
        ymain = ymap["y"]
        layout[_axis_key(xref)] = dict(src.get("xaxis", {}), domain=[x0, x0 + width], anchor=ymain)
        for old, ref in ymap.items():
            axis = dict(src[_axis_key(old)], anchor=xref)
            if "overlaying" in axis:
                axis["overlaying"] = ymap[axis["overlaying"]]
            layout[_axis_key(ref)] = axis
        next_x += 1
        for trace in spec["data"]:
            data.append(dict(trace, xaxis=xref, yaxis=ymap[trace.get("yaxis", "y")]))
        for shape in src.get("shapes", []):
            shapes.append(dict(shape, xref={"x": xref}.get(shape["xref"], shape["xref"]),
                               yref={"paper": f"{ymain} domain", **ymap}.get(shape["yref"], shape["yref"])))
        if "title" in src:
            annotations.append(dict(text=src["title"]["text"], font=src["title"].get("font", {}), showarrow=False,
                                    xref="paper", yref="paper", x=x0 + width / 2, y=1, xanchor="center",
                                    yanchor="bottom"))
    layout.update(shapes=shapes, annotations=annotations)
    return dict(data=data, layout=layout)


_SIGMOID_T = np.linspace(-20.0, 10.0, 121).round(3).tolist()
_SIGMOID_Y = np.round(HEADS["sigmoid"].pixels_np(np.array(_SIGMOID_T)), 4).tolist()


def _legend_at_the_bottom(entries: int, per_row: int = 3) -> tuple[dict, int]:
    """A horizontal legend pinned to the figure's bottom edge, below the x axis title (never over
    it), and the bottom margin that makes room for both: ``per_row`` entries a row, as on a phone."""
    rows = -(-entries // per_row)
    legend = dict(orientation="h", yref="container", y=0, yanchor="bottom", x=0, xanchor="left",
                  font=dict(size=11))
    return legend, 55 + 22 * rows


def trace_label(name: str, head: str) -> str:
    """A checkpoint's name as a chart labels it, with its head when the name does not say it."""
    return name if head in name else f"{name} ({head})"


def model_styles(heads: dict[str, str]) -> dict[str, dict]:
    """Line style of each checkpoint (``name -> head name``): the head's colour and dash; a second
    model of the same head keeps the colour with another dash. The sigmoid is drawn widest, so a
    head whose curve coincides with it (logits) runs visibly on top of it instead of hiding it."""
    spare = ["longdash", "dashdot", "dot", "longdashdot", "solid"]
    seen: dict[str, int] = {}
    styles = {}
    for name, head in heads.items():
        k = seen[head] = seen.get(head, -1) + 1
        dash = DASHES.get(head, "solid") if k == 0 else spare[(k - 1) % len(spare)]
        styles[name] = dict(color=COLORS.get(head, OKABE_ITO[-1]), dash=dash, width=4.5 if head == "sigmoid" else 2)
    return styles


def overlaid_histograms(values: dict[str, np.ndarray], heads: dict[str, str], data_fraction: np.ndarray | None,
                        title: str, height: int = 340) -> go.Figure:
    """Output-value histograms of several checkpoints (keyed by checkpoint name; ``heads`` gives
    each one's head) as step lines on one log-scaled axis: one trace per checkpoint, so models of
    the same head never replace each other."""
    fig = go.Figure()
    styles = model_styles(heads)
    order = sorted(values, key=lambda n: heads[n] != "sigmoid")  # widest first, thinner lines on top
    for name in order:
        counts, _ = histogram(values[name], HIST_LO, HIST_HI, HIST_BINS)
        frac = counts / max(np.asarray(values[name]).size, 1)
        fig.add_scatter(x=_centres(), y=np.where(frac > 0, 100 * frac, np.nan), mode="lines",
                        name=trace_label(name, heads[name]), line=dict(shape="hvh", **styles[name]))
    if data_fraction is not None:
        fig.add_scatter(x=_centres(), y=np.where(data_fraction > 0, 100 * data_fraction, np.nan), mode="lines",
                        name="pixels of the data", line=dict(shape="hvh", width=2, dash="dot", color=COLORS["data"]))
    legend, bottom = _legend_at_the_bottom(len(fig.data))
    # down to one value in the largest set: 0.13% for one image, ~0.0001% for a whole sample
    lowest = int(np.floor(np.log10(100 / max(max(np.asarray(v).size for v in values.values()), 1))))
    fig.update_layout(title=dict(text=title, font=dict(size=14)), height=height + bottom,
                      margin=dict(_MARGIN, b=bottom, t=60), shapes=_unit_band(),
                      xaxis=dict(range=[HIST_LO, HIST_HI], title="output value"),
                      yaxis=dict(type="log", title="% of pixels", range=[lowest - 0.2, 2.1],
                                 **_percent_ticks(lowest, 2)),
                      legend=legend)
    return fig


def activation_curves(lo: float = -8.0, hi: float = 8.0) -> go.Figure:
    """Each head's pixel value as a function of the decoder's pre-activation output, the [0, 1]
    band shaded on the pixel (y) axis. The sigmoid is drawn widest; the logits head, whose
    displayed pixels are the same sigmoid, runs dashed on top of it."""
    t = np.linspace(lo, hi, 401, dtype=np.float32)
    labels = {"sigmoid": "sigmoid head: sigmoid(t)",
              "raw": "raw head: t itself (identity)",
              "logits": "logits head: sigmoid(t), applied inside its loss and for display",
              "continuous-bernoulli": "continuous Bernoulli: the mean of CB(λ = sigmoid(t))",
              "clamp": "clamp head: clamp(t, 0, 1)"}
    styles = model_styles({name: name for name in HEADS})
    fig = go.Figure()
    for name in sorted(HEADS, key=lambda n: n != "sigmoid"):
        fig.add_scatter(x=t, y=HEADS[name].pixels_np(t), mode="lines", name=labels.get(name, name),
                        line=styles[name])
    legend, bottom = _legend_at_the_bottom(len(HEADS), per_row=1)
    fig.update_layout(title="Pixel value shown for each pre-activation value t", height=330 + bottom,
                      margin=dict(_MARGIN, b=bottom, t=50), shapes=_unit_band("y"),
                      xaxis_title="decoder output before the activation, t (logit)",
                      yaxis=dict(range=[-1.2, 2.2], title="pixel value", tickvals=[-1, 0, 0.5, 1, 2]),
                      legend=legend)
    fig.add_annotation(text="[0, 1]: the range of ToTensor() pixels", xref="paper", x=0.01, yref="y", y=1,
                       xanchor="left", yanchor="bottom", showarrow=False, font=dict(size=11))
    return fig


def loss_curves(histories: Mapping[str, Sequence[Mapping[str, float]]], heads: Mapping[str, str]) -> go.Figure:
    """Train and test loss per epoch, one small panel per checkpoint: the likelihood families
    live on different scales (a density can be negative), so they do not share an axis."""
    from plotly.subplots import make_subplots

    names = [n for n, h in histories.items() if h]
    # Panel titles: the head where that names the model alone (narrow panels), else the checkpoint.
    unique = [heads.get(n) for n in names].count
    titles = [heads[n] if n in heads and unique(heads[n]) == 1 else n for n in names]
    fig = make_subplots(rows=1, cols=max(len(names), 1), subplot_titles=titles, horizontal_spacing=0.06)
    for col, name in enumerate(names, start=1):
        history = histories[name]
        color = COLORS.get(heads.get(name, ""), OKABE_ITO[-1])
        epochs = [h["epoch"] for h in history]
        fig.add_scatter(x=epochs, y=[h["train_loss"] for h in history], mode="lines", name="train",
                        line=dict(color=color, dash="dot"), showlegend=col == 1, row=1, col=col)
        fig.add_scatter(x=epochs, y=[h["test_loss"] for h in history], mode="lines+markers", name="test",
                        line=dict(color=color), marker=dict(size=4), showlegend=col == 1, row=1, col=col)
    fig.update_annotations(font_size=11)
    legend, bottom = _legend_at_the_bottom(2)
    fig.update_layout(title="Loss per epoch (nats/image; dotted: train, solid: test)", height=240 + bottom,
                      margin=dict(l=10, r=10, t=60, b=bottom), legend=legend)
    return fig


# Marker shapes for the classes of a scatter: with the colours they tell ten classes apart for
# every reader (in a deuteranopia simulation the default palette left about four hues).
SYMBOLS = ("circle", "square", "diamond", "cross", "x", "triangle-up", "triangle-down", "star", "pentagon",
           "hexagon")


def latent_scatter(mu: np.ndarray, labels: np.ndarray, label_names: tuple[str, ...],
                   marker: tuple[float, float] | None = None) -> go.Figure:
    """2-D posterior means of the sample, one Okabe-Ito colour and marker shape per label."""
    fig = go.Figure()
    for k, name in enumerate(label_names):
        sel = labels == k
        fig.add_scattergl(x=mu[sel, 0], y=mu[sel, 1], mode="markers", name=name, customdata=np.flatnonzero(sel),
                          marker=dict(size=6, opacity=0.8, color=OKABE_ITO[k % len(OKABE_ITO)],
                                      symbol=SYMBOLS[k % len(SYMBOLS)]))
    if marker is not None:
        fig.add_scatter(x=[marker[0]], y=[marker[1]], mode="markers", name="decoded",
                        marker=dict(symbol="x-thin", size=16, line=dict(width=3, color="#7f7f7f")))
    legend, bottom = _legend_at_the_bottom(len(fig.data), per_row=6)
    fig.update_layout(height=420 + bottom, margin=dict(_MARGIN, b=bottom), xaxis=dict(range=[-4, 4], title="z1"),
                      yaxis=dict(range=[-4, 4], title="z2", scaleanchor="x"), legend=legend,
                      title=dict(text="Sample digits encoded (posterior means)", font=dict(size=14)))
    return fig


def training_curves(points: Sequence[Mapping[str, float | str]], epochs: int) -> go.Figure:
    """The Train page's live losses: ``points`` are {epoch, loss, curve} rows. The x axis always
    spans the whole run (0..epochs) and points carry markers, so a run with one finished epoch
    (one x value; Vega-Lite's line chart drew it empty) still shows where it is."""
    fig = go.Figure()
    styles = {"train": dict(dash="dot"), "test": dict(dash="solid"), "train (running)": dict(dash="dot")}
    for curve in dict.fromkeys(str(p["curve"]) for p in points):
        rows = [p for p in points if p["curve"] == curve]
        fig.add_scatter(x=[p["epoch"] for p in rows], y=[p["loss"] for p in rows], mode="lines+markers", name=curve,
                        line=dict(color=COLORS["sigmoid"] if curve == "test" else COLORS["data"],
                                  **styles.get(curve, {})), marker=dict(size=7))
    legend, bottom = _legend_at_the_bottom(len(fig.data))
    fig.update_layout(height=200 + bottom, margin=dict(_MARGIN, b=bottom, t=20), legend=legend,
                      xaxis=dict(range=[0, max(epochs, 1) + 0.05], title="epoch", dtick=1 if epochs <= 20 else None),
                      yaxis=dict(title="loss (nats/image)"))
    return fig
