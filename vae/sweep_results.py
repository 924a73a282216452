"""The sweep's results document (``python -m vae.sweep``): its schema id and how it is read back.

Torch-free, so the app reads shipped results without importing torch; :mod:`vae.sweep` writes the
document and documents its fields.
"""

from __future__ import annotations

import json
from pathlib import Path

SCHEMA = "vae-sweep/1"


class ResultsFileError(ValueError):
    """A file is not a readable sweep results document (the message names it as the caller asked)."""


def read_document(path: str | Path, label: str | None = None) -> dict:
    """The JSON document in ``path`` if it is a sweep results file of :data:`SCHEMA` with a runs list.

    ``label`` is how errors name the file (default: the path as given).
    """
    path = Path(path)
    label = str(path) if label is None else label
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ResultsFileError(f"{label} is not a readable sweep results file ({type(err).__name__})") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA or not isinstance(doc.get("runs"), list):
        raise ResultsFileError(f"{label} is not a sweep results file of schema {SCHEMA}")
    return doc
