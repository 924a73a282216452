"""Figures: valid plotly specs that show what the backend computed."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ui import figures
from ui.loaders import HIST_BINS


def test_slider_path_figures_are_valid_plotly_specs():
    rng = np.random.default_rng(0)
    values = rng.normal(0.3, 0.5, 784)
    data = np.full(HIST_BINS, 1 / HIST_BINS)
    for fig in (figures.pixel_histogram(values, data, "t"), figures.logit_histogram(rng.normal(-3, 4, 784))):
        go.Figure(fig.to_dict())  # raises on any invalid property


def test_side_by_side_keeps_each_panel_on_its_own_axes():
    rng = np.random.default_rng(0)
    data = np.full(HIST_BINS, 1 / HIST_BINS)
    panels = [figures.pixel_histogram(rng.normal(0.3, 0.5, 784), data, "left").to_dict(),
              figures.logit_histogram(rng.normal(-3, 4, 784)).to_dict()]
    spec = figures.side_by_side(panels).to_dict()
    fig = go.Figure(spec)  # raises on any invalid property
    layout = spec["layout"]
    assert [(t["xaxis"], t["yaxis"]) for t in spec["data"]] == [("x", "y"), ("x", "y"), ("x2", "y2"), ("x2", "y3")]
    (a0, a1), (b0, b1) = layout["xaxis"]["domain"], layout["xaxis2"]["domain"]
    assert 0 == a0 < a1 < b0 < b1 == 1, "panels left to right, not overlapping"
    assert layout["yaxis"]["type"] == "log" and layout["yaxis3"]["overlaying"] == "y2", "axis settings move along"
    assert {(s["xref"], s["yref"]) for s in layout["shapes"]} == {("x", "y domain")}, "the [0, 1] band stays on its panel"
    assert [a["text"].split("<br>")[0] for a in layout["annotations"]] == ["left", panels[1]["layout"]["title"]["text"]]
    assert fig.data[0].y == tuple(panels[0]["data"][0]["y"]), "bar heights unchanged"


def test_pixel_histogram_counts_and_title_match_the_values():
    values = np.concatenate([np.full(700, 0.5), np.full(80, -0.2), np.full(4, 1.3)])
    spec = figures.pixel_histogram(values, np.zeros(HIST_BINS), "t").to_dict()
    bars = spec["data"][0]["y"]
    assert abs(sum(v for v in bars if v) - 100) < 0.01
    assert "80 below 0 (10.2%)" in spec["layout"]["title"]["text"]
    assert "4 above 1 (0.5%)" in spec["layout"]["title"]["text"]
    band = spec["layout"]["shapes"][0]
    assert (band["x0"], band["x1"]) == (0, 1)
