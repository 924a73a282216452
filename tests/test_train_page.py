"""The training page end to end: a run started from the form finishes in the background and
its checkpoint becomes selectable on the other pages."""

from __future__ import annotations

from app_fixtures import run_app
from backend_fixtures import write_mnist_raw

import vae.paths


def test_a_run_started_on_the_train_page_finishes_and_is_selectable_everywhere(
        tmp_path, small_splits, isolated_user_dir, fresh_runner, monkeypatch):
    data = tmp_path / "data"
    write_mnist_raw(data, *small_splits)
    monkeypatch.setattr(vae.paths, "DEFAULT_DATA_DIR", data)  # the operator's data folder
    at = run_app("app_pages/train.py")
    at.selectbox(key="train_head").set_value("raw")
    at.selectbox(key="train_latent").set_value(2)
    at.number_input(key="train_epochs").set_value(1)
    at.text_input(key="train_name").set_value("page-run")
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.error, [e.value for e in at.error]

    status = fresh_runner.wait(120)
    assert status.state == "done", status.error
    assert [h["epoch"] for h in status.history] == [1]
    at.run()
    assert any("page-run" in s.value for s in at.success)
    assert (isolated_user_dir / "page-run.safetensors").is_file()

    explorer = run_app()
    assert "user/page-run" in explorer.selectbox(key="left").options
