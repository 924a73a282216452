"""The datasets the project knows: the one registry of their facts (like :data:`vae.heads.HEADS`).

Torch-free to import: the app lists datasets and their label names without loading anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .paths import ASSETS_DIR


@dataclass(frozen=True)
class Dataset:
    """One dataset: how torchvision calls it, what its labels mean, and the sample shipped in assets/."""

    name: str                    # the id used in metadata, URLs and on the command line
    title: str                   # how the app writes it
    torchvision_class: str       # torchvision.datasets.<class>, also the folder ROOT/<class>/raw/
    label_names: tuple[str, ...]
    sample_file: Path            # first test images (uint8) with labels, see scripts/make_sample.py
    sample_size: int
    license: str


DATASETS: dict[str, Dataset] = {d.name: d for d in (
    Dataset("mnist", "MNIST", "MNIST", tuple(str(d) for d in range(10)),
            ASSETS_DIR / "mnist_test_sample.npz", 2000, "LeCun, Cortes & Burges, CC BY-SA 3.0"),
    Dataset("fashion-mnist", "Fashion-MNIST", "FashionMNIST",
            ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
            ASSETS_DIR / "fashion_mnist_test_sample.npz", 1000, "Zalando Research, MIT"),
)}


def get_dataset(name: str) -> Dataset:
    """The registered dataset called ``name``; ValueError naming the known ones otherwise."""
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown dataset {name!r} (known: {', '.join(DATASETS)})") from None
