"""Test-set evaluation of a trained VAE under its head.

Numbers are per image, in nats (the classic example's ``Test set loss``). Densities
of different likelihood families are not comparable with each other, so every model
is also scored with the same two reconstruction metrics (BCE and MSE of its pixels).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from .bce import ClassicBCE
from .heads import Head
from .model import VAE, kl_to_standard_normal

if TYPE_CHECKING:
    from .checkpoints import Checkpoint


@dataclass
class Metrics:
    """Per-image averages over a test set; fractions are over all output pixels."""

    n_images: int
    neg_elbo: float          # reconstruction NLL + KL, z sampled once (the example's number)
    neg_elbo_mean_z: float   # the same with z = posterior mean
    kl: float
    recon_nll: float         # the head's own likelihood, z = posterior mean
    bce: float               # BCE of the head's pixels clipped into [0, 1]
    mse: float               # summed squared error of the head's pixels
    frac_below_0: float
    frac_above_1: float
    pixel_min: float
    pixel_max: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ElboScore:
    """The cheap test pass a training run makes after every epoch (per-image averages)."""

    n_images: int
    neg_elbo: float  # reconstruction NLL + KL, z sampled once: the classic example's "Test set loss"
    kl: float

    def to_dict(self) -> dict:
        return asdict(self)


def _chunks(model: VAE, head: Head, images: torch.Tensor, seed: int, batch_size: int):
    """Per chunk of ``images``: the chunk, its posterior mean, KL, and the negative ELBO with one z from q(z|x).

    The draws come from a generator seeded with ``seed``, so both scores below see the same z
    and evaluation never disturbs (or depends on) the training random stream.
    """
    gen = torch.Generator(device=images.device).manual_seed(seed)
    for start in range(0, images.shape[0], batch_size):
        x = images[start:start + batch_size]
        mu, logvar = model.encode(x)
        eps = torch.randn(mu.shape, generator=gen, device=mu.device, dtype=mu.dtype)
        kl = kl_to_standard_normal(mu, logvar)
        yield x, mu, kl, head.nll(model.decode(mu + torch.exp(0.5 * logvar) * eps), x) + kl


@torch.inference_mode()
def sampled_elbo(model: VAE, head: Head, images: torch.Tensor, seed: int = 0, batch_size: int = 1000) -> ElboScore:
    """The sampled-z negative ELBO and KL of ``model`` on ``images``, nothing else.

    What training reports every epoch: one encoder and one decoder pass, about half the time
    :func:`evaluate` takes. Its ``neg_elbo`` and ``kl`` equal :func:`evaluate`'s (same seed, same draws).
    """
    model.eval()
    neg_elbo = kl_sum = 0.0
    for _x, _mu, kl, sampled in _chunks(model, head, images, seed, batch_size):
        neg_elbo += float(sampled.sum())
        kl_sum += float(kl.sum())
    n = images.shape[0]
    return ElboScore(n_images=n, neg_elbo=neg_elbo / n, kl=kl_sum / n)


@torch.inference_mode()
def evaluate(model: VAE, head: Head, images: torch.Tensor, seed: int = 0,
             batch_size: int = 1000) -> Metrics:
    """Score ``model`` with ``head`` on flattened float images in [0, 1]: every :class:`Metrics` field.

    The sampled-z ELBO uses its own generator seeded with ``seed`` (see :func:`sampled_elbo`).
    """
    model.eval()
    totals = dict(neg_elbo=0.0, neg_elbo_mean_z=0.0, kl=0.0, recon_nll=0.0, bce=0.0, mse=0.0)
    below = above = 0
    pmin, pmax = float("inf"), float("-inf")
    for x, mu, kl, sampled in _chunks(model, head, images, seed, batch_size):
        pre = model.decode(mu)
        pixels = head.pixels(pre)
        recon = head.nll(pre, x)
        totals["neg_elbo"] += float(sampled.sum())
        totals["neg_elbo_mean_z"] += float((recon + kl).sum())
        totals["kl"] += float(kl.sum())
        totals["recon_nll"] += float(recon.sum())
        # PyTorch's BCE formulas (vae.bce: vectorised, not its scalar range-checking loop); a
        # diverged model's NaN pixels give a NaN score instead of an exception
        totals["bce"] += float(ClassicBCE.apply(pixels.clamp(0, 1), x).sum())
        totals["mse"] += float(F.mse_loss(pixels, x, reduction="sum"))
        below += int((pixels < 0).sum())
        above += int((pixels > 1).sum())
        low, high = torch.aminmax(pixels)
        pmin, pmax = min(pmin, float(low)), max(pmax, float(high))
    n = images.shape[0]
    return Metrics(n_images=n, **{k: v / n for k, v in totals.items()},
                   frac_below_0=below / images.numel(), frac_above_1=above / images.numel(),
                   pixel_min=pmin, pixel_max=pmax)


def evaluate_on_sample(ckpt: Checkpoint) -> dict:
    """Test metrics of a checkpoint on the shipped sample of its dataset (for imported models)."""
    from .data import load_sample

    sample = load_sample(ckpt.dataset)
    metrics = evaluate(ckpt.model, ckpt.head, sample.as_float()).to_dict()
    metrics["evaluated_on"] = f"shipped {ckpt.dataset} sample ({len(sample)} test images)"
    return metrics
