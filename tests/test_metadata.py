"""Checkpoint metadata: one schema (vae.metadata), checked on every read and every write.

A crafted-but-valid safetensors file is the attack: its weights are fine, its metadata is not.
Each is refused with one line naming the file and the field, before any page sees it.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from backend_fixtures import checkpoint_meta, safetensors_bytes, small_model, state_of

import vae.paths
from vae import checkpoints
from vae.checkpoints import CheckpointError, build_metadata, import_checkpoint, load_checkpoint, save_checkpoint
from vae.metadata import MAX_HISTORY, CheckpointMeta, EncoderRef, MetadataError

SHIPPED = sorted(vae.paths.CHECKPOINT_DIR.glob("*.safetensors"))
ENTRY = {"epoch": 1, "train_loss": 200.0, "test_loss": 190.0}


def crafted(tmp_path: Path, **changes) -> Path:
    """A valid small checkpoint whose metadata fields are replaced by ``changes`` (raw JSON values)."""
    model = small_model(latent=2, hidden=16)
    meta = {**checkpoint_meta(model).to_dict(), **changes}
    path = tmp_path / "crafted.safetensors"
    path.write_bytes(safetensors_bytes(state_of(model), raw_meta={checkpoints.METADATA_KEY: json.dumps(meta)}))
    return path


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_checkpoint_reads_and_writes_back_the_same_record(path):
    meta = load_checkpoint(path).meta
    assert meta.epochs == 10 and len(meta.history) == 10 and meta.metrics["neg_elbo"] == meta.metrics["neg_elbo"]
    assert CheckpointMeta.from_json(meta.to_json()) == meta


def test_the_histogram_older_files_carry_in_their_metrics_is_accepted_and_not_kept(tmp_path):
    histogram = {"lo": -1.0, "hi": 2.0, "bins": 3, "counts": [1, 2, 3], "below_lo": 0, "above_hi": 0}
    meta = load_checkpoint(crafted(tmp_path, metrics={"neg_elbo": 100.0, "histogram": histogram})).meta
    assert dict(meta.metrics) == {"neg_elbo": 100.0}
    assert "histogram" not in meta.to_json()


BAD = {  # field -> (raw JSON value, the field the message names)
    "history of junk": ("history", [{"foo": 1}, 3, "x"], "history[0]"),
    "history entry without losses": ("history", [{"epoch": 1}], "history[0]"),
    "history entry that is a number": ("history", [ENTRY, 3], "history[1]"),
    "history epoch not an integer": ("history", [{**ENTRY, "epoch": 1.5}], "history[0].epoch"),
    "history with NaN": ("history", [{**ENTRY, "train_loss": float("nan")}], "history[0].train_loss"),
    "history too long": ("history", [ENTRY] * (MAX_HISTORY + 1), "history"),
    "epochs 2**80": ("epochs", 2**80, "epochs"),
    "epochs negative": ("epochs", -1, "epochs"),
    "epochs a string": ("epochs", "10", "epochs"),
    "metrics with Infinity": ("metrics", {"neg_elbo": float("inf")}, "metrics.neg_elbo"),
    "metrics with a string": ("metrics", {"neg_elbo": "100"}, "metrics.neg_elbo"),
    "source too long": ("source", "x" * 201, "source"),
    "source on two lines": ("source", "a\nb", "source"),
    "head with markdown": ("head", "![x](http://host/pixel.png)", "head"),
    "dataset unknown": ("dataset", "cifar", "dataset"),
    "config with extra key": ("config", {"latent": 2, "hidden": 16, "layers": 9}, "config"),
    "encoder_from without a hash": ("encoder_from", {"name": "a"}, "encoder_from"),
    "encoder_from with a bad hash": ("encoder_from", {"name": "a", "sha256": "z" * 64}, "encoder_from.sha256"),
    "versions a list": ("versions", ["torch"], "versions"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_metadata_outside_the_schema_is_one_line_naming_the_file_and_the_field(tmp_path, case):
    field, value, named = BAD[case]
    path = crafted(tmp_path, **{field: value})
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert message.startswith("crafted.safetensors: ") and f"'{named}'" in message, message
    assert "\n" not in message and len(message) < 300, message


def test_a_header_too_large_for_any_valid_metadata_is_refused_before_it_is_parsed(tmp_path):
    path = crafted(tmp_path, history=[ENTRY] * 20_000)  # ~1 MB of JSON, well under the 64 MB file limit
    with pytest.raises(CheckpointError, match=r"crafted\.safetensors: safetensors header is \d+ KB, over the \d+ KB limit"):
        load_checkpoint(path)


def test_the_bounds_themselves_are_valid(tmp_path):
    model = small_model(latent=2, hidden=16)
    history = [{**ENTRY, "epoch": i + 1} for i in range(MAX_HISTORY)]
    meta = build_metadata("raw", model.config, epochs=10_000, source="s" * 200, history=history,
                          encoder_from={"name": "src", "sha256": "0" * 64})
    path = tmp_path / "edge.safetensors"
    save_checkpoint(path, model, meta)
    back = load_checkpoint(path).meta
    assert back.epochs == 10_000 and len(back.history) == MAX_HISTORY
    assert back.encoder_from == EncoderRef("src", "0" * 64)


def test_nothing_outside_the_schema_can_be_written(tmp_path):
    model = small_model(latent=2, hidden=16)
    with pytest.raises(MetadataError, match="'epochs'"):
        build_metadata("raw", model.config, epochs=-3)
    with pytest.raises(MetadataError, match="'history'"):
        build_metadata("raw", model.config, history=[ENTRY] * (MAX_HISTORY + 1))
    with pytest.raises(TypeError, match="unknown metadata field"):
        build_metadata("raw", model.config, epochz=3)


def test_an_upload_whose_history_holds_nan_names_the_file_and_the_field(tmp_path):
    # before: "Out of range float values are not JSON compliant", naming neither
    path = crafted(tmp_path, history=[{**ENTRY, "test_loss": float("nan")}])
    data = path.read_bytes()
    with pytest.raises(CheckpointError, match=r"^mine\.safetensors: .*'history\[0\]\.test_loss'"):
        checkpoints.load_checkpoint_bytes(data, "mine.safetensors")


# --- recognising the file type ---------------------------------------------------------------

def _with_header_length(data: bytes, length: int) -> bytes:
    """The same safetensors file with its JSON header padded by spaces to ``length`` bytes."""
    (n,) = struct.unpack("<Q", data[:8])
    header = data[8:8 + n].rstrip(b" ")
    assert len(header) <= length
    return struct.pack("<Q", length) + header + b" " * (length - len(header)) + data[8 + n:]


def test_a_safetensors_file_whose_header_length_starts_with_the_pickle_byte_loads(tmp_path):
    # 0x80 is both a pickle's first byte and the low byte of a header length of 128 + 256 k
    data = (vae.paths.CHECKPOINT_DIR / "mnist-sigmoid-z2.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    length = n + (0x80 - n) % 256
    path = tmp_path / "padded.safetensors"
    path.write_bytes(_with_header_length(data, length))
    assert path.read_bytes()[:1] == b"\x80"
    ckpt = load_checkpoint(path)
    original = load_checkpoint(vae.paths.CHECKPOINT_DIR / "mnist-sigmoid-z2.safetensors")
    assert ckpt.meta == original.meta and all((ckpt.weights[k] == original.weights[k]).all() for k in ckpt.weights)


def test_importing_a_shipped_model_under_a_name_that_gives_such_a_header_reads_back(tmp_path):
    ckpt = load_checkpoint(vae.paths.CHECKPOINT_DIR / "mnist-sigmoid-z2.safetensors")
    out = tmp_path / "renamed.safetensors"
    for extra in range(256):  # the upload's name (in "source") moves the header length: one in 32 ends in 0x80
        name, note = "n" * min(extra, 150), "e" * max(extra - 150, 0)  # each field holds at most 200 characters
        import_checkpoint(ckpt, out, source=f"uploaded as {name}", metrics={**ckpt.meta.metrics, "evaluated_on": note},
                          overwrite=True)
        if out.read_bytes()[:1] == b"\x80":
            break
    else:
        pytest.fail("no name length gave a header length ending in 0x80")
    assert load_checkpoint(out).meta.source == f"uploaded as {name}"


def test_the_pickle_refusal_quotes_the_global_and_never_torchs_advice(tmp_path, monkeypatch):
    import pickle

    import torch

    def refuse(*args, **kwargs):  # torch's wording varies by version: "Unsupported global" / "unsupported GLOBAL"
        raise pickle.UnpicklingError(
            "Weights only load failed. Re-running `torch.load` with `weights_only` set to `False` will likely "
            "succeed, but it can result in arbitrary code execution.\n unsupported GLOBAL posix.system was not an "
            "allowed global by default. Please use `torch.serialization.add_safe_globals([system])`")

    monkeypatch.setattr(torch, "load", refuse)
    path = tmp_path / "evil.pt"
    path.write_bytes(b"\x80\x02}q\x00.")
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path, head="sigmoid")
    message = str(info.value)
    assert "unsupported GLOBAL posix.system" in message and "refused to unpickle" in message
    assert "will likely succeed" not in message and "add_safe_globals" not in message
