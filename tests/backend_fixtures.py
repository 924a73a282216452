"""Shared fixtures and helpers for the tests of the torch backend (``vae/``).

Everything here works offline and writes only under pytest's ``tmp_path``: the data come
from the shipped sample (``vae.data.load_sample``), models are tiny, training is 1-2
epochs on a few hundred images.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import struct
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch
import torch.nn.functional as F
from torch import nn

import vae.checkpoints as checkpoints
from vae.checkpoints import build_metadata
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

def idx_images_bytes(images: np.ndarray) -> bytes:
    """uint8 images (N, 28, 28) as an IDX3 file: magic 0x00000803, big-endian dims."""
    n, rows, cols = images.shape
    return struct.pack(">IIII", 0x00000803, n, rows, cols) + np.asarray(images, dtype=np.uint8).tobytes()


def idx_labels_bytes(labels: np.ndarray) -> bytes:
    """Labels (N,) as an IDX1 file: magic 0x00000801, big-endian count."""
    return struct.pack(">II", 0x00000801, labels.shape[0]) + np.asarray(labels, dtype=np.uint8).tobytes()


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


# --- checkpoint files, good and hostile (shared by the backend and the app tests) ---------------

def _create_marker(path):
    """What a malicious pickle would run: proof that code from the file was executed."""
    Path(path).write_text("code from the checkpoint ran")


class RunsCodeWhenUnpickled:
    """A pickle payload that creates ``marker`` when unpickled the unsafe way."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (_create_marker, (self.marker,))


def checkpoint_meta(model, head="raw", **fields):
    """Metadata as training writes it (head ``raw`` unless told)."""
    return build_metadata(head, model.config, dataset="mnist", epochs=3, seed=1, history=[], **fields)


def state_of(model):
    """A copy of the model's weights."""
    return {k: v.clone() for k, v in model.state_dict().items()}


def safetensors_bytes(tensors, meta=None, raw_meta=None):
    """A safetensors file in memory; ``raw_meta`` bypasses JSON encoding (for broken metadata)."""
    if isinstance(meta, checkpoints.CheckpointMeta):
        meta = meta.to_dict()
    metadata = raw_meta if raw_meta is not None else ({checkpoints.METADATA_KEY: json.dumps(meta)} if meta else None)
    return safetensors.torch.save({k: v.contiguous() for k, v in tensors.items()}, metadata=metadata)


def torch_bytes(obj, **kwargs):
    """What ``torch.save(obj, ...)`` writes."""
    buffer = io.BytesIO()
    torch.save(obj, buffer, **kwargs)
    return buffer.getvalue()


def _good_tensors():
    return state_of(small_model(latent=2, hidden=16, seed=0))


def _good_meta():
    return checkpoint_meta(small_model(latent=2, hidden=16, seed=0)).to_dict()


def _renamed(tensors):
    tensors = dict(tensors)
    tensors["encoder.weight"] = tensors.pop("fc1.weight")
    return tensors


def _poisoned(value):
    tensors = _good_tensors()
    tensors["fc3.weight"][0, 0] = value
    return tensors


def _classic_full_module():
    torch.manual_seed(0)
    return torch_bytes(ClassicVAE())


# Each bad checkpoint: a builder of its bytes and a regex the one-line error must match.
BAD_CHECKPOINTS = {
    "zero-byte file": (lambda: b"", "empty"),
    "random bytes": (lambda: b"\x13" + random.Random(0).randbytes(4095), "unrecognised content"),
    "text file": (lambda: b"hello, I am not a model\n" * 20, "unrecognised content"),
    "truncated inside the header": (lambda: safetensors_bytes(_good_tensors(), _good_meta())[:200], "truncated"),
    "truncated inside the tensor data": (
        lambda: (lambda b: b[: len(b) - 1000])(safetensors_bytes(_good_tensors(), _good_meta())),
        "file not fully covered"),
    "wrong key names with metadata": (lambda: safetensors_bytes(_renamed(_good_tensors()), _good_meta()),
                                      r"wrong tensor names \(missing fc1.weight; unexpected encoder.weight\)"),
    "wrong key names without metadata": (lambda: safetensors_bytes(_renamed(_good_tensors())), "missing tensor fc1.weight"),
    "shapes that contradict the metadata": (
        lambda: safetensors_bytes(state_of(small_model(latent=3, hidden=16)), _good_meta()),
        r"tensor fc21.weight has shape \(3, 16\); expected \(2, 16\)"),
    "unsupported latent size": (
        lambda: safetensors_bytes(_good_tensors(), {**_good_meta(), "config": {"latent": 1000, "hidden": 16}}),
        "latent size 1000 is not supported"),
    "float64 tensors": (lambda: safetensors_bytes({k: v.double() for k, v in _good_tensors().items()}, _good_meta()),
                        "dtype F64; expected float32"),
    "int64 tensors": (lambda: safetensors_bytes({k: v.long() for k, v in _good_tensors().items()}, _good_meta()),
                      "dtype I64; expected float32"),
    "NaN weights": (lambda: safetensors_bytes(_poisoned(float("nan")), _good_meta()), "fc3.weight contains NaN or Inf"),
    "Inf weights": (lambda: safetensors_bytes(_poisoned(float("-inf")), _good_meta()), "fc3.weight contains NaN or Inf"),
    "metadata that is not JSON": (
        lambda: safetensors_bytes(_good_tensors(), raw_meta={checkpoints.METADATA_KEY: "{not json"}),
        "metadata is not valid JSON"),
    "metadata that is a JSON list": (
        lambda: safetensors_bytes(_good_tensors(), raw_meta={checkpoints.METADATA_KEY: "[1, 2]"}),
        "metadata must be a JSON object"),
    "unknown head in metadata": (lambda: safetensors_bytes(_good_tensors(), {**_good_meta(), "head": "tanh"}),
                                 "unknown head 'tanh'"),
    "torch.save of a whole nn.Module": (_classic_full_module, "refused to unpickle"),
    "torch.save of a list of tensors": (lambda: torch_bytes([torch.zeros(3)]), "expected a state dict"),
    "state dict with float64 tensors": (
        lambda: torch_bytes({k: v.double() for k, v in ClassicVAE().state_dict().items()}), "dtype float64; expected float32"),
}


# --- fixtures -------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def mnist_sample() -> Split:
    """The 2000 shipped MNIST test digits (read once per session; treat as read-only)."""
    return load_sample("mnist")


@pytest.fixture(scope="session")
def small_splits(mnist_sample) -> tuple[Split, Split]:
    """A few hundred sample digits as a train split and a disjoint test split."""
    s = mnist_sample
    train = Split("mnist", s.images[:N_TRAIN].copy(), s.labels[:N_TRAIN].copy())
    test = Split("mnist", s.images[N_TRAIN:N_TRAIN + N_TEST].copy(), s.labels[N_TRAIN:N_TRAIN + N_TEST].copy())
    return train, test


@pytest.fixture
def no_network(monkeypatch):
    """torchvision's downloader fails as it does offline; the test never touches the network."""
    from urllib.error import URLError

    import torchvision.datasets.mnist as tv_mnist

    calls = []

    def offline(url, *args, **kwargs):
        calls.append(url)
        raise URLError("no network in tests")

    monkeypatch.setattr(tv_mnist, "download_and_extract_archive", offline)
    return calls


@pytest.fixture
def tiny_cfg() -> TrainConfig:
    """A tiny, quick training configuration (latent 2, hidden 32, 1 epoch)."""
    return TrainConfig(head="sigmoid", latent=2, hidden=32, epochs=1, batch_size=64, lr=3e-3, seed=1)
