"""Checkpoint metadata: one typed record, one parser for every read, one serializer for every write.

A checkpoint's metadata is JSON that anybody can write (an uploaded file, a file dropped into a
folder), and the app shows it on pages every visitor shares. So it is parsed once, here, into a
:class:`CheckpointMeta` whose every field has a type and a bound: short one-line strings, finite
numbers, epochs in 0..10,000, at most 500 history entries. Anything else is a :class:`MetadataError`
naming the field (``history[3].epoch``); the reader adds the file name. Unknown top-level fields are
dropped (the app never shows them); the per-epoch ``histogram`` that older files carry in their
metrics is accepted and ignored. :meth:`CheckpointMeta.to_json` writes the same format back and
checks it with the same parser, so nothing can write what the app would refuse to read.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .architecture import INPUT_DIM, VAEConfig
from .datasets import DATASETS
from .heads import HEADS

FORMAT = "vae-explorer/1"
MAX_METADATA_BYTES = 256 * 2**10  # 500 history entries are ~50 KB
MAX_HISTORY = 500
MAX_EPOCHS = 10_000
MAX_TEXT = 200
MAX_ENTRIES = 32  # keys in metrics, versions, one history entry
_IGNORED_METRICS = ("histogram",)  # written by older versions; no reader left
_TEXT_METRICS = ("evaluated_on",)
_SHA256 = re.compile(r"[0-9a-f]{64}")


class MetadataError(ValueError):
    """Metadata that breaks the schema; the message names the field (one line)."""


@dataclass(frozen=True)
class EncoderRef:
    """The frozen encoder a decoder-only checkpoint was trained on (vae.checkpoints.encoder_sha256)."""

    name: str
    sha256: str


@dataclass(frozen=True)
class CheckpointMeta:
    """Everything a checkpoint says about itself, validated. ``None`` = the file does not say."""

    head: str | None = None
    config: VAEConfig | None = None
    dataset: str | None = None
    format: str | None = None
    created: str | None = None
    versions: Mapping[str, str] = field(default_factory=dict)
    epochs: int | None = None
    seed: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    history: tuple[Mapping[str, float], ...] = ()  # each: epoch (int), train_loss, test_loss, ... (finite)
    metrics: Mapping[str, float] = field(default_factory=dict)  # finite numbers by name
    evaluated_on: str | None = None  # what the metrics were measured on, when not the full test set
    train_seconds: float | None = None
    n_train: int | None = None
    n_test: int | None = None
    device: str | None = None
    source: str | None = None
    name: str | None = None
    encoder_from: EncoderRef | None = None

    @classmethod
    def from_dict(cls, obj: Any) -> CheckpointMeta:
        """Validate a decoded JSON object; :class:`MetadataError` names the first bad field."""
        return _parse(obj)

    @classmethod
    def from_json(cls, text: str) -> CheckpointMeta:
        """Parse metadata JSON (at most :data:`MAX_METADATA_BYTES`)."""
        if len(text) > MAX_METADATA_BYTES:
            raise MetadataError(f"metadata is {len(text) / 2**10:.0f} KB, over the {MAX_METADATA_BYTES // 2**10} KB limit")
        try:
            obj = json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            raise MetadataError("metadata is not valid JSON") from None
        return _parse(obj)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object written into the file (fields the file does not say are left out)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None or (f.name in ("versions", "history", "metrics") and not value):
                continue
            if f.name == "config":
                value = value.to_dict()
            elif f.name == "encoder_from":
                value = dataclasses.asdict(value)
            elif f.name == "history":
                value = [dict(h) for h in value]
            elif f.name in ("versions", "metrics"):
                value = dict(value)
            elif f.name == "evaluated_on":
                continue
            out[f.name] = value
        if self.evaluated_on is not None:  # stored beside the numbers it qualifies
            out["metrics"] = {**out.get("metrics", {}), "evaluated_on": self.evaluated_on}
        return out

    def to_json(self) -> str:
        """The serialised metadata, checked by the reader's own parser first."""
        text = json.dumps(self.to_dict(), allow_nan=False)
        CheckpointMeta.from_json(text)  # never write what would be refused on reading
        return text

    def replace(self, **changes: Any) -> CheckpointMeta:
        """A copy with ``changes`` (given as they would appear in JSON or as typed values), validated."""
        merged = {**self.to_dict(), **{k: _jsonable(v) for k, v in changes.items()}}
        return _parse({k: v for k, v in merged.items() if v is not None})


def _jsonable(value: Any) -> Any:
    if isinstance(value, VAEConfig):
        return value.to_dict()
    if isinstance(value, EncoderRef):
        return dataclasses.asdict(value)
    if isinstance(value, tuple):
        return [dict(v) if isinstance(v, Mapping) else v for v in value]
    return value


# --- the parser ------------------------------------------------------------------------------

def _parse(obj: Any) -> CheckpointMeta:
    if not isinstance(obj, dict):
        raise MetadataError(f"metadata must be a JSON object, got {_kind(obj)}")
    values: dict[str, Any] = {}
    for key in ("format", "created", "device", "source", "name"):
        if key in obj:
            values[key] = _text(obj[key], key)
    if "head" in obj:
        values["head"] = _choice(obj["head"], "head", HEADS)
    if "dataset" in obj:
        values["dataset"] = _choice(obj["dataset"], "dataset", DATASETS)
    if "config" in obj:
        values["config"] = _config(obj["config"])
    if "versions" in obj:
        versions = _object(obj["versions"], "versions")
        values["versions"] = {_text(k, "versions key"): _text(v, f"versions.{k}") for k, v in versions.items()}
    for key, lo, hi in (("epochs", 0, MAX_EPOCHS), ("seed", -2**63, 2**63 - 1), ("batch_size", 1, 10**7),
                        ("n_train", 0, 10**9), ("n_test", 0, 10**9)):
        if key in obj and obj[key] is not None:
            values[key] = _int(obj[key], key, lo, hi)
    for key in ("lr", "train_seconds"):
        if key in obj and obj[key] is not None:
            values[key] = _number(obj[key], key, lo=0.0)
    if "history" in obj:
        values["history"] = _history(obj["history"])
    if "metrics" in obj:
        values["metrics"], values["evaluated_on"] = _metrics(obj["metrics"])
    if "encoder_from" in obj and obj["encoder_from"] is not None:
        values["encoder_from"] = _encoder(obj["encoder_from"])
    return CheckpointMeta(**values)


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__)


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise MetadataError(f"metadata field {where!r} must be a string, got {_kind(value)}")
    if len(value) > MAX_TEXT:
        raise MetadataError(f"metadata field {where!r} is {len(value)} characters long (at most {MAX_TEXT})")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise MetadataError(f"metadata field {where!r} must be one line of printable text")
    return value


def _choice(value: Any, where: str, known: Mapping[str, Any]) -> str:
    if not isinstance(value, str) or value not in known:
        shown = repr(value) if isinstance(value, str) and len(value) <= 40 else _kind(value)
        raise MetadataError(f"metadata field {where!r}: unknown {where} {shown} (known: {', '.join(known)})")
    return str(value)


def _object(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise MetadataError(f"metadata field {where!r} must be an object, got {_kind(value)}")
    if len(value) > MAX_ENTRIES:
        raise MetadataError(f"metadata field {where!r} has {len(value)} entries (at most {MAX_ENTRIES})")
    return value


def _int(value: Any, where: str, lo: int, hi: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        shown = str(value) if isinstance(value, int) and abs(value) < 10**12 else _kind(value)
        raise MetadataError(f"metadata field {where!r} must be an integer in {lo}..{hi}, got {shown}")
    return value


def _number(value: Any, where: str, lo: float | None = None) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) \
            or abs(value) > 1e300 or (lo is not None and value < lo):
        bound = f" >= {lo:g}" if lo is not None else ""
        raise MetadataError(f"metadata field {where!r} must be a finite number{bound}, got {_shown_number(value)}")
    return value


def _shown_number(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)
    return str(value) if isinstance(value, int) and abs(value) < 10**12 else _kind(value)


def _config(value: Any) -> VAEConfig:
    args = dict(_object(value, "config"))
    # files written before VAEConfig lost its constant input_dim field record it as 784
    if args.pop("input_dim", INPUT_DIM) != INPUT_DIM:
        raise MetadataError(f"metadata field 'config.input_dim' must be {INPUT_DIM}")
    unknown = sorted(set(args) - {"latent", "hidden"})
    if unknown:
        raise MetadataError(f"metadata field 'config' has unknown key {str(unknown[0])[:40]!r}")
    try:
        return VAEConfig(**args)
    except (TypeError, ValueError) as err:
        raise MetadataError(f"metadata field 'config': {err}") from None


def _history(value: Any) -> tuple[dict[str, float], ...]:
    if not isinstance(value, list):
        raise MetadataError(f"metadata field 'history' must be a list, got {_kind(value)}")
    if len(value) > MAX_HISTORY:
        raise MetadataError(f"metadata field 'history' has {len(value)} entries (at most {MAX_HISTORY})")
    entries = []
    for i, entry in enumerate(value):
        where = f"history[{i}]"
        entry = _object(entry, where)
        for required in ("epoch", "train_loss", "test_loss"):
            if required not in entry:
                raise MetadataError(f"metadata field {where!r} has no {required!r}")
        checked: dict[str, float] = {}
        for key, number in entry.items():
            name = _text(key, f"{where} key")
            checked[name] = (_int(number, f"{where}.{name}", 1, MAX_EPOCHS) if name == "epoch"
                             else _number(number, f"{where}.{name}"))
        entries.append(checked)
    return tuple(entries)


def _metrics(value: Any) -> tuple[dict[str, float], str | None]:
    metrics, evaluated_on = {}, None
    for key, number in _object(value, "metrics").items():
        name = _text(key, "metrics key")
        if name in _IGNORED_METRICS:
            continue
        if name in _TEXT_METRICS:
            evaluated_on = _text(number, f"metrics.{name}")
        else:
            metrics[name] = _number(number, f"metrics.{name}")
    return metrics, evaluated_on


def _encoder(value: Any) -> EncoderRef:
    obj = _object(value, "encoder_from")
    if set(obj) != {"name", "sha256"}:
        raise MetadataError("metadata field 'encoder_from' must have exactly the keys 'name' and 'sha256'")
    digest = _text(obj["sha256"], "encoder_from.sha256")
    if not _SHA256.fullmatch(digest):
        raise MetadataError("metadata field 'encoder_from.sha256' must be 64 lowercase hex digits")
    return EncoderRef(_text(obj["name"], "encoder_from.name"), digest)
