"""Uploaded images: any PNG/JPEG becomes an MNIST-style digit, anything else one clear error.

MNIST-style: 28x28 float32 in [0, 1], white ink on black, the ink fitted into 20x20 and
centred by centre of mass. Also: the size limits in .streamlit/config.toml, the upload
widgets and the code agree.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
import tomllib
from app_fixtures import ROOT, run_app
from PIL import Image, ImageFile

import services.preprocess
import vae.checkpoints
from services.preprocess import MAX_PIXELS, ImageError, load_image


def drawing() -> np.ndarray:
    """A '7', white on black, 60x40 (uint8)."""
    a = np.zeros((60, 40), dtype=np.uint8)
    a[8:14, 6:34] = 255       # the bar
    for r in range(14, 54):   # the stroke down to the left
        c = 30 - (r - 14) // 2
        a[r, c:c + 6] = 255
    return a


def encoded(img: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares width x height grey pixels (a decompression bomb's header)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * (width + 1)))
            + chunk(b"IEND", b""))


def _rgba_ink_on_transparent(ink: int, hidden_background: int) -> Image.Image:
    # transparent pixels still carry a colour; it must not leak into the digit
    a = drawing()
    rgba = np.zeros((*a.shape, 4), dtype=np.uint8)
    rgba[..., :3] = np.where(a[..., None] > 0, ink, hidden_background)
    rgba[..., 3] = a
    return Image.fromarray(rgba, "RGBA")


def _palette_with_transparent_background() -> Image.Image:
    img = Image.fromarray(drawing()).convert("P")
    img.info["transparency"] = 0
    return img


def _sixteen_bit() -> Image.Image:
    return Image.fromarray(drawing().astype(np.uint16) * 257)  # mode I;16


def _cmyk() -> Image.Image:
    a = drawing()
    return Image.fromarray(np.stack([np.zeros_like(a)] * 3 + [255 - a], axis=-1), "CMYK")  # black = K


def _on_wide_canvas(width: int) -> Image.Image:
    canvas = np.zeros((60, width), dtype=np.uint8)
    canvas[:, width // 2:width // 2 + 40] = drawing()
    return Image.fromarray(canvas)


# name -> (bytes, how close to the plain PNG's digit it must come: max |difference|)
SAME_DIGIT = {
    "grey PNG": (lambda: encoded(Image.fromarray(drawing())), 0.0),
    "black ink on white RGB PNG": (lambda: encoded(Image.fromarray(255 - drawing()).convert("RGB")), 0.0),
    "RGBA, white ink, transparent white background": (lambda: encoded(_rgba_ink_on_transparent(255, 255)), 0.0),
    "RGBA, black ink, transparent black background": (lambda: encoded(_rgba_ink_on_transparent(0, 0)), 0.0),
    "palette (P) with a transparent background": (lambda: encoded(_palette_with_transparent_background()), 0.0),
    "16-bit grey (I;16)": (lambda: encoded(_sixteen_bit()), 0.0),
    "grey + alpha (LA)": (lambda: encoded(Image.fromarray(drawing()).convert("LA")), 0.0),
    "bilevel (1)": (lambda: encoded(Image.fromarray(drawing()).convert("1")), 0.0),
    "wide canvas, 900x60": (lambda: encoded(_on_wide_canvas(900)), 0.0),
    "grey JPEG": (lambda: encoded(Image.fromarray(drawing()), "JPEG", quality=95), 0.15),
    "CMYK JPEG": (lambda: encoded(_cmyk(), "JPEG", quality=95), 0.15),
}

REFUSED = {
    "empty file": (lambda: b"", "empty"),
    "text file": (lambda: b"this is not an image\n" * 10, "not an image"),
    "GIF (not offered, so not decoded)": (lambda: encoded(Image.fromarray(drawing()), "GIF"), "not an image"),
    "TIFF (not offered, so not decoded)": (lambda: encoded(Image.fromarray(drawing()), "TIFF"), "not an image"),
    "truncated PNG": (lambda: encoded(Image.fromarray(drawing()))[:120], "damaged"),
    "1x1 pixel": (lambda: encoded(Image.new("L", (1, 1), 255)), "blank"),
    "all black": (lambda: encoded(Image.new("L", (50, 50), 0)), "blank"),
    "header declaring 20000x20000": (lambda: png_declaring(20_000, 20_000), "decompression bomb"),
    "valid 7000x7000 PNG of 6 kB": (lambda: encoded(Image.new("1", (7000, 7000))), "decompression bomb"),
}


def assert_mnist_like(x: np.ndarray) -> None:
    assert x.shape == (28, 28) and x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() <= 1.0 and x.max() > 0.5
    rows, cols = np.flatnonzero((x > 0.1).any(axis=1)), np.flatnonzero((x > 0.1).any(axis=0))
    height, width = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
    assert max(height, width) in (19, 20, 21), (height, width)  # fitted into the 20x20 box
    mass = x.sum()
    centre = (x.sum(axis=1) @ np.arange(28) / mass, x.sum(axis=0) @ np.arange(28) / mass)
    assert np.allclose(centre, 13.5, atol=1.0), centre
    assert x[:, :2].max() < 0.1 and x[:, -2:].max() < 0.1, "white ink on black, the background is 0"


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    return load_image(encoded(Image.fromarray(drawing())), "reference.png")


# --- services.preprocess --------------------------------------------------------------------------

@pytest.mark.parametrize("case", list(SAME_DIGIT))
def test_any_png_or_jpeg_mode_becomes_the_same_mnist_style_digit(case, reference):
    make, tolerance = SAME_DIGIT[case]
    x = load_image(make(), "upload")
    assert_mnist_like(x)
    assert np.abs(x - reference).max() <= tolerance + 1e-6


def test_an_image_larger_than_the_working_size_is_shrunk_first_and_still_a_digit():
    x = load_image(encoded(_on_wide_canvas(6000)), "very-wide.png")  # 6000x60: shrunk to 1024 wide first
    assert_mnist_like(x)


@pytest.mark.parametrize("case", list(REFUSED))
def test_an_unusable_file_is_one_image_error_naming_it(case):
    make, problem = REFUSED[case]
    with pytest.raises(ImageError, match=problem) as info:
        load_image(make(), "upload.png")
    assert str(info.value).startswith("upload.png: ") and "\n" not in str(info.value)


def test_a_decompression_bomb_is_refused_from_its_header_without_decoding_a_pixel(monkeypatch):
    def decode(self):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", decode)
    side = int(MAX_PIXELS ** 0.5) + 1  # just over our limit, under PIL's own (89 M pixels)
    for data in (encoded(Image.new("1", (side, side))), png_declaring(side, side)):
        with pytest.raises(ImageError, match="over the 40,000,000-pixel limit"):
            load_image(data, "bomb.png")


def test_a_file_over_the_upload_limit_is_refused_before_decoding(monkeypatch):
    data = encoded(Image.fromarray(drawing()))
    monkeypatch.setattr(services.preprocess, "MAX_UPLOAD_BYTES", len(data) - 1)
    with pytest.raises(ImageError, match="over the .* limit"):
        load_image(data, "big.png")


def test_loading_images_leaves_pils_process_wide_settings_alone():
    # sessions run in threads: a per-call change of Image.MAX_IMAGE_PIXELS would race
    limit = Image.MAX_IMAGE_PIXELS
    for make, _ in REFUSED.values():
        with pytest.raises(ImageError):
            load_image(make(), "x.png")
    assert Image.MAX_IMAGE_PIXELS == limit


# --- through the reconstructions page ------------------------------------------------------

@pytest.fixture(scope="module")
def recon_upload():
    """One session on the reconstructions page with 'Upload an image' chosen."""
    at = run_app("app_pages/reconstructions.py")
    at.radio(key="recon_source").set_value("upload").run()
    return at


PAGE_ACCEPTS = ["RGBA, white ink, transparent white background", "palette (P) with a transparent background",
                "16-bit grey (I;16)", "CMYK JPEG"]
PAGE_REFUSES = ["text file", "1x1 pixel", "valid 7000x7000 PNG of 6 kB", "GIF (not offered, so not decoded)"]


@pytest.mark.parametrize("case", PAGE_ACCEPTS)
def test_the_page_reconstructs_an_uploaded_image_of_any_mode(recon_upload, case):
    at = recon_upload
    at.file_uploader(key="recon_upload").set_value(("digit.png", SAME_DIGIT[case][0](), "image/png")).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert len(at.dataframe[0].value) == 5  # every head of latent > 2
    assert at.get("image")[0].proto.imgs[0].caption == "input: digit.png"


@pytest.mark.parametrize("case", PAGE_REFUSES)
def test_the_page_shows_one_error_for_an_unusable_upload_and_keeps_running(recon_upload, case):
    make, problem = REFUSED[case]
    at = recon_upload
    at.file_uploader(key="recon_upload").set_value(("upload.png", make(), "image/png")).run()
    assert not at.exception
    assert [e.value for e in at.error if problem in e.value and e.value.startswith("upload.png: ")] == \
        [e.value for e in at.error] and len(at.error) == 1
    assert any("No digit yet" in i.value for i in at.info)


# --- limits: config.toml, the upload widgets and the code agree ------------------------------

def test_the_servers_upload_limit_is_the_largest_limit_the_code_enforces():
    # Larger, and a file the code refuses would still be accepted and held in memory;
    # smaller, and the code's own clear message could never be reached.
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    limits = (services.preprocess.MAX_UPLOAD_BYTES, vae.checkpoints.MAX_CHECKPOINT_BYTES)
    assert all(limit % 2**20 == 0 for limit in limits), "limits are whole megabytes, as Streamlit counts them"
    assert config["server"]["maxUploadSize"] * 2**20 == max(limits)


def test_each_upload_widget_announces_the_limit_its_code_enforces(recon_upload):
    assert recon_upload.file_uploader(key="recon_upload").proto.max_upload_size_mb * 2**20 == \
        services.preprocess.MAX_UPLOAD_BYTES
    at = run_app("app_pages/import_checkpoint.py")
    assert at.file_uploader(key="import_file").proto.max_upload_size_mb * 2**20 == \
        vae.checkpoints.MAX_CHECKPOINT_BYTES
