"""Training faults: a killed run never leaves a partial checkpoint, --resume finishes it,
and a full disk is one clear error with the last checkpoint untouched."""

from __future__ import annotations

import dataclasses
import errno
import os
import random
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import safetensors.torch
import torch
from app_fixtures import ROOT
from backend_fixtures import write_mnist_raw

from vae.checkpoints import load_checkpoint
from vae.train import TrainConfig, main, resume_path, train

EPOCHS = 40  # ~30 ms each on 300 images: long enough to be killed mid-run, short to finish
CFG = TrainConfig(head="sigmoid", latent=2, hidden=16, epochs=EPOCHS, batch_size=32, lr=1e-3, seed=1)


def cli_args(data_dir: Path, out: Path, epochs: int = EPOCHS, resume: bool = False) -> list[str]:
    # a run killed between its first checkpoint and resume state starts again over that checkpoint
    return ["--data-dir", str(data_dir), "--no-download", "--out", str(out), "--epochs", str(epochs),
            "--head", CFG.head, "--latent", str(CFG.latent), "--hidden", str(CFG.hidden),
            "--batch-size", str(CFG.batch_size), "--lr", str(CFG.lr), "--seed", str(CFG.seed), "--device", "cpu"] \
        + (["--resume"] if resume else ["--force"])


def start_training(data_dir: Path, out: Path) -> subprocess.Popen:
    """`python -m vae.train` in a child process, resuming when there is something to resume."""
    cmd = [sys.executable, "-m", "vae.train", *cli_args(data_dir, out, resume=resume_path(out).exists())]
    # one thread: the result is then bit-comparable with the in-process reference run
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def kill_after_next_epoch_line(proc: subprocess.Popen, delay: float) -> str:
    """SIGKILL the child ``delay`` seconds after it reports a finished epoch (it saves right then)."""
    for line in proc.stdout:  # tqdm's \r updates count as lines too
        if "====> epoch" in line:
            break
    else:
        raise AssertionError(f"training ended before finishing an epoch (exit {proc.wait()})")
    time.sleep(delay)  # the child keeps training meanwhile; ~40 ms per epoch fits in the pipe buffer
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    return line.strip()


def assert_never_partial(out: Path, when: str) -> None:
    """The checkpoint and the resume state are each absent or complete; nothing else is visible."""
    epoch = None
    if out.exists():
        epoch = load_checkpoint(out).meta.epochs  # raises on a partial or corrupt file
    if resume_path(out).exists():
        state = torch.load(resume_path(out), weights_only=True)
        # the resume state is written just after the checkpoint: equal, or one epoch behind
        assert epoch is not None and state["epoch"] in (epoch, epoch - 1), (when, epoch, state["epoch"])
    visible = {p.name for p in out.parent.glob("*") if not p.name.startswith(".")}
    assert visible <= {out.name, resume_path(out).name}, (when, visible)


def test_killing_training_at_any_moment_leaves_a_whole_checkpoint_or_none_and_resume_finishes_it(
        tmp_path, small_splits):
    data, out = tmp_path / "data", tmp_path / "ckpts" / "killed.safetensors"
    write_mnist_raw(data, *small_splits)
    moments = [0.0, random.uniform(0.0, 0.15)]  # right as an epoch is saved, and somewhere in the next ones
    for delay in moments:
        proc = start_training(data, out)
        seen = kill_after_next_epoch_line(proc, delay)
        assert proc.returncode == -signal.SIGKILL, f"the run finished before the kill ({seen}); raise EPOCHS"
        assert_never_partial(out, f"killed {delay:.3f} s after {seen!r}")

    # --resume (the same CLI, run in this process to save a start-up) finishes the run, and the
    # result is exactly the run that was never interrupted
    with one_torch_thread():
        assert main(cli_args(data, out, resume=resume_path(out).exists())) == 0
        straight = train(CFG, tmp_path / "straight.safetensors", *small_splits, device="cpu")
    resumed = load_checkpoint(out)
    assert [h["epoch"] for h in resumed.meta.history] == list(range(1, EPOCHS + 1))
    for key, value in straight.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[key], value), key


@contextmanager
def one_torch_thread():
    """Compute as the killed children did (OMP_NUM_THREADS=1), so results compare bit for bit."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _disk_full_halfway(tensors, filename, metadata=None):
    Path(filename).write_bytes(b"half a checkpoint")
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.fixture
def one_epoch_run(tmp_path, small_splits):
    """Data on disk and a checkpoint after 1 epoch: (data dir, checkpoint, its bytes)."""
    data, out = tmp_path / "data", tmp_path / "ckpts" / "full-disk.safetensors"
    write_mnist_raw(data, *small_splits)
    assert main(cli_args(data, out, epochs=1)) == 0
    return data, out, out.read_bytes()


def test_a_full_disk_is_one_error_line_and_the_last_checkpoint_stays_byte_identical(
        one_epoch_run, monkeypatch, capsys):
    data, out, before = one_epoch_run
    capsys.readouterr()
    monkeypatch.setattr(safetensors.torch, "save_file", _disk_full_halfway)
    assert main(cli_args(data, out, epochs=2, resume=True)) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("error: ") and "No space left on device" in last and str(out) in last, last
    assert out.read_bytes() == before
    assert sorted(p.name for p in out.parent.iterdir() if p.name.startswith(".")) == [], "temporary file left behind"


def test_after_a_full_disk_is_freed_resume_completes_the_checkpoint(one_epoch_run, monkeypatch):
    data, out, _ = one_epoch_run
    monkeypatch.setattr(safetensors.torch, "save_file", _disk_full_halfway)
    assert main(cli_args(data, out, epochs=2, resume=True)) == 2
    monkeypatch.undo()
    assert main(cli_args(data, out, epochs=2, resume=True)) == 0
    assert load_checkpoint(out).meta.epochs == 2


def test_the_training_job_in_the_app_reports_a_full_disk_and_keeps_the_old_checkpoint(
        one_epoch_run, monkeypatch, small_splits):
    from services.jobs import TrainingRunner

    data, out, before = one_epoch_run
    monkeypatch.setattr(safetensors.torch, "save_file", _disk_full_halfway)
    runner = TrainingRunner()
    runner.start(dataclasses.replace(CFG, epochs=1), out, data, download=False)
    status = runner.wait(60)
    assert status.state == "failed" and "No space left on device" in status.error and "\n" not in status.error
    assert out.read_bytes() == before
