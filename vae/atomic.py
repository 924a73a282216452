"""Atomic file replacement: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path


def write_atomically(path: str | Path, write: Callable[[Path], None], replace: bool = True) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it over ``path``.

    With ``replace=False`` the finished file is hard-linked to ``path`` instead, which fails with
    FileExistsError when ``path`` exists: whoever links first gets the name, in one step of the
    file system (no check-then-write race between two writers).

    If ``write`` fails or the process is interrupted, ``path`` keeps its old content and
    the temporary file is removed (a hard kill can leave a hidden ``.*.tmp`` behind, never
    a damaged ``path``). OSErrors (full disk, read-only folder) propagate to the caller.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _new_temp_file(path)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())  # the rename must not land before the data does
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
            tmp.unlink()
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _new_temp_file(path: Path) -> Path:
    # Like tempfile.mkstemp, but with the mode open() gives (0666 less the umask), not 0600:
    # the renamed file is an ordinary file that other users and processes may read.
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return tmp
