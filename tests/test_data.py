"""vae.data: the shipped sample, whole-array batching and offline IDX loading."""

import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from backend_fixtures import write_mnist_raw

from vae.data import DatasetError, Split, load_sample, load_split, raw_dir, shuffled_batches

ROOT = Path(__file__).resolve().parent.parent
RAW_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


# --- the shipped sample ---------------------------------------------------------------------

@pytest.mark.parametrize("dataset,n", [("mnist", 2000), ("fashion-mnist", 1000)])
def test_shipped_sample_is_uint8_images_with_int64_labels(dataset, n):
    split = load_sample(dataset)
    assert split.dataset == dataset
    assert len(split) == n
    assert split.images.shape == (n, 28, 28) and split.images.dtype == np.uint8
    assert split.labels.shape == (n,) and split.labels.dtype == np.int64
    assert sorted(np.unique(split.labels).tolist()) == list(range(10))


def test_as_float_is_what_to_tensor_gives_for_every_image(mnist_sample):
    from torchvision.transforms.functional import to_tensor

    x = mnist_sample.as_float()
    assert x.shape == (2000, 784) and x.dtype == torch.float32
    assert x.min() == 0.0 and x.max() == 1.0
    assert torch.equal(x, torch.stack([to_tensor(img).reshape(784) for img in mnist_sample.images]))
    assert np.array_equal(mnist_sample.floats(), x.numpy())  # the torch-free form, bit for bit
    assert mnist_sample.images.dtype == np.uint8  # the split itself is not converted


def test_unknown_dataset_is_a_value_error():
    with pytest.raises(ValueError, match="unknown dataset"):
        load_sample("cifar")


# --- batching -----------------------------------------------------------------------------

def test_shuffled_batches_cover_every_index_exactly_once():
    batches = list(shuffled_batches(10, 3, torch.Generator().manual_seed(0)))
    assert [len(b) for b in batches] == [3, 3, 3, 1]
    assert sorted(torch.cat(batches).tolist()) == list(range(10))


def test_shuffled_batches_are_deterministic_for_a_seeded_generator():
    def epoch(seed):
        return torch.cat(list(shuffled_batches(100, 16, torch.Generator().manual_seed(seed))))

    assert torch.equal(epoch(7), epoch(7))
    assert not torch.equal(epoch(7), epoch(8))
    assert not torch.equal(epoch(7), torch.arange(100))


def test_each_epoch_draws_a_fresh_order_from_the_generator():
    gen = torch.Generator().manual_seed(0)
    first = torch.cat(list(shuffled_batches(50, 8, gen)))
    second = torch.cat(list(shuffled_batches(50, 8, gen)))
    assert not torch.equal(first, second)


# --- full splits from IDX files -----------------------------------------------------------

def test_load_split_reads_idx_files_without_network(tmp_path, small_splits):
    train, test = small_splits
    write_mnist_raw(tmp_path, train, test)
    for is_train, expected in ((True, train), (False, test)):
        split = load_split("mnist", is_train, tmp_path, download=False)
        assert split.dataset == "mnist"
        assert np.array_equal(split.images, expected.images)
        assert np.array_equal(split.labels, expected.labels) and split.labels.dtype == np.int64


def test_load_split_reads_fashion_mnist_from_its_own_folder(tmp_path, small_splits):
    train, test = small_splits
    write_mnist_raw(tmp_path, train, test, folder="FashionMNIST")
    assert raw_dir("fashion-mnist", tmp_path) == tmp_path / "FashionMNIST" / "raw"
    assert np.array_equal(load_split("fashion-mnist", False, tmp_path, download=False).images, test.images)


def test_gzipped_idx_files_alone_are_unpacked_and_read(tmp_path, small_splits):
    train, test = small_splits
    raw = write_mnist_raw(tmp_path, train, test, gz=True)
    assert not any((raw / name).exists() for name in RAW_NAMES)
    split = load_split("mnist", True, tmp_path, download=False)
    assert np.array_equal(split.images, train.images)
    assert all((raw / name).is_file() for name in RAW_NAMES)
    assert not list(raw.glob("*.part"))


def test_missing_dataset_without_download_names_the_folder(tmp_path):
    with pytest.raises(DatasetError) as info:
        load_split("mnist", True, tmp_path, download=False)
    message = str(info.value)
    assert str(tmp_path / "MNIST" / "raw") in message
    assert "download disabled" in message
    assert "\n" not in message


def test_missing_dataset_with_failing_download_is_a_dataset_error(tmp_path, no_network):
    with pytest.raises(DatasetError) as info:
        load_split("mnist", True, tmp_path, download=True)
    assert no_network, "the download was never attempted"
    message = str(info.value)
    assert "download failed" in message and "no network in tests" in message
    assert str(tmp_path / "MNIST" / "raw") in message
    assert "\n" not in message


def _write_raw_files(raw, make_bytes):
    raw.mkdir(parents=True)
    for name in RAW_NAMES:
        (raw / name).write_bytes(make_bytes(name))


def test_garbage_idx_files_are_a_dataset_error(tmp_path):
    rng = random.Random(0)
    _write_raw_files(tmp_path / "MNIST" / "raw", lambda name: rng.randbytes(1000))
    with pytest.raises(DatasetError, match="corrupt") as info:
        load_split("mnist", True, tmp_path, download=False)
    assert "\n" not in str(info.value)


def test_empty_idx_files_are_a_dataset_error(tmp_path):
    _write_raw_files(tmp_path / "MNIST" / "raw", lambda name: b"")
    with pytest.raises(DatasetError, match="corrupt"):
        load_split("mnist", False, tmp_path, download=False)


@pytest.mark.parametrize("download", [False, True])
def test_truncated_idx_file_is_reported_as_corrupt_not_missing(tmp_path, small_splits, no_network, download):
    # what an interrupted download leaves: a valid header, too few pixels
    train, test = small_splits
    raw = write_mnist_raw(tmp_path, train, test)
    image_file = raw / "train-images-idx3-ubyte"
    image_file.write_bytes(image_file.read_bytes()[:5000])
    with pytest.raises(DatasetError) as info:
        load_split("mnist", True, tmp_path, download=download)
    assert "corrupt" in str(info.value) and str(raw) in str(info.value)
    assert not no_network  # files that exist are not downloaded again


def test_labels_that_do_not_match_the_images_are_a_dataset_error(tmp_path, small_splits):
    train, test = small_splits
    short = Split("mnist", train.images, train.labels[:10])
    write_mnist_raw(tmp_path, short, test)
    with pytest.raises(DatasetError, match="labels"):
        load_split("mnist", True, tmp_path, download=False)


def test_reading_a_split_that_is_on_disk_imports_no_torchvision(tmp_path, small_splits):
    # torchvision's import and parser were ~1.5 s of every training run's start-up; it only downloads
    write_mnist_raw(tmp_path, *small_splits)
    code = ("import sys; from vae.data import load_split; "
            f"s = load_split('mnist', True, {str(tmp_path)!r}, download=True); "
            "print(len(s), 'torchvision' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.split() == [str(len(small_splits[0])), "False"]
