"""Pairing by encoder (services.pairing) on the shipped checkpoints, and the figure behind it:
decoders trained on one frozen encoder draw the same digit at the same z; independently trained
VAEs do not."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import vae.paths
from scripts import pairing_correlation
from services.catalog import load_catalog
from services.pairing import INDEPENDENT_NOTE, SAME_NOTE, Pairing, agreement
from vae.checkpoints import ENCODER_KEYS, encoder_sha256, load_checkpoint, save_checkpoint
from vae.metadata import EncoderRef
from vae.train import TrainConfig, train

# Each shipped decoder-only checkpoint and the whole VAE whose encoder it froze.
PAIRED = {
    "mnist-raw-z20-on-sigmoid-encoder": "mnist-sigmoid-z20",
    "mnist-logits-z20-on-sigmoid-encoder": "mnist-sigmoid-z20",
    "mnist-continuous-bernoulli-z20-on-sigmoid-encoder": "mnist-sigmoid-z20",
    "mnist-clamp-z20-on-sigmoid-encoder": "mnist-sigmoid-z20",
    "mnist-raw-z2-on-sigmoid-encoder": "mnist-sigmoid-z2",
    "fashion-mnist-raw-z20-on-sigmoid-encoder": "fashion-mnist-sigmoid-z20",
}
# The questioner's experiment: the whole VAE retrained without the sigmoid.
INDEPENDENT = {"mnist-raw-z20": "mnist-sigmoid-z20", "mnist-raw-z2": "mnist-sigmoid-z2",
               "fashion-mnist-raw-z20": "fashion-mnist-sigmoid-z20"}
THRESHOLD = 0.9


@pytest.fixture(scope="module")
def shipped(tmp_path_factory) -> Pairing:
    """The shipped checkpoints only (an empty user folder)."""
    return Pairing.of(load_catalog(user=tmp_path_factory.mktemp("no-user-checkpoints")))


def ckpt(pairing: Pairing, name: str):
    return pairing.catalog.checkpoints[name]


@pytest.mark.parametrize("name", PAIRED)
def test_a_shipped_paired_decoder_holds_its_sources_encoder_byte_for_byte_and_says_so(shipped, name):
    decoder, source = ckpt(shipped, name), ckpt(shipped, PAIRED[name])
    for key in ENCODER_KEYS:
        assert decoder.weights[key].tobytes() == source.weights[key].tobytes(), key
    assert decoder.meta.encoder_from == EncoderRef(name=PAIRED[name], sha256=encoder_sha256(source.weights))
    assert shipped.encoders[name] == shipped.encoders[PAIRED[name]]
    assert decoder.meta.epochs == 10 and decoder.meta.metrics["kl"] == pytest.approx(source.meta.metrics["kl"])


@pytest.mark.parametrize("name", PAIRED)
def test_paired_shipped_decoders_draw_what_the_sigmoid_decoder_draws_at_random_z(shipped, name):
    corr = agreement(ckpt(shipped, PAIRED[name]), ckpt(shipped, name), n=200, seed=0)
    assert np.median(corr) >= THRESHOLD, (name, np.median(corr))


@pytest.mark.parametrize("name", INDEPENDENT)
def test_independently_trained_raw_vaes_draw_other_digits_at_the_same_z(shipped, name):
    corr = agreement(ckpt(shipped, INDEPENDENT[name]), ckpt(shipped, name), n=200, seed=0)
    assert np.median(corr) < THRESHOLD, (name, np.median(corr))
    assert shipped.encoders[name] != shipped.encoders[INDEPENDENT[name]]


def test_each_mode_lines_up_one_decoder_per_head_next_to_the_sigmoid_vae(shipped):
    heads = ["sigmoid", "raw", "logits", "continuous-bernoulli", "clamp"]
    assert shipped.reference("mnist", 20) == "mnist-sigmoid-z20"
    assert shipped.lineup("mnist-sigmoid-z20", heads, "same") == [
        "mnist-sigmoid-z20", "mnist-raw-z20-on-sigmoid-encoder", "mnist-logits-z20-on-sigmoid-encoder",
        "mnist-continuous-bernoulli-z20-on-sigmoid-encoder", "mnist-clamp-z20-on-sigmoid-encoder"]
    assert shipped.lineup("mnist-sigmoid-z20", heads, "independent") == [
        "mnist-sigmoid-z20", "mnist-raw-z20", "mnist-logits-z20", "mnist-continuous-bernoulli-z20", "mnist-clamp-z20"]
    assert shipped.lineup(shipped.reference("mnist", 2), ["sigmoid", "raw"], "same") == [
        "mnist-sigmoid-z2", "mnist-raw-z2-on-sigmoid-encoder"]
    assert shipped.lineup(shipped.reference("fashion-mnist", 20), ["sigmoid", "raw"], "independent") == [
        "fashion-mnist-sigmoid-z20", "fashion-mnist-raw-z20"]
    with pytest.raises(ValueError, match="unknown pairing mode"):
        shipped.matches("mnist-sigmoid-z20", "both")


def test_the_note_is_true_of_the_checkpoints_shown(shipped):
    assert shipped.note(["mnist-sigmoid-z20", "mnist-raw-z20-on-sigmoid-encoder"]) == SAME_NOTE
    assert shipped.note(["mnist-sigmoid-z20", "mnist-raw-z20"]) == INDEPENDENT_NOTE
    assert "same z can mean a different digit" in INDEPENDENT_NOTE and "only the decoder" in SAME_NOTE


def test_a_users_decoder_on_a_shipped_encoder_joins_its_group(tmp_path, small_splits):
    user = tmp_path / "user"
    cfg = TrainConfig(head="raw", latent=20, epochs=1, batch_size=100, lr=1e-3,
                      encoder_from=str(vae.paths.CHECKPOINT_DIR / "mnist-sigmoid-z20.safetensors"))
    train(cfg, user / "mine.safetensors", *small_splits, device="cpu")
    pairing = Pairing.of(load_catalog(user=user))
    assert "user/mine" in pairing.partners("mnist-sigmoid-z20")
    assert "user/mine" in pairing.matches("mnist-sigmoid-z20", "same")
    assert "user/mine" not in pairing.matches("mnist-sigmoid-z20", "independent")


def test_grouping_follows_the_weights_not_what_the_metadata_claims(tmp_path, shipped):
    liar = load_checkpoint(vae.paths.CHECKPOINT_DIR / "mnist-raw-z20.safetensors")
    claimed = EncoderRef(name="mnist-sigmoid-z20", sha256=shipped.encoders["mnist-sigmoid-z20"])
    user = tmp_path / "user"
    save_checkpoint(user / "liar.safetensors", liar.model, dataclasses.replace(liar.meta, encoder_from=claimed))
    pairing = Pairing.of(load_catalog(user=user))
    assert "user/liar" not in pairing.partners("mnist-sigmoid-z20")
    assert "user/liar" in pairing.matches("mnist-sigmoid-z20", "independent")


def test_the_correlation_script_prints_both_modes_for_every_reference(capsys):
    pairing_correlation.main(["--n", "50"])
    lines = capsys.readouterr().out.splitlines()
    rows = {(ln.split()[0], ln.split()[2]): (ln.split()[1], float(ln.split()[3])) for ln in lines[2:]}
    assert rows[("mnist-sigmoid-z20", "mnist-raw-z20-on-sigmoid-encoder")][0] == "same"
    assert rows[("mnist-sigmoid-z20", "mnist-raw-z20")][0] == "independent"
    assert rows[("mnist-sigmoid-z20", "mnist-raw-z20-on-sigmoid-encoder")][1] >= THRESHOLD > \
        rows[("mnist-sigmoid-z20", "mnist-raw-z20")][1]
