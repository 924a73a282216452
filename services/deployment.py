"""How this server is deployed: the operator's switches, read from the environment.

``VAE_EXPLORER_READ_ONLY=1`` is for public hosts: training and import are hidden and the app
writes nothing to disk (no training job, no upload saved, no start-up clean-up). The data
folder for training is the operator's too (``VAE_DATA_DIR``, vae.paths): a visitor never names
a server path.
"""

from __future__ import annotations

import os

READ_ONLY_ENV = "VAE_EXPLORER_READ_ONLY"
_TRUE = ("1", "true", "yes", "on")


def read_only() -> bool:
    """True when the operator switched off every page that writes to disk."""
    return os.environ.get(READ_ONLY_ENV, "").strip().lower() in _TRUE


def torch_version() -> str:
    """Import torch (seconds, the first time in a process) and say which version serves."""
    import torch

    return str(torch.__version__)
