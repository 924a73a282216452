"""Picking the digit to work on: from the shipped sample, drawn with the mouse, or uploaded."""

from __future__ import annotations

import numpy as np
import streamlit as st

from services.preprocess import MAX_UPLOAD_BYTES, ImageError, load_image, prepare_digit
from vae.datasets import get_dataset

from . import loaders

SOURCES = {"sample": "Sample digits", "draw": "Draw one", "upload": "Upload an image"}
CANVAS_SIZE = 224


def pick_digit(dataset: str, key: str = "recon") -> tuple[np.ndarray | None, str]:
    """A 28x28 float32 image in [0, 1] and a label for it, or (None, reason)."""
    source = st.radio("Digit", list(SOURCES), format_func=SOURCES.get, horizontal=True, key=f"{key}_source")
    if source == "sample":
        split = loaders.sample(dataset)
        names = get_dataset(dataset).label_names
        label = st.selectbox("Label", ["any", *names], key=f"{key}_label")
        indices = np.arange(len(split)) if label == "any" else np.flatnonzero(split.labels == names.index(label))
        index = st.selectbox("Which one", indices.tolist(), key=f"{key}_index",
                             format_func=lambda i: f"#{i} ({names[int(split.labels[i])]})")
        return loaders.sample_floats(dataset)[index].reshape(28, 28), f"sample #{index}"
    if source == "draw":
        from streamlit_drawable_canvas import st_canvas

        st.caption("Draw a digit with the mouse (white on black, like MNIST). It is then cropped, fitted into "
                   "20x20 and centred by centre of mass in 28x28, the way MNIST was prepared.")
        result = st_canvas(stroke_width=18, stroke_color="#FFFFFF", background_color="#000000",
                           height=CANVAS_SIZE, width=CANVAS_SIZE, drawing_mode="freedraw",
                           return_image_data=True, key=f"{key}_canvas")
        data = getattr(result, "image_data", None) if result is not None else None
        if data is None:
            return None, "draw a digit above"
        try:
            return prepare_digit(np.asarray(data, dtype=np.uint8), "drawing"), "your drawing"
        except ImageError:
            return None, "draw a digit above"
    # The browser refuses bigger files up front; load_image checks size and format again on the server.
    upload = st.file_uploader("PNG or JPEG", type=["png", "jpg", "jpeg"], key=f"{key}_upload",
                              max_upload_size=MAX_UPLOAD_BYTES // 2**20)
    if upload is None:
        return None, "upload an image"
    try:
        return load_image(upload.getvalue(), upload.name), upload.name
    except ImageError as err:
        st.error(str(err))
        return None, "that file could not be used"
