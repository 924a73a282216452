"""Training on a GPU (optional): vae.step.TrainStep against the autograd step, side by side.

    python bench/gpu_step.py [--rounds 5] [--steps 400]

First trains three heads for 3 epochs on the shipped sample with ``vae.train.train`` on CUDA
(the test losses must fall, the checkpoint must load on the CPU), then times batch-128 steps
on 60,000 random binary images held on the GPU: the autograd step (the module, the head's loss,
``loss.backward()``, fused Adam) and TrainStep, alternated per round. Without CUDA it says so
and exits 0: the project builds and is tested without a GPU.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from common import machine, summary

from vae.checkpoints import load_checkpoint
from vae.data import Split, load_sample, shuffled_batches
from vae.heads import get_head
from vae.model import VAE, kl_to_standard_normal
from vae.step import TrainStep
from vae.train import TrainConfig, train

BATCH = 128


def check_training(device: str) -> None:
    """vae.train.train on ``device`` for three heads: print the test loss per epoch."""
    sample = load_sample("mnist")
    train_split = Split("mnist", sample.images[:1500], sample.labels[:1500])
    test_split = Split("mnist", sample.images[1500:], sample.labels[1500:])
    with tempfile.TemporaryDirectory() as tmp:
        for head in ("sigmoid", "raw", "continuous-bernoulli"):
            out = Path(tmp) / f"{head}.safetensors"
            ckpt = train(TrainConfig(head=head, epochs=3), out, train_split, test_split, device=device)
            losses = [round(h["test_loss"], 1) for h in ckpt.meta.history]
            loaded = load_checkpoint(out)
            ok = losses[-1] < losses[0] and next(loaded.model.parameters()).device.type == "cpu"
            print(f"train on {device}, {head} head: test loss per epoch {losses} -> {'ok' if ok else 'FAILED'}")


def rates(device: str, rounds: int, steps: int) -> tuple[list[float], list[float]]:
    """samples/s of the autograd step and of TrainStep, ``rounds`` alternating rounds."""
    torch.manual_seed(0)
    images = (torch.rand(60000, 784, device=device) > 0.8).float()
    head = get_head("sigmoid")
    model = VAE().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    ours = TrainStep(VAE().to(device), head, 1e-3)
    order = [i.to(device) for i in shuffled_batches(len(images), BATCH, torch.Generator().manual_seed(1))]

    def autograd_step(x: torch.Tensor) -> float:
        pre, mu, logvar = model(x)
        loss = head.nll(pre, x).sum() + kl_to_standard_normal(mu, logvar).sum()
        value = loss.item()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return value

    def rate(step, n: int) -> float:
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for i in range(n):
            step(images.index_select(0, order[i % len(order)]))
        torch.cuda.synchronize()
        return n * BATCH / (time.perf_counter() - t0)

    rate(autograd_step, 50), rate(ours, 50)  # warm-up: kernels, allocator
    a, b = [], []
    for _ in range(rounds):
        a.append(rate(autograd_step, steps))
        b.append(rate(ours, steps))
    return a, b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=400)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device here: nothing to measure (this benchmark is optional)")
        return
    print(f"machine: {machine()}, {torch.cuda.get_device_name()}")
    check_training("cuda")
    a, b = rates("cuda", args.rounds, args.steps)
    print(f"autograd step + fused Adam: {summary(a, ' samples/s')}")
    print(f"TrainStep:                  {summary(b, ' samples/s')}")
    print(f"RESULT: TrainStep = {statistics.median(b) / statistics.median(a):.2f}x the autograd step on "
          f"{torch.cuda.get_device_name()} (batch {BATCH}, median of {args.rounds} alternating rounds of {args.steps} steps)")


if __name__ == "__main__":
    main()
