"""PyTorch's binary cross-entropy, computed with its own formulas in vectorised ops (training speed)."""

from __future__ import annotations

import torch

Tensor = torch.Tensor


class ClassicBCE(torch.autograd.Function):
    """``F.binary_cross_entropy(probs, x, reduction="none")`` with PyTorch's own formulas, forward
    (log terms clamped at -100) and backward (denominator clamped at 1e-12), in vectorised ops.

    Why not call it: PyTorch's CPU kernel checks every input against [0, 1] in a scalar loop,
    a sizeable share of a training step here (bench/RESULTS.md, training). Inputs here come from a
    sigmoid, so the check can only ever catch NaN, and NaN should give a NaN loss (a diverged
    model stops training cleanly) rather than an exception. Gradients are bit-identical to
    PyTorch's; losses agree to float32 rounding (tests/test_heads.py). The app still shows
    PyTorch's refusal through :meth:`vae.heads.Head.bce_error`, which calls the real thing.
    """

    @staticmethod
    def forward(ctx, probs: Tensor, x: Tensor) -> Tensor:  # noqa: D102
        ctx.save_for_backward(probs, x)
        # (x - 1) * log(1 - p) - x * log(p) as -lerp(log(1 - p), log(p), x): fewer passes, in place.
        # PyTorch writes log1p(-p); log(1 - p) is the same number to float32 rounding (1 - p is exact
        # for p >= 1/2, and below that log1p's extra precision is lost in the sum) at an eighth of
        # the time here: log1p is not vectorised on this CPU (bench/RESULTS.md, training).
        return torch.lerp((1 - probs).log_().clamp_min_(-100), torch.log(probs).clamp_min_(-100), x).neg_()

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:  # noqa: D102
        probs, x = ctx.saved_tensors
        # PyTorch's order of operations (the gradient stays bit-identical), in place where possible
        return (probs - x).mul_(grad).div_((1 - probs).mul_(probs).clamp_min_(1e-12)), None
