"""The set of checkpoints the app can choose from: shipped ones first, then the user's."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from vae import paths
from vae.checkpoints import Checkpoint, discover
from vae.heads import HEADS

USER_PREFIX = "user/"


@dataclass
class Catalog:
    """Validated checkpoints by name, plus one error line per file that failed validation."""

    checkpoints: dict[str, Checkpoint] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def select(self, *, dataset: str | None = None, latent: int | None = None,
               head: str | None = None) -> list[Checkpoint]:
        """Checkpoints matching every given criterion, in catalog order (shipped first)."""
        return [c for c in self.checkpoints.values()
                if (dataset is None or c.dataset == dataset)
                and (latent is None or c.config.latent == latent)
                and (head is None or c.head.name == head)]

    def datasets(self) -> list[str]:
        """The datasets some checkpoint was trained on, MNIST first."""
        return sorted({c.dataset for c in self.checkpoints.values()}, key=lambda d: (d != "mnist", d))

    def first(self, **criteria) -> Checkpoint | None:
        """The first checkpoint matching ``criteria`` (see :meth:`select`), or None."""
        found = self.select(**criteria)
        return found[0] if found else None

    def name_of(self, ckpt: Checkpoint) -> str:
        return next(name for name, c in self.checkpoints.items() if c is ckpt)


def load_catalog(shipped: Path | None = None, user: Path | None = None) -> Catalog:
    """Read and validate every checkpoint in the shipped and the user folder (defaults: vae.paths).

    A file that fails validation, or whose name is not one the app would give, is skipped and
    reported in :attr:`Catalog.errors` (one line each, file names only): one bad entry never
    keeps the others from serving.
    """
    shipped = paths.CHECKPOINT_DIR if shipped is None else shipped
    user = paths.USER_CHECKPOINT_DIR if user is None else user
    catalog = Catalog()
    for folder, prefix in ((shipped, ""), (user, USER_PREFIX)):
        found, errors = discover(folder)
        catalog.errors.extend(errors)
        named: list[tuple[str, Checkpoint]] = []
        for ckpt in found:
            stem = ckpt.path.stem if ckpt.path is not None else ckpt.name
            try:
                named.append((checkpoint_name(stem), ckpt))
            except ValueError:
                catalog.errors.append(f"{stem[:80]!r}: skipped, not a usable checkpoint name")
        # Order the way the app lists them: MNIST first, then by the registry's head order.
        named.sort(key=lambda nc: (nc[1].dataset != "mnist", list(HEADS).index(nc[1].head.name), -nc[1].config.latent))
        for stem, ckpt in named:
            catalog.checkpoints[prefix + stem] = ckpt
    return catalog


def checkpoint_name(text: str) -> str:
    """A safe file stem for a user checkpoint; ValueError if ``text`` is not one."""
    name = text.strip()
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", name) or name.endswith(".safetensors"):
        raise ValueError(f"{text!r} is not a usable name: use 1-64 letters, digits, '_', '-' or '.', "
                         "starting with a letter or digit, without the .safetensors suffix")
    return name
