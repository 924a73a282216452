"""Decoder output heads: the one place that lists them.

A head is the decoder's last step and the likelihood it is trained with:

* ``output``    - what the decoder returns (what the classic code would hand to the loss
  and to ``save_image``);
* ``pixels``    - the image the head stands for, the expected pixel intensity;
* ``pixels_np`` - the same map on numpy arrays, for serving images without torch;
* ``nll``       - the reconstruction negative log-likelihood per image, in nats.

Likelihoods come from ``torch.nn.functional`` and ``torch.distributions`` rather than
hand-written formulas, so the tests can hold them to the reference. Importing this module
does not import torch (the explorer's first image needs only names and ``pixels_np``;
bench/RESULTS.md, cold start): the torch forms import it when first called.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from torch import Tensor

# The raw and clamp heads use a Gaussian with this fixed standard deviation. With
# sigma^2 = 1/2 the negative log-density is the summed squared error plus a constant
# (0.5*log(pi) per pixel): exactly the MSE loss of the "I removed the sigmoid" model.
GAUSSIAN_SIGMA = math.sqrt(0.5)

# Where torch's continuous-Bernoulli formulas switch to a Taylor expansion around lambda = 1/2.
_CB_TAYLOR_WINDOW = (0.499, 0.501)


# --- torch forms (tensor methods, or torch imported on first call) ------------------------

def _identity(pre: Tensor) -> Tensor:
    return pre


def _sigmoid(pre: Tensor) -> Tensor:
    return pre.sigmoid()


def _clip(pre: Tensor) -> Tensor:
    return pre.clamp(0.0, 1.0)


def _bernoulli_nll_of_probs(pre: Tensor, x: Tensor) -> Tensor:
    # The classic example's loss: BCE on sigmoid outputs.
    from .bce import ClassicBCE

    return ClassicBCE.apply(pre.sigmoid(), x).sum(-1)


def _bernoulli_nll_of_logits(pre: Tensor, x: Tensor) -> Tensor:
    # The sigmoid lives inside the loss: log-sum-exp form, finite gradients at any logit.
    import torch.nn.functional as F

    return F.binary_cross_entropy_with_logits(pre, x, reduction="none").sum(-1)


def _gaussian_nll(mean: Tensor, x: Tensor) -> Tensor:
    from torch.distributions import Normal

    return -Normal(mean, GAUSSIAN_SIGMA, validate_args=False).log_prob(x).sum(-1)


def _raw_nll(pre: Tensor, x: Tensor) -> Tensor:
    return _gaussian_nll(pre, x)


def _clamp_nll(pre: Tensor, x: Tensor) -> Tensor:
    return _gaussian_nll(_clip(pre), x)


def _cb_nll(pre: Tensor, x: Tensor) -> Tensor:
    from torch.distributions import ContinuousBernoulli

    return -ContinuousBernoulli(logits=pre, validate_args=False).log_prob(x).sum(-1)


def _cb_mean(pre: Tensor) -> Tensor:
    # torch's float32 mean is inaccurate just outside its Taylor window around 1/2.
    from torch.distributions import ContinuousBernoulli

    return ContinuousBernoulli(logits=pre.double(), validate_args=False).mean.to(pre.dtype)


# --- numpy forms of ``pixels`` (held equal to the torch forms by the tests) -----------------

def _identity_np(pre: np.ndarray) -> np.ndarray:
    return pre


def _sigmoid_np(pre: np.ndarray) -> np.ndarray:
    # torch's formula, bit for bit in float64 (the continuous-Bernoulli mean below is sensitive to
    # the last bits of lambda near 1); e^-t overflows to inf for very negative t, giving exactly 0.
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-pre))


def _clip_np(pre: np.ndarray) -> np.ndarray:
    return np.clip(pre, 0.0, 1.0)


def _cb_mean_np(pre: np.ndarray) -> np.ndarray:
    # torch.distributions.ContinuousBernoulli.mean, formula for formula, in float64, with lambda
    # clamped to [eps, 1 - eps] as torch's clamp_probs does (so the mean levels off at ~0.028
    # below logit -36: what training and the stored metrics saw).
    eps = np.finfo(np.float64).eps
    lam = np.clip(_sigmoid_np(np.asarray(pre, dtype=np.float64)), eps, 1 - eps)
    lo, hi = _CB_TAYLOR_WINDOW
    outside = (lam <= lo) | (lam > hi)
    cut = np.where(outside, lam, lo)
    mus = cut / (2.0 * cut - 1.0) + 1.0 / (np.log1p(-cut) - np.log(cut))
    d = lam - 0.5
    taylor = 0.5 + (1.0 / 3.0 + 16.0 / 45.0 * d ** 2) * d
    return np.where(outside, mus, taylor).astype(np.asarray(pre).dtype)


@dataclass(frozen=True)
class Head:
    """An output activation together with the likelihood it is trained with."""

    name: str
    title: str
    activation: str
    likelihood: str
    output: Callable[[Tensor], Tensor]
    pixels: Callable[[Tensor], Tensor]
    pixels_np: Callable[[np.ndarray], np.ndarray]
    nll: Callable[[Tensor, Tensor], Tensor]
    bounded: bool  # True when pixels() can never leave [0, 1]
    logit_output: bool  # True when the decoder's output is a logit that a sigmoid maps into (0, 1)

    def bce_error(self, pre: Tensor, x: Tensor) -> str | None:
        """What ``F.binary_cross_entropy(output, x)`` says about this head's output.

        ``None`` when PyTorch accepts it; otherwise the first line of the error it raises
        (e.g. "all elements of input should be between 0 and 1" for the raw head).
        """
        import torch.nn.functional as F

        try:
            F.binary_cross_entropy(self.output(pre), x)
        except RuntimeError as err:
            return str(err).strip().splitlines()[0]
        return None


HEADS: dict[str, Head] = {
    head.name: head
    for head in (
        Head(
            name="sigmoid",
            title="Sigmoid + Bernoulli (BCE)",
            activation="sigmoid",
            likelihood="Bernoulli: F.binary_cross_entropy on sigmoid outputs",
            output=_sigmoid,
            pixels=_sigmoid,
            pixels_np=_sigmoid_np,
            nll=_bernoulli_nll_of_probs,
            bounded=True,
            logit_output=True,
        ),
        Head(
            name="raw",
            title="Raw (identity) + Gaussian (MSE)",
            activation="identity",
            likelihood=f"Gaussian with fixed sigma = {GAUSSIAN_SIGMA:.4f} (summed MSE + constant)",
            output=_identity,
            pixels=_identity,
            pixels_np=_identity_np,
            nll=_raw_nll,
            bounded=False,
            logit_output=False,
        ),
        Head(
            name="logits",
            title="Logits + BCE-with-logits",
            activation="identity (sigmoid inside the loss)",
            likelihood="Bernoulli: F.binary_cross_entropy_with_logits",
            output=_identity,
            pixels=_sigmoid,
            pixels_np=_sigmoid_np,
            nll=_bernoulli_nll_of_logits,
            bounded=True,
            logit_output=True,
        ),
        Head(
            name="continuous-bernoulli",
            title="Continuous Bernoulli",
            activation="sigmoid (lambda), shown as the distribution's mean",
            likelihood="torch.distributions.ContinuousBernoulli (normalised for x in [0, 1])",
            output=_sigmoid,
            pixels=_cb_mean,
            pixels_np=_cb_mean_np,
            nll=_cb_nll,
            bounded=True,
            logit_output=True,
        ),
        Head(
            name="clamp",
            title="Hard clamp + Gaussian (MSE)",
            activation="clamp to [0, 1]",
            likelihood=f"Gaussian with fixed sigma = {GAUSSIAN_SIGMA:.4f} on clamped outputs",
            output=_clip,
            pixels=_clip,
            pixels_np=_clip_np,
            nll=_clamp_nll,
            bounded=True,
            logit_output=False,
        ),
    )
}


def get_head(name: str) -> Head:
    """The head called ``name``; a ValueError listing the known heads otherwise."""
    try:
        return HEADS[name]
    except KeyError:
        raise ValueError(f"unknown head {name!r} (known: {', '.join(HEADS)})") from None
