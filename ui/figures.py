"""Plotly figures. Kept small on purpose: pre-binned bars, fixed axes, no mode bar,
so a slider move sends a few kilobytes and the browser redraws quickly.

The two figures on the slider path are plain JSON specs wrapped in :class:`SpecFigure`: building
a ``go.Figure`` validates every property (~5 ms per small histogram, ~40 ms with ``add_vline``
and ``update_layout``), which was most of a slider move. The tests validate each spec once with
``go.Figure(spec)`` instead."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from services.display import HIST_BINS, HIST_RANGE, histogram
from vae.heads import HEADS

HIST_LO, HIST_HI = HIST_RANGE

STATIC = {"displayModeBar": False, "staticPlot": True}
COLORS = {"sigmoid": "#1f77b4", "raw": "#d62728", "logits": "#2ca02c",
          "continuous-bernoulli": "#9467bd", "clamp": "#ff7f0e", "data": "#7f7f7f"}
_MARGIN = dict(l=10, r=10, t=36, b=10)


def _centres() -> list[float]:
    edges = np.linspace(HIST_LO, HIST_HI, HIST_BINS + 1)
    return ((edges[:-1] + edges[1:]) / 2).round(4).tolist()


def _nonzero(values: np.ndarray) -> list[float | None]:
    """Plain floats, zeros as gaps (log axes). Lists, not arrays: plotly validates a short list
    several times faster than it converts a numpy array."""
    return [round(float(v), 4) if v > 0 else None for v in values]


class SpecFigure(go.Figure):
    """A figure whose ``to_dict()`` is a ready spec: what ``st.plotly_chart`` serialises, unvalidated."""

    def __init__(self, spec: dict) -> None:  # noqa: D107 - deliberately skips go.Figure's (3 ms) set-up
        self._spec = spec

    def to_dict(self) -> dict:
        return self._spec


def _unit_band() -> list[dict]:
    """Layout shapes: the [0, 1] band shaded, dotted lines at 0 and 1."""
    line = dict(width=1, dash="dot", color="rgba(44,160,44,0.8)")
    return [dict(type="rect", xref="x", yref="paper", x0=0, x1=1, y0=0, y1=1, layer="below",
                 fillcolor="rgba(44,160,44,0.10)", line=dict(width=0))] + [
        dict(type="line", xref="x", yref="paper", x0=x, x1=x, y0=0, y1=1, line=line) for x in (0, 1)]


def _percent_axis() -> dict:
    """Percent of an image's 784 pixels on a log axis with a fixed range: one pixel (0.13%) to all."""
    return dict(type="log", range=[-1.3, 2.05], title=dict(text="% of pixels"), fixedrange=True)


def pixel_histogram(values: np.ndarray, data_fraction: np.ndarray, title: str,
                    color: str = COLORS["sigmoid"], height: int = 230) -> SpecFigure:
    """Histogram of one image's output values (percent of pixels, log scale) over the
    fixed range [-1, 2], the [0, 1] band shaded, the data's pixel histogram overlaid.

    Only the bar heights depend on ``values``: title, axes and shapes stay the same from one
    latent point to the next, which lets the explorer's panel redraw just the bars (the counts
    outside [0, 1] are printed beside the images)."""
    counts, _ = histogram(values, HIST_LO, HIST_HI, HIST_BINS)
    x = _centres()
    return SpecFigure(dict(
        data=[dict(type="bar", x=x, y=_nonzero(100 * counts / np.asarray(values).size), marker=dict(color=color),
                   name="this image", width=(HIST_HI - HIST_LO) / HIST_BINS),
              dict(type="scatter", x=x, y=_nonzero(100 * data_fraction), mode="lines",
                   line=dict(color=COLORS["data"], width=1.5, shape="hvh"), name="pixels of the data")],
        layout=dict(
            title=dict(text=title, font=dict(size=13)),
            height=height, margin=dict(_MARGIN, l=55), bargap=0, showlegend=False, shapes=_unit_band(),
            xaxis=dict(range=[HIST_LO, HIST_HI], fixedrange=True), yaxis=_percent_axis())))


def logit_histogram(pre: np.ndarray, height: int = 230) -> SpecFigure:
    """Pre-activation logits of a sigmoid decoder (percent of pixels, log scale, fixed axes like
    :func:`pixel_histogram`) with the sigmoid curve that maps them into (0, 1)."""
    lo, hi, bins = -20.0, 10.0, 60
    counts, edges = histogram(pre, lo, hi, bins)
    return SpecFigure(dict(
        data=[dict(type="bar", x=((edges[:-1] + edges[1:]) / 2).tolist(), y=_nonzero(100 * counts / np.asarray(pre).size),
                   marker=dict(color="#aec7e8"), name="logits", width=(hi - lo) / bins),
              dict(type="scatter", x=_SIGMOID_T, y=_SIGMOID_Y, yaxis="y2", mode="lines", line=dict(color="#1f77b4"),
                   name="sigmoid(t)")],
        layout=dict(
            title=dict(text="Pre-activation logits and the sigmoid that maps them into (0, 1)", font=dict(size=13)),
            height=height, margin=dict(_MARGIN, l=55), bargap=0, showlegend=False,
            xaxis=dict(range=[lo, hi], fixedrange=True), yaxis=_percent_axis(),
            yaxis2=dict(overlaying="y", side="right", range=[-0.05, 1.05], title=dict(text="sigmoid"),
                        fixedrange=True, tickvals=[0, 0.5, 1]))))


def _axis_ref(letter: str, i: int) -> str:
    return letter if i == 1 else f"{letter}{i}"


def _axis_key(ref: str) -> str:
    return f"{ref[0]}axis{ref[1:]}"


def side_by_side(specs: list[dict], gap: float = 0.1) -> SpecFigure:
    """Single-panel specs (as built above) as one figure, panels left to right, each with its own
    axes, shapes and title. One figure is one Plotly redraw per slider move instead of one per
    chart (~25 ms of browser time each)."""
    width = (1 - gap * (len(specs) - 1)) / len(specs)
    data, annotations, shapes = [], [], []
    layout: dict = dict(bargap=0, showlegend=False, height=max(s["layout"]["height"] for s in specs),
                        # room below for the x tick labels, right for a last panel's second y axis
                        margin=dict(specs[0]["layout"]["margin"], b=28, r=max(10, 45 * ("yaxis2" in specs[-1]["layout"]))))
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
    return SpecFigure(dict(data=data, layout=layout))


_SIGMOID_T = np.linspace(-20.0, 10.0, 121).round(3).tolist()
_SIGMOID_Y = np.round(HEADS["sigmoid"].pixels_np(np.array(_SIGMOID_T)), 4).tolist()


def overlaid_histograms(values_by_head: dict[str, np.ndarray], data_fraction: np.ndarray | None,
                        title: str, height: int = 320) -> go.Figure:
    """Several heads' output-value histograms as step lines on one log-scaled axis."""
    fig = go.Figure()
    for name, values in values_by_head.items():
        counts, _ = histogram(values, HIST_LO, HIST_HI, HIST_BINS)
        frac = counts / max(np.asarray(values).size, 1)
        fig.add_scatter(x=_centres(), y=np.where(frac > 0, 100 * frac, np.nan), mode="lines", name=name,
                        line=dict(shape="hvh", width=2, color=COLORS.get(name.split(" ")[0])))
    if data_fraction is not None:
        fig.add_scatter(x=_centres(), y=np.where(data_fraction > 0, 100 * data_fraction, np.nan), mode="lines",
                        name="data", line=dict(shape="hvh", width=2, dash="dot", color=COLORS["data"]))
    fig.update_layout(title=dict(text=title, font=dict(size=14)), height=height, margin=_MARGIN, shapes=_unit_band(),
                      xaxis=dict(range=[HIST_LO, HIST_HI], title="output value"),
                      yaxis=dict(type="log", title="% of pixels"), legend=dict(orientation="h", y=-0.2))
    return fig


def activation_curves(lo: float = -8.0, hi: float = 8.0) -> go.Figure:
    """Each head's pixel value as a function of the decoder's pre-activation output."""
    t = np.linspace(lo, hi, 401, dtype=np.float32)
    fig = go.Figure()
    for name, head in HEADS.items():
        fig.add_scatter(x=t, y=head.pixels_np(t), mode="lines", name=f"{name}: {head.activation}",
                        line=dict(color=COLORS[name], width=2))
    fig.update_layout(title="Pixel value shown for each pre-activation value", height=360, margin=_MARGIN,
                      shapes=_unit_band(),
                      xaxis_title="decoder output before the activation (logit)", yaxis_title="pixel value",
                      yaxis=dict(range=[-1.2, 2.2]), legend=dict(orientation="h", y=-0.25))
    return fig


def loss_curves(histories: dict[str, list[dict]]) -> go.Figure:
    """Train and test loss per epoch, one small panel per checkpoint: the likelihood families
    live on different scales (a density can be negative), so they do not share an axis."""
    from plotly.subplots import make_subplots

    names = [n for n, h in histories.items() if h]
    fig = make_subplots(rows=1, cols=max(len(names), 1), subplot_titles=[n.replace("mnist-", "") for n in names],
                        horizontal_spacing=0.06)
    for col, name in enumerate(names, start=1):
        history = histories[name]
        color = COLORS.get(name.split("-z")[0].removeprefix("mnist-").removeprefix("fashion-mnist-"), "#444")
        epochs = [h["epoch"] for h in history]
        fig.add_scatter(x=epochs, y=[h["train_loss"] for h in history], mode="lines", name="train",
                        line=dict(color=color, dash="dot"), showlegend=col == 1, row=1, col=col)
        fig.add_scatter(x=epochs, y=[h["test_loss"] for h in history], mode="lines+markers", name="test",
                        line=dict(color=color), marker=dict(size=4), showlegend=col == 1, row=1, col=col)
    fig.update_annotations(font_size=11)
    fig.update_layout(title="Loss per epoch (nats/image; dotted: train, solid: test)", height=280,
                      margin=dict(l=10, r=10, t=60, b=10), legend=dict(orientation="h", y=-0.2))
    return fig


def latent_scatter(mu: np.ndarray, labels: np.ndarray, label_names: tuple[str, ...],
                   marker: tuple[float, float] | None = None) -> go.Figure:
    """2-D posterior means of the sample, coloured by label; click a point to decode it."""
    fig = go.Figure()
    for k, name in enumerate(label_names):
        sel = labels == k
        fig.add_scattergl(x=mu[sel, 0], y=mu[sel, 1], mode="markers", name=name,
                          marker=dict(size=5, opacity=0.7), customdata=np.flatnonzero(sel))
    if marker is not None:
        fig.add_scatter(x=[marker[0]], y=[marker[1]], mode="markers", name="decoded",
                        marker=dict(symbol="x", size=14, color="black"))
    fig.update_layout(height=460, margin=_MARGIN, xaxis=dict(range=[-4, 4], title="z1"),
                      yaxis=dict(range=[-4, 4], title="z2", scaleanchor="x"), legend=dict(orientation="h", y=-0.15),
                      title="Sample digits encoded (posterior means) - click anywhere on a point to decode it")
    return fig
