"""Decoder-only training on a frozen encoder (vae.train --encoder-from, TrainStep(train_encoder=False)).

Tiny runs on a few hundred shipped sample digits; every file under tmp_path.
"""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pytest
import torch
from backend_fixtures import write_mnist_raw

from vae.checkpoints import ENCODER_KEYS, encoder_sha256, load_checkpoint
from vae.evaluate import evaluate
from vae.heads import get_head
from vae.model import VAE, VAEConfig
from vae.train import TrainConfig, TrainingError, main, resume_path, train


@pytest.fixture(scope="module")
def source(tmp_path_factory, small_splits):
    """A tiny sigmoid VAE (latent 2, hidden 32) whose encoder the decoders below freeze."""
    out = tmp_path_factory.mktemp("source") / "src.safetensors"
    train(TrainConfig(head="sigmoid", latent=2, hidden=32, epochs=2, batch_size=64, lr=3e-3), out,
          *small_splits, device="cpu")
    return load_checkpoint(out)


def decoder_cfg(source_ckpt, head="raw", epochs=2):
    return TrainConfig(head=head, latent=2, hidden=32, epochs=epochs, batch_size=64, lr=3e-3, seed=5,
                       encoder_from=str(source_ckpt.path))


# --- the step: tests/test_step.py holds TrainStep(train_encoder=False) to autograd --------------

# --- the encoder's fingerprint ----------------------------------------------------------------

def test_the_encoder_hash_is_sha256_of_the_encoder_tensors_float32_le_in_a_fixed_order(source):
    weights = source.weights
    expected = hashlib.sha256(b"".join(np.asarray(weights[k], "<f4").tobytes(order="C") for k in
                                       ("fc1.weight", "fc1.bias", "fc21.weight", "fc21.bias",
                                        "fc22.weight", "fc22.bias"))).hexdigest()
    assert encoder_sha256(weights) == expected
    other_decoder = {k: (v if k in ENCODER_KEYS else v + 1) for k, v in weights.items()}
    assert encoder_sha256(other_decoder) == expected
    nudged = dict(weights, **{"fc22.bias": weights["fc22.bias"] + np.float32(1e-6)})
    assert encoder_sha256(nudged) != expected


# --- training -----------------------------------------------------------------------------

def test_decoder_only_training_keeps_the_encoder_bit_identical_and_lowers_the_decoders_loss(
        tmp_path, small_splits, source):
    cfg = decoder_cfg(source, head="raw")
    x_test = small_splits[1].as_float()
    head = get_head("raw")
    torch.manual_seed(cfg.seed)  # train() starts from this decoder and the source's encoder
    untrained = VAE(VAEConfig(latent=2, hidden=32))
    untrained.load_state_dict({k: torch.tensor(v) for k, v in source.weights.items() if k in ENCODER_KEYS},
                              strict=False)
    before = evaluate(untrained, head, x_test, seed=cfg.seed)

    out = tmp_path / "raw-on-src.safetensors"
    train(cfg, out, *small_splits, device="cpu")
    saved = load_checkpoint(out)
    after = evaluate(saved.model, head, x_test, seed=cfg.seed)

    for key in ENCODER_KEYS:
        assert saved.weights[key].tobytes() == source.weights[key].tobytes(), key
    for key in ("fc3.weight", "fc4.weight"):
        assert not np.array_equal(saved.weights[key], source.weights[key]), key
    assert after.recon_nll < before.recon_nll - 50, (before.recon_nll, after.recon_nll)
    assert after.kl == before.kl == evaluate(source.model, head, x_test).kl  # the KL belongs to the encoder
    assert saved.head.name == "raw"
    ref = saved.meta.encoder_from
    assert (ref.name, ref.sha256) == ("src", encoder_sha256(source.weights))
    assert encoder_sha256(saved.weights) == encoder_sha256(source.weights)


def test_decoder_only_resume_gives_exactly_the_uninterrupted_run(tmp_path, small_splits, source):
    straight = train(decoder_cfg(source, epochs=2), tmp_path / "straight.safetensors", *small_splits, device="cpu")
    out = tmp_path / "split.safetensors"
    train(decoder_cfg(source, epochs=1), out, *small_splits, device="cpu")
    resumed = train(decoder_cfg(source, epochs=2), out, *small_splits, resume=True, device="cpu")
    for key, value in straight.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[key], value), key
    def losses(ckpt):
        return [(h["epoch"], h["train_loss"], h["test_loss"]) for h in ckpt.meta.history]
    assert losses(resumed) == losses(straight)


def test_a_whole_vae_run_and_a_decoder_only_run_never_resume_each_other(tmp_path, small_splits, source, tiny_cfg):
    out = tmp_path / "x.safetensors"
    train(dataclasses.replace(tiny_cfg, latent=2, hidden=32), out, *small_splits, device="cpu")
    before = out.read_bytes()
    with pytest.raises(TrainingError, match="it holds a whole VAE, but this run trains a decoder on the frozen"):
        train(decoder_cfg(source), out, *small_splits, resume=True, device="cpu")
    assert out.read_bytes() == before

    out2 = tmp_path / "y.safetensors"
    train(decoder_cfg(source, epochs=1), out2, *small_splits, device="cpu")
    with pytest.raises(TrainingError, match="it holds a decoder on the frozen encoder .*, but this run trains a whole VAE"):
        train(dataclasses.replace(tiny_cfg, latent=2, hidden=32, epochs=2), out2, *small_splits, resume=True,
              device="cpu")
    assert resume_path(out2).is_file()


def test_progress_reports_decoder_only_epochs(tmp_path, small_splits, source):
    events = []
    train(decoder_cfg(source, epochs=1), tmp_path / "p.safetensors", *small_splits, device="cpu",
          progress=events.append)
    assert [e.epoch for e in events if e.test_loss is not None] == [1]


# --- bad --encoder-from inputs: one line, exit status 2, nothing written ------------------------

@pytest.fixture
def cli_data(tmp_path, small_splits):
    write_mnist_raw(tmp_path / "data", *small_splits)
    return tmp_path / "data"


def _bad_sources(tmp_path, source):
    (tmp_path / "empty.safetensors").write_bytes(b"")
    (tmp_path / "text.safetensors").write_text("not a model\n" * 10)
    return {
        "a missing file": ([str(tmp_path / "missing.safetensors")], "cannot take the encoder from missing.safetensors: cannot read file"),
        "an empty file": ([str(tmp_path / "empty.safetensors")], "cannot take the encoder from empty.safetensors: file is empty"),
        "not a checkpoint": ([str(tmp_path / "text.safetensors")], "cannot take the encoder from text.safetensors: not a safetensors"),
        "another latent size": ([str(source.path), "--latent", "3"], "the encoder of src.safetensors has latent size 2, not 3"),
        "another hidden size": ([str(source.path), "--hidden", "64"], "the encoder of src.safetensors has hidden size 32, not 64"),
        "another dataset": ([str(source.path), "--dataset", "fashion-mnist"],
                            "the encoder of src.safetensors has dataset mnist, not fashion-mnist"),
    }


@pytest.mark.parametrize("case", ["a missing file", "an empty file", "not a checkpoint", "another latent size",
                                  "another hidden size", "another dataset"])
def test_cli_bad_encoder_from_is_one_error_line_and_writes_nothing(case, tmp_path, cli_data, source, capsys):
    args, message = _bad_sources(tmp_path, source)[case]
    out = tmp_path / "out.safetensors"
    argv = ["--data-dir", str(cli_data), "--no-download", "--out", str(out), "--epochs", "1", "--head", "raw",
            "--latent", "2", "--hidden", "32", "--encoder-from", *args]
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error: " + message), err
    assert not out.exists() and not resume_path(out).exists()


def test_cli_refuses_an_encoder_source_that_is_the_output(tmp_path, cli_data, source, capsys):
    before = source.path.read_bytes()
    code = main(["--data-dir", str(cli_data), "--no-download", "--out", str(source.path), "--latent", "2",
                 "--hidden", "32", "--encoder-from", str(source.path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--encoder-from and --out are the same file" in err[0]
    assert source.path.read_bytes() == before


def test_cli_trains_a_decoder_on_a_frozen_encoder(tmp_path, cli_data, source, capsys):
    out = tmp_path / "clamp-on-src.safetensors"
    code = main(["--data-dir", str(cli_data), "--no-download", "--out", str(out), "--epochs", "1", "--head", "clamp",
                 "--latent", "2", "--hidden", "32", "--batch-size", "64", "--encoder-from", str(source.path)])
    captured = capsys.readouterr()
    printed = captured.out + captured.err  # the epoch lines go to stderr beside the progress bar
    assert code == 0, printed
    assert "decoder only, on the frozen encoder of" in printed and "fixed by the frozen encoder" in printed
    saved = load_checkpoint(out)
    assert saved.head.name == "clamp" and encoder_sha256(saved.weights) == encoder_sha256(source.weights)
