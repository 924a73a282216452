"""Rows of images, one per checkpoint: any number of models, each labelled by its own name."""

from __future__ import annotations

import numpy as np
import streamlit as st


def image_rows(items: list[tuple[np.ndarray, str]], key: str, per_row: int = 5, width: int = 160) -> None:
    """Show ``(image, caption)`` pairs in rows of at most ``per_row`` equal columns: a sixth model
    starts a new row instead of spilling past the page. Each image fills its column up to
    ``width`` pixels: never wider than its column, and small on a phone, where columns stack."""
    # st.image(width=int) ignores a narrower column; "stretch" capped by CSS in this container only
    st.html(f"<style>.st-key-{key} [data-testid='stImage'] img {{ max-width: {width}px; }}</style>")
    with st.container(key=key):
        for start in range(0, len(items), per_row):
            for col, (image, caption) in zip(st.columns(per_row), items[start:start + per_row]):
                col.image(image, width="stretch", output_format="PNG", caption=caption)
