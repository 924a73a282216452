"""Who owns a user checkpoint, and names claimed atomically.

Streamlit has no login: a visitor is a browser session, identified by a random token kept in
its ``st.session_state`` (ui/session.py). The server stores only the token's SHA-256, the
*owner id*, in a sidecar file next to the checkpoint: ``user_checkpoints/.NAME.owner``.

That sidecar is also the claim on the name. It is created with ``O_CREAT | O_EXCL``, which the
file system grants to exactly one of any number of simultaneous callers, *before* the checkpoint
is written: two sessions importing or training into the same new name never both succeed, and
nobody overwrites a checkpoint they do not own. A failed write releases a new claim. Files put
into the folder outside the app (no sidecar) belong to nobody: visible to all, replaceable by
none. Everyone may use every checkpoint read-only; only its owner may replace or delete it.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from services.quotas import Quotas, check_room

_LOCK = threading.Lock()  # claim + quota check as one step within this server process


class NameTaken(ValueError):
    """The name belongs to another visitor, to the operator, or is yours and replacing was not asked."""


class NotOwner(PermissionError):
    """Only a checkpoint's owner may replace or delete it."""


def owner_id(token: str) -> str:
    """What is stored for a session: the SHA-256 of its secret token."""
    return hashlib.sha256(token.encode()).hexdigest()


def claim_file(folder: Path, name: str) -> Path:
    return folder / f".{name}.owner"


def owner_of(folder: Path, name: str) -> str | None:
    """The owner id recorded for ``name``, or None (no sidecar: not a visitor's)."""
    try:
        return claim_file(folder, name).read_text(encoding="ascii").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


@dataclass(frozen=True)
class Claim:
    """The right to write ``folder/name.safetensors``; ``new`` when this claim created the name."""

    folder: Path
    name: str
    owner: str
    new: bool

    @property
    def path(self) -> Path:
        return self.folder / f"{self.name}.safetensors"

    def release(self) -> None:
        """Give a new name back when nothing was written under it (a failed or cancelled write)."""
        if self.new and not self.path.exists():
            claim_file(self.folder, self.name).unlink(missing_ok=True)


def claim(folder: Path, name: str, owner: str, *, replace_own: bool = False, new_bytes: int = 0,
          quotas: Quotas | None = None) -> Claim:
    """Claim ``name`` in ``folder`` for ``owner``: :class:`NameTaken` or QuotaError if it cannot be had."""
    folder.mkdir(parents=True, exist_ok=True)
    path = claim_file(folder, name)
    with _LOCK:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            if owner_of(folder, name) != owner:
                raise NameTaken(f"the name {name!r} is taken by another visitor's checkpoint; choose another name") from None
            if not replace_own:
                raise NameTaken(f"you already have a checkpoint named {name!r}; choose another name, "
                                "or tick 'Replace my checkpoint of that name'") from None
            return Claim(folder, name, owner, new=False)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(owner)
            if (folder / f"{name}.safetensors").exists():
                raise NameTaken(f"the name {name!r} is taken by a checkpoint the server's operator put there; "
                                "choose another name")
            check_room(folder, new_bytes, quotas, new_names=0)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
    return Claim(folder, name, owner, new=True)


def owned(folder: Path, owner: str) -> list[str]:
    """Names of the checkpoints in ``folder`` that ``owner`` owns and has written, sorted."""
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.safetensors")
                  if not p.name.startswith(".") and owner_of(folder, p.stem) == owner)


def delete(folder: Path, name: str, owner: str) -> None:
    """Delete ``owner``'s checkpoint ``name`` (and its resume state); :class:`NotOwner` otherwise."""
    with _LOCK:
        if owner_of(folder, name) != owner:
            raise NotOwner(f"{name!r} is not yours to delete: only the visitor who made it may")
        (folder / f"{name}.safetensors").unlink(missing_ok=True)
        (folder / f"{name}.resume.pt").unlink(missing_ok=True)
        claim_file(folder, name).unlink(missing_ok=True)  # last: the name stays taken until the files are gone
