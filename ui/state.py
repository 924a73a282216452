"""Session state shared between pages, and its mirror in the URL query string.

``z`` (the latent point) lives under one session-state key so every page decodes the
same point; the explorer shows it in the URL (``?z=...``) together with its view settings
so a view can be shared as a link. z set by the server (buttons, a link) bumps a revision
number: that is what tells the explorer's sliders in the browser to move (ui.latent_panel).
"""

from __future__ import annotations

import numpy as np
import streamlit as st

Z_KEY = "z"
Z_REV_KEY = "z_revision"
Z_OFFSETS_KEY = "z_offsets"  # {"anchor": "#5", "offsets": {checkpoint: list}}, see set_z
Z_LIMIT = 3.0  # sliders span +-3 prior standard deviations
Z_STEP = 0.05
MAX_LATENT = 128  # longest z accepted from a link or the browser


def snap_z(values) -> np.ndarray:
    """Values on the sliders' grid: multiples of Z_STEP within +-Z_LIMIT."""
    return np.clip(np.round(np.asarray(values, dtype=float) / Z_STEP) * Z_STEP, -Z_LIMIT, Z_LIMIT)


def parse_z(text: str, max_len: int = MAX_LATENT) -> np.ndarray | None:
    """z from a comma-separated query value; None if malformed. Values are clipped to the slider range."""
    try:
        values = [float(v) for v in text.split(",")][:max_len + 1]
    except ValueError:
        return None
    if not 0 < len(values) <= max_len or not all(np.isfinite(values)):
        return None
    return snap_z(values)


def format_z(z: np.ndarray) -> str:
    return ",".join(f"{v:g}" for v in np.round(np.asarray(z, dtype=float), 2))


def get_z(latent: int) -> np.ndarray:
    """The shared latent point, resized to ``latent`` dimensions (zeros when unset)."""
    stored = st.session_state.get(Z_KEY)
    z = np.zeros(latent)
    if stored is not None:
        stored = np.asarray(stored, dtype=float)[:latent]
        z[:len(stored)] = stored
    return z


def z_revision() -> int:
    """How many times the server has set z in this session."""
    return st.session_state.get(Z_REV_KEY, 0)


def set_z(z: np.ndarray, offsets: dict[str, np.ndarray] | None = None, anchor: str = "") -> None:
    """Set the shared point from the server side; the explorer's sliders follow it.

    ``offsets``: checkpoints with a latent space of their own (independently trained VAEs) that
    decode z + offset instead, so that each starts from its own encoding of the digit ``anchor``
    and the sliders move all of them alike. Any later z set on the server drops them.
    """
    st.session_state[Z_KEY] = [float(v) for v in snap_z(z)]
    st.session_state[Z_REV_KEY] = z_revision() + 1
    st.session_state[Z_OFFSETS_KEY] = {"anchor": anchor, "offsets": {
        name: [float(v) for v in offset] for name, offset in (offsets or {}).items()}}


def z_offset(name: str, latent: int) -> np.ndarray | None:
    """What checkpoint ``name`` adds to z (see :func:`set_z`), or None."""
    offset = st.session_state.get(Z_OFFSETS_KEY, {}).get("offsets", {}).get(name)
    return None if offset is None or len(offset) != latent else np.asarray(offset, dtype=float)


def z_anchor() -> str:
    """The digit the current offsets were measured at ("#5"), or ""."""
    return st.session_state.get(Z_OFFSETS_KEY, {}).get("anchor", "")


def take_z_from_sliders(values) -> bool:
    """Store z as moved on the explorer's sliders (no new revision: the sliders are already
    there). Values come from the browser: anything but a short list of finite numbers is
    ignored. Returns whether z was taken."""
    if not isinstance(values, list) or not 0 < len(values) <= MAX_LATENT \
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values) \
            or not np.all(np.isfinite(values)):
        return False
    st.session_state[Z_KEY] = [float(v) for v in snap_z(values)]
    return True


def init_from_url(params: dict[str, tuple[str, ...]]) -> list[str]:
    """Once per session: take z and the given widget settings from the URL, when present and valid.

    ``params`` maps a query key to the values its widget accepts. Returns what was ignored, for a
    one-line notice: the known keys whose values were not valid, then "N unknown parameter(s)"
    (unknown keys are counted, never echoed: a link's text is not the app's to show).
    """
    if st.session_state.get("_url_loaded"):
        return []
    st.session_state["_url_loaded"] = True
    query = st.query_params
    ignored = []
    if "z" in query:
        if (z := parse_z(query["z"])) is not None:
            set_z(z)
        else:
            ignored.append("z")
    for key, allowed in params.items():
        if key in query:
            if query[key] in allowed:
                st.session_state[key] = query[key]
            else:
                ignored.append(key)
    unknown = [k for k in query if k != "z" and k not in params and not k.startswith("embed")]
    if unknown:
        ignored.append(f"{len(unknown)} unknown parameter{'s' * (len(unknown) > 1)}")
    return ignored


def ignored_notice(ignored: list[str]) -> str | None:
    """The one line that tells a visitor which parts of their link were not used, or None."""
    if not ignored:
        return None
    return f"Parts of this link were not valid here and were ignored: {', '.join(ignored)}. Showing the defaults instead."


def view_query(z: np.ndarray, **settings: str) -> dict[str, str]:
    """The query parameters that reopen this view (read back by :func:`init_from_url`).

    The explorer's panel writes them into the browser's URL itself (ui.latent_panel): going
    through ``st.query_params`` re-renders the whole app and adds a browser history entry on
    every slider move."""
    return {"z": format_z(z), **settings}
