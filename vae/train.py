"""Train a VAE with one output head and write a checkpoint after every epoch.

    python -m vae.train --head sigmoid --latent 20 --epochs 10 --data-dir DIR \\
        --out checkpoints/mnist-sigmoid-z20.safetensors

Defaults are the classic example's: Adam 1e-3, batch 128, seed 1. The whole split
lives in one tensor and batches are index slices of it (no per-sample DataLoader);
each step is :class:`vae.step.TrainStep` (hand-written backward, one fused Adam), or with
``--step autograd`` the plain ``loss.backward()`` step it is held to.
After every epoch the test loss is printed and saved (z sampled, as the classic example
reports it); the last epoch's checkpoint, and that of a run stopped early, carries every test
metric (:mod:`vae.evaluate`). Next to the checkpoint, ``NAME.resume.pt`` holds what ``--resume``
needs (weights, optimizer state, random streams); it is not a shipped artifact.

Decoder only: ``--encoder-from CHECKPOINT`` copies that checkpoint's encoder (fc1, fc21, fc22),
freezes it and trains only a new decoder (fc3, fc4) with ``--head``'s likelihood on z ~ q(z|x).
The decoder then lives in the source's latent space: the same z means the same digit for both,
so the app can compare decoders that differ only in their last activation and loss.
"""

from __future__ import annotations

import argparse
import gc
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .atomic import write_atomically
from .checkpoints import (
    ENCODER_KEYS,
    Checkpoint,
    CheckpointError,
    build_metadata,
    encoder_sha256,
    load_checkpoint,
    save_checkpoint,
)
from .data import DatasetError, Split, load_split, shuffled_batches
from .datasets import DATASETS
from .evaluate import evaluate, sampled_elbo
from .heads import HEADS, get_head
from .model import VAE, VAEConfig
from .paths import DEFAULT_DATA_DIR
from .step import STEPS, FlatAdam


class TrainingError(RuntimeError):
    """Training cannot go on; the message is one line (the last good checkpoint is kept).

    ``diverged_at`` is ``(epoch, step)`` when the reason is a non-finite loss or model, so that
    callers (the sweep) can record a diverged run as a result rather than only a failure.
    """

    def __init__(self, message: str, diverged_at: tuple[int, int] | None = None) -> None:
        super().__init__(message)
        self.diverged_at = diverged_at


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run (stored in the checkpoint)."""

    head: str = "sigmoid"
    latent: int = 20
    hidden: int = 400
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 1
    dataset: str = "mnist"
    # A checkpoint whose encoder is copied and frozen: only the decoder trains (None: the whole VAE).
    encoder_from: str | None = None
    # How a step computes its gradient: vae.step.TrainStep ("handwritten", fast) or AutogradStep.
    step: str = "handwritten"

    def __post_init__(self) -> None:
        get_head(self.head)
        VAEConfig(latent=self.latent, hidden=self.hidden)
        if self.dataset not in DATASETS:
            raise ValueError(f"unknown dataset {self.dataset!r} (known: {', '.join(DATASETS)})")
        if self.encoder_from is not None and (not isinstance(self.encoder_from, str) or not self.encoder_from):
            raise ValueError("encoder_from must be the path of a checkpoint")
        if self.step not in STEPS:
            raise ValueError(f"unknown step {self.step!r} (known: {', '.join(STEPS)})")
        if self.epochs < 1 or self.batch_size < 1 or not (0 < self.lr < 10):
            raise ValueError("epochs and batch size must be positive and the learning rate in (0, 10)")


@dataclass
class Progress:
    """What a progress callback is told, every few steps and at each epoch's end."""

    epoch: int
    epochs: int
    step: int
    steps_per_epoch: int
    train_loss: float           # running mean over the epoch so far, nats per image
    test_loss: float | None = None  # set at the end of an epoch
    history: list[dict] = field(default_factory=list)
    metrics: dict | None = None     # every test metric (vae.evaluate.Metrics.to_dict) at the end of an epoch
                                    # scored in full (the last, or all with metrics_every_epoch)


def resume_path(out: str | Path) -> Path:
    """Where the resume state of the checkpoint ``out`` is kept."""
    out = Path(out)
    return out.with_name(out.name.removesuffix(".safetensors") + ".resume.pt")


def train(cfg: TrainConfig, out: str | Path, train_split: Split, test_split: Split,
          resume: bool = False, device: str | None = None,
          progress: Callable[[Progress], None] | None = None, show_bar: bool = False,
          on_step: Callable[[int, int, float, torch.Tensor], None] | None = None,
          metrics_every_epoch: bool = False) -> Checkpoint:
    """Train per ``cfg``, saving ``out`` (and its resume state) after every finished epoch.

    With ``resume``, continue from ``out``'s resume state up to ``cfg.epochs``; the result
    is identical to an uninterrupted run with the same seed. A non-finite loss stops the
    run with :class:`TrainingError` and leaves the last saved epoch untouched.
    With ``cfg.encoder_from``, the encoder is that checkpoint's, frozen (byte-identical in
    every checkpoint written), and only the decoder trains; the metadata's ``encoder_from``
    names the source and the SHA-256 of its encoder (:func:`vae.checkpoints.encoder_sha256`).
    ``on_step(epoch, step, loss, grad)`` is called after every step with its summed loss and
    the flat gradient buffer it wrote (stale when the loss is non-finite: that step is skipped).
    Each epoch is scored with the test loss (:func:`vae.evaluate.sampled_elbo`); the last one, every
    epoch with ``metrics_every_epoch``, and the checkpoint of a run that stops early get every
    metric (:func:`vae.evaluate.evaluate`), the same numbers either way.
    """
    out = Path(out)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    head = get_head(cfg.head)
    x_train = train_split.as_float(device)
    x_test = test_split.as_float(device)

    source = _encoder_source(cfg, out) if cfg.encoder_from else None
    torch.manual_seed(cfg.seed)
    model = VAE(VAEConfig(latent=cfg.latent, hidden=cfg.hidden))
    if source is not None:
        with torch.no_grad():
            for key in ENCODER_KEYS:
                model.get_parameter(key).copy_(torch.tensor(source.weights[key]))
    model = model.to(device)
    train_step = STEPS[cfg.step](model, head, cfg.lr, train_encoder=source is None)
    shuffle_gen = torch.Generator().manual_seed(cfg.seed)
    history: list[dict] = []
    start_epoch, elapsed = 0, 0.0
    frozen_sha = encoder_sha256(source.weights) if source is not None else None
    encoder_from = {"name": source.name, "sha256": frozen_sha} if source is not None else None
    if resume:
        start_epoch, history, elapsed = _load_resume_state(out, cfg, model, train_step.optimizer, shuffle_gen,
                                                           frozen_sha, cfg.step)
        if start_epoch >= cfg.epochs:
            raise TrainingError(f"{out} already has {start_epoch} epochs; ask for more with --epochs")

    steps = math.ceil(len(x_train) / cfg.batch_size)
    in_full = True  # whether the checkpoint this run last wrote carries every metric (or there is none)
    try:
        for epoch in range(start_epoch + 1, cfg.epochs + 1):
            t0 = time.perf_counter()
            model.train()
            total, seen = 0.0, 0
            batches = shuffled_batches(len(x_train), cfg.batch_size, shuffle_gen)
            bar: Any = _bar(batches, steps, f"epoch {epoch}/{cfg.epochs}") if show_bar else batches
            for step, idx in enumerate(bar, 1):
                value = train_step(x_train.index_select(0, idx.to(device)))
                if on_step:
                    on_step(epoch, step, value, train_step.gradient())
                if not math.isfinite(value):
                    raise TrainingError(_diverged(f"loss became {value} at epoch {epoch}, step {step}", epoch, cfg, out),
                                        diverged_at=(epoch, step))
                total += value
                seen += len(idx)
                if show_bar and step % 50 == 0:
                    bar.set_postfix(loss=f"{total / seen:.2f}")
                if progress and (step % 25 == 0 or step == steps):
                    progress(Progress(epoch, cfg.epochs, step, steps, total / seen, history=history))
            elapsed += time.perf_counter() - t0
            # Every epoch: the test loss (one encoder + one decoder pass). Every metric: at the last
            # epoch, or every epoch when asked (the sweep records them all): about twice the time.
            full = metrics_every_epoch or epoch == cfg.epochs
            metrics = (evaluate if full else sampled_elbo)(model, head, x_test, seed=cfg.seed).to_dict()
            # The last step of an epoch is not followed by a loss check: never save what it broke.
            if not all(math.isfinite(v) for v in metrics.values() if isinstance(v, float)) or not math.isfinite(total):
                raise TrainingError(_diverged(f"the model became non-finite during epoch {epoch} (test loss "
                                              f"{metrics['neg_elbo']}, train loss {total / seen})", epoch, cfg, out),
                                    diverged_at=(epoch, steps))
            history.append({"epoch": epoch, "train_loss": total / seen, "test_loss": metrics["neg_elbo"],
                            "seconds": round(elapsed, 3)})
            mean_z = f" (z = mean {metrics['neg_elbo_mean_z']:.4f})" if full else ""
            frozen = f"; KL {metrics['kl']:.4f}, fixed by the frozen encoder" if source is not None else ""
            print(f"====> epoch {epoch}: train loss {total / seen:.4f}, test loss {metrics['neg_elbo']:.4f}{mean_z} "
                  f"nats/image{frozen}", file=sys.stderr if show_bar else sys.stdout)
            meta = build_metadata(cfg.head, model.config, dataset=cfg.dataset, epochs=epoch, seed=cfg.seed,
                                  batch_size=cfg.batch_size, lr=cfg.lr, history=history,
                                  metrics=metrics, train_seconds=round(elapsed, 3),
                                  n_train=len(x_train), n_test=len(x_test), device=str(device),
                                  **({"encoder_from": encoder_from} if encoder_from else {}))
            # Checkpoint first: if the second write fails or the run is killed between the two, the
            # resume state is one epoch behind and --resume redoes that epoch (identically), never the reverse.
            try:
                save_checkpoint(out, model, meta)
            except CheckpointError as err:
                raise TrainingError(f"{err}; the previous checkpoint is intact") from None
            in_full = full
            _save_resume_state(out, epoch, history, elapsed, model, train_step.optimizer, shuffle_gen, frozen_sha,
                               cfg.step)
            if progress:
                progress(Progress(epoch, cfg.epochs, steps, steps, total / seen, metrics["neg_elbo"], history,
                                  metrics if full else None))
    except BaseException:
        # Stopped early (interrupted, cancelled, diverged): the checkpoint left behind gets every metric too.
        if not in_full:
            _score_in_full(out, x_test, cfg.seed)
        raise
    model.eval().requires_grad_(False)
    return Checkpoint.from_model(model.cpu(), head, meta, out)


def _encoder_source(cfg: TrainConfig, out: Path) -> Checkpoint:
    """The validated checkpoint whose encoder ``cfg`` freezes; TrainingError (one line) if it cannot serve."""
    path = Path(str(cfg.encoder_from))
    if path.resolve() == out.resolve():
        raise TrainingError(f"--encoder-from and --out are the same file ({path}); write the decoder to a new file")
    try:
        source = load_checkpoint(path)
    except CheckpointError as err:
        raise TrainingError(f"cannot take the encoder from {err}") from None
    for what, theirs, ours in (("latent size", source.config.latent, cfg.latent),
                               ("hidden size", source.config.hidden, cfg.hidden),
                               ("dataset", source.dataset, cfg.dataset)):
        if theirs != ours:
            raise TrainingError(f"the encoder of {path.name} has {what} {theirs}, not {ours}; "
                                f"train the decoder with the same {what}")
    return source


def _score_in_full(out: Path, x_test: torch.Tensor, seed: int) -> None:
    """Rewrite the checkpoint ``out``, scored with the test loss only, with every test metric.

    Best effort on the way out of a stopped run: if it cannot be done (disk full, a second
    Ctrl-C) the checkpoint stays as it was, valid and scored with its test loss.
    """
    try:
        ckpt = load_checkpoint(out)
        metrics = evaluate(ckpt.model.to(x_test.device), ckpt.head, x_test, seed=seed)
        save_checkpoint(out, ckpt.model, ckpt.meta.replace(metrics=metrics.to_dict()))
    except Exception:  # noqa: S110 - the checkpoint on disk is complete without the extra metrics
        pass


def _diverged(what: str, epoch: int, cfg: TrainConfig, out: Path) -> str:
    return (f"{what} (learning rate {cfg.lr:g} may be too high); "
            + (f"the last good checkpoint (epoch {epoch - 1}) is kept at {out}" if epoch > 1 else "no checkpoint was written"))


def _bar(iterable, total: int, desc: str):
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, leave=False, unit="batch")


def _save_resume_state(out: Path, epoch: int, history: list[dict], elapsed: float, model: VAE,
                       optimizer: FlatAdam | torch.optim.Optimizer, shuffle_gen: torch.Generator,
                       frozen_encoder: str | None = None, step: str = "handwritten") -> None:
    state = {"epoch": epoch, "history": history, "elapsed": elapsed, "frozen_encoder": frozen_encoder, "step": step,
             "model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "torch_rng": torch.get_rng_state(), "shuffle_rng": shuffle_gen.get_state()}
    if torch.cuda.is_available():
        state["cuda_rng"] = torch.cuda.get_rng_state_all()
    try:
        write_atomically(resume_path(out), lambda tmp: torch.save(state, tmp))
    except (OSError, RuntimeError) as err:  # torch's zip writer reports a full disk as a RuntimeError
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err).strip().splitlines()[-1][-120:]
        raise TrainingError(f"could not write {resume_path(out)} ({reason}); the previous state is intact") from None


def _load_resume_state(out: Path, cfg: TrainConfig, model: VAE, optimizer: FlatAdam | torch.optim.Optimizer,
                       shuffle_gen: torch.Generator, frozen_encoder: str | None = None,
                       step: str = "handwritten") -> tuple[int, list[dict], float]:
    path = resume_path(out)
    if not path.is_file():
        raise TrainingError(f"cannot resume: {path} does not exist (it is written after each finished epoch)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)  # never runs code from the file
    except Exception as err:
        raise TrainingError(f"cannot resume from {path}: {type(err).__name__}: {_first_line(err)}") from None
    # A whole-VAE run and a decoder-only one (or one on another encoder) have different optimizer
    # layouts and latent spaces: one never continues the other.
    saved_sha = state.get("frozen_encoder") if isinstance(state, dict) else None
    if saved_sha != frozen_encoder:
        def kind(sha):
            return f"a decoder on the frozen encoder {str(sha)[:12]}" if sha else "a whole VAE"
        raise TrainingError(f"cannot resume from {path}: it holds {kind(saved_sha)}, "
                            f"but this run trains {kind(frozen_encoder)}")
    # the two steps keep Adam's state in different layouts (one flat buffer, or per parameter)
    if state.get("step", "handwritten") != step:
        raise TrainingError(f"cannot resume from {path}: it was trained with --step {state.get('step')}, not --step {step}")
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        shuffle_gen.set_state(state["shuffle_rng"])
        if "cuda_rng" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        return int(state["epoch"]), list(state["history"]), float(state["elapsed"])
    except Exception as err:
        raise TrainingError(f"cannot resume from {path}: {type(err).__name__}: {_first_line(err)} "
                            f"(was it written by this version of vae.train, with the same --head/--latent/--hidden?)") from None


def _first_line(err: BaseException) -> str:
    return str(err).splitlines()[0] if str(err) else ""


def main(argv: list[str] | None = None) -> int:
    """The command line: train per the arguments, one error line and exit status 2 when it cannot."""
    # The imported modules' objects (torch's: hundreds of thousands) live until exit: keep them out of
    # every garbage collection, the final ones at exit included (~0.3 s of a run, bench/RESULTS.md).
    gc.freeze()
    parser = argparse.ArgumentParser(prog="python -m vae.train", description=__doc__.split("\n\n")[0])
    defaults = TrainConfig()
    parser.add_argument("--head", default=defaults.head, choices=list(HEADS))
    parser.add_argument("--latent", type=int, default=defaults.latent)
    parser.add_argument("--hidden", type=int, default=defaults.hidden)
    parser.add_argument("--epochs", type=int, default=defaults.epochs, help="total epochs (also when resuming)")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--dataset", default=defaults.dataset, choices=list(DATASETS))
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                        help="root holding MNIST/raw/ or FashionMNIST/raw/ (downloaded there if missing)")
    parser.add_argument("--no-download", action="store_true", help="fail instead of downloading missing files")
    parser.add_argument("--out", type=Path, required=True, help="checkpoint to write (.safetensors)")
    parser.add_argument("--resume", action="store_true", help="continue from the resume state next to --out")
    parser.add_argument("--force", action="store_true", help="train a new model over an existing --out")
    parser.add_argument("--device", choices=["cpu", "cuda"], help="default: cuda when available")
    parser.add_argument("--step", default=defaults.step, choices=list(STEPS),
                        help="handwritten: the fast hand-written backward (vae/step.py); autograd: loss.backward()")
    parser.add_argument("--encoder-from", type=Path, metavar="CHECKPOINT",
                        help="freeze this checkpoint's encoder and train only a decoder (same latent/hidden/dataset)")
    args = parser.parse_args(argv)
    try:
        cfg = TrainConfig(head=args.head, latent=args.latent, hidden=args.hidden, epochs=args.epochs,
                          batch_size=args.batch_size, lr=args.lr, seed=args.seed, dataset=args.dataset,
                          encoder_from=str(args.encoder_from) if args.encoder_from else None, step=args.step)
        if args.out.suffix != ".safetensors":
            raise ValueError("--out must end in .safetensors")
        if cfg.encoder_from:
            _encoder_source(cfg, args.out)  # a bad source fails before the data is loaded
        if args.out.exists() and not (args.resume or args.force):
            raise ValueError(f"{args.out} already exists: continue it with --resume, or pass --force to train a new model over it")
        train_split = load_split(cfg.dataset, True, args.data_dir, download=not args.no_download)
        test_split = load_split(cfg.dataset, False, args.data_dir, download=not args.no_download)
        print(f"training {cfg.head} head, latent {cfg.latent}, on {len(train_split)} {cfg.dataset} images "
              f"({torch.get_num_threads()} threads)"
              + (f"; decoder only, on the frozen encoder of {cfg.encoder_from}" if cfg.encoder_from else ""))
        ckpt = train(cfg, args.out, train_split, test_split, resume=args.resume, device=args.device, show_bar=True)
    except (ValueError, DatasetError, TrainingError, CheckpointError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted: {args.out} holds the last finished epoch; continue with --resume", file=sys.stderr)
        return 130
    print(f"wrote {ckpt.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
