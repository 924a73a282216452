"""Write the small test-set samples shipped in assets/ (run once; needs the full datasets).

    python -m scripts.make_sample MNIST_ROOT FASHION_ROOT

Takes the first N images of each test split (uint8, with labels) into a compressed
.npz (file, size and licence: vae.datasets).
"""

import sys

import numpy as np

from vae.data import load_split
from vae.datasets import get_dataset


def main(mnist_root: str, fashion_root: str) -> None:
    for dataset, root in (("mnist", mnist_root), ("fashion-mnist", fashion_root)):
        split = load_split(dataset, train=False, data_dir=root, download=False)
        n, path = get_dataset(dataset).sample_size, get_dataset(dataset).sample_file
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, images=split.images[:n], labels=split.labels[:n].astype(np.uint8))
        print(f"{path}: {n} images, {path.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main(*sys.argv[1:3])
