"""Cached loaders: models and samples are loaded once per server and shared by sessions.

Checkpoints are read-only after loading (frozen arrays; torch models in eval mode, no
grad, inference_mode), so one copy can serve every session's thread. Nothing here imports
torch: the explorer serves its first images without it, and the pages that encode, score
or train import it when they first need it (bench/RESULTS.md, cold start and memory).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from services.catalog import Catalog, load_catalog
from services.decoding import encode_mean
from services.deployment import read_only
from services.display import HIST_BINS, HIST_RANGE, histogram
from services.pairing import Pairing, agreement
from vae import paths
from vae.checkpoints import Checkpoint
from vae.data import Split, load_sample

if TYPE_CHECKING:
    from services.jobs import TrainingRunner

# One intra-op thread per torch call, for the whole server process. Encoding a digit is ~0.3 M
# multiply-adds: splitting that across threads costs more than it saves. Concurrency comes from the
# sessions themselves (each script run has a thread of its own; torch releases the GIL), and N sessions
# x K threads each would oversubscribe the cores. A background training job also runs on one core and
# leaves the others to the sessions (on 2 cores: one trains, one serves). torch is imported lazily, so
# the count is set through the environment, which torch reads when it is first imported; where torch
# is already imported (tests, benchmarks) it is told directly. The command-line trainer
# (python -m vae.train) does not import this module and uses every core.
SERVER_TORCH_THREADS = 1
os.environ["OMP_NUM_THREADS"] = str(SERVER_TORCH_THREADS)
if "torch" in sys.modules:
    sys.modules["torch"].set_num_threads(SERVER_TORCH_THREADS)

@st.cache_resource(show_spinner=False)
def startup_cleanup() -> list[str]:
    """Once per server: remove what interrupted saves left in the user folder (not when read-only)."""
    if read_only():
        return []
    from services.quotas import remove_stale_files

    return remove_stale_files(paths.USER_CHECKPOINT_DIR)


@st.cache_resource(show_spinner="Loading checkpoints ...")
def catalog() -> Catalog:
    """Every valid checkpoint (shipped + user); cleared after an import or a training run."""
    startup_cleanup()
    return load_catalog()


def refresh_catalog() -> None:
    """Forget the cached catalog and the per-model caches so new checkpoints show up."""
    catalog.clear()
    pairing.clear()
    median_agreement.clear()
    sample_encodings.clear()


@st.cache_resource(show_spinner=False)
def pairing() -> Pairing:
    """Which checkpoints share an encoder (hashing every encoder once per catalog)."""
    return Pairing.of(catalog())


@st.cache_data(show_spinner=False, max_entries=64)
def median_agreement(reference: str, other: str) -> float:
    """How alike two checkpoints draw the same z: median pixel correlation at random z (services.pairing)."""
    cat = catalog()
    return float(np.median(agreement(cat.checkpoints[reference], cat.checkpoints[other])))


@st.cache_resource(show_spinner=False)
def sample(dataset: str) -> Split:
    """The shipped test-set sample for ``dataset``."""
    return load_sample(dataset)


@st.cache_resource(show_spinner=False)
def sample_floats(dataset: str) -> np.ndarray:
    """The sample as (N, 784) float32 in [0, 1]."""
    return sample(dataset).floats()


@st.cache_data(show_spinner=False)
def data_histogram(dataset: str) -> np.ndarray:
    """Fraction of the sample's pixels in each fixed bin: the reference the outputs are drawn against."""
    counts, _ = histogram(sample_floats(dataset), *HIST_RANGE, HIST_BINS)
    return counts / counts.sum()


@st.cache_resource(show_spinner=False, max_entries=16)  # 16 x 2,000 x latent floats at most
def sample_encodings(name: str) -> np.ndarray:
    """Posterior means of the whole sample under checkpoint ``name``."""
    ckpt = catalog().checkpoints[name]
    return encode_mean(ckpt, sample_floats(ckpt.dataset))


@st.cache_resource(show_spinner="Loading PyTorch (the first time on this server takes a few seconds) ...")
def torch_version() -> str:
    """Import torch once per server, behind a spinner that says why a page is slow the first time.

    Called by the pages that score or train; the explorer, the latent map and the head comparison
    never need it."""
    from services.deployment import torch_version as load_torch

    return load_torch()


@st.cache_resource(show_spinner=False)
def runner() -> TrainingRunner:
    """The one background-training runner of this server."""
    torch_version()
    from services.jobs import TrainingRunner  # imports torch: only the training page needs it

    return TrainingRunner()


def checkpoint(name: str) -> Checkpoint:
    return catalog().checkpoints[name]

