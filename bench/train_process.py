"""A whole training run, process start to exit: `python -m vae.train` against the classic script.

    .venv/bin/python bench/train_process.py [--data-dir ../shared/data] [--epochs 10] [--rounds 3]

Classic = pytorch/examples vae/main.py, verbatim (bench/classic_vae_main.py), run as its README
says in a scratch folder whose ../data holds MNIST/raw/ (it writes results/*.png each epoch).
Ours = `python -m vae.train --epochs N` on the same files, writing a checkpoint and resume state
every epoch. Same epochs, alternated per round, wall time of each process from spawn to exit.
Also reported: the share of our run spent outside the training steps (start-up imports, data
loading, test passes, checkpoint writes) = 1 - (the checkpoint's train_seconds / wall time).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, SHARED_DATA, machine, summary

from vae.checkpoints import load_checkpoint

CLASSIC = ROOT / "bench" / "classic_vae_main.py"


def run_classic(data_dir: Path, epochs: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "work"
        (work / "results").mkdir(parents=True)
        (Path(tmp) / "data").symlink_to(data_dir.resolve(), target_is_directory=True)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, str(CLASSIC), "--epochs", str(epochs), "--no-accel"], cwd=work, check=True,
                       stdout=subprocess.DEVNULL)
        return time.perf_counter() - t0


def run_ours(data_dir: Path, epochs: int) -> tuple[float, float]:
    """Wall seconds of the whole process, and the seconds its training steps took (from the checkpoint)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.safetensors"
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "vae.train", "--epochs", str(epochs), "--data-dir", str(data_dir),
                        "--no-download", "--device", "cpu", "--out", str(out)], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
        return wall, float(load_checkpoint(out).meta.train_seconds or 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=SHARED_DATA)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not (args.data_dir / "MNIST" / "raw").is_dir():
        sys.exit(f"error: {args.data_dir}/MNIST/raw not found (pass --data-dir)")
    print(machine())
    classic, ours, shares = [], [], []
    for _ in range(args.rounds):
        classic.append(run_classic(args.data_dir, args.epochs))
        wall, steps = run_ours(args.data_dir, args.epochs)
        ours.append(wall)
        shares.append(1 - steps / wall)
        print(f"round: classic {classic[-1]:.1f} s, ours {wall:.1f} s (steps {steps:.1f} s)", flush=True)
    print(f"classic: {summary(classic, ' s')}")
    print(f"ours:    {summary(ours, ' s')}")
    print(f"RESULT whole {args.epochs}-epoch run: ours {statistics.median(ours):.1f} s vs classic "
          f"{statistics.median(classic):.1f} s = {statistics.median(classic) / statistics.median(ours):.2f}x faster; "
          f"outside the training steps: {100 * statistics.median(shares):.1f}% of our run (goal < 10%)")


if __name__ == "__main__":
    main()
