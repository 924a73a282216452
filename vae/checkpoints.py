"""Checkpoints: safetensors weights + JSON metadata, written atomically, loaded safely.

Loading never executes code from the file. Our own files are safetensors; state dicts
saved by the classic PyTorch example (``torch.save(model.state_dict(), ...)``) are read
with ``torch.load(weights_only=True)`` only. Every key, shape, dtype and value is
checked before a model is built, and every failure is one :class:`CheckpointError`
whose message names the file and the problem.

Safetensors files are read and validated in numpy: the app serves its first images without
importing torch (bench/RESULTS.md, cold start and memory). The torch model of a checkpoint
is built from its validated arrays the first time something asks for it.

Command line::

    python -m vae.checkpoints [show] FILE               # summary, or a one-line error (exit 2)
    python -m vae.checkpoints import FILE.pt --head sigmoid --out checkpoints/NAME.safetensors
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import pickle
import platform
import re
import struct
import sys
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .architecture import VAEConfig
from .atomic import write_atomically
from .datasets import DATASETS
from .heads import HEADS, Head, get_head
from .metadata import FORMAT, MAX_METADATA_BYTES, CheckpointMeta, MetadataError

if TYPE_CHECKING:
    from .model import VAE

__all__ = ["FORMAT", "CheckpointMeta"]  # re-exported: the metadata record lives in vae.metadata
METADATA_KEY = "vae"
MAX_CHECKPOINT_BYTES = 64 * 2**20  # the largest supported model is ~26 MB
# A safetensors header is the tensors' index (~1 KB) plus our metadata: refuse a bigger one unparsed.
MAX_HEADER_BYTES = MAX_METADATA_BYTES + 64 * 2**10
# Torch models built from checkpoints' arrays, least recently used first (VAE_MODEL_CACHE, default 8):
# each doubles a checkpoint's memory, and every imported or trained checkpoint could ask for one.
MODEL_CACHE_SIZE = max(1, int(os.environ.get("VAE_MODEL_CACHE", "8") or 8))
_BUILT: OrderedDict[int, Checkpoint] = OrderedDict()
_SAFETENSORS_DTYPE = "F32"
_MODEL_LOCK = threading.Lock()  # one torch model per checkpoint, however many sessions ask at once


class CheckpointError(ValueError):
    """A checkpoint could not be read, validated or written (one-line message)."""


@dataclass
class Checkpoint:
    """A validated model: its weights (read-only float32 arrays), shape, head and metadata."""

    weights: Mapping[str, np.ndarray]
    config: VAEConfig
    head: Head
    meta: CheckpointMeta
    path: Path | None = None
    _model: VAE | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_model(cls, model: VAE, head: Head, meta: CheckpointMeta, path: Path | None = None) -> Checkpoint:
        """The checkpoint of a model trained here (its weights copied, the model kept as is)."""
        # copies: the arrays must not follow the live model's parameters
        weights = _frozen({k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()})
        return cls(weights, model.config, head, meta, path, _model=model)

    @property
    def model(self) -> VAE:
        """The torch model (eval mode, no grad), built from the weights on first use.

        At most :data:`MODEL_CACHE_SIZE` built models are kept; the least recently used is
        dropped (and rebuilt when asked for again). A caller holding one keeps it working.
        """
        with _MODEL_LOCK:
            model = self._model
            if model is None:
                from .model import VAE

                model = self._model = VAE.from_arrays(self.config, self.weights)
            _BUILT[id(self)] = self
            _BUILT.move_to_end(id(self))
            while len(_BUILT) > MODEL_CACHE_SIZE:
                _, oldest = _BUILT.popitem(last=False)
                oldest._model = None
        return model

    @property
    def model_is_built(self) -> bool:
        """Whether the torch model is held now (built on first use of :attr:`model`, dropped by the LRU)."""
        return self._model is not None

    @property
    def name(self) -> str:
        return self.path.stem if self.path else (self.meta.name or "checkpoint")

    @property
    def dataset(self) -> str:
        return self.meta.dataset or "mnist"


def library_versions() -> dict[str, str]:
    """Versions recorded in every checkpoint written here."""
    versions = {"python": platform.python_version()}
    for pkg in ("torch", "torchvision", "safetensors", "numpy"):
        try:
            versions[pkg] = importlib_metadata.version(pkg)
        except importlib_metadata.PackageNotFoundError:
            pass
    return versions


def build_metadata(head: str, config: VAEConfig, **fields) -> CheckpointMeta:
    """The metadata every checkpoint written here carries: format, head, model args, then ``fields``
    (:class:`vae.metadata.CheckpointMeta`'s fields, as JSON values); MetadataError if one breaks the schema."""
    unknown = sorted(set(fields) - set(CheckpointMeta.__dataclass_fields__))
    if unknown:
        raise TypeError(f"build_metadata: unknown metadata field(s) {', '.join(unknown)}")
    return CheckpointMeta().replace(format=FORMAT, head=head, config=config,
                                    created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                    versions=library_versions(), **fields)


# The encoder's tensors, in the order encoder_sha256 hashes them.
ENCODER_KEYS = ("fc1.weight", "fc1.bias", "fc21.weight", "fc21.bias", "fc22.weight", "fc22.bias")


def encoder_sha256(weights: Mapping[str, np.ndarray]) -> str:
    """SHA-256 (hex) of the encoder's weights: what identifies a latent space.

    The bytes hashed are each of :data:`ENCODER_KEYS` in that order, as float32 little-endian
    in C order, concatenated. Decoders trained on a frozen encoder (``python -m vae.train
    --encoder-from``) record it in their metadata as ``encoder_from = {"name", "sha256"}``;
    two checkpoints with equal hashes map every image to the same z.
    """
    digest = hashlib.sha256()
    for key in ENCODER_KEYS:
        digest.update(np.ascontiguousarray(weights[key], dtype="<f4").tobytes())
    return digest.hexdigest()


def save_checkpoint(path: str | Path, model: VAE, meta: CheckpointMeta, overwrite: bool = True) -> Path:
    """Write weights + metadata to ``path`` atomically (the old file survives any failure).

    With ``overwrite=False`` the finished file is linked into place only if ``path`` does not exist
    yet (checked and taken in one step by the file system: two writers never both succeed).
    """
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import save_file

    tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()}
    try:
        text = meta.to_json()
    except MetadataError as err:
        raise CheckpointError(f"{Path(path).name}: {err}") from None
    try:
        return write_atomically(path, lambda tmp: save_file(tensors, str(tmp), metadata={METADATA_KEY: text}),
                                replace=overwrite)
    except FileExistsError:
        raise CheckpointError(f"{path}: already exists (choose another name)") from None
    except (OSError, SafetensorError) as err:  # safetensors reports a full disk as SafetensorError
        raise CheckpointError(f"{path}: could not write checkpoint ({_io_reason(err)})") from None


def _io_reason(err: BaseException) -> str:
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    text = _first_line(err)
    for code, reason in ((28, "No space left on device"), (122, "Disk quota exceeded"), (30, "Read-only file system")):
        if f"code: {code}," in text or reason in text:
            return reason
    return text


def load_checkpoint(path: str | Path, head: str | None = None, default_head: str | None = None) -> Checkpoint:
    """Read and validate a checkpoint file.

    ``head`` is required for files that do not name one (classic state dicts) and, when
    given for one of ours, overrides nothing: a mismatch is an error. ``default_head`` is
    only a fallback for files that name none (what the import page's head picker means).
    """
    path = Path(path)
    label = path.name
    try:
        size = path.stat().st_size
    except OSError as err:
        raise CheckpointError(f"{label}: cannot read file ({err.strerror or err})") from None
    if not path.is_file():
        raise CheckpointError(f"{label}: not a regular file")
    if size == 0:
        raise CheckpointError(f"{label}: file is empty")
    if size > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(f"{label}: file is {size / 2**20:.1f} MB, over the {MAX_CHECKPOINT_BYTES / 2**20:.0f} MB limit")
    with open(path, "rb") as fh:
        start = fh.read(9)
    kind = _sniff(start, size, label)
    if kind == "torch":
        tensors, meta = _read_state_dict(path, label), CheckpointMeta()
    else:
        tensors, meta = _read_safetensors(path, label)
    ckpt = _build(tensors, meta, head or (None if meta.head else default_head), label)
    ckpt.path = path
    return ckpt


def load_checkpoint_bytes(data: bytes, filename: str, head: str | None = None,
                          default_head: str | None = None) -> Checkpoint:
    """Validate an uploaded checkpoint held in memory (same checks as :func:`load_checkpoint`)."""
    if len(data) > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(f"{filename}: file is {len(data) / 2**20:.1f} MB, over the {MAX_CHECKPOINT_BYTES / 2**20:.0f} MB limit")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "upload.bin"
        path.write_bytes(data)
        try:
            ckpt = load_checkpoint(path, head, default_head)
        except CheckpointError as err:
            raise CheckpointError(str(err).replace("upload.bin", filename, 1)) from None
    ckpt.path = None
    if ckpt.meta.name is None:
        ckpt.meta = ckpt.meta.replace(name=Path(filename).stem[:100])
    return ckpt


def import_checkpoint(ckpt: Checkpoint, out: str | Path, source: str, metrics: dict,
                      overwrite: bool = False) -> Checkpoint:
    """Save a validated (e.g. classic) checkpoint in our format with the test ``metrics`` its caller measured."""
    out = Path(out)
    if out.suffix != ".safetensors":
        raise CheckpointError(f"{out.name}: the output file must end in .safetensors")
    fields = {"encoder_from": ckpt.meta.encoder_from} if ckpt.meta.encoder_from else {}
    try:
        meta = build_metadata(ckpt.head.name, ckpt.config, dataset=ckpt.dataset, epochs=ckpt.meta.epochs,
                              source=source[:200], metrics=metrics, history=ckpt.meta.history, **fields)
    except MetadataError as err:
        raise CheckpointError(f"{out.name}: {err}") from None
    save_checkpoint(out, ckpt.model, meta, overwrite=overwrite)
    return Checkpoint(ckpt.weights, ckpt.config, ckpt.head, meta, out, _model=ckpt.model)


def discover(directory: str | Path) -> tuple[list[Checkpoint], list[str]]:
    """Every valid ``*.safetensors`` checkpoint in ``directory``, and one error line per bad file."""
    found, errors = [], []
    for path in sorted(Path(directory).glob("*.safetensors")):
        try:
            found.append(load_checkpoint(path))
        except CheckpointError as err:
            errors.append(str(err))
    return found, errors


def summary(ckpt: Checkpoint) -> str:
    """A few human-readable lines about a checkpoint."""
    meta, cfg = ckpt.meta, ckpt.config
    n_params = cfg.parameter_count()
    lines = [
        f"{ckpt.path or ckpt.name}",
        f"  head:    {ckpt.head.name} ({ckpt.head.title})",
        f"  model:   latent {cfg.latent}, hidden {cfg.hidden}, {n_params:,} parameters",
        f"  dataset: {ckpt.dataset}; epochs: {_or_unknown(meta.epochs)}; seed: {_or_unknown(meta.seed)}; "
        f"training time: {_fmt(meta.train_seconds, '.1f')} s",
    ]
    if meta.source:
        lines.append(f"  source:  {meta.source}")
    if meta.encoder_from:
        lines.append(f"  encoder: frozen, from {meta.encoder_from.name} (sha256 {meta.encoder_from.sha256[:12]}...)")
    m = meta.metrics
    if m:
        lines.append(
            f"  test:    -ELBO {_fmt(m.get('neg_elbo'))} nats/image (z = mean: {_fmt(m.get('neg_elbo_mean_z'))}), "
            f"KL {_fmt(m.get('kl'))}, BCE {_fmt(m.get('bce'))}, MSE {_fmt(m.get('mse'))}")
        lines.append(
            f"  pixels:  {_fmt(_percent(m.get('frac_below_0')))}% below 0, "
            f"{_fmt(_percent(m.get('frac_above_1')))}% above 1 "
            f"(range {_fmt(m.get('pixel_min'), '.3f')} .. {_fmt(m.get('pixel_max'), '.3f')})")
    return "\n".join(lines)


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "?" if value is None else format(value, spec)


def _or_unknown(value: int | None) -> str:
    return "?" if value is None else str(value)


def _percent(fraction: float | None) -> float | None:
    return None if fraction is None else 100 * fraction


# --- reading -------------------------------------------------------------------------

def _sniff(start: bytes, size: int, label: str) -> str:
    # Safetensors first: its first 8 bytes are the header length, so one valid file in 256 starts
    # with 0x80 (low byte 128), the byte a pickle starts with. A header is JSON: byte 8 is '{'.
    torch_like = start[:4] == b"PK\x03\x04" or start[:1] == b"\x80"  # torch zip archive / legacy pickle
    if len(start) >= 9 and start[8:9] == b"{":
        (header_len,) = struct.unpack("<Q", start[:8])
        if 8 + header_len <= size:
            if header_len > MAX_HEADER_BYTES:
                raise CheckpointError(f"{label}: safetensors header is {header_len / 2**10:.0f} KB, over the "
                                      f"{MAX_HEADER_BYTES // 2**10} KB limit (metadata too large)")
            return "safetensors"
        if not torch_like:
            raise CheckpointError(f"{label}: truncated safetensors file (header needs {header_len} bytes, file has {size - 8})")
    if torch_like:
        return "torch"
    raise CheckpointError(f"{label}: not a safetensors checkpoint or a PyTorch state dict (unrecognised content)")


def _read_safetensors(path: Path, label: str) -> tuple[dict[str, np.ndarray], CheckpointMeta]:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as fh:
            raw_meta = fh.metadata() or {}
            layout = {k: (fh.get_slice(k).get_dtype(), tuple(fh.get_slice(k).get_shape())) for k in fh.keys()}
            meta = _parse_metadata(raw_meta, label)
            for key, (dtype, _) in layout.items():
                if dtype != _SAFETENSORS_DTYPE:
                    raise CheckpointError(f"{label}: tensor {key} has dtype {dtype}; expected float32 (F32)")
            config = _config_for(meta, {k: s for k, (_, s) in layout.items()}, label)
            _check_layout({k: s for k, (_, s) in layout.items()}, config, label)
            tensors = {k: fh.get_tensor(k) for k in layout}
    except CheckpointError:
        raise
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise CheckpointError(f"{label}: unreadable safetensors file ({_first_line(err)})") from None
    return tensors, meta


def _read_state_dict(path: Path, label: str) -> dict[str, np.ndarray]:
    import torch  # only classic .pt files need it

    try:
        with open(path, "rb") as fh:  # a file object: torch.load would treat a *.safetensors *path* as safetensors
            obj = torch.load(fh, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        # torch says "Unsupported global: GLOBAL posix.system ..." or "unsupported GLOBAL ..." by version;
        # never pass on its advice to retry with weights_only=False
        found = re.search(r"unsupported global:?\s+(?:global\s+)?([\w.]+)", str(err), re.IGNORECASE)
        detail = f"unsupported GLOBAL {found.group(1)}" if found else "the file holds objects other than tensors"
        raise CheckpointError(f"{label}: refused to unpickle: the file needs more than plain tensors to load "
                              f"({detail}); only state dicts saved with torch.save(model.state_dict(), ...) are accepted") from None
    except Exception as err:  # torch raises many types for damaged archives
        raise CheckpointError(f"{label}: not a readable PyTorch file ({_first_line(err)})") from None
    if not isinstance(obj, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
        raise CheckpointError(f"{label}: expected a state dict (names -> tensors), got {type(obj).__name__}")
    arrays = {}
    for key, value in obj.items():
        if value.dtype != torch.float32:
            raise CheckpointError(f"{label}: tensor {key} has dtype {str(value.dtype).replace('torch.', '')}; expected float32")
        try:
            arrays[key] = value.detach().cpu().numpy()
        except (RuntimeError, TypeError) as err:  # sparse, meta, ... tensors
            raise CheckpointError(f"{label}: tensor {key} is not a plain dense tensor ({_first_line(err)})") from None
    return arrays


def _parse_metadata(raw_meta: dict, label: str) -> CheckpointMeta:
    if METADATA_KEY not in raw_meta:
        return CheckpointMeta()
    try:
        return CheckpointMeta.from_json(raw_meta[METADATA_KEY])
    except MetadataError as err:
        raise CheckpointError(f"{label}: {err}") from None


def _config_for(meta: CheckpointMeta, shapes: dict[str, tuple[int, ...]], label: str) -> VAEConfig:
    if meta.config is not None:  # validated with the metadata (vae.metadata)
        return meta.config
    try:
        # No metadata (a classic state dict): read the sizes off the weight shapes.
        # (a wrong input size is caught by the layout check that follows)
        hidden = shapes["fc1.weight"][0]
        latent = shapes["fc21.weight"][0]
        return VAEConfig(latent=latent, hidden=hidden)
    except KeyError as err:
        raise CheckpointError(f"{label}: missing tensor {err.args[0]} (not a VAE state dict of the classic layout)") from None
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{label}: {_first_line(err)}") from None


def _check_layout(shapes: dict[str, tuple[int, ...]], config: VAEConfig, label: str) -> None:
    expected = config.parameter_shapes()
    missing = sorted(set(expected) - set(shapes))
    unexpected = sorted(set(shapes) - set(expected))
    if missing or unexpected:
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + ([f"unexpected {', '.join(unexpected)}"] if unexpected else [])
        raise CheckpointError(f"{label}: wrong tensor names ({'; '.join(parts)})")
    for key, shape in expected.items():
        if tuple(shapes[key]) != shape:
            raise CheckpointError(f"{label}: tensor {key} has shape {tuple(shapes[key])}; expected {shape} "
                                  f"for latent {config.latent}, hidden {config.hidden}")


def _build(tensors: dict[str, np.ndarray], meta: CheckpointMeta, head: str | None, label: str) -> Checkpoint:
    shapes = {k: tuple(v.shape) for k, v in tensors.items()}
    config = _config_for(meta, shapes, label)
    _check_layout(shapes, config, label)
    for key, value in tensors.items():
        if not np.isfinite(value).all():
            raise CheckpointError(f"{label}: tensor {key} contains NaN or Inf values")
    head_name = meta.head or head
    if head_name is None:
        raise CheckpointError(f"{label}: the file does not say which output head it was trained with; choose one of {', '.join(HEADS)}")
    if head is not None and meta.head and meta.head != head:
        raise CheckpointError(f"{label}: trained with head {meta.head!r}, not {head!r}")
    try:
        head_obj = get_head(head_name)
    except ValueError as err:
        raise CheckpointError(f"{label}: {err}") from None
    if meta.head is None or meta.config is None:
        meta = dataclasses.replace(meta, head=head_name, config=config)
    return Checkpoint(_frozen(tensors), config, head_obj, meta)


def _frozen(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    # C-contiguous float32 and read-only: one checkpoint serves every session's thread. The arrays
    # handed in belong to nobody else (fresh from the file, or copies), so no copy is made here.
    out = {}
    for key, value in arrays.items():
        out[key] = np.ascontiguousarray(value, dtype=np.float32)
        out[key].flags.writeable = False
    return out


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


# --- command line ----------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vae.checkpoints",
                                     description="Validate a checkpoint, or convert a classic state dict.")
    commands = parser.add_subparsers(dest="command", required=True)
    show = commands.add_parser("show", help="validate a checkpoint and print its summary")
    show.add_argument("file", type=Path)
    show.add_argument("--head", choices=list(HEADS), help="head for files that do not name one")
    convert = commands.add_parser("import", help="convert a classic PyTorch-example state dict to our format")
    convert.add_argument("file", type=Path)
    convert.add_argument("--head", required=True, choices=list(HEADS))
    convert.add_argument("--out", required=True, type=Path)
    convert.add_argument("--dataset", default="mnist", choices=list(DATASETS))
    convert.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] not in ("show", "import", "-h", "--help"):
        argv.insert(0, "show")  # `python -m vae.checkpoints FILE` is the short form of `show FILE`
    args = parser.parse_args(argv)
    try:
        if args.command == "import":
            from .evaluate import evaluate_on_sample  # scoring is the caller's job, not file I/O's

            ckpt = load_checkpoint(args.file, head=args.head)
            ckpt.meta = dataclasses.replace(ckpt.meta, dataset=args.dataset)
            saved = import_checkpoint(ckpt, args.out, source=f"imported from {args.file.name}",
                                      metrics=evaluate_on_sample(ckpt), overwrite=args.force)
            print(summary(saved))
        else:
            print(summary(load_checkpoint(args.file, head=args.head)))
        return 0
    except CheckpointError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
