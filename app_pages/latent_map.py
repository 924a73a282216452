"""Latent map and interpolation: the 2-D manifold of both decoders, and paths between digits."""

from __future__ import annotations

import numpy as np
import streamlit as st

from services.decoding import decode_points, encode_mean
from services.display import DISPLAY_MODES, as_image, gif_bytes, out_of_range_overlay, png_bytes, tile
from services.latent_geometry import grid_points, interpolate
from services.pairing import DEFAULT_MODE, MODES, agreement_line
from services.untrusted import literal
from ui import figures, loaders
from vae.datasets import get_dataset


def render(pixels: np.ndarray, bounded: bool, mode: str, scale: int) -> np.ndarray:
    """One decoded image for display: clipped for bounded heads, else per ``mode`` ('overlay' tints out-of-range)."""
    if bounded:
        return as_image(pixels, "clip", scale)
    return out_of_range_overlay(pixels, scale) if mode == "overlay" else as_image(pixels, mode, scale)


def manifold(names: list[str], mode: str) -> None:
    c1, c2 = st.columns(2)
    n = c1.slider("Grid size", 5, 30, 20, key="map_n")
    span = c2.slider("Span (± prior σ)", 1.0, 4.0, 3.0, 0.5, key="map_span")
    points = grid_points(n, span)
    for col, name in zip(st.columns(len(names)), names):
        ckpt = loaders.checkpoint(name)
        outs = decode_points(ckpt, points)
        pixels = np.stack([o.pixels for o in outs])
        frames = np.stack([render(p, ckpt.head.bounded, mode, 1) for p in pixels])
        outside = float(((pixels < 0) | (pixels > 1)).mean())
        col.image(tile(frames, n, n), width="stretch", output_format="PNG",
                  caption=f"{ckpt.head.title}: {100 * outside:.1f}% of all grid pixels outside [0, 1]")


def scatter_and_click(names: list[str], mode: str) -> None:
    """The sample digits' encodings, clickable: one scatter when the decoders share an encoder,
    else one per model, each encoded by its own encoder. A clicked z is decoded by every model."""
    first = loaders.checkpoint(names[0])
    labels, label_names = loaders.sample(first.dataset).labels, get_dataset(first.dataset).label_names
    encoders = names[:1] if loaders.pairing().same_encoder(names) else names
    point = st.session_state.get("map_point")
    for i, (col, name) in enumerate(zip(st.columns(len(encoders)), encoders)):
        if len(encoders) > 1:
            col.text(f"encoded by {name}")  # a checkpoint name: plain text
        event = col.plotly_chart(figures.latent_scatter(loaders.sample_encodings(name), labels, label_names, point),
                                 on_select="rerun", selection_mode="points", key="map_scatter" + (f"_{i}" if i else ""),
                                 config=figures.CHART_CONFIG)
        selected = (event.selection.points if event and event.selection else []) or []
        if selected:  # a chart keeps its selection: only a new one moves the point
            clicked = (float(selected[0]["x"]), float(selected[0]["y"]))
            if st.session_state.get(f"map_clicked_{i}") != clicked:
                st.session_state[f"map_clicked_{i}"] = point = clicked
                st.session_state["map_point"] = point
    if point is None:
        st.caption("Click a point in the scatter to decode its z with both latent-2 decoders.")
        return
    z = np.asarray([point], dtype=np.float32)
    for col, name in zip(st.columns(len(names) + 1)[1:], names):
        ckpt = loaders.checkpoint(name)
        out = decode_points(ckpt, z)[0]
        col.image(render(out.pixels, ckpt.head.bounded, mode, 6), width=168, output_format="PNG",
                  caption=f"{ckpt.head.name} at z = ({point[0]:.2f}, {point[1]:.2f}): {out.below} < 0, {out.above} > 1")


def interpolation(dataset: str, mode: str, pair: str) -> None:
    pairing = loaders.pairing()
    reference = pairing.reference(dataset, 20)
    models = [loaders.checkpoint(n) for n in (pairing.lineup(reference, ["sigmoid", "raw"], pair) if reference else [])]
    split = loaders.sample(dataset)
    names = get_dataset(dataset).label_names
    fmt = lambda i: f"#{i} ({names[int(split.labels[i])]})"  # noqa: E731
    c1, c2, c3 = st.columns(3)
    a = c1.selectbox("From digit A", range(len(split)), index=0, format_func=fmt, key="interp_a")
    b = c2.selectbox("To digit B", range(len(split)), index=1, format_func=fmt, key="interp_b")
    steps = c3.slider("Steps", 3, 16, 10, key="interp_steps")
    images = loaders.sample_floats(dataset)[[a, b]]
    for ckpt in models:
        z_a, z_b = encode_mean(ckpt, images)  # each model interpolates in its own latent space
        outs = decode_points(ckpt, interpolate(z_a, z_b, steps))
        frames = [render(o.pixels, ckpt.head.bounded, mode, 4) for o in outs]
        strip = tile(np.stack(frames), 1, steps, pad=4)
        n_out = sum(o.below + o.above for o in outs)
        st.image(strip, width="stretch", output_format="PNG", caption=f"{ckpt.head.title}: {n_out} pixel values outside [0, 1] along the path")
        d1, d2, _ = st.columns([1, 1, 3])
        d1.download_button("PNG strip", png_bytes(strip), f"interpolation-{ckpt.head.name}-{a}-{b}.png",
                           "image/png", key=f"png_{ckpt.head.name}")
        d2.download_button("Animated GIF", gif_bytes(frames), f"interpolation-{ckpt.head.name}-{a}-{b}.gif",
                           "image/gif", key=f"gif_{ckpt.head.name}")


def main() -> None:
    st.title("Latent map and interpolation")
    st.markdown(
        "With a 2-D latent space the whole decoder fits on one screen. Both grids decode the same z points. "
        "The default *overlay* tints the raw decoder's pixels that left [0, 1] (blue: below 0, red: above 1), "
        "mostly in the dark background; switch to *clip* to see that its digits look just as good once clipped.")
    pairing = loaders.pairing()
    pair = st.radio("Compare", list(MODES), format_func=MODES.get, key="map_pair", horizontal=True,
                    help="Same encoder: the raw decoder was trained on the sigmoid VAE's frozen encoder. "
                         "Independently trained: a whole raw VAE with a latent space of its own.") or DEFAULT_MODE
    reference = pairing.reference("mnist", 2)
    names = pairing.lineup(reference, ["sigmoid", "raw"], pair) if reference else []
    mode = st.radio("Show raw values with", ["overlay", *DISPLAY_MODES], horizontal=True, key="map_mode",
                    format_func=lambda m: "overlay: tint values outside [0, 1]" if m == "overlay" else DISPLAY_MODES[m])
    if not names:
        st.warning("No latent-2 checkpoints found; train one on the 'Train a variant' page (latent 2).")
    else:
        if len(names) < 2:
            st.info("No raw decoder shares this encoder yet: train one on the 'Train a variant' page "
                    "('train only a decoder on this encoder').")
        others = {n: loaders.median_agreement(names[0], n) for n in names[1:]}
        st.caption(pairing.note(names) + (" " + literal(agreement_line(names[0], others)) if others else ""))
        st.subheader("Manifold")
        manifold(names, mode)
        st.subheader("Where the sample digits land")
        scatter_and_click(names, mode)
    st.subheader("Interpolation between two digits (latent 20)")
    interpolation("mnist", mode, pair)


if __name__ == "__main__":  # Streamlit runs each page as __main__; importing it (benchmarks) runs nothing
    main()
