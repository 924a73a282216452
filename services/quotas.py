"""Bounds on what visitors may store: number and total size of user checkpoints, stale files.

All configurable by the operator (environment variables, read when a claim is made):

* ``VAE_MAX_USER_CHECKPOINTS`` (default 20): user checkpoints, counting names claimed for a
  training run that has not written its file yet;
* ``VAE_MAX_USER_MB`` (default 500): their total size on disk, resume states included.

A new checkpoint over either bound is refused with a message (nobody's work is evicted). The
catalog holds every checkpoint's weights in memory, so these also bound the server's memory;
the torch models built from them are an LRU of ``VAE_MODEL_CACHE`` (vae.checkpoints).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from vae.architecture import VAEConfig

STALE_AFTER_S = 60.0  # a temporary or claim file this old with no writer in this process is debris


class QuotaError(ValueError):
    """Storing one more checkpoint would exceed a quota (one-line message)."""


@dataclass(frozen=True)
class Quotas:
    max_checkpoints: int = 20
    max_bytes: int = 500 * 2**20

    @classmethod
    def from_env(cls) -> Quotas:
        """The operator's quotas (defaults where a variable is unset or not a positive number)."""
        return cls(int(_positive("VAE_MAX_USER_CHECKPOINTS", cls.max_checkpoints)),
                   int(_positive("VAE_MAX_USER_MB", cls.max_bytes / 2**20) * 2**20))


def _positive(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, ""))
    except ValueError:
        return default
    return value if value > 0 else default


def expected_bytes(config: VAEConfig, with_resume_state: bool = False) -> int:
    """About what a checkpoint of ``config`` takes on disk (x4 with the optimizer's resume state)."""
    weights = 4 * config.parameter_count() + 64 * 2**10
    return weights * (4 if with_resume_state else 1)


def usage(folder: Path) -> tuple[int, int]:
    """(checkpoints, bytes) in ``folder``: names with a file or a claim, and every file's size."""
    names, size = set(), 0
    if not folder.is_dir():
        return 0, 0
    for path in folder.iterdir():
        if path.name.endswith(".safetensors") and not path.name.startswith("."):
            names.add(path.name.removesuffix(".safetensors"))
        elif path.name.startswith(".") and path.name.endswith(".owner"):
            names.add(path.name[1:].removesuffix(".owner"))
        try:
            size += path.stat().st_size if path.is_file() else 0
        except OSError:  # removed meanwhile
            pass
    return len(names), size


def check_room(folder: Path, new_bytes: int, quotas: Quotas | None = None, new_names: int = 1) -> None:
    """QuotaError unless ``new_names`` more checkpoints of ``new_bytes`` fit in ``folder``'s quotas.

    Called with the new name's claim already made, so it counts itself (``new_names=0``).
    """
    quotas = quotas or Quotas.from_env()
    count, size = usage(folder)
    if count + new_names > quotas.max_checkpoints:
        raise QuotaError(f"this server keeps at most {quotas.max_checkpoints} user checkpoints and has "
                         f"{count - (1 - new_names)}; delete one of yours first (Import page)")
    if size + new_bytes > quotas.max_bytes:
        raise QuotaError(f"this server keeps at most {quotas.max_bytes / 2**20:.0f} MB of user checkpoints "
                         f"({size / 2**20:.0f} MB used, this one needs about {new_bytes / 2**20:.0f} MB); "
                         "delete one of yours first (Import page)")


def remove_stale_files(folder: Path, older_than_s: float = STALE_AFTER_S) -> list[str]:
    """Remove what interrupted writes leave behind in ``folder``; the names removed.

    Hidden ``.*.tmp`` files (vae.atomic: a kill during a save) and name claims whose checkpoint
    was never written (a kill during the first epoch), once older than ``older_than_s`` so that
    a write in progress in another process is left alone. Run at server start-up.
    """
    removed: list[str] = []
    if not folder.is_dir():
        return removed
    now = time.time()
    for path in folder.iterdir():
        name = path.name
        orphan_claim = (name.startswith(".") and name.endswith(".owner")
                        and not (folder / (name[1:].removesuffix(".owner") + ".safetensors")).exists())
        if not (name.startswith(".") and name.endswith(".tmp")) and not orphan_claim:
            continue
        try:
            if now - path.stat().st_mtime >= older_than_s:
                path.unlink()
                removed.append(name)
        except OSError:
            pass
    return sorted(removed)
