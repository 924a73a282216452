"""Rows of images, one per checkpoint: any number of models, each labelled by its own name."""

from __future__ import annotations

import numpy as np
import streamlit as st


def image_rows(items: list[tuple[np.ndarray, str]], per_row: int = 5, width: int = 160) -> None:
    """Show ``(image, caption)`` pairs in rows of at most ``per_row`` equal columns: a sixth model
    starts a new row instead of spilling past the page. Images are at most ``width`` pixels wide
    (less where a column is narrower), so that on a phone, where columns stack, they stay small."""
    for start in range(0, len(items), per_row):
        for col, (image, caption) in zip(st.columns(per_row), items[start:start + per_row]):
            col.image(image, width=width, output_format="PNG", caption=caption)
