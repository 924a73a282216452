"""Scoring one image's reconstruction under every yardstick the app compares heads with (torch).

Runs under ``torch.inference_mode`` on models that are never modified, so one cached
checkpoint serves many sessions at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vae.checkpoints import Checkpoint

from .decoding import Decoded


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
    """Encode one image (28x28 or 784 floats in [0, 1]) to its mean, decode and score it."""
    import torch
    import torch.nn.functional as F
    from torch.distributions import ContinuousBernoulli

    from vae.model import kl_to_standard_normal

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
