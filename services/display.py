"""Turning decoder outputs into images, the ways real code does it.

A raw decoder's values leave [0, 1]; how they are *displayed* decides whether anyone
notices. The three modes are what common code paths do:

* ``clip``   - ``torchvision.utils.save_image`` (multiplies by 255, clamps) and
  ``st.image(..., clamp=True)``: out-of-range pixels silently saturate;
* ``minmax`` - rescale the image's own min..max to 0..255: the range problem vanishes
  and every image looks fine;
* ``wrap``   - ``(x * 255).astype(np.uint8)``: values wrap around modulo 256, so a
  slightly negative pixel turns bright.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from vae.architecture import IMAGE_SIDE

# Fixed histogram bins for output pixel values, wide enough for raw decoders: the app's figures
# and the histograms stored in checkpoints (vae.evaluate) use the same ones, so they line up.
HIST_RANGE = (-1.0, 2.0)
HIST_BINS = 60

DISPLAY_MODES = {
    "clip": "clip to [0, 1] (what save_image does)",
    "minmax": "min-max rescale",
    "wrap": "uint8 wrap-around ((x*255).astype(uint8))",
}


def to_uint8(values: np.ndarray, mode: str = "clip") -> np.ndarray:
    """Map float pixel values (any shape) to uint8 according to ``mode``."""
    v = np.asarray(values, dtype=np.float32)
    if mode == "clip":
        return (np.clip(v, 0.0, 1.0) * 255).round().astype(np.uint8)
    if mode == "minmax":
        lo, hi = float(v.min()), float(v.max())
        return ((v - lo) / (hi - lo or 1.0) * 255).round().astype(np.uint8)
    if mode == "wrap":
        # Go through int64 first: float->uint8 casts of negatives are undefined in C.
        return (v * 255).astype(np.int64).astype(np.uint8)
    raise ValueError(f"unknown display mode {mode!r} (known: {', '.join(DISPLAY_MODES)})")


def as_image(values: np.ndarray, mode: str = "clip", scale: int = 8) -> np.ndarray:
    """A 784-vector as a (28*scale, 28*scale) uint8 image, nearest-neighbour enlarged."""
    img = to_uint8(np.asarray(values).reshape(IMAGE_SIDE, IMAGE_SIDE), mode)
    return np.kron(img, np.ones((scale, scale), dtype=np.uint8)) if scale > 1 else img


def out_of_range_overlay(values: np.ndarray, scale: int = 8) -> np.ndarray:
    """An RGB image: clipped grey pixels, values below 0 tinted blue, above 1 tinted red."""
    v = np.asarray(values, dtype=np.float32).reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    grey = np.clip(v, 0, 1)
    rgb = np.stack([grey, grey, grey], axis=-1)
    below, above = v < 0, v > 1
    strength_b = np.clip(-v, 0, 1)[below] * 0.7 + 0.3
    strength_a = np.clip(v - 1, 0, 1)[above] * 0.7 + 0.3
    rgb[below] = np.stack([0 * strength_b, 0.35 * strength_b, strength_b], axis=-1)
    rgb[above] = np.stack([strength_a, 0.2 * strength_a, 0 * strength_a], axis=-1)
    out = (rgb * 255).round().astype(np.uint8)
    if scale > 1:
        out = out.repeat(scale, axis=1).repeat(scale, axis=2)
    return out[0] if np.asarray(values).ndim == 1 else out


def tile(images: np.ndarray, rows: int, cols: int, pad: int = 0) -> np.ndarray:
    """Lay out (rows*cols, H, W[, C]) images as one grid image (row-major)."""
    images = np.asarray(images)
    n, h, w = images.shape[:3]
    if n != rows * cols:
        raise ValueError(f"{n} images do not fill a {rows}x{cols} grid")
    extra = images.shape[3:]
    grid = np.zeros((rows * (h + pad) - pad, cols * (w + pad) - pad, *extra), dtype=images.dtype)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        grid[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = img
    return grid


def png_bytes(image: np.ndarray) -> bytes:
    """Encode a uint8 grey or RGB image as PNG."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def gif_bytes(frames: list[np.ndarray], ms_per_frame: int = 120) -> bytes:
    """An animated GIF that plays ``frames`` forward then back, looping forever."""
    seq = [Image.fromarray(f) for f in frames + frames[-2:0:-1]]
    buf = io.BytesIO()
    seq[0].save(buf, format="GIF", save_all=True, append_images=seq[1:], duration=ms_per_frame, loop=0)
    return buf.getvalue()


def histogram(values: np.ndarray, lo: float, hi: float, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts of ``values`` in ``bins`` equal bins over [lo, hi]; outliers join the end bins.

    Pre-binned counts keep the plotted figure small (a few dozen bars, not 784 points).
    """
    v = np.clip(np.asarray(values, dtype=np.float32).ravel(), lo, hi)
    counts, edges = np.histogram(v, bins=bins, range=(lo, hi))
    return counts, edges
