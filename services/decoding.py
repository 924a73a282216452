"""Decoding latent points and encoding digits in numpy, on a checkpoint's read-only weights.

The explorer and the latent map work without importing torch (bench/RESULTS.md, cold start and
memory), and one cached checkpoint serves many sessions (threads) at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vae.architecture import INPUT_DIM, decode_arrays, encode_mean_arrays
from vae.checkpoints import Checkpoint


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


def decode_point(ckpt: Checkpoint, z: np.ndarray | list[float]) -> Decoded:
    """Decode one latent vector (length = the model's latent size)."""
    return decode_points(ckpt, np.asarray(z, dtype=np.float32)[None])[0]


def decode_points(ckpt: Checkpoint, z: np.ndarray) -> list[Decoded]:
    """Decode a batch of latent vectors, shape (n, latent)."""
    pre = decode_arrays(ckpt.weights, z)
    pixels = ckpt.head.pixels_np(pre)
    return [Decoded(p, q) for p, q in zip(pre, pixels)]


def encode_mean(ckpt: Checkpoint, images: np.ndarray) -> np.ndarray:
    """Posterior means of flattened float images in [0, 1], shape (n, latent)."""
    return encode_mean_arrays(ckpt.weights, np.asarray(images, dtype=np.float32).reshape(-1, INPUT_DIM))


def reconstruct_pixels(ckpt: Checkpoint, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """The head's pixels for every image reconstructed at its posterior mean, shape (n, 784)."""
    x = np.asarray(images, dtype=np.float32).reshape(-1, INPUT_DIM)
    out = [np.zeros((0, INPUT_DIM), np.float32)]
    for start in range(0, len(x), batch_size):
        mu = encode_mean_arrays(ckpt.weights, x[start:start + batch_size])
        out.append(ckpt.head.pixels_np(decode_arrays(ckpt.weights, mu)))
    return np.concatenate(out)
