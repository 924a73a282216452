"""A public deployment: visitors never choose server paths or read them, the read-only switch writes
nothing, errors show no traceback, and untrusted text is plain text."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
import tomllib
from app_fixtures import PAGES, ROOT, run_app
from PIL import Image
from streamlit.testing.v1 import AppTest

import vae.paths
from services.preprocess import load_image
from services.untrusted import literal, public, redact

TRAIN_PAGE, IMPORT_PAGE = "app_pages/train.py", "app_pages/import_checkpoint.py"


def test_the_train_page_lets_no_visitor_name_a_server_path(isolated_user_dir, fresh_runner):
    at = run_app(TRAIN_PAGE)
    assert [t.key for t in at.text_input] == ["train_name"], "the only text a visitor types is the checkpoint's name"
    assert str(vae.paths.DEFAULT_DATA_DIR) not in " ".join(str(e.value) for e in at.main if hasattr(e, "value"))


def test_the_data_folder_is_the_operators_environment_variable(monkeypatch, tmp_path):
    import importlib

    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path / "operator-data"))
    try:
        assert importlib.reload(vae.paths).DEFAULT_DATA_DIR == tmp_path / "operator-data"
    finally:
        monkeypatch.delenv("VAE_DATA_DIR")
        importlib.reload(vae.paths)


@pytest.fixture
def read_only(monkeypatch, isolated_user_dir):
    monkeypatch.setenv("VAE_EXPLORER_READ_ONLY", "1")
    return isolated_user_dir


@pytest.mark.parametrize("page", [p for p in PAGES if p not in (TRAIN_PAGE, IMPORT_PAGE)])
def test_read_only_every_page_renders_and_nothing_is_written(read_only, page):
    import time

    from ui import loaders

    read_only.mkdir(parents=True)
    stale = read_only / ".old.safetensors.abcdef.tmp"
    stale.write_bytes(b"x")
    import os
    os.utime(stale, (time.time() - 3600,) * 2)
    loaders.startup_cleanup.clear()
    run_app(page)
    assert [p.name for p in read_only.iterdir()] == [stale.name], "read-only: not even the start-up clean-up writes"


def test_read_only_hides_training_and_import(read_only):
    source = (ROOT / "app.py").read_text()
    assert "if not read_only():" in source
    for page in (TRAIN_PAGE, IMPORT_PAGE):  # reached directly: the navigation does not list them
        at = AppTest.from_file(str(ROOT / page), default_timeout=60).run()
        assert not at.exception
        assert any("switched off" in i.value for i in at.info)
        assert not at.button and not at.file_uploader, "no way to start a job or upload"


def test_read_only_navigation_lists_no_page_that_writes(read_only, monkeypatch):
    import streamlit as st

    listed = []
    real = st.navigation
    monkeypatch.setattr(st, "navigation", lambda pages, **kw: listed.extend(pages) or real(pages, **kw))
    run_app()
    titles = [p.title for p in listed]
    assert "Latent explorer" in titles and "Train a variant" not in titles and "Import a checkpoint" not in titles


def test_uncaught_errors_show_their_type_only():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] in ("type", "none")


# --- untrusted text ----------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["![x](http://host/pixel.png)", "name`` with ``backticks", "$x^2$", ":red[alarm]",
                                  "<img src=x onerror=alert(1)>", "# heading", "1. list", "- item", "a *b* _c_"])
def test_markdown_in_untrusted_text_is_escaped(text):
    shown = literal(text)
    # every character markdown acts on is backslash-escaped, and unescaping gives the text back
    assert not re.search(r"(?<!\\)[\[\]`<>$*_#&~]", shown.replace("\\\\", "")), shown
    assert not re.match(r"\d+[.)]|[-+=>:!]", shown), shown
    assert re.sub(r"\\(.)", r"\1", shown) == text


def test_server_folders_are_redacted():
    message = f"could not write {vae.paths.USER_CHECKPOINT_DIR}/x.safetensors; data in {vae.paths.DEFAULT_DATA_DIR}/MNIST/raw"
    assert redact(message) == "could not write {user checkpoints}/x.safetensors; data in {data folder}/MNIST/raw"
    assert str(vae.paths.REPO_ROOT) not in public(f"{vae.paths.REPO_ROOT}/.venv/lib/x.py")


# --- a visitor's image upload ------------------------------------------------------------------

@pytest.mark.parametrize("size", [(4200, 3000), (6300, 6300)])
def test_a_large_16_bit_greyscale_png_becomes_the_same_digit_as_its_8_bit_twin(size):
    w, h = size
    grey = np.zeros((h, w), dtype=np.uint16)
    grey[h // 4: 3 * h // 4, w // 3: w // 3 + w // 8] = 65535  # a thick vertical bar: a "1"
    png16, png8 = io.BytesIO(), io.BytesIO()
    Image.fromarray(grey).save(png16, "PNG")
    Image.fromarray((grey // 257).astype(np.uint8)).save(png8, "PNG")
    digit16, digit8 = load_image(png16.getvalue(), "big16.png"), load_image(png8.getvalue(), "big8.png")
    # the same shape; edges differ a little (16-bit is resampled as floats, 8-bit as bytes)
    assert np.corrcoef(digit16.ravel(), digit8.ravel())[0, 1] > 0.97 and abs(digit16.sum() - digit8.sum()) < 0.05 * digit8.sum()
