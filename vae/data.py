"""Datasets as whole tensors: load a split once, batch it by index.

Splits are read from the IDX files with numpy; ``torchvision.datasets.MNIST`` and
``FashionMNIST`` only download them when missing (and a network exists). Training does not go through a
per-sample ``DataLoader`` + ``ToTensor``: a split is one uint8 array, converted to a
float tensor once, and a batch is an index into it. Arrays, not tensors, so that the app
can show the shipped sample without importing torch (bench/RESULTS.md, cold start).
"""

from __future__ import annotations

import gzip
import math
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .architecture import IMAGE_SIDE, INPUT_DIM
from .datasets import get_dataset
from .paths import DEFAULT_DATA_DIR

if TYPE_CHECKING:
    import torch

RAW_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
              "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


class DatasetError(RuntimeError):
    """A dataset is missing or unreadable; the message is one line saying what to do."""


@dataclass(frozen=True)
class Split:
    """A dataset split held as arrays: uint8 images (N, 28, 28) and int64 labels (N,)."""

    dataset: str
    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def floats(self) -> np.ndarray:
        """All images flattened to (N, 784) float32 in [0, 1], like ``ToTensor()``."""
        return self.images.reshape(-1, INPUT_DIM).astype(np.float32) / np.float32(255.0)

    def as_float(self, device: torch.device | str = "cpu") -> torch.Tensor:
        """:meth:`floats` as a tensor on ``device``, for training and evaluation."""
        import torch

        # converted by torch (both cores), bit for bit what floats() and ToTensor() give
        return torch.from_numpy(self.images.reshape(-1, INPUT_DIM)).to(device).to(torch.float32).div_(255.0)


def raw_dir(dataset: str, data_dir: str | Path = DEFAULT_DATA_DIR) -> Path:
    """The folder torchvision reads the IDX files of ``dataset`` from."""
    return Path(data_dir) / get_dataset(dataset).torchvision_class / "raw"


def raw_files_present(dataset: str, data_dir: str | Path = DEFAULT_DATA_DIR) -> dict[str, bool]:
    """Which of the four IDX files of ``dataset`` are in ``data_dir`` (unpacked or ``.gz``).

    Only looks: nothing is created or downloaded (the app shows this to say what is missing).
    """
    folder = raw_dir(dataset, data_dir)
    return {name: (folder / name).is_file() or (folder / f"{name}.gz").is_file() for name in RAW_FILES}


def load_split(dataset: str, train: bool, data_dir: str | Path = DEFAULT_DATA_DIR,
               download: bool = True) -> Split:
    """Load a whole split of MNIST or Fashion-MNIST from its IDX files.

    Files already in ``data_dir`` are used as they are (gzipped IDX files are unpacked
    first) and read straight into numpy; when some are missing and ``download`` is true,
    torchvision downloads them. Raises :class:`DatasetError` with a one-line explanation
    when that fails.
    """
    root = Path(data_dir)
    folder = raw_dir(dataset, root)
    _unpack_gzipped(folder)
    if not all((folder / name).is_file() for name in RAW_FILES):
        if not download:
            raise DatasetError(_missing_message(dataset, folder, "download disabled"))
        _download(dataset, root, folder)
    prefix = "train" if train else "t10k"
    try:
        images = read_idx(folder / f"{prefix}-images-idx3-ubyte", ndim=3)
        labels = read_idx(folder / f"{prefix}-labels-idx1-ubyte", ndim=1)
    except (OSError, ValueError) as err:
        # the files are there but unreadable (e.g. cut short): downloading would not replace them
        raise DatasetError(_corrupt_message(dataset, folder, err)) from None
    return _checked(Split(dataset, images, labels.astype(np.int64)), f"{dataset} in {folder}")


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """The unsigned-byte array of ``ndim`` dimensions in the IDX file ``path`` (LeCun's MNIST format).

    Read with numpy in one pass, not through torchvision: importing torchvision and its
    parser took ~1.5 s of a training run's start-up (bench/RESULTS.md, a whole training run).
    ValueError (one line) when the header or the length is not that of such a file.
    """
    data = np.fromfile(path, dtype=np.uint8)
    header = 4 + 4 * ndim  # magic (0, 0, type 0x08 = unsigned byte, ndim), then one big-endian size per dimension
    if data.size < header or data[:4].tolist() != [0, 0, 0x08, ndim]:
        raise ValueError(f"{path.name} does not start like an IDX file of {ndim}-dimensional unsigned bytes")
    shape = tuple(int(n) for n in data[4:header].view(">u4"))
    if data.size - header != math.prod(shape):
        raise ValueError(f"{path.name} holds {data.size - header} values after its header, "
                         f"not {math.prod(shape)} for shape {shape}")
    return data[header:].reshape(shape)


def _download(dataset: str, root: Path, folder: Path) -> None:
    from torchvision import datasets  # imported here: it is slow, and only a missing dataset needs it

    cls = getattr(datasets, get_dataset(dataset).torchvision_class)
    try:
        cls(str(root), train=True, download=True)
    except Exception as err:  # network errors come in many types
        reason = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
        raise DatasetError(_missing_message(dataset, folder, f"download failed: {reason}")) from None


def load_sample(dataset: str = "mnist") -> Split:
    """The small test-set sample shipped in ``assets/`` (no network, no torchvision)."""
    path = get_dataset(dataset).sample_file
    try:
        with np.load(path, allow_pickle=False) as npz:
            split = Split(dataset, npz["images"].copy(), npz["labels"].astype(np.int64))
    except (OSError, KeyError, ValueError) as err:
        raise DatasetError(f"the shipped sample {path} is missing or unreadable ({err})") from None
    return _checked(split, str(path))


def shuffled_batches(n: int, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Index tensors of one epoch: a fresh permutation of range(n) cut into batches."""
    import torch

    order = torch.randperm(n, generator=generator)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


def _missing_message(dataset: str, folder: Path, reason: str) -> str:
    return (f"{dataset} is not available ({reason}): put the four IDX files "
            f"({', '.join(RAW_FILES)}, optionally .gz) in {folder}, or pass --data-dir "
            f"pointing at a folder that holds {folder.parent.name}/raw/, or run once with a network")


def _corrupt_message(dataset: str, folder: Path, err: Exception) -> str:
    detail = str(err).strip().splitlines()[0] if str(err).strip() else "failed a format check"
    return f"{dataset} files in {folder} are corrupt or not IDX files ({type(err).__name__}: {detail})"


def _unpack_gzipped(folder: Path) -> None:
    # the IDX files are read unpacked; accept the .gz files people download.
    for name in RAW_FILES:
        target, packed = folder / name, folder / f"{name}.gz"
        if not target.exists() and packed.is_file():
            tmp = target.with_suffix(".part")
            try:
                with gzip.open(packed, "rb") as src, open(tmp, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                tmp.replace(target)
            except OSError as err:
                tmp.unlink(missing_ok=True)
                raise DatasetError(f"could not unpack {packed} ({err})") from None


def _checked(split: Split, where: str) -> Split:
    images, labels = split.images, split.labels
    if images.dtype != np.uint8 or images.ndim != 3 or tuple(images.shape[1:]) != (IMAGE_SIDE, IMAGE_SIDE):
        raise DatasetError(f"{where}: expected uint8 images of shape (N, 28, 28), got {images.dtype} {tuple(images.shape)}")
    if labels.shape != (images.shape[0],):
        raise DatasetError(f"{where}: {images.shape[0]} images but {tuple(labels.shape)} labels")
    return split
