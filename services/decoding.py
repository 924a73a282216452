"""Inference for the explorer: decode a latent point, encode digits, score one image.

Decoding a latent point and encoding digits to their posterior means run in numpy on the
checkpoint's read-only weights, so the explorer and the latent map work without importing
torch (bench/RESULTS.md, cold start and memory). Scoring runs under ``torch.inference_mode``
on models that are never modified. Either way one cached checkpoint serves many sessions
(threads) at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
import numpy as np

from .architecture import decode_arrays, encode_mean_arrays
from .checkpoints import Checkpoint


@dataclass(frozen=True)
class Decoded:
    """One decoder output: pre-activation values and the head's pixels, 784 each."""

    pre: np.ndarray
    pixels: np.ndarray

    @property
    def below(self) -> int:
        return int((self.pixels < 0).sum())

    @property
    def above(self) -> int:
        return int((self.pixels > 1).sum())


def decode(ckpt: Checkpoint, z) -> Decoded:
    """Decode one latent vector (length = the model's latent size)."""
    return decode_many(ckpt, np.asarray(z, dtype=np.float32)[None])[0]


def decode_many(ckpt: Checkpoint, z: np.ndarray) -> list[Decoded]:
    """Decode a batch of latent vectors, shape (n, latent) (numpy; no torch needed)."""
    pre = decode_arrays(ckpt.weights, z)
    pixels = ckpt.head.pixels_np(pre)
    return [Decoded(p, q) for p, q in zip(pre, pixels)]


def encode_mean(ckpt: Checkpoint, images: np.ndarray) -> np.ndarray:
    """Posterior means of flattened float images in [0, 1], shape (n, latent) (numpy; no torch needed)."""
    return encode_mean_arrays(ckpt.weights, np.asarray(images, dtype=np.float32).reshape(-1, ckpt.config.input_dim))


@dataclass(frozen=True)
class Scores:
    """How well one head reconstructs one image (z = posterior mean), in nats or counts."""

    bce: float              # BCE of the pixels clipped into [0, 1]
    mse: float              # summed squared error
    cb_log_lik: float       # continuous-Bernoulli log-likelihood with lambda = clipped pixels
    kl: float
    below: int
    above: int
    bce_error: str | None   # what F.binary_cross_entropy says about the head's raw output


def reconstruct(ckpt: Checkpoint, image: np.ndarray) -> tuple[Decoded, Scores]:
    """Encode one image (28x28 or 784 floats in [0, 1]) to its mean and decode it."""
    import torch
    import torch.nn.functional as F
    from torch.distributions import ContinuousBernoulli

    from .model import kl_to_standard_normal

    with torch.inference_mode():
        x = torch.as_tensor(np.asarray(image, dtype=np.float32)).reshape(1, -1)
        mu, logvar = ckpt.model.encode(x)
        pre = ckpt.model.decode(mu)
        pixels = ckpt.head.pixels(pre)
        # lambda is kept off exact 0/1, where the continuous Bernoulli density is degenerate
        lam = pixels.clamp(1e-6, 1 - 1e-6).double()
        scores = Scores(
            bce=float(F.binary_cross_entropy(pixels.clamp(0, 1), x, reduction="sum")),
            mse=float(F.mse_loss(pixels, x, reduction="sum")),
            cb_log_lik=float(ContinuousBernoulli(probs=lam).log_prob(x.double()).sum()),
            kl=float(kl_to_standard_normal(mu, logvar).sum()),
            below=int((pixels < 0).sum()), above=int((pixels > 1).sum()),
            bce_error=ckpt.head.bce_error(pre, x),
        )
    return Decoded(pre[0].numpy(), pixels[0].numpy()), scores


def chi2_cdf(x: float, df: int) -> float:
    """P(X <= x) for X ~ chi-squared(df): the regularised lower incomplete gamma P(df/2, x/2).

    Power series below the mean, continued fraction for the upper tail above it (Numerical
    Recipes, 6.2). Pure Python, so the explorer needs no torch or scipy for it; the tests
    hold it to ``torch.special.gammainc``.
    """
    a, t = df / 2, x / 2
    if t <= 0:
        return 0.0
    log_prefactor = a * math.log(t) - t - math.lgamma(a)
    if t < a + 1:
        # P = t^a e^-t / Gamma(a + 1) * sum_k t^k / ((a + 1) ... (a + k))
        term = total = 1.0 / a
        k = 0
        while abs(term) > 1e-16 * total:
            k += 1
            term *= t / (a + k)
            total += term
        return min(1.0, math.exp(log_prefactor) * total)
    # Q = 1 - P = t^a e^-t / Gamma(a) * 1/(t+1-a- 1(1-a)/(t+3-a- 2(2-a)/(t+5-a- ...))), modified Lentz
    tiny = 1e-300
    b = t + 1 - a
    c, d = 1 / tiny, 1 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = 1 / (d if abs(d) > tiny else tiny)
        c = b + an / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        if abs(d * c - 1) < 1e-16:
            break
    return max(0.0, 1.0 - math.exp(log_prefactor) * h)


@lru_cache(maxsize=None)
def chi2_quantile(df: int, q: float = 0.999) -> float:
    """The q-quantile of chi-squared with ``df`` degrees of freedom (bisection on :func:`chi2_cdf`).

    ||z||^2 of z ~ N(0, I_df) follows this law, so a larger value means z lies where the
    prior (and so the training data) almost never put the decoder.
    """
    lo, hi = 0.0, float(df) + 40.0 * df ** 0.5 + 100.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if chi2_cdf(mid, df) < q:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def reconstruct_all(ckpt: Checkpoint, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """The head's pixels for every image reconstructed at its posterior mean, shape (n, 784) (numpy)."""
    x = np.asarray(images, dtype=np.float32).reshape(-1, ckpt.config.input_dim)
    out = [np.zeros((0, ckpt.config.input_dim), np.float32)]
    for start in range(0, len(x), batch_size):
        mu = encode_mean_arrays(ckpt.weights, x[start:start + batch_size])
        out.append(ckpt.head.pixels_np(decode_arrays(ckpt.weights, mu)))
    return np.concatenate(out)


def interpolate(z_a: np.ndarray, z_b: np.ndarray, steps: int) -> np.ndarray:
    """``steps`` points on the straight line from z_a to z_b (both ends included)."""
    t = np.linspace(0.0, 1.0, steps)[:, None]
    return (1 - t) * np.asarray(z_a)[None] + t * np.asarray(z_b)[None]


def grid_points(n: int, span: float = 3.0) -> np.ndarray:
    """An n x n grid over [-span, span]^2, row-major with z2 decreasing down the rows."""
    ticks = np.linspace(-span, span, n)
    zz1, zz2 = np.meshgrid(ticks, ticks[::-1])
    return np.stack([zz1.ravel(), zz2.ravel()], axis=1)
