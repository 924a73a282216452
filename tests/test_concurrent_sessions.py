"""Many users: one server process, sessions in threads, one shared copy of each model,
and a background training job that blocks nobody."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from app_fixtures import run_app
from backend_fixtures import write_mnist_raw

import vae.paths
from services.decoding import decode_point
from services.jobs import Busy
from vae.checkpoints import load_checkpoint
from vae.train import TrainConfig

N_THREADS = 8


@pytest.fixture(scope="module")
def shared():
    """One loaded checkpoint, shared like the app's cached models."""
    return load_checkpoint(vae.paths.CHECKPOINT_DIR / "mnist-raw-z20.safetensors")


def test_concurrent_decodes_of_one_shared_model_equal_the_serial_ones_exactly(shared):
    zs = np.random.default_rng(0).standard_normal((400, 20)).astype(np.float32)
    weights = {k: v.copy() for k, v in shared.weights.items()}
    serial = [decode_point(shared, z) for z in zs]
    start = threading.Barrier(N_THREADS)

    def work(offset: int) -> list[tuple[int, object]]:
        start.wait()  # all threads decode at the same time
        return [(i, decode_point(shared, zs[i])) for i in range(offset, len(zs), N_THREADS)]

    with ThreadPoolExecutor(N_THREADS) as pool:
        results = [r for chunk in pool.map(work, range(N_THREADS)) for r in chunk]
    assert sorted(i for i, _ in results) == list(range(len(zs)))
    for i, out in results:
        assert np.array_equal(out.pre, serial[i].pre) and np.array_equal(out.pixels, serial[i].pixels), i
    assert all(np.array_equal(v, weights[k]) for k, v in shared.weights.items()), "serving changed the model"


def test_the_server_gives_each_torch_call_one_thread():
    # a 784-pixel decode is too small to split; concurrency comes from the sessions' own threads
    from ui import loaders

    seen = []
    session = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))  # like a new script run
    session.start()
    session.join()
    assert seen == [loaders.SERVER_TORCH_THREADS] == [1]


def wait_until_running(runner, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while runner.status().state != "running":
        assert runner.status().active, f"the job ended early: {runner.status().error}"
        assert time.monotonic() < deadline, "the job did not start training"
        time.sleep(0.05)


def test_a_background_training_job_blocks_no_one(tmp_path, small_splits, fresh_runner, isolated_user_dir, shared):
    data = tmp_path / "data"
    write_mnist_raw(data, *small_splits)
    # far more epochs than the test needs: it is cancelled at the end (the fixture checks it stopped)
    cfg = TrainConfig(head="sigmoid", latent=2, hidden=32, epochs=1000, batch_size=32, seed=1)
    fresh_runner.start(cfg, tmp_path / "background.safetensors", data, owner="another session", download=False)
    wait_until_running(fresh_runner)

    # one job at a time: a second request is refused with a message that says why and what to do
    with pytest.raises(Busy, match=r"a training job is already running \(sigmoid head, latent 2, started .*"
                                   r"try again when it has finished"):
        fresh_runner.start(cfg, tmp_path / "second.safetensors", data, download=False)
    assert not (tmp_path / "second.safetensors").exists()

    # another session submitting the train form gets the same message as a warning
    at = run_app("app_pages/train.py")
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception and not at.error
    assert any("already running" in w.value for w in at.warning), [w.value for w in at.warning]
    assert any("started by another visitor" in t.value for t in at.text)

    # and inference keeps completing while training runs (no speed asserted: only that it finishes)
    zs = np.random.default_rng(1).standard_normal((200, 20))
    t0 = time.monotonic()
    done = sum(1 for z in zs if decode_point(shared, z).pixels.shape == (784,))
    elapsed = time.monotonic() - t0
    assert done == len(zs) and elapsed < 60, elapsed
    assert fresh_runner.status().active, "training must still have been running during the decodes"
