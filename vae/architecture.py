"""The network's shape and its decoder in numpy: what serving a trained model needs, without torch.

The classic MLP VAE of pytorch/examples ``vae/main.py`` (784 -> 400 -> latent -> 400 -> 784)
is defined once in torch (:mod:`vae.model`, for training and likelihoods) and its inference paths
once more here, two matrix products each, because importing torch costs the app seconds and
hundreds of megabytes before its first image (bench/RESULTS.md, cold start and memory). The tests
hold each to its torch twin.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np

IMAGE_SIDE = 28
INPUT_DIM = IMAGE_SIDE * IMAGE_SIDE

# What the checkpoint loader accepts; anything else is refused before building a model.
LATENT_RANGE = (1, 128)
HIDDEN_RANGE = (8, 4096)


@dataclass(frozen=True)
class VAEConfig:
    """Shape of the model; stored in every checkpoint so it can be rebuilt."""

    latent: int = 20
    hidden: int = 400

    def __post_init__(self) -> None:
        for name, value, (lo, hi) in (
            ("latent", self.latent, LATENT_RANGE),
            ("hidden", self.hidden, HIDDEN_RANGE),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
                raise ValueError(f"{name} size {value!r} is not supported (expected an integer in {lo}..{hi})")

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        """The exact state-dict keys and shapes of a model with this config."""
        d, h, z = INPUT_DIM, self.hidden, self.latent
        return {
            "fc1.weight": (h, d), "fc1.bias": (h,),
            "fc21.weight": (z, h), "fc21.bias": (z,),
            "fc22.weight": (z, h), "fc22.bias": (z,),
            "fc3.weight": (h, z), "fc3.bias": (h,),
            "fc4.weight": (d, h), "fc4.bias": (d,),
        }

    def parameter_count(self) -> int:
        return sum(int(np.prod(shape)) for shape in self.parameter_shapes().values())


def encode_mean_arrays(weights: Mapping[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """``VAE.encode``'s mu in numpy: posterior means (n, latent) of flattened images x (n, 784)."""
    hidden = np.maximum(np.asarray(x, dtype=np.float32) @ weights["fc1.weight"].T + weights["fc1.bias"], 0)
    return hidden @ weights["fc21.weight"].T + weights["fc21.bias"]


def decode_arrays(weights: Mapping[str, np.ndarray], z: np.ndarray) -> np.ndarray:
    """``VAE.decode`` in numpy: pre-activation outputs (n, 784) for latent points z (n, latent).

    ``weights`` is a validated state dict as float32 arrays (``Checkpoint.weights``).
    """
    hidden = np.maximum(np.asarray(z, dtype=np.float32) @ weights["fc3.weight"].T + weights["fc3.bias"], 0)
    return hidden @ weights["fc4.weight"].T + weights["fc4.bias"]
