"""User checkpoints on a shared server: owned by the session that made them, names claimed atomically,
quotas, clean-up, a bounded model cache, and one bad file never breaking a page.

Two AppTests are two visitors (each has its own session state, so its own token).
"""

from __future__ import annotations

import io
import json
import os
import threading
import time

import pytest
import safetensors
import safetensors.torch
import torch
from app_fixtures import PAGES, run_app
from backend_fixtures import checkpoint_meta, safetensors_bytes, small_model, state_of, write_mnist_raw

import vae.paths
from services import ownership
from services.catalog import load_catalog
from services.importing import import_upload
from services.jobs import NotYourJob, start_training
from services.ownership import NameTaken, NotOwner
from services.quotas import QuotaError, Quotas, remove_stale_files
from vae import checkpoints
from vae.checkpoints import load_checkpoint

SHIPPED_Z2 = vae.paths.CHECKPOINT_DIR / "mnist-sigmoid-z2.safetensors"
IMPORT_PAGE, TRAIN_PAGE = "app_pages/import_checkpoint.py", "app_pages/train.py"


def upload(at, name: str, data: bytes, save_as: str | None = None, replace: bool = False):
    at.file_uploader[0].set_value((name, data, "application/octet-stream")).run()
    if save_as is not None:
        at.text_input(key="import_name").set_value(save_as)
    if replace:
        at.checkbox(key="import_replace").check()
    return at.button(key="import_go").click().run()


def classic_bytes(seed: int) -> bytes:
    buf = io.BytesIO()
    torch.save(state_of(small_model(latent=2, hidden=16, seed=seed)), buf)
    return buf.getvalue()


# --- names: claimed atomically, never overwritten by someone else -------------------------------

def test_two_sessions_importing_the_same_new_name_at_once_get_one_success_and_one_refusal(isolated_user_dir, monkeypatch):
    # Both writes are held until both sessions have reached the write (or 2 s have passed): with a
    # check-then-write, both would pass the check and one model would be silently lost.
    barrier = threading.Barrier(2)
    real_save = safetensors.torch.save_file

    def save_when_both_are_here(tensors, filename, metadata=None):
        try:
            barrier.wait(timeout=2)
        except threading.BrokenBarrierError:
            pass
        real_save(tensors, filename, metadata=metadata)

    monkeypatch.setattr(safetensors.torch, "save_file", save_when_both_are_here)
    outcomes: dict[str, object] = {}
    files = [classic_bytes(seed) for seed in range(2)]  # made first: torch's seed is process-wide

    def visitor(owner: str, seed: int) -> None:
        try:
            outcomes[owner] = import_upload(files[seed], "vae.pt", name="same", owner=owner,
                                            folder=isolated_user_dir, head="sigmoid", dataset="mnist")
        except NameTaken as err:
            outcomes[owner] = err

    threads = [threading.Thread(target=visitor, args=(f"owner-{i}", i)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    winners = [o for o, r in outcomes.items() if not isinstance(r, Exception)]
    losers = [r for r in outcomes.values() if isinstance(r, NameTaken)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert "taken by another visitor" in str(losers[0])
    seed = int(winners[0].split("-")[1])
    stored = load_checkpoint(isolated_user_dir / "same.safetensors")
    expected = state_of(small_model(latent=2, hidden=16, seed=seed))
    assert all(torch.equal(torch.from_numpy(stored.weights[k].copy()), v) for k, v in expected.items())
    assert ownership.owner_of(isolated_user_dir, "same") == winners[0]


def test_training_cannot_overwrite_a_checkpoint_another_visitor_imported(isolated_user_dir, fresh_runner, tmp_path,
                                                                          small_splits, monkeypatch):
    data = tmp_path / "data"
    write_mnist_raw(data, *small_splits)
    monkeypatch.setattr(vae.paths, "DEFAULT_DATA_DIR", data)
    first = run_app(IMPORT_PAGE)
    upload(first, "ok-name.pt", classic_bytes(1))
    assert not first.error, [e.value for e in first.error]
    before = (isolated_user_dir / "ok-name.safetensors").read_bytes()

    second = run_app(TRAIN_PAGE)  # another visitor
    second.selectbox(key="train_latent").set_value(2)
    second.number_input(key="train_epochs").set_value(1)
    second.text_input(key="train_name").set_value("ok-name")
    next(b for b in second.button if b.label == "Start training").click().run()
    assert [e.value for e in second.error] == ["the name 'ok-name' is taken by another visitor's checkpoint; choose another name"]
    assert fresh_runner.status().state == "idle" and (isolated_user_dir / "ok-name.safetensors").read_bytes() == before


def test_your_own_name_is_replaced_only_when_asked(isolated_user_dir):
    at = run_app(IMPORT_PAGE)
    upload(at, "mine.pt", classic_bytes(1))
    upload(at, "mine.pt", classic_bytes(2))
    assert any("you already have a checkpoint named 'mine'" in e.value for e in at.error)
    upload(at, "mine.pt", classic_bytes(2), replace=True)
    assert not at.error and any("Imported as user/mine" in s.value for s in at.success)
    expected = state_of(small_model(latent=2, hidden=16, seed=2))["fc4.bias"]
    assert torch.equal(torch.from_numpy(load_checkpoint(isolated_user_dir / "mine.safetensors").weights["fc4.bias"].copy()), expected)


def test_only_the_owner_sees_delete_and_deleting_frees_the_name(isolated_user_dir):
    owner = run_app(IMPORT_PAGE)
    upload(owner, "gone.pt", classic_bytes(1))
    other = run_app(IMPORT_PAGE)
    assert not [b for b in other.button if b.key == "delete_gone"], "another visitor has no Delete for it"
    with pytest.raises(NotOwner):
        ownership.delete(isolated_user_dir, "gone", "somebody else")
    owner.button(key="delete_gone").click().run()
    assert not (isolated_user_dir / "gone.safetensors").exists()
    assert sorted(p.name for p in isolated_user_dir.iterdir()) == []
    upload(other, "gone.pt", classic_bytes(2))
    assert not other.error and (isolated_user_dir / "gone.safetensors").exists()


def test_only_the_session_that_started_a_job_can_cancel_it(isolated_user_dir, fresh_runner, tmp_path, small_splits,
                                                           monkeypatch):
    data = tmp_path / "data"
    write_mnist_raw(data, *small_splits)
    monkeypatch.setattr(vae.paths, "DEFAULT_DATA_DIR", data)
    starter = run_app(TRAIN_PAGE)
    starter.selectbox(key="train_latent").set_value(2)
    starter.number_input(key="train_epochs").set_value(50)
    starter.text_input(key="train_name").set_value("long-run")
    next(b for b in starter.button if b.label == "Start training").click().run()
    deadline = time.monotonic() + 60
    while fresh_runner.status().state != "running":
        assert fresh_runner.status().active and time.monotonic() < deadline, fresh_runner.status().error
        time.sleep(0.05)

    other = run_app(TRAIN_PAGE)
    assert not [b for b in other.button if b.key == "train_cancel"], "another visitor is offered no Cancel"
    with pytest.raises(NotYourJob):
        fresh_runner.cancel(owner="another visitor")
    assert fresh_runner.status().active

    starter.run()
    starter.button(key="train_cancel").click().run()
    assert fresh_runner.wait(60).state == "cancelled"


# --- quotas, stale files, memory ---------------------------------------------------------------

def test_a_new_checkpoint_over_the_count_quota_is_refused_with_a_message(isolated_user_dir, monkeypatch):
    monkeypatch.setenv("VAE_MAX_USER_CHECKPOINTS", "1")
    at = run_app(IMPORT_PAGE)
    upload(at, "one.pt", classic_bytes(1))
    upload(at, "two.pt", classic_bytes(2))
    assert [e.value for e in at.error] == ["this server keeps at most 1 user checkpoints and has 1; "
                                          "delete one of yours first (Import page)"]
    assert sorted(p.name for p in isolated_user_dir.glob("*.safetensors")) == ["one.safetensors"]
    assert not (isolated_user_dir / ".two.owner").exists(), "a refused name is not left claimed"


def test_a_new_checkpoint_over_the_size_quota_is_refused(isolated_user_dir):
    with pytest.raises(QuotaError, match="at most 1 MB of user checkpoints"):
        ownership.claim(isolated_user_dir, "big", "me", new_bytes=SHIPPED_Z2.stat().st_size, quotas=Quotas(10, 2**20))
    assert list(isolated_user_dir.iterdir()) == []


def test_quotas_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("VAE_MAX_USER_CHECKPOINTS", "3")
    monkeypatch.setenv("VAE_MAX_USER_MB", "12.5")
    assert Quotas.from_env() == Quotas(3, int(12.5 * 2**20))
    monkeypatch.setenv("VAE_MAX_USER_MB", "lots")
    assert Quotas.from_env().max_bytes == Quotas.max_bytes


def test_stale_temporary_files_and_orphan_claims_are_removed_at_start_up(isolated_user_dir):
    from ui import loaders

    isolated_user_dir.mkdir(parents=True)
    old = time.time() - 3600
    debris = [isolated_user_dir / ".a.safetensors.1a2b3c.tmp", isolated_user_dir / ".orphan.owner"]
    for path in debris:
        path.write_bytes(b"x")
        os.utime(path, (old, old))
    fresh = isolated_user_dir / ".b.safetensors.4d5e6f.tmp"  # a save in progress right now
    fresh.write_bytes(b"x")
    kept = isolated_user_dir / "kept.safetensors"
    kept.write_bytes(SHIPPED_Z2.read_bytes())
    (isolated_user_dir / ".kept.owner").write_text("someone")
    os.utime(isolated_user_dir / ".kept.owner", (old, old))

    loaders.startup_cleanup.clear()
    run_app()
    assert sorted(p.name for p in isolated_user_dir.iterdir()) == [".b.safetensors.4d5e6f.tmp", ".kept.owner",
                                                                    "kept.safetensors"]
    assert remove_stale_files(isolated_user_dir, older_than_s=0) == [".b.safetensors.4d5e6f.tmp"]


def test_built_torch_models_are_a_bounded_lru(monkeypatch):
    monkeypatch.setattr(checkpoints, "MODEL_CACHE_SIZE", 2)
    monkeypatch.setattr(checkpoints, "_BUILT", type(checkpoints._BUILT)())
    a, b, c = (load_checkpoint(SHIPPED_Z2) for _ in range(3))
    model_a = a.model
    _ = b.model
    _ = a.model  # a is used again: b is now the least recently used
    _ = c.model
    assert a.model_is_built and c.model_is_built and not b.model_is_built
    assert a.model is model_a  # kept, not rebuilt
    assert b.model is not None and not c.model_is_built  # b rebuilt on demand, evicting the oldest (c)


# --- a full disk -------------------------------------------------------------------------------

def _disk_full(tensors, filename, metadata=None):
    open(filename, "wb").write(b"half")
    raise safetensors.SafetensorError("Error while serializing: IoError(Os { code: 28, kind: StorageFull, "
                                      "message: \"No space left on device\" })")


def test_a_full_disk_during_an_import_is_one_line_and_leaves_nothing(isolated_user_dir, monkeypatch):
    monkeypatch.setattr(safetensors.torch, "save_file", _disk_full)
    at = run_app(IMPORT_PAGE)
    upload(at, "vae.pt", classic_bytes(1))
    assert not at.exception
    (error,) = [e.value for e in at.error]
    assert error.endswith("could not write checkpoint (No space left on device)") and str(isolated_user_dir) not in error
    assert list(isolated_user_dir.iterdir()) == [], "no file, no temporary file, no claim left"


def test_a_full_disk_in_the_import_command_is_one_error_line(tmp_path, monkeypatch, capsys):
    src = tmp_path / "vae.pt"
    src.write_bytes(classic_bytes(1))
    out = tmp_path / "out.safetensors"
    out.write_bytes(b"previous")
    monkeypatch.setattr(safetensors.torch, "save_file", _disk_full)
    assert checkpoints.main(["import", str(src), "--head", "sigmoid", "--out", str(out), "--force"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].endswith("could not write checkpoint (No space left on device)"), err
    assert out.read_bytes() == b"previous"


def test_a_full_disk_while_training_is_one_line(isolated_user_dir, fresh_runner, tmp_path, small_splits, monkeypatch):
    data = tmp_path / "data"
    write_mnist_raw(data, *small_splits)
    monkeypatch.setattr(safetensors.torch, "save_file", _disk_full)
    start_training(fresh_runner, name="full", owner="me", folder=isolated_user_dir, data_dir=data,
                   head="raw", latent=2, hidden=16, epochs=1, batch_size=64)
    status = fresh_runner.wait(60)
    assert status.state == "failed" and "No space left on device" in status.error and "\n" not in status.error
    assert list(isolated_user_dir.iterdir()) == [], "the claim on a name nothing was written under is given back"


# --- one bad catalogue entry -------------------------------------------------------------------

def _raw_file(folder, name: str, **changes) -> None:
    model = small_model(latent=20, hidden=16)
    meta = {**checkpoint_meta(model, head="sigmoid").to_dict(), **changes}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(safetensors_bytes(state_of(model), raw_meta={checkpoints.METADATA_KEY: json.dumps(meta)}))


@pytest.mark.parametrize("page", PAGES)
def test_a_crafted_file_in_the_user_folder_is_skipped_and_every_page_still_renders(isolated_user_dir, page):
    _raw_file(isolated_user_dir, "junk-history.safetensors", history=[{"foo": 1}, 3, "x"])
    _raw_file(isolated_user_dir, "huge-epochs.safetensors", epochs=2**80)
    _raw_file(isolated_user_dir, "back`tick.safetensors")
    at = run_app(page)  # asserts no exception
    catalog = load_catalog(user=isolated_user_dir)
    assert not [n for n in catalog.checkpoints if n.startswith("user/")]
    assert len(catalog.errors) == 3 and all("\n" not in e for e in catalog.errors)
    assert at is not None
    home = run_app()  # app.py's sidebar (a page run on its own has none)
    assert any("3 checkpoint file(s) skipped" in c.value for c in home.sidebar.caption)


def test_an_uploaded_file_name_is_never_rendered_as_markdown(isolated_user_dir):
    at = run_app(IMPORT_PAGE)
    upload(at, "![x](http://host/pixel.png).pt", b"\x80\x04garbage")
    (error,) = [e.value for e in at.error]
    assert "\\!\\[x\\](http://host/pixel.png)" in error or "\\[x\\]" in error, error
    assert "![x](" not in error


def test_a_full_disk_while_writing_the_resume_state_is_one_error_line(tmp_path, small_splits, monkeypatch, capsys):
    from vae import train as train_module

    data, out = tmp_path / "data", tmp_path / "run.safetensors"
    write_mnist_raw(data, *small_splits)

    def full(obj, f, *args, **kwargs):  # what torch's zip writer raises when the disk fills up
        raise RuntimeError("[enforce fail at inline_container.cc:626] . unexpected pos 64 vs 0\n"
                           "PytorchStreamWriter failed writing file data/0: file write failed")

    monkeypatch.setattr(train_module.torch, "save", full)
    args = ["--data-dir", str(data), "--no-download", "--out", str(out), "--epochs", "1", "--head", "raw",
            "--latent", "2", "--hidden", "16", "--batch-size", "64", "--device", "cpu"]
    assert train_module.main(args) == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]  # after the progress bar
    assert last.startswith("error: could not write ") and "file write failed" in last and "previous state is intact" in last
    assert "Traceback" not in err and "enforce fail" not in err
    assert not list(tmp_path.glob(".*.tmp"))


def test_an_import_is_confirmed_only_from_what_was_read_back_from_disk(isolated_user_dir, monkeypatch):
    real_save = safetensors.torch.save_file

    def save_cut_short(tensors, filename, metadata=None):  # a write that "succeeds" but stores half a file
        real_save(tensors, filename, metadata=metadata)
        data = open(filename, "rb").read()
        open(filename, "wb").write(data[: len(data) // 2])

    monkeypatch.setattr(safetensors.torch, "save_file", save_cut_short)
    at = run_app(IMPORT_PAGE)
    upload(at, "vae.pt", classic_bytes(1))
    assert not at.success, "nothing is confirmed that does not read back"
    (error,) = [e.value for e in at.error]
    assert error.startswith("vae.safetensors: ") and "\n" not in error
    assert list(isolated_user_dir.iterdir()) == [], "the unreadable file and its claim are gone"
