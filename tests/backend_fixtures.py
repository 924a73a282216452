"""Shared fixtures and helpers for the tests of the torch backend (``vae/``).

Everything here works offline and writes only under pytest's ``tmp_path``: the data come
from the shipped sample (``vae.data.load_sample``), models are tiny, training is 1-2
epochs on a few hundred images.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from vae.data import Split, load_sample
from vae.model import VAE, VAEConfig
from vae.train import TrainConfig

N_TRAIN, N_TEST = 300, 100


class ClassicVAE(nn.Module):
    """The VAE of pytorch/examples ``vae/main.py``, re-typed as it stands there."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def classic_loss_function(recon_x, x, mu, logvar):
    """The example's loss: BCE on sigmoid outputs + KL (summed over the batch)."""
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return BCE + KLD


# --- IDX files (the MNIST distribution format) -----------------------------------------

def idx_images_bytes(images: torch.Tensor) -> bytes:
    """uint8 images (N, 28, 28) as an IDX3 file: magic 0x00000803, big-endian dims."""
    n, rows, cols = images.shape
    return struct.pack(">IIII", 0x00000803, n, rows, cols) + images.to(torch.uint8).numpy().tobytes()


def idx_labels_bytes(labels: torch.Tensor) -> bytes:
    """Labels (N,) as an IDX1 file: magic 0x00000801, big-endian count."""
    return struct.pack(">II", 0x00000801, labels.shape[0]) + labels.to(torch.uint8).numpy().tobytes()


def write_mnist_raw(root: Path, train: Split, test: Split, folder: str = "MNIST", gz: bool = False) -> Path:
    """Write the four IDX files torchvision expects under ``root/folder/raw`` (``.gz`` only if ``gz``)."""
    raw = Path(root) / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    files = {
        "train-images-idx3-ubyte": idx_images_bytes(train.images),
        "train-labels-idx1-ubyte": idx_labels_bytes(train.labels),
        "t10k-images-idx3-ubyte": idx_images_bytes(test.images),
        "t10k-labels-idx1-ubyte": idx_labels_bytes(test.labels),
    }
    for name, data in files.items():
        if gz:
            (raw / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (raw / name).write_bytes(data)
    return raw


def small_model(latent: int = 2, hidden: int = 16, seed: int = 0) -> VAE:
    torch.manual_seed(seed)
    return VAE(VAEConfig(latent=latent, hidden=hidden)).eval()


# --- fixtures -------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def mnist_sample() -> Split:
    """The 2000 shipped MNIST test digits (read once per session; treat as read-only)."""
    return load_sample("mnist")


@pytest.fixture(scope="session")
def small_splits(mnist_sample) -> tuple[Split, Split]:
    """A few hundred sample digits as a train split and a disjoint test split."""
    s = mnist_sample
    train = Split("mnist", s.images[:N_TRAIN].clone(), s.labels[:N_TRAIN].clone())
    test = Split("mnist", s.images[N_TRAIN:N_TRAIN + N_TEST].clone(), s.labels[N_TRAIN:N_TRAIN + N_TEST].clone())
    return train, test


@pytest.fixture
def tiny_cfg() -> TrainConfig:
    """A tiny, quick training configuration (latent 2, hidden 32, 1 epoch)."""
    return TrainConfig(head="sigmoid", latent=2, hidden=32, epochs=1, batch_size=64, lr=3e-3, seed=1)
