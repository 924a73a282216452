"""Live torch computations for the tour page: where the sigmoid lives, what BCE is, what save_image does.

Every number comes from PyTorch itself (``torch.sigmoid``, ``F.binary_cross_entropy``,
``F.binary_cross_entropy_with_logits``, ``torch.distributions.ContinuousBernoulli``,
``torchvision.utils.save_image``) in float32, the dtype training uses. torch is imported
inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LossAndGrad:
    """One pixel's loss and its gradient with respect to the logit, two ways and exactly."""

    logit: float
    target: float
    prob: float                 # torch.sigmoid(logit) in float32
    prob_is_exactly_one: bool
    prob_is_exactly_zero: bool
    sigmoid_bce: float          # F.binary_cross_entropy(torch.sigmoid(logit), target)
    sigmoid_bce_grad: float     # its d/d(logit), by autograd
    logits_bce: float           # F.binary_cross_entropy_with_logits(logit, target)
    logits_bce_grad: float
    exact: float                # softplus(logit) - target * logit, in float64
    exact_grad: float           # sigmoid(logit) - target, in float64


def loss_and_grad(logit: float, target: float) -> LossAndGrad:
    """Loss and gradient of one pixel for sigmoid + BCE and for BCE-with-logits (float32, autograd)."""
    import torch
    import torch.nn.functional as F

    t = torch.tensor(target, dtype=torch.float32)
    z1 = torch.tensor(logit, dtype=torch.float32, requires_grad=True)
    p = torch.sigmoid(z1)
    loss1 = F.binary_cross_entropy(p, t)
    (g1,) = torch.autograd.grad(loss1, z1)
    z2 = torch.tensor(logit, dtype=torch.float32, requires_grad=True)
    loss2 = F.binary_cross_entropy_with_logits(z2, t)
    (g2,) = torch.autograd.grad(loss2, z2)
    z64 = torch.tensor(logit, dtype=torch.float64)
    exact = F.softplus(z64) - target * z64
    p, loss1, loss2 = p.detach(), loss1.detach(), loss2.detach()
    return LossAndGrad(logit, target, float(p), bool(p == 1.0), bool(p == 0.0), float(loss1), float(g1),
                       float(loss2), float(g2), float(exact), float(torch.sigmoid(z64) - target))


def loss_curves(target: float, lo: float = -30.0, hi: float = 30.0, n: int = 601) -> dict[str, np.ndarray]:
    """The same four quantities as :func:`loss_and_grad` over a range of logits (one batch each)."""
    import torch
    import torch.nn.functional as F

    z = torch.linspace(lo, hi, n, dtype=torch.float32)
    t = torch.full_like(z, target)
    z1 = z.clone().requires_grad_()
    loss1 = F.binary_cross_entropy(torch.sigmoid(z1), t, reduction="none")
    (g1,) = torch.autograd.grad(loss1.sum(), z1)
    z2 = z.clone().requires_grad_()
    loss2 = F.binary_cross_entropy_with_logits(z2, t, reduction="none")
    (g2,) = torch.autograd.grad(loss2.sum(), z2)
    return {"logit": z.numpy(), "sigmoid_bce": loss1.detach().numpy(), "sigmoid_bce_grad": g1.numpy(),
            "logits_bce": loss2.detach().numpy(), "logits_bce_grad": g2.numpy()}


def sigmoid_saturation_point() -> float:
    """The smallest float32 logit at which ``torch.sigmoid`` returns exactly 1.0 (found by bisection)."""
    import torch

    lo, hi = torch.tensor(0.0), torch.tensor(100.0)
    while True:  # bisect on float32 values until lo and hi are neighbours
        mid = (lo + hi) / 2
        if mid in (lo, hi):
            return float(hi)
        if torch.sigmoid(mid) == 1.0:
            hi = mid
        else:
            lo = mid


def bce_as_density(lam: float, n: int = 20001) -> dict[str, float]:
    """Is exp(-BCE(lam, x)) a density over grey levels x in [0, 1]? Its integral, and the continuous
    Bernoulli's normaliser C(lam) that makes it one (torch's ``ContinuousBernoulli.log_prob``)."""
    import torch
    import torch.nn.functional as F
    from torch.distributions import ContinuousBernoulli

    x = torch.linspace(0, 1, n, dtype=torch.float64)
    p = torch.full_like(x, lam)
    integral = torch.trapezoid(torch.exp(-F.binary_cross_entropy(p, x, reduction="none")), x)
    cb = ContinuousBernoulli(probs=torch.tensor(lam, dtype=torch.float64))
    cb_integral = torch.trapezoid(cb.log_prob(x).exp(), x)
    log_c = cb.log_prob(x[:1]) + F.binary_cross_entropy(p[:1], x[:1], reduction="none")  # log C = log_prob + BCE
    return {"lam": lam, "bce_integral": float(integral), "normaliser": float(log_c.exp()),
            "cb_integral": float(cb_integral), "cb_mean": float(cb.mean),
            "bce_at_grey_half": float(F.binary_cross_entropy(torch.tensor(0.5, dtype=torch.float64),
                                                             torch.tensor(0.5, dtype=torch.float64)))}


def save_image_roundtrip(values: list[float]) -> list[int]:
    """What ``torchvision.utils.save_image`` writes for these pixel values (read back from the PNG)."""
    import torch
    from PIL import Image
    from torchvision.utils import save_image

    buffer = io.BytesIO()
    save_image(torch.tensor(values, dtype=torch.float32).view(1, 1, -1), buffer, format="png")
    buffer.seek(0)
    return np.asarray(Image.open(buffer).convert("L")).ravel().tolist()
