"""The explorer's live panel: latent sliders, decoded images, out-of-range counts and Plotly
histograms in one Streamlit element (``st.components.v2``) that is updated in place.

Why one element instead of ``st.slider`` x 20 + ``st.image`` + ``st.plotly_chart``: every
Streamlit element in the rerun is re-sent and re-rendered by React, and a ``st.plotly_chart``
whose figure changed is re-created (bench/RESULTS.md, browser latency). Here a slider move sends
one message with the new images and figure spec, and the browser redraws only the bars of the
chart it already has (``Plotly.animate``; ``Plotly.react`` when more than the bars changed;
bench/browser_latency.py, bench/RESULTS.md).

Data flows one way: the sliders' values come back as the component's ``z`` state, an
``on_z_change`` callback stores them as the session's z (ui.state), and the page decodes that z
and sends the new payload. z set on the server (buttons, links) carries a new revision number,
which is what moves the sliders in the browser.
"""

from __future__ import annotations

import base64
from functools import partial
from pathlib import Path

import numpy as np
import plotly
import streamlit as st
import streamlit.components.v1 as components_v1

from services.decoding import Decoded
from services.display import DISPLAY_MODES, as_image, out_of_range_overlay, png_bytes
from vae.heads import Head

from . import figures, state

_HERE = Path(__file__).parent

# plotly.js exactly as the installed plotly package ships it, served by Streamlit's file route for
# (v1) components: nothing copied into the repo, no network needed, and the version always
# matches the Python package that builds the figure specs. The v1 component is never rendered.
_PLOTLY_FILES = components_v1.declare_component("plotly_js", path=str(Path(plotly.__file__).parent / "package_data"))
PLOTLY_JS_URL = f"component/{_PLOTLY_FILES.name}/plotly.min.js"  # relative: works under server.baseUrlPath

# Not style-isolated: Plotly injects its stylesheet into the document, which a shadow root would hide.
_panel = st.components.v2.component("latent_panel", js=(_HERE / "latent_panel.js").read_text(),
                                    css=(_HERE / "latent_panel.css").read_text(), isolate_styles=False)

def _png_uri(image: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode("ascii")


def column(name: str, head: Head, out: Decoded, mode: str, data_fraction: np.ndarray,
           show_logits: bool, title: str | None = None) -> dict:
    """What the panel shows for one decoder at one z: images, counts and the column's
    histograms (one figure, drawn under the column's images: see :func:`show`).

    A bounded head is shown as is; a raw head's values are shown with ``mode`` (how real
    code displays them) next to an overlay of what is really there.
    """
    if head.bounded:
        images = [dict(src=_png_uri(as_image(out.pixels, "clip", scale=1)), alt=f"{name}: decoded image",
                       caption=f"{head.activation}: every value in [0, 1]")]
    else:
        images = [dict(src=_png_uri(as_image(out.pixels, mode, scale=1)), alt=f"{name}: decoded image",
                       caption=f"shown with {DISPLAY_MODES[mode]}"),
                  dict(src=_png_uri(out_of_range_overlay(out.pixels, scale=1)), alt=f"{name}: values outside [0, 1]",
                       caption="what is really there: blue < 0, red > 1")]
    n = out.pixels.size
    counts = (f"Below 0: {out.below} ({100 * out.below / n:.1f}%) · above 1: {out.above} "
              f"({100 * out.above / n:.1f}%) · range [{out.pixels.min():.2f}, {out.pixels.max():.2f}]")
    charts = [figures.pixel_histogram(out.pixels, data_fraction, "Output pixel values",
                                      color=figures.COLORS.get(head.name, figures.COLORS["sigmoid"]))]
    if show_logits and head.logit_output:
        charts.append(figures.logit_histogram(out.pre))
    return dict(title=title or head.title, name=name, images=images, counts=counts,
                chart=figures.side_by_side(charts))


def _moved(key: str) -> None:
    """on_z_change: the browser's slider values become the session's z."""
    value = st.session_state[key].get("z")
    state.take_z_from_sliders(value)


def show(z: np.ndarray, columns: list[dict], warning: str | None = None, query: dict[str, str] | None = None,
         key: str = "latent_panel", prior: str | None = None) -> None:
    """Draw (or update in place) the panel: one slider per entry of ``z``, then ``columns``
    side by side, each with its images and, under them, its histograms (so on a phone, where
    the columns stack, every image keeps its histogram). ``warning`` (z far outside the prior)
    or else ``prior`` (where z lies) fills one fixed-height line above the images, so that a
    warning never moves them. ``query`` goes into the page's URL (see
    :func:`ui.state.view_query`)."""
    values = [float(v) for v in z]
    _panel(key=key, default={"z": values}, on_z_change=partial(_moved, key),
           data=dict(z=values, rev=state.z_revision(), limit=state.Z_LIMIT, step=state.Z_STEP,
                     plotly=PLOTLY_JS_URL, warning=warning, prior=prior, query=query or {},
                     columns=columns))
