"""Decoder output heads: the one place that lists them.

A head is the decoder's last step and the likelihood it is trained with:

* ``output``  - what the decoder returns (what the classic code would hand to the loss
  and to ``save_image``);
* ``pixels``  - the image the head stands for, the expected pixel intensity;
* ``nll``     - the reconstruction negative log-likelihood per image, in nats.

Likelihoods come from ``torch.nn.functional`` and ``torch.distributions`` rather than
hand-written formulas, so the tests can hold them to the reference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch.distributions import ContinuousBernoulli, Normal

Tensor = torch.Tensor

# The raw and clamp heads use a Gaussian with this fixed standard deviation. With
# sigma^2 = 1/2 the negative log-density is the summed squared error plus a constant
# (0.5*log(pi) per pixel): exactly the MSE loss of the "I removed the sigmoid" model.
GAUSSIAN_SIGMA = math.sqrt(0.5)


def _identity(pre: Tensor) -> Tensor:
    return pre


def _clip(pre: Tensor) -> Tensor:
    return pre.clamp(0.0, 1.0)


class _ClassicBCE(torch.autograd.Function):
    """``F.binary_cross_entropy(probs, x, reduction="none")`` with PyTorch's own formulas, forward
    (log terms clamped at -100) and backward (denominator clamped at 1e-12), in vectorised ops.

    Why not call it: PyTorch's CPU kernel checks every input against [0, 1] in a scalar loop,
    ~1.2 of the ~7.8 ms of a training step here (bench/RESULTS.md). Inputs here come from a
    sigmoid, so the check can only ever catch NaN, and NaN should give a NaN loss (a diverged
    model stops training cleanly) rather than an exception. Gradients are bit-identical to
    PyTorch's; losses agree to float32 rounding (tests/test_heads.py). The app still shows
    PyTorch's refusal through :meth:`Head.bce_error`, which calls the real thing.
    """

    @staticmethod
    def forward(ctx, probs: Tensor, x: Tensor) -> Tensor:  # noqa: D102
        ctx.save_for_backward(probs, x)
        return (x - 1) * torch.log1p(-probs).clamp_min(-100) - x * torch.log(probs).clamp_min(-100)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:  # noqa: D102
        probs, x = ctx.saved_tensors
        return grad * (probs - x) / ((1 - probs) * probs).clamp_min(1e-12), None


def _bernoulli_nll_of_probs(pre: Tensor, x: Tensor) -> Tensor:
    # The classic example's loss: BCE on sigmoid outputs.
    return _ClassicBCE.apply(torch.sigmoid(pre), x).sum(-1)


def _bernoulli_nll_of_logits(pre: Tensor, x: Tensor) -> Tensor:
    # The sigmoid lives inside the loss: log-sum-exp form, finite gradients at any logit.
    return F.binary_cross_entropy_with_logits(pre, x, reduction="none").sum(-1)


def _gaussian_nll(mean: Tensor, x: Tensor) -> Tensor:
    return -Normal(mean, GAUSSIAN_SIGMA, validate_args=False).log_prob(x).sum(-1)


def _raw_nll(pre: Tensor, x: Tensor) -> Tensor:
    return _gaussian_nll(pre, x)


def _clamp_nll(pre: Tensor, x: Tensor) -> Tensor:
    return _gaussian_nll(_clip(pre), x)


def _cb_nll(pre: Tensor, x: Tensor) -> Tensor:
    return -ContinuousBernoulli(logits=pre, validate_args=False).log_prob(x).sum(-1)


def _cb_mean(pre: Tensor) -> Tensor:
    # torch's float32 mean is inaccurate just outside its Taylor window around 1/2.
    return ContinuousBernoulli(logits=pre.double(), validate_args=False).mean.to(pre.dtype)


@dataclass(frozen=True)
class Head:
    """An output activation together with the likelihood it is trained with."""

    name: str
    title: str
    activation: str
    likelihood: str
    summary: str
    output: Callable[[Tensor], Tensor]
    pixels: Callable[[Tensor], Tensor]
    nll: Callable[[Tensor, Tensor], Tensor]
    bounded: bool  # True when pixels() can never leave [0, 1]

    def bce_error(self, pre: Tensor, x: Tensor) -> str | None:
        """What ``F.binary_cross_entropy(output, x)`` says about this head's output.

        ``None`` when PyTorch accepts it; otherwise the first line of the error it raises
        (e.g. "all elements of input should be between 0 and 1" for the raw head).
        """
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
            summary="The classic decoder: the sigmoid squeezes every output into (0, 1), "
            "the range of ToTensor() pixels and of a Bernoulli mean that BCE needs.",
            output=torch.sigmoid,
            pixels=torch.sigmoid,
            nll=_bernoulli_nll_of_probs,
            bounded=True,
        ),
        Head(
            name="raw",
            title="Raw (identity) + Gaussian (MSE)",
            activation="identity",
            likelihood=f"Gaussian with fixed sigma = {GAUSSIAN_SIGMA:.4f} (summed MSE + constant)",
            summary="The sigmoid removed: nothing keeps outputs in [0, 1], the network has to "
            "learn the range from the loss, and BCE refuses its outputs.",
            output=_identity,
            pixels=_identity,
            nll=_raw_nll,
            bounded=False,
        ),
        Head(
            name="logits",
            title="Logits + BCE-with-logits",
            activation="identity (sigmoid inside the loss)",
            likelihood="Bernoulli: F.binary_cross_entropy_with_logits",
            summary="The same Bernoulli model as the classic decoder, but the sigmoid lives "
            "in the loss (numerically stable) and is applied again only for display.",
            output=_identity,
            pixels=torch.sigmoid,
            nll=_bernoulli_nll_of_logits,
            bounded=True,
        ),
        Head(
            name="continuous-bernoulli",
            title="Continuous Bernoulli",
            activation="sigmoid (lambda), shown as the distribution's mean",
            likelihood="torch.distributions.ContinuousBernoulli (normalised for x in [0, 1])",
            summary="The properly normalised likelihood for [0, 1]-valued pixels "
            "(Loaiza-Ganem & Cunningham, NeurIPS 2019); its mean is not lambda.",
            output=torch.sigmoid,
            pixels=_cb_mean,
            nll=_cb_nll,
            bounded=True,
        ),
        Head(
            name="clamp",
            title="Hard clamp + Gaussian (MSE)",
            activation="clamp to [0, 1]",
            likelihood=f"Gaussian with fixed sigma = {GAUSSIAN_SIGMA:.4f} on clamped outputs",
            summary="The range of the sigmoid without its smooth gradient: a pixel pushed "
            "past 0 or 1 gets no gradient back.",
            output=_clip,
            pixels=_clip,
            nll=_clamp_nll,
            bounded=True,
        ),
    )
}


def get_head(name: str) -> Head:
    """The head called ``name``; a ValueError listing the known heads otherwise."""
    try:
        return HEADS[name]
    except KeyError:
        raise ValueError(f"unknown head {name!r} (known: {', '.join(HEADS)})") from None
