"""Training throughput: the classic example's pipeline against ours, side by side.

    .venv/bin/python bench/train_throughput.py [--data-dir ../shared/data] [--rounds 5] [--steps 150]

Classic = pytorch/examples vae/main.py: DataLoader(MNIST(transform=ToTensor()), batch_size=128,
shuffle=True) feeding the same model, BCE+KL loss and torch.optim.Adam(lr=1e-3) with its defaults.
Ours = vae.train's loop: the split as one float tensor, batches gathered by index, and
vae.step.TrainStep (hand-written backward into one flat gradient buffer, one fused Adam).
Both run the same number of steps at the same batch size, alternated A/B per round.
Also measured: the machine's matmul limit, i.e. the time of exactly the GEMMs one training step
performs (3.28 MFLOP per sample forward + backward), as samples/s.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from common import SHARED_DATA, machine, summary

from vae.data import DatasetError, load_sample, load_split, shuffled_batches
from vae.heads import get_head
from vae.model import VAE, kl_to_standard_normal
from vae.step import TrainStep

BATCH = 128


def gemm_shapes(b: int, d: int = 784, h: int = 400, z: int = 20) -> list[tuple[int, int, int]]:
    """(m, k, n) of every matrix product in one forward + backward step of the MLP VAE."""
    fwd = [(b, d, h), (b, h, z), (b, h, z), (b, z, h), (b, h, d)]
    bwd = [(b, d, h), (d, b, h),            # fc4: grad input, grad weight
           (b, h, z), (h, b, z),            # fc3
           (b, z, h), (z, b, h),            # fc21
           (b, z, h), (z, b, h),            # fc22
           (h, b, d)]                       # fc1: grad weight only (the input needs no gradient)
    return fwd + bwd


def matmul_limit(b: int = BATCH, reps: int = 200) -> tuple[float, float]:
    """(GFLOP/s, samples/s) of the step's GEMM sequence alone, best of 5 timings."""
    mats = [(torch.randn(m, k), torch.randn(k, n), torch.empty(m, n)) for m, k, n in gemm_shapes(b)]
    flops = sum(2 * m * k * n for m, k, n in gemm_shapes(b))
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(reps):
            for a, w, out in mats:
                torch.mm(a, w, out=out)
        best = min(best, (time.perf_counter() - t0) / reps)
    return flops / best / 1e9, b / best


def classic_loop(root: str | None, steps: int):
    """A generator that runs ``steps`` classic steps per next() and yields samples/s."""
    from torchvision import datasets, transforms

    torch.manual_seed(1)
    if root is None:
        raise RuntimeError("no full dataset")
    loader = torch.utils.data.DataLoader(
        datasets.MNIST(root, train=True, download=False, transform=transforms.ToTensor()),
        batch_size=BATCH, shuffle=True)
    model = VAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def batches():
        while True:
            yield from loader

    it = batches()
    while True:
        t0 = time.perf_counter()
        for _ in range(steps):
            data, _ = next(it)
            data = data.view(-1, 784)
            optimizer.zero_grad()
            pre, mu, logvar = model(data)
            loss = F.binary_cross_entropy(torch.sigmoid(pre), data, reduction="sum") + kl_to_standard_normal(mu, logvar).sum()
            loss.backward()
            optimizer.step()
        yield steps * BATCH / (time.perf_counter() - t0)


def our_loop(images: torch.Tensor, steps: int):
    """The same for vae.train's loop (index batches of one tensor + TrainStep)."""
    torch.manual_seed(1)
    train_step = TrainStep(VAE(), get_head("sigmoid"), 1e-3)
    gen = torch.Generator().manual_seed(1)

    def batches():
        while True:
            yield from shuffled_batches(len(images), BATCH, gen)

    it = batches()
    while True:
        t0 = time.perf_counter()
        for _ in range(steps):
            train_step(images.index_select(0, next(it)))
        yield steps * BATCH / (time.perf_counter() - t0)


def breakdown(images: torch.Tensor, steps: int) -> dict[str, float]:
    """Milliseconds per step spent in each phase of TrainStep (same code, timed piecewise)."""
    torch.manual_seed(1)
    train_step = TrainStep(VAE(), get_head("sigmoid"), 1e-3)
    gen = torch.Generator().manual_seed(1)
    t = {"batch gather": 0.0, "forward + loss": 0.0, "backward": 0.0, "Adam step": 0.0}
    idx = list(shuffled_batches(len(images), BATCH, gen))
    for i in range(steps + 10):
        t0 = time.perf_counter()
        x = images.index_select(0, idx[i % len(idx)])
        t1 = time.perf_counter()
        _, saved = train_step.forward(x)
        t2 = time.perf_counter()
        train_step.backward(saved)
        t3 = time.perf_counter()
        train_step.optimizer.step()
        t4 = time.perf_counter()
        if i >= 10:  # skip warm-up
            for key, dt in zip(t, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                t[key] += dt
    return {k: 1000 * v / steps for k, v in t.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=str(SHARED_DATA))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        split, root = load_split("mnist", True, args.data_dir, download=False), args.data_dir
        where = f"full MNIST train set ({len(split)} images) from {args.data_dir}"
    except DatasetError:
        split, root = load_sample("mnist"), None
        where = f"WARNING: full MNIST not found in {args.data_dir}; using the shipped sample ({len(split)} images)"
    print(f"machine: {machine()}\ndata: {where}\nbatch {BATCH}, {args.steps} steps per measurement, {args.rounds} rounds A/B")
    ours = our_loop(split.as_float(), args.steps)
    classic = classic_loop(root, args.steps) if root else None
    next(ours)  # warm-up round for both (allocator, first-touch, DataLoader start)
    if classic:
        next(classic)
    # The limit is measured in every round, right after ours: this machine's speed drifts by
    # +-30% within minutes, so a limit taken once would make the ratio mostly noise.
    a, b, limits, shares = [], [], [], []
    for _ in range(args.rounds):
        if classic:
            a.append(next(classic))
        b.append(next(ours))
        limits.append(matmul_limit()[1])
        shares.append(100 * b[-1] / limits[-1])
    if classic:
        print(f"classic DataLoader pipeline: {summary(a, ' samples/s')}")
    print(f"ours (whole-tensor batches):  {summary(b, ' samples/s')}")
    print(f"matmul limit (same rounds):   {summary(limits, ' samples/s')}")
    print(f"ours / limit, per round:      {summary(shares, '%')}")
    limit, share = statistics.median(limits), statistics.median(shares)
    gemm_ms = 1000 * BATCH / limit
    phases = breakdown(split.as_float(), args.steps)
    print(f"where a step's time goes (ms/step; the GEMMs alone take {gemm_ms:.2f} ms at the limit):")
    for key, ms in phases.items():
        print(f"  {key:<24} {ms:6.2f}")
    print(f"  {'total':<24} {sum(phases.values()):6.2f}")
    ratio = statistics.median(b) / statistics.median(a) if a else float("nan")
    print(f"RESULT: ours/classic = {ratio:.2f}x, ours = {statistics.median(b):,.0f} samples/s "
          f"= {share:.0f}% of the matmul limit (median of per-round ratios; limit median {limit:,.0f} samples/s)")


if __name__ == "__main__":
    main()
