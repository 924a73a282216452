"""Prepare a drawn or uploaded image the way MNIST's digits were prepared.

MNIST (LeCun et al.): grey-level digits, white on black, size-normalised to fit a
20x20 box keeping the aspect ratio, then centred by centre of mass in a 28x28 field.
Any PNG or JPEG is accepted (RGBA, palette, 16-bit, CMYK, ...) within size limits;
anything else is refused with one :class:`ImageError` line.
"""

from __future__ import annotations

import io
import struct

import numpy as np
from PIL import Image, UnidentifiedImageError

from vae.architecture import IMAGE_SIDE

MAX_UPLOAD_BYTES = 10 * 2**20
MAX_PIXELS = 40_000_000  # about 6300x6300: more is refused before any pixel is decoded
FORMATS = ("PNG", "JPEG")  # what the uploader offers; PIL's other decoders are never reached
WORK_SIDE = 1024  # larger images are shrunk first, so per-request memory stays small
FIT_BOX = 20
INK_THRESHOLD = 0.1


class ImageError(ValueError):
    """An image that cannot be turned into a digit (one-line message)."""


def load_image(data: bytes, name: str = "image") -> np.ndarray:
    """Decode uploaded PNG/JPEG bytes and prepare them as a 28x28 float32 digit in [0, 1].

    Refused with :class:`ImageError`: empty or oversized files, other formats, damaged
    files, images over :data:`MAX_PIXELS` (checked from the header, before decoding, so a
    small file that decompresses to gigabytes costs nothing) and blank images.
    """
    if not data:
        raise ImageError(f"{name}: the file is empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageError(f"{name}: {len(data) / 2**20:.1f} MB is over the {MAX_UPLOAD_BYTES // 2**20} MB limit")
    try:
        # Image.open reads only the header. PIL's own bomb check (Image.MAX_IMAGE_PIXELS) is a
        # process-wide setting, so it is left alone: sessions run in threads; ours is local.
        img = Image.open(io.BytesIO(data), formats=FORMATS)
        if img.width * img.height > MAX_PIXELS:
            raise ImageError(f"{name}: {img.width}x{img.height} pixels is over the {MAX_PIXELS:,}-pixel limit "
                             "(possible decompression bomb)")
        img.load()
    except ImageError:
        raise
    except Image.DecompressionBombError:
        raise ImageError(f"{name}: refused, the image is too large when decompressed (possible decompression bomb)") from None
    except UnidentifiedImageError:
        raise ImageError(f"{name}: not an image this app reads (PNG or JPEG expected)") from None
    except (OSError, ValueError, SyntaxError, struct.error, EOFError) as err:
        raise ImageError(f"{name}: damaged or unsupported image ({err})") from None
    return prepare_digit(_shrunk(img), name)


def _shrunk(img: Image.Image) -> Image.Image:
    """The image with its longest side at most WORK_SIDE (the digit ends up 20 px anyway)."""
    if max(img.size) <= WORK_SIDE:
        return img
    if img.mode in ("1", "P", "PA"):  # these would be resized by nearest neighbour: thin strokes vanish
        img = img.convert("RGBA")
    elif img.mode.startswith("I;16"):  # Pillow cannot resample 16-bit modes: as floats in [0, 1] it can
        img = Image.fromarray(np.asarray(img, dtype=np.float32) / np.float32(65535.0), mode="F")
        img.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.LANCZOS)
        # clipped like 8-bit resampling clips: Lanczos overshoot above 1 would otherwise dim the digit
        return Image.fromarray(np.clip(np.asarray(img), 0.0, 1.0), mode="F")
    img.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.LANCZOS)
    return img


def prepare_digit(img: Image.Image | np.ndarray, name: str = "image") -> np.ndarray:
    """MNIST-style 28x28 float32 digit (white on black, in [0, 1]) from any image."""
    grey = _to_grey(Image.fromarray(img) if isinstance(img, np.ndarray) else img)
    # MNIST is white ink on black; a light background means dark ink: invert.
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    if border.mean() > 0.5:
        grey = 1.0 - grey
    ink = grey > INK_THRESHOLD
    if not ink.any():
        raise ImageError(f"{name}: the image is blank (no strokes found)")
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    crop = grey[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = crop.shape
    scale = FIT_BOX / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    small = np.asarray(Image.fromarray(crop.astype(np.float32), mode="F").resize((new_w, new_h), Image.Resampling.LANCZOS))
    small = np.clip(small, 0.0, 1.0)
    return _centre_by_mass(small)


def _to_grey(img: Image.Image) -> np.ndarray:
    """Grey levels in [0, 1] for any mode; transparency becomes a contrasting background."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") else max(float(arr.max()), 1.0)
        return np.clip(arr / top, 0.0, 1.0)
    rgba = np.asarray(img.convert("RGBA"), dtype=np.float64) / 255.0
    lum = rgba[..., :3] @ np.array([0.299, 0.587, 0.114])
    alpha = rgba[..., 3]
    if (alpha < 1).any():
        opaque = alpha > 0.5
        # Compose onto the background that contrasts with the ink (light ink -> black).
        background = 0.0 if opaque.any() and lum[opaque].mean() > 0.5 else 1.0
        lum = lum * alpha + background * (1 - alpha)
    return lum


def _centre_by_mass(digit: np.ndarray) -> np.ndarray:
    out = np.zeros((IMAGE_SIDE, IMAGE_SIDE), dtype=np.float32)
    h, w = digit.shape
    total = digit.sum()
    cy = (digit.sum(axis=1) @ np.arange(h)) / total
    cx = (digit.sum(axis=0) @ np.arange(w)) / total
    top = int(round(IMAGE_SIDE / 2 - 0.5 - cy))
    left = int(round(IMAGE_SIDE / 2 - 0.5 - cx))
    top = min(max(top, 0), IMAGE_SIDE - h)  # keep the whole digit inside the field
    left = min(max(left, 0), IMAGE_SIDE - w)
    out[top:top + h, left:left + w] = digit
    return out
