"""No network and no dataset: every page still runs on the shipped checkpoints and sample,
and the training page says exactly where the data files go (or that they are corrupt)."""

from __future__ import annotations

from pathlib import Path

import pytest
from app_fixtures import PAGES, run_app

import vae.paths

TRAIN_PAGE = "app_pages/train.py"


@pytest.fixture
def no_data(tmp_path, monkeypatch, no_network, isolated_user_dir) -> Path:
    """An empty data folder as the app's default, downloads failing as they do offline."""
    empty = tmp_path / "data"
    empty.mkdir()
    monkeypatch.setattr(vae.paths, "DEFAULT_DATA_DIR", empty)
    monkeypatch.setenv("VAE_DATA_DIR", str(empty))
    return empty


def start_training_from_the_page(runner):
    """Submit the train form with its defaults (MNIST, latent 20) and wait for the job to end."""
    at = run_app(TRAIN_PAGE)
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception
    status = runner.wait(60)
    at.run()  # the status panel shows what the job ended with
    return at, status


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_the_dataset_or_a_network(page, no_data, no_network, fresh_runner):
    at = run_app(page)
    assert not at.error, [e.value for e in at.error]
    assert no_network == [], "rendering a page must not try to download anything"
    assert list(no_data.iterdir()) == []


def test_the_train_page_shows_which_files_are_missing_before_and_after_a_start(no_data, no_network, fresh_runner):
    at = run_app(TRAIN_PAGE)
    (table,) = at.dataframe
    mnist = table.value.set_index("dataset").loc["mnist"]
    assert mnist["folder in the data folder"] == "MNIST/raw/" and mnist["files present"] == "0 of 4"
    assert "train-images-idx3-ubyte" in mnist["missing"]

    at, status = start_training_from_the_page(fresh_runner)
    assert status.state == "failed" and no_network, "the download was tried, and failed"
    errors = [e.value for e in at.error]
    assert len(errors) == 1, errors
    assert "put the four IDX files" in errors[0] and "MNIST/raw" in errors[0]
    assert str(no_data) not in errors[0], "no server path is shown to a visitor"


def test_corrupt_idx_files_are_reported_as_corrupt_on_the_train_page(no_data, no_network, fresh_runner):
    raw = no_data / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        (raw / name).write_bytes(b"\x00\x00\x08\x03" + b"\xff" * 100)  # an IDX header, then garbage
    at, status = start_training_from_the_page(fresh_runner)
    assert status.state == "failed"
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "corrupt" in errors[0] and str(raw) not in errors[0], errors
    assert no_network == [], "files that are there are not downloaded again"
