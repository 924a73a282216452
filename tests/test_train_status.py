"""The Train page's job status for runs that end early: every visitor sees the run's own one-line
error (never a chart library's), a one-epoch run's chart spans the run, and missing data is
explained in the page's terms."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from app_fixtures import run_app
from streamlit.testing.v1 import AppTest

from services.jobs import JobStatus
from ui import figures
from vae import data
from vae.train import Progress, TrainConfig

pytestmark = pytest.mark.usefixtures("isolated_user_dir")


def first_epoch_progress(epochs: int = 1) -> Progress:
    return Progress(epoch=1, epochs=epochs, step=40, steps_per_epoch=469, train_loss=210.5)


def show(runner, **status) -> AppTest:
    """The Train page as a visitor sees it while the shared runner reports ``status``."""
    cfg = TrainConfig(head="raw", latent=2, epochs=1)
    runner._status = JobStatus(config=cfg, out=Path("page-run.safetensors"), started=time.time() - 5,
                               finished=time.time(), **status)
    return run_app("app_pages/train.py")


def test_a_run_that_fails_in_its_first_epoch_shows_its_own_error(fresh_runner):
    at = show(fresh_runner, state="failed", progress=first_epoch_progress(), history=(),
              error="training diverged at epoch 1, step 40: the loss is nan")
    assert not at.exception, [e.value for e in at.exception]
    assert [e.value for e in at.error] == ["training diverged at epoch 1, step 40: the loss is nan"]
    assert not at.get("plotly_chart"), "no finished epoch, no chart"


def test_a_run_cancelled_in_its_first_epoch_renders(fresh_runner):
    at = show(fresh_runner, state="cancelled", progress=first_epoch_progress(), history=(),
              message="cancelled during epoch 1; no epoch finished, nothing saved")
    assert not at.exception, [e.value for e in at.exception]
    assert any("cancelled during epoch 1" in i.value for i in at.info)


def test_a_one_epoch_run_says_epoch_and_its_chart_spans_the_run(fresh_runner):
    history = ({"epoch": 1, "train_loss": 180.2, "test_loss": 170.9},)
    at = show(fresh_runner, state="done", progress=first_epoch_progress(), history=history)
    assert not at.exception, [e.value for e in at.exception]
    assert any("1 epoch," in t.value for t in at.text) and not any("1 epochs" in t.value for t in at.text)
    (chart,) = at.get("plotly_chart")
    assert '"range":[0,' in chart.proto.spec.replace(" ", ""), "the x axis spans epoch 0..1, not one point"


def test_one_finished_epoch_is_drawn_with_markers_on_the_whole_run():
    points: list[dict[str, float | str]] = [{"epoch": 1, "loss": 180.2, "curve": "train"}, {"epoch": 1, "loss": 170.9, "curve": "test"},
              {"epoch": 1.3, "loss": 175.0, "curve": "train (running)"}]
    fig = figures.training_curves(points, epochs=3)
    assert [t.name for t in fig.data] == ["train", "test", "train (running)"]
    assert all("markers" in t.mode for t in fig.data), "a single point is visible"
    assert fig.layout.xaxis.range[0] == 0 and fig.layout.xaxis.range[1] >= 3


def test_missing_training_data_is_explained_in_the_pages_terms(fresh_runner):
    folder = data.raw_dir("mnist", "/srv/data")
    error = data._missing_message("mnist", folder, "download failed: <urlopen error [Errno -3] Temporary "
                                                   "failure in name resolution>")
    at = show(fresh_runner, state="failed", progress=None, history=(), error=error)
    (message,) = [e.value for e in at.error]
    assert "--data-dir" not in message and "urlopen" not in message and "/srv/data" not in message
    assert "MNIST/raw/" in message and "Where the training data comes from" in message
