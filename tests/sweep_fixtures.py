"""Synthetic sweep results (schema vae-sweep/1) with a chosen outcome, for the verdict tests."""

from __future__ import annotations

import json
from pathlib import Path

LRS = (1e-3, 3e-2)
SEEDS = (1, 2)
EPOCHS = 3


def _epochs(bce: float, mse: float, pct_out_by_epoch: list[float]) -> list[dict]:
    return [{"epoch": i + 1, "train_loss": bce + 30, "test_loss": bce + 30, "bce": bce + (EPOCHS - i - 1),
             "mse": mse, "pct_below_0": p, "pct_above_1": 0.0, "max_grad_norm": 1e4, "seconds": 1.0 + i}
            for i, p in enumerate(pct_out_by_epoch)]


def _run(head: str, lr: float, seed: int, diverged: bool, bce: float, mse: float, pct: list[float]) -> dict:
    if diverged:
        return {"head": head, "lr": lr, "seed": seed, "device": "cpu", "threads": 1, "seconds": 1.0, "diverged": True,
                "diverged_at": {"epoch": 2, "step": 17, "loss": "nan"}, "epochs": _epochs(bce, mse, pct[:1])}
    return {"head": head, "lr": lr, "seed": seed, "device": "cpu", "threads": 1, "seconds": 3.0, "diverged": False,
            "diverged_at": None, "epochs": _epochs(bce + seed * 0.1, mse, pct)}


def synthetic_results(sigmoid_wins: bool, diverge: bool = True) -> dict:
    """Two heads x two learning rates x two seeds, three epochs.

    ``sigmoid_wins``: the sigmoid never leaves [0, 1], beats raw on BCE and MSE and never diverges;
    the raw head stays ~30% out of range and diverges at the high learning rate. Otherwise the
    opposite: the sigmoid leaks a little and diverges at the high rate, raw learns the range and wins.
    Without ``diverge`` no run diverges, and the loser's BCE is the one that worsens more at the high rate.
    """
    runs = []
    for lr in LRS:
        high = lr == max(LRS)
        for seed in SEEDS:
            if sigmoid_wins:
                runs.append(_run("sigmoid", lr, seed, False, 80 + 5 * high, 8 + high, [0.0, 0.0, 0.0]))
                runs.append(_run("raw", lr, seed, high and diverge, 120 + 60 * high, 15 + 10 * high, [35.0, 31.0, 30.0]))
            else:
                runs.append(_run("sigmoid", lr, seed, high and diverge, 95 + 60 * high, 12 + 10 * high, [0.4, 0.3, 0.2]))
                runs.append(_run("raw", lr, seed, False, 75 + 30 * high, 7 + high, [5.0, 1.0, 0.2]))
    return {"schema": "vae-sweep/1",
            "config": {"dataset": "mnist", "latent": 20, "hidden": 400, "epochs": EPOCHS, "batch_size": 128,
                       "encoder_from": None},
            "grid": {"heads": ["sigmoid", "raw"], "lrs": list(LRS), "seeds": list(SEEDS)},
            "n_train": 60000, "n_test": 10000, "machine": {"device": "cpu"}, "versions": {"torch": "test"},
            "wall_seconds": 24.0, "runs": runs}


def write_results(path: Path, doc: dict) -> Path:
    path.write_text(json.dumps(doc))
    return path
