"""Importing an uploaded checkpoint: validate, claim its name, save, and re-read what was saved.

The app confirms an import only with what it read back from disk and validated again: the
summary shown is of the file as stored, not of the upload held in memory.
"""

from __future__ import annotations

from pathlib import Path

from services.ownership import claim
from services.quotas import expected_bytes
from vae.checkpoints import Checkpoint, import_checkpoint, load_checkpoint, load_checkpoint_bytes
from vae.evaluate import evaluate_on_sample


def one_line(text: str, limit: int = 120) -> str:
    """An uploaded file's name as metadata may hold it: printable, one line, bounded."""
    return "".join(c if c.isprintable() else "?" for c in " ".join(text.split()))[:limit]


def import_upload(data: bytes, filename: str, *, name: str, owner: str, folder: Path, head: str,
                  dataset: str, replace_own: bool = False) -> Checkpoint:
    """Save an upload as ``folder/name.safetensors`` for ``owner`` and return it as re-read from disk.

    ``head`` and ``dataset`` fill in only for files that do not say (classic state dicts).
    Raises CheckpointError (bad file, write failed), NameTaken, QuotaError or ValueError
    (bad name), each one line; a failed import leaves nothing under a new name.
    """
    from services.catalog import checkpoint_name

    ckpt = load_checkpoint_bytes(data, filename, default_head=head)
    if ckpt.meta.dataset is None:
        ckpt.meta = ckpt.meta.replace(dataset=dataset)
    taken = claim(folder, checkpoint_name(name), owner, replace_own=replace_own, new_bytes=expected_bytes(ckpt.config))
    try:
        import_checkpoint(ckpt, taken.path, source=f"uploaded as {one_line(filename)}",
                          metrics=evaluate_on_sample(ckpt), overwrite=True)
        return load_checkpoint(taken.path)  # confirm only what the disk holds and validates
    except BaseException:
        if taken.new:
            taken.path.unlink(missing_ok=True)
            taken.release()
        raise
