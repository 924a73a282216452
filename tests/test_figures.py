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


def test_pixel_histogram_counts_and_title_match_the_values():
    values = np.concatenate([np.full(700, 0.5), np.full(80, -0.2), np.full(4, 1.3)])
    spec = figures.pixel_histogram(values, np.zeros(HIST_BINS), "t").to_dict()
    bars = spec["data"][0]["y"]
    assert abs(sum(v for v in bars if v) - 100) < 0.01
    assert "80 below 0 (10.2%)" in spec["layout"]["title"]["text"]
    assert "4 above 1 (0.5%)" in spec["layout"]["title"]["text"]
    band = spec["layout"]["shapes"][0]
    assert (band["x0"], band["x1"]) == (0, 1)
