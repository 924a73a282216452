"""The classic MLP variational autoencoder of pytorch/examples ``vae/main.py``.

784 -> 400 (ReLU) -> (mu, logvar) [latent] -> 400 (ReLU) -> 784, with the same
parameter names (``fc1``, ``fc21``, ``fc22``, ``fc3``, ``fc4``) so that weights move
freely between this class and the example's.

Unlike the example, ``decode`` returns the *pre-activation* output of ``fc4``: the
output head (see :mod:`vae.heads`) decides what turns it into pixels, which is
exactly the choice this project is about.

Reference: Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# The shape lives in vae.architecture (torch-free); re-exported here, where people look for it.
from .architecture import IMAGE_SIDE, INPUT_DIM, VAEConfig

__all__ = ["IMAGE_SIDE", "INPUT_DIM", "VAE", "VAEConfig", "kl_to_standard_normal"]


class VAE(nn.Module):
    """Gaussian-encoder VAE whose decoder stops before the output activation."""

    def __init__(self, config: VAEConfig | None = None) -> None:
        super().__init__()
        self.config = config or VAEConfig()
        d, h, z = INPUT_DIM, self.config.hidden, self.config.latent
        self.fc1 = nn.Linear(d, h)
        self.fc21 = nn.Linear(h, z)
        self.fc22 = nn.Linear(h, z)
        self.fc3 = nn.Linear(z, h)
        self.fc4 = nn.Linear(h, d)

    @classmethod
    def from_arrays(cls, config: VAEConfig, weights: Mapping[str, np.ndarray]) -> VAE:
        """A frozen (eval, no grad) model holding copies of validated float32 ``weights``."""
        model = cls(config)
        model.load_state_dict({k: torch.tensor(v) for k, v in weights.items()}, strict=True)
        return model.eval().requires_grad_(False)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior parameters (mu, logvar) of q(z|x) for flattened images x."""
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """z = mu + sigma * eps, eps ~ N(0, I): a sample that gradients flow through."""
        std = torch.exp(0.5 * logvar)
        return mu + std * torch.randn_like(std)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Pre-activation decoder output (one value per pixel); the head maps it to pixels."""
        return self.fc4(F.relu(self.fc3(z)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x.view(-1, INPUT_DIM))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def kl_to_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)) per row, in nats.

    Closed form from Appendix B of Kingma & Welling (2014); it is the same number
    ``torch.distributions.kl_divergence`` gives (see the tests) at a fraction of the cost.
    """
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=-1)
