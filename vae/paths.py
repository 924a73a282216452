"""Where the project keeps things: the one place for every path."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# Trained weights shipped with the repo (safetensors + metadata, no optimizer state).
CHECKPOINT_DIR = Path(os.environ.get("VAE_CHECKPOINT_DIR", REPO_ROOT / "checkpoints"))

# Small real samples of the test sets (uint8 images + labels) for the app and the tests (vae.datasets).
ASSETS_DIR = REPO_ROOT / "assets"

# Default root for the full datasets (torchvision layout: ROOT/MNIST/raw/...).
DEFAULT_DATA_DIR = Path(os.environ.get("VAE_DATA_DIR", REPO_ROOT / "data"))

# Checkpoints trained or imported by users of the app (not shipped; ignored by git).
USER_CHECKPOINT_DIR = Path(os.environ.get("VAE_USER_CHECKPOINT_DIR", REPO_ROOT / "user_checkpoints"))
