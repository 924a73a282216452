"""Hostile and broken checkpoints uploaded through the app's import page.

Each one gets exactly one error naming the file and the problem; no code from the file
runs; nothing reaches the user checkpoint folder; the models already loaded keep serving.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from app_fixtures import explorer_panel, run_app
from backend_fixtures import BAD_CHECKPOINTS, RunsCodeWhenUnpickled, torch_bytes

import vae.checkpoints
import vae.paths
from services.decoding import decode_point
from ui import loaders

IMPORT_PAGE = "app_pages/import_checkpoint.py"
Z = np.linspace(-1.5, 1.5, 20)


def upload_and_import(at, name: str, data: bytes):
    at.file_uploader(key="import_file").set_value((name, data, "application/octet-stream")).run()
    at.button(key="import_go").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return [e.value for e in at.error]


def assert_nothing_written(user_dir) -> None:
    assert not user_dir.exists() or not any(user_dir.iterdir()), sorted(user_dir.iterdir())


# Every bad file is refused at the loader (test_checkpoints); the page is checked with one of each kind.
AT_THE_PAGE = ("random bytes", "truncated inside the header", "NaN weights", "unknown head in metadata",
               "torch.save of a whole nn.Module")


@pytest.mark.parametrize("case", AT_THE_PAGE)
def test_a_bad_checkpoint_gets_one_error_naming_the_problem_and_writes_nothing(case, isolated_user_dir):
    make, problem = BAD_CHECKPOINTS[case]
    at = run_app(IMPORT_PAGE)
    errors = upload_and_import(at, "upload.safetensors", make())
    assert len(errors) == 1, errors
    assert errors[0].startswith("upload.safetensors: "), errors
    assert re.search(problem, errors[0]), (problem, errors[0])
    assert not any(s.value.startswith("Imported") for s in at.success)
    assert_nothing_written(isolated_user_dir)


def test_a_pickle_that_would_run_code_is_refused_and_never_runs(tmp_path, isolated_user_dir):
    marker = tmp_path / "code-ran"
    data = torch_bytes({"fc1.weight": RunsCodeWhenUnpickled(marker)})
    at = run_app(IMPORT_PAGE)
    errors = upload_and_import(at, "evil.pt", data)
    assert len(errors) == 1 and errors[0].startswith("evil.pt: refused to unpickle"), errors
    assert not marker.exists()
    assert_nothing_written(isolated_user_dir)


def test_a_file_over_the_size_limit_is_refused_before_it_is_parsed(monkeypatch, isolated_user_dir):
    good = (vae.paths.CHECKPOINT_DIR / "mnist-sigmoid-z20.safetensors").read_bytes()
    monkeypatch.setattr(vae.checkpoints, "MAX_CHECKPOINT_BYTES", len(good) - 1)
    at = run_app(IMPORT_PAGE)
    errors = upload_and_import(at, "big.safetensors", good)
    assert len(errors) == 1 and errors[0].startswith("big.safetensors: file is ") and "over the" in errors[0], errors
    assert_nothing_written(isolated_user_dir)


def test_after_a_series_of_bad_uploads_the_loaded_models_keep_serving(tmp_path, isolated_user_dir):
    catalog = loaders.catalog()
    ckpt = catalog.checkpoints["mnist-sigmoid-z20"]
    before = decode_point(ckpt, Z).pixels
    at = run_app(IMPORT_PAGE)
    for case in AT_THE_PAGE:
        assert len(upload_and_import(at, f"{case}.safetensors", BAD_CHECKPOINTS[case][0]())) == 1, case
    upload_and_import(at, "evil.pt", torch_bytes({"fc1.weight": RunsCodeWhenUnpickled(tmp_path / "code-ran")}))

    assert loaders.catalog() is catalog, "a refused file must not reload the shared models"
    assert np.array_equal(decode_point(ckpt, Z).pixels, before)
    at.switch_page("app_pages/explorer.py").run()  # same session, same cached models
    assert not at.exception and not at.error
    assert [len(c["images"]) for c in explorer_panel(at)["columns"]] == [1, 2]
    assert_nothing_written(isolated_user_dir)
    assert not (tmp_path / "code-ran").exists()


def test_one_of_our_own_files_imports_whatever_head_is_picked_for_files_without_one(isolated_user_dir):
    # The page's head picker only fills in for classic state dicts: a raw-head file stays raw.
    data = (vae.paths.CHECKPOINT_DIR / "mnist-raw-z2.safetensors").read_bytes()
    at = run_app(IMPORT_PAGE)
    assert at.selectbox(key="import_head").value == "sigmoid"
    at.text_input(key="import_name").set_value("friends-raw")
    assert upload_and_import(at, "mnist-raw-z2.safetensors", data) == []
    saved = vae.checkpoints.load_checkpoint(isolated_user_dir / "friends-raw.safetensors")
    assert saved.head.name == "raw" and saved.config.latent == 2
