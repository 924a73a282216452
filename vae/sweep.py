"""Sweep output heads x learning rates x seeds, with the training code of :mod:`vae.train`.

    python -m vae.sweep --heads sigmoid,raw --lrs 0.001,0.03 --seeds 1,2 --epochs 10 \\
        [--dataset mnist] [--latent 20] [--encoder-from CKPT] [--data-dir DIR] \\
        [--keep-checkpoints DIR] --out results.json

Each run is :func:`vae.train.train` (same model, step, data order, evaluation); the sweep
only watches it: every step's loss and gradient norm, every epoch's test metrics. A run
whose loss becomes non-finite is a result (``"diverged": true``), not a crash. The JSON
file is rewritten atomically after every finished run; started again with the same
``--out`` the sweep skips the runs already there, so a killed sweep loses at most the run
it was in, and a bigger grid (or another head) adds to the same file. Weights are thrown
away unless ``--keep-checkpoints DIR`` is given.

Schema (``"schema": "vae-sweep/1"``); numbers per test image in nats unless said::

    {
      "schema": "vae-sweep/1",
      "config": {"dataset", "latent", "hidden", "epochs", "batch_size",
                 "encoder_from": null | {"file": name, "sha256": of the file}},
      "grid": {"heads": [...], "lrs": [...], "seeds": [...]},   # union of every invocation's grid
      "n_train": int, "n_test": int,
      "machine": {"platform", "processor", "cpu_count", "torch_threads", "device"},  # of the last invocation
      "versions": {"python", "torch", "numpy"},                                       # of the last invocation
      "wall_seconds": float,             # wall-clock time of all invocations, summed
      "runs": [{
        "head": str, "lr": float, "seed": int, "device": str, "threads": int, "seconds": float,
        "diverged": bool,
        "diverged_at": null | {"epoch": int, "step": int, "loss": float | "nan" | "inf" | "-inf"},
        "epochs": [{                     # one per finished epoch (fewer than "epochs" if diverged)
          "epoch": int,
          "train_loss": float,           # mean negative ELBO over the epoch's steps
          "test_loss": float,            # the head's own negative ELBO, z sampled
          "bce": float,                  # BCE of the pixels clipped to [0, 1], z = posterior mean
          "mse": float,                  # summed squared error of the pixels, z = posterior mean
          "pct_below_0": float, "pct_above_1": float,   # % of all test output pixels
          "max_grad_norm": float | null, # largest L2 norm of a step's gradient (of the batch's
                                         # summed loss, all trained parameters); null if not finite
          "seconds": float               # training time so far
        }, ...]
      }, ...]
    }

Runs are identified by (head, lr, seed); the file's config must match the command's.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import io
import json
import math
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .atomic import write_atomically
from .data import DatasetError, Split, load_split
from .datasets import DATASETS
from .heads import HEADS
from .paths import DEFAULT_DATA_DIR
from .sweep_results import SCHEMA, ResultsFileError, read_document
from .train import TrainConfig, TrainingError, train


class SweepError(ValueError):
    """Bad input or an unusable results file; the message is one line."""


@dataclass(frozen=True)
class Grid:
    """The runs to do: every head x learning rate x seed."""

    heads: tuple[str, ...]
    lrs: tuple[float, ...]
    seeds: tuple[int, ...]

    def __post_init__(self) -> None:
        if not (self.heads and self.lrs and self.seeds):
            raise SweepError("empty grid: give at least one head, one learning rate and one seed")
        unknown = [h for h in self.heads if h not in HEADS]
        if unknown:
            raise SweepError(f"unknown head {unknown[0]!r} (known: {', '.join(HEADS)})")
        bad = [lr for lr in self.lrs if not (math.isfinite(lr) and 0 < lr < 10)]
        if bad:
            raise SweepError(f"learning rate {bad[0]:g} is not in (0, 10)")

    def keys(self) -> list[tuple[str, float, int]]:
        """(head, lr, seed) of every run, in the order they are trained."""
        return [(h, lr, s) for h in self.heads for lr in self.lrs for s in self.seeds]


@dataclass(frozen=True)
class SweepConfig:
    """What every run of one results file shares (it must match to add runs to a file)."""

    dataset: str = "mnist"
    latent: int = 20
    hidden: int = 400
    epochs: int = 10
    batch_size: int = 128
    encoder_from: dict | None = None  # {"file": name, "sha256": hex} of the frozen encoder's checkpoint
    encoder_path: str | None = None   # where that checkpoint is here (not part of the file's identity)

    def to_dict(self) -> dict:
        return {"dataset": self.dataset, "latent": self.latent, "hidden": self.hidden, "epochs": self.epochs,
                "batch_size": self.batch_size, "encoder_from": self.encoder_from}


@dataclass
class _RunWatch:
    """Collects what one run's training reports: per-step gradient norms, per-epoch records."""

    epochs: list[dict] = field(default_factory=list)
    max_grad: float = 0.0
    bad_loss: float | None = None
    on_step_extra: Callable[[], None] | None = None

    def step(self, epoch: int, step: int, loss: float, grad: torch.Tensor) -> None:
        if math.isfinite(loss):
            norm = float(torch.linalg.vector_norm(grad))
            self.max_grad = norm if not math.isfinite(norm) else max(self.max_grad, norm)
        else:
            self.bad_loss = loss
        if self.on_step_extra:
            self.on_step_extra()

    def epoch_end(self, p: Any) -> None:
        if p.metrics is None:
            return
        m = p.metrics
        self.epochs.append({
            "epoch": p.epoch, "train_loss": p.train_loss, "test_loss": m["neg_elbo"],
            "bce": m["bce"], "mse": m["mse"],
            "pct_below_0": 100 * m["frac_below_0"], "pct_above_1": 100 * m["frac_above_1"],
            "max_grad_norm": self.max_grad if math.isfinite(self.max_grad) else None,
            "seconds": p.history[-1]["seconds"] if p.history else None,
        })
        self.max_grad = 0.0


def run_one(cfg: SweepConfig, head: str, lr: float, seed: int, train_split: Split, test_split: Split,
            device: str | None = None, keep_dir: Path | None = None,
            tick: Callable[[], None] | None = None) -> dict:
    """Train one (head, lr, seed) with :func:`vae.train.train` and return its run record."""
    tcfg = _train_config(cfg, head, lr, seed)
    watch = _RunWatch(on_step_extra=tick)
    t0 = time.perf_counter()
    diverged_at = None
    with contextlib.ExitStack() as stack:
        folder = keep_dir if keep_dir is not None else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        out = folder / f"{cfg.dataset}-{head}-z{cfg.latent}-lr{lr:g}-seed{seed}.safetensors"
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # train's per-epoch lines; the bars say it
                train(tcfg, out, train_split, test_split, device=device,
                      progress=lambda p: watch.epoch_end(p) if p.test_loss is not None else None,
                      on_step=watch.step, metrics_every_epoch=True)
        except TrainingError as err:
            if err.diverged_at is None:
                raise
            epoch, step = err.diverged_at
            loss = watch.bad_loss if watch.bad_loss is not None else math.nan
            diverged_at = {"epoch": epoch, "step": step, "loss": _json_number(loss)}
        finally:
            out.with_name(out.name.removesuffix(".safetensors") + ".resume.pt").unlink(missing_ok=True)
    return {"head": head, "lr": lr, "seed": seed, "device": device or _default_device(), "threads": torch.get_num_threads(),
            "seconds": round(time.perf_counter() - t0, 3), "diverged": diverged_at is not None,
            "diverged_at": diverged_at, "epochs": watch.epochs}


def run_sweep(cfg: SweepConfig, grid: Grid, out: str | Path, train_split: Split, test_split: Split,
              device: str | None = None, keep_dir: Path | None = None, show_bar: bool = False,
              jobs: int = 1) -> dict:
    """Do every run of ``grid`` that ``out`` does not hold yet, rewriting ``out`` after each.

    ``out`` may hold runs of an earlier (or smaller, or other-head) sweep with the same
    ``cfg``; they are kept and not repeated. With ``jobs`` > 1, that many runs train at
    once in worker processes of one torch thread each (small GEMMs on a shared CPU: one
    thread per run wastes nothing in thread barriers when another process takes a core).
    Returns the final document.
    """
    out = Path(out)
    doc = read_results(out, cfg) if out.exists() else _new_document(cfg)
    doc["grid"] = _union_grid(doc.get("grid"), grid)
    doc.update(n_train=len(train_split), n_test=len(test_split), machine=_machine(device), versions=_versions())
    done = {run_key(r) for r in doc["runs"]}
    todo = [k for k in grid.keys() if k not in done]
    _write(out, doc)  # before any training: an unwritable --out fails now, not after the first run
    steps = math.ceil(len(train_split) / cfg.batch_size) * cfg.epochs
    overall = _bar(show_bar, total=len(todo), desc=f"sweep ({len(done)} runs already in {out.name})", unit="run")
    t0, wall_before = time.perf_counter(), float(doc.get("wall_seconds") or 0.0)
    records = (_in_workers(cfg, todo, train_split, test_split, device, keep_dir, jobs, show_bar, steps) if jobs > 1
               else _in_turn(cfg, todo, train_split, test_split, device, keep_dir, show_bar, steps))
    for record in records:
        doc["runs"].append(record)
        doc["wall_seconds"] = round(wall_before + time.perf_counter() - t0, 3)
        _write(out, doc)
        if overall:
            overall.write(_summary_line(record))
            overall.update()
    if overall:
        overall.close()
    return doc


def _in_turn(cfg: SweepConfig, todo: list, train_split: Split, test_split: Split, device: str | None,
             keep_dir: Path | None, show_bar: bool, steps: int) -> Iterator[dict]:
    for head, lr, seed in todo:
        run_bar = _bar(show_bar, total=steps, desc=f"{head} lr={lr:g} seed={seed}", unit="step", leave=False)
        try:
            yield run_one(cfg, head, lr, seed, train_split, test_split, device=device, keep_dir=keep_dir,
                          tick=run_bar.update if run_bar else None)
        finally:
            if run_bar:
                run_bar.close()


_WORKER: dict = {}
_TICK_EVERY = 50


def _init_worker(train_split: Split, test_split: Split, ticks: Any) -> None:
    torch.set_num_threads(1)
    _WORKER.update(train=train_split, test=test_split, ticks=ticks)


def _work(cfg: SweepConfig, key: tuple[str, float, int], device: str | None, keep_dir: Path | None) -> dict:
    count = [0]

    def tick() -> None:
        count[0] += 1
        if _WORKER["ticks"] is not None and count[0] % _TICK_EVERY == 0:
            _WORKER["ticks"].put((key, _TICK_EVERY))

    return run_one(cfg, *key, _WORKER["train"], _WORKER["test"], device=device, keep_dir=keep_dir, tick=tick)


def _in_workers(cfg: SweepConfig, todo: list, train_split: Split, test_split: Split, device: str | None,
                keep_dir: Path | None, jobs: int, show_bar: bool, steps: int) -> Iterator[dict]:
    """The runs of ``todo`` in ``jobs`` worker processes, yielded as they finish."""
    import multiprocessing
    import queue
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    ctx = multiprocessing.get_context("spawn")  # not fork: the parent's torch thread pool is not fork-safe
    ticks = ctx.Queue() if show_bar else None
    bars: dict = {}
    with ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_init_worker,
                             initargs=(train_split, test_split, ticks)) as pool:
        pending = {pool.submit(_work, cfg, key, device, keep_dir): key for key in todo}
        try:
            while pending:
                finished, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                while ticks is not None:
                    try:
                        key, n = ticks.get_nowait()
                    except queue.Empty:
                        break
                    if key not in bars:
                        bars[key] = _bar(True, total=steps, desc=f"{key[0]} lr={key[1]:g} seed={key[2]}",
                                         unit="step", leave=False)
                    bars[key].update(n)
                for future in finished:
                    key = pending.pop(future)
                    if key in bars:
                        bars.pop(key).close()
                    yield future.result()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _summary_line(record: dict) -> str:
    last = record["epochs"][-1] if record["epochs"] else {}
    what = (f"diverged at epoch {record['diverged_at']['epoch']}, step {record['diverged_at']['step']}"
            if record["diverged"] else
            f"BCE {last.get('bce', math.nan):.2f}, {last.get('pct_below_0', 0) + last.get('pct_above_1', 0):.2f}% out of [0, 1]")
    return f"{record['head']} lr={record['lr']:g} seed={record['seed']}: {what} ({record['seconds']:.0f} s)"


def run_key(run: dict) -> tuple[str, float, int]:
    """The identity of a run in a results file."""
    return str(run["head"]), float(run["lr"]), int(run["seed"])


def read_results(path: str | Path, cfg: SweepConfig | None = None) -> dict:
    """A results file, checked to be a sweep document (and to match ``cfg`` when given)."""
    path = Path(path)
    try:
        doc = read_document(path)
    except ResultsFileError as err:
        raise SweepError(str(err)) from None
    if cfg is not None and doc.get("config") != cfg.to_dict():
        theirs = doc.get("config") or {}
        diff = ", ".join(f"{k} {theirs.get(k)!r} there, {v!r} here" for k, v in cfg.to_dict().items() if theirs.get(k) != v)
        raise SweepError(f"{path} holds a sweep with other settings ({diff}); choose another --out")
    return doc


def encoder_source(path: str | Path, latent: int, hidden: int) -> dict:
    """How a results file names the checkpoint whose encoder its decoders train on (checked to
    be a valid checkpoint of the sweep's latent and hidden sizes)."""
    from .checkpoints import CheckpointError, load_checkpoint

    path = Path(path)
    try:
        ckpt = load_checkpoint(path)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except CheckpointError as err:
        raise SweepError(f"--encoder-from: {err}") from None
    except OSError as err:
        raise SweepError(f"cannot read --encoder-from {path} ({err.strerror or err})") from None
    if (ckpt.config.latent, ckpt.config.hidden) != (latent, hidden):
        raise SweepError(f"--encoder-from {path.name} has latent {ckpt.config.latent}, hidden {ckpt.config.hidden}; "
                         f"the sweep asks for latent {latent}, hidden {hidden}")
    return {"file": path.name, "sha256": digest}


def _train_config(cfg: SweepConfig, head: str, lr: float, seed: int) -> TrainConfig:
    decoder_only = {"encoder_from": cfg.encoder_path} if cfg.encoder_path else {}
    return TrainConfig(head=head, latent=cfg.latent, hidden=cfg.hidden, epochs=cfg.epochs,
                       batch_size=cfg.batch_size, lr=lr, seed=seed, dataset=cfg.dataset, **decoder_only)


def _new_document(cfg: SweepConfig) -> dict:
    return {"schema": SCHEMA, "config": cfg.to_dict(), "grid": None, "n_train": None, "n_test": None,
            "machine": None, "versions": None, "wall_seconds": 0.0, "runs": []}


def _union_grid(old: dict | None, grid: Grid) -> dict:
    old = old or {"heads": [], "lrs": [], "seeds": []}
    heads = list(old["heads"]) + [h for h in grid.heads if h not in old["heads"]]
    return {"heads": heads, "lrs": sorted({*map(float, old["lrs"]), *grid.lrs}),
            "seeds": sorted({*map(int, old["seeds"]), *grid.seeds})}


def _json_number(x: float) -> float | str:
    # Strict JSON has no NaN/Infinity: a non-finite loss is stored as the string Python prints.
    return x if math.isfinite(x) else str(x)


def _write(out: Path, doc: dict) -> None:
    text = json.dumps(doc, indent=1, allow_nan=False)
    def write(tmp: Path) -> None:
        tmp.write_text(text + "\n")

    write_atomically(out, write)


def _default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def _machine(device: str | None) -> dict:
    device = device or _default_device()
    return {"platform": platform.platform(), "processor": platform.machine(), "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "device": torch.cuda.get_device_name() if device == "cuda" else "cpu"}


def _versions() -> dict:
    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__}


def _bar(show: bool, **kwargs):
    if not show:
        return None
    from tqdm import tqdm

    return tqdm(**kwargs)


def _split_list(text: str, convert: Callable[[str], Any], what: str) -> tuple:
    items = [t.strip() for t in text.split(",") if t.strip()]
    try:
        return tuple(dict.fromkeys(convert(t) for t in items))
    except ValueError:
        raise SweepError(f"--{what} must be a comma-separated list, got {text!r}") from None


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vae.sweep", description=__doc__.split("\n\n")[0])
    parser.add_argument("--heads", required=True, help=f"comma-separated, of: {', '.join(HEADS)}")
    parser.add_argument("--lrs", required=True, help="comma-separated learning rates, each > 0")
    parser.add_argument("--seeds", required=True, help="comma-separated integer seeds")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--dataset", default="mnist", choices=list(DATASETS))
    parser.add_argument("--latent", type=int, default=20)
    parser.add_argument("--encoder-from", type=Path, help="train decoders only, on this checkpoint's frozen encoder")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--keep-checkpoints", type=Path, metavar="DIR", help="keep each run's weights here")
    parser.add_argument("--device", choices=["cpu", "cuda"], help="default: cuda when available")
    parser.add_argument("--jobs", type=int, default=1,
                        help="runs trained at once, in worker processes of one torch thread each (default 1: in this process)")
    parser.add_argument("--out", type=Path, required=True, help="results JSON (created, or added to)")
    args = parser.parse_args(None if argv is None else list(argv))
    try:
        grid = Grid(_split_list(args.heads, str, "heads"), _split_list(args.lrs, float, "lrs"),
                    _split_list(args.seeds, int, "seeds"))
        if args.epochs < 1:
            raise SweepError("--epochs must be at least 1")
        if args.jobs < 1:
            raise SweepError("--jobs must be at least 1")
        if args.device == "cuda" and not torch.cuda.is_available():
            raise SweepError("--device cuda: no CUDA device is available here")
        cfg = SweepConfig(dataset=args.dataset, latent=args.latent, epochs=args.epochs)
        if args.encoder_from is not None:
            cfg = dataclasses.replace(cfg, encoder_from=encoder_source(args.encoder_from, cfg.latent, cfg.hidden),
                                      encoder_path=str(args.encoder_from))
        _train_config(cfg, grid.heads[0], grid.lrs[0], grid.seeds[0])  # latent/hidden checks, before loading data
        if args.out.exists():
            read_results(args.out, cfg)
        if args.out.is_dir():
            raise SweepError(f"--out {args.out} is a folder")
        train_split = load_split(cfg.dataset, True, args.data_dir)
        test_split = load_split(cfg.dataset, False, args.data_dir)
        doc = run_sweep(cfg, grid, args.out, train_split, test_split, device=args.device,
                        keep_dir=args.keep_checkpoints, show_bar=True, jobs=args.jobs)
    except (SweepError, ValueError, DatasetError, TrainingError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"error: cannot write {args.out} or its checkpoints ({err.strerror or err})", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted: {args.out} holds every finished run; run the same command to go on", file=sys.stderr)
        return 130
    n_div = sum(r["diverged"] for r in doc["runs"])
    print(f"wrote {args.out}: {len(doc['runs'])} runs ({n_div} diverged)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
