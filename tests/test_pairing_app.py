"""The pages pair decoders by encoder (services.pairing): by default the side-by-side views show
decoders that share the sigmoid VAE's encoder and say so; a labelled choice switches to the
independently trained VAEs, with their note, encoding digits with each model's own encoder."""

from __future__ import annotations

import re

import numpy as np
import pytest
from app_fixtures import explorer_panel as panel
from app_fixtures import run_app
from backend_fixtures import write_mnist_raw

import vae.paths
from services.decoding import decode_point, encode_mean
from services.pairing import INDEPENDENT_NOTE, SAME_NOTE, agreement
from vae.checkpoints import load_checkpoint
from vae.data import load_sample

pytestmark = pytest.mark.usefixtures("isolated_user_dir")


def names(at) -> list[str]:
    return [c["name"] for c in panel(at)["columns"]]


def captions(at) -> list[str]:
    return [c.value for c in at.caption]


def noted(at, note: str) -> bool:
    return any(c.startswith(note) for c in captions(at))


def measured(at, reference: str, other: str) -> bool:
    """Whether a caption states the median correlation of ``other`` with ``reference`` as measured here."""
    r = np.median(agreement(shipped(reference), shipped(other)))
    return any(f"correlation with the image of {reference}" in c and f"{other} {r:.2f}" in c for c in captions(at))


def shipped(name: str):
    return load_checkpoint(vae.paths.CHECKPOINT_DIR / f"{name}.safetensors")


def counts(column: dict) -> tuple[int, int]:
    return tuple(map(int, re.search(r"Below 0: (\d+) .*above 1: (\d+) ", column["counts"]).groups()))


def test_the_explorer_puts_decoders_of_one_encoder_side_by_side_by_default_and_says_so():
    at = run_app()
    assert names(at) == ["mnist-sigmoid-z20", "mnist-raw-z20-on-sigmoid-encoder"]
    assert noted(at, SAME_NOTE) and measured(at, "mnist-sigmoid-z20", "mnist-raw-z20-on-sigmoid-encoder")
    assert panel(at)["query"]["pair"] == "same"
    assert any("only the decoder trained, on the frozen encoder of mnist-sigmoid-z20" in t.value for t in at.text)


@pytest.mark.parametrize("dataset, latent, expected", [
    ("fashion-mnist", None, ["fashion-mnist-sigmoid-z20", "fashion-mnist-raw-z20-on-sigmoid-encoder"]),
    ("mnist", "mnist-sigmoid-z2", ["mnist-sigmoid-z2", "mnist-raw-z2-on-sigmoid-encoder"]),
])
def test_every_shipped_sigmoid_vae_gets_its_paired_raw_decoder(dataset, latent, expected):
    at = run_app()
    at.selectbox(key="dataset").set_value(dataset).run()
    if latent:
        at.selectbox(key="left").set_value(latent).run()
    assert names(at) == expected
    options = at.selectbox(key="right").options
    assert expected[1] in options and all(n.endswith("-on-sigmoid-encoder") for n in options), \
        "the decoders of that encoder only"


def test_the_independent_mode_shows_the_retrained_vaes_with_their_note_from_the_url():
    at = run_app(pair="independent")
    assert names(at) == ["mnist-sigmoid-z20", "mnist-raw-z20"]
    assert noted(at, INDEPENDENT_NOTE) and not noted(at, SAME_NOTE)
    assert measured(at, "mnist-sigmoid-z20", "mnist-raw-z20")
    assert "mnist-raw-z20-on-sigmoid-encoder" not in at.selectbox(key="right").options


def test_start_from_a_digit_encodes_with_each_independent_models_own_encoder():
    at = run_app(pair="independent")
    next(b for b in at.button if b.label == "Start from this digit").click().run()
    x = load_sample().floats()[:1]
    sigmoid, raw = shipped("mnist-sigmoid-z20"), shipped("mnist-raw-z20")
    z = np.asarray(panel(at)["z"])
    np.testing.assert_allclose(z, np.clip(encode_mean(sigmoid, x)[0], -3, 3), atol=0.026)
    left, right = panel(at)["columns"]
    assert left["title"] == sigmoid.head.title
    assert right["title"] == f"{raw.head.title}, from its own encoding of #0"
    own = decode_point(raw, encode_mean(raw, x)[0])
    assert counts(right) == (own.below, own.above) != (decode_point(raw, z).below, decode_point(raw, z).above)

    next(b for b in at.button if b.label == "Reset to 0").click().run()  # a new z drops the own encodings
    assert panel(at)["columns"][1]["title"] == raw.head.title


def test_start_from_a_digit_with_one_encoder_decodes_one_z():
    at = run_app()
    next(b for b in at.button if b.label == "Start from this digit").click().run()
    z = np.asarray(panel(at)["z"])
    right = panel(at)["columns"][1]
    out = decode_point(shipped("mnist-raw-z20-on-sigmoid-encoder"), z)
    assert right["title"] == "Raw (identity) + Gaussian (MSE)" and counts(right) == (out.below, out.above)


def test_the_activation_comparison_lines_up_decoders_of_one_encoder_or_the_independent_vaes():
    at = run_app("app_pages/heads.py")
    table = at.dataframe[0].value
    assert list(table["checkpoint"]) == ["mnist-sigmoid-z20", "mnist-raw-z20-on-sigmoid-encoder",
                                         "mnist-logits-z20-on-sigmoid-encoder",
                                         "mnist-continuous-bernoulli-z20-on-sigmoid-encoder",
                                         "mnist-clamp-z20-on-sigmoid-encoder"]
    assert table["KL"].round(6).nunique() == 1, "one encoder, one KL"
    assert noted(at, SAME_NOTE) and measured(at, "mnist-sigmoid-z20", "mnist-clamp-z20-on-sigmoid-encoder")
    at.radio(key="heads_pair").set_value("independent").run()
    table = at.dataframe[0].value
    assert list(table["checkpoint"]) == ["mnist-sigmoid-z20", "mnist-raw-z20", "mnist-logits-z20",
                                         "mnist-continuous-bernoulli-z20", "mnist-clamp-z20"]
    assert noted(at, INDEPENDENT_NOTE) and measured(at, "mnist-sigmoid-z20", "mnist-logits-z20")


def test_the_latent_map_scatters_one_encoder_or_each_independent_models_own():
    at = run_app("app_pages/latent_map.py")
    assert len(at.get("plotly_chart")) == 1 and noted(at, SAME_NOTE)
    assert measured(at, "mnist-sigmoid-z2", "mnist-raw-z2-on-sigmoid-encoder")
    grids = [img.proto.imgs[0].caption for img in at.get("image")]
    assert any(c.startswith("Raw") for c in grids)
    at.radio(key="map_pair").set_value("independent").run()
    assert len(at.get("plotly_chart")) == 2 and noted(at, INDEPENDENT_NOTE)
    shown = [t.value for t in at.text]
    assert "encoded by mnist-sigmoid-z2" in shown and "encoded by mnist-raw-z2" in shown


def test_the_train_page_trains_a_decoder_on_a_chosen_encoder_which_then_joins_its_pairing(
        tmp_path, small_splits, isolated_user_dir, fresh_runner, monkeypatch):
    data = tmp_path / "data"
    write_mnist_raw(data, *small_splits)
    monkeypatch.setattr(vae.paths, "DEFAULT_DATA_DIR", data)
    at = run_app("app_pages/train.py")
    at.selectbox(key="train_head").set_value("clamp")
    at.selectbox(key="train_latent").set_value(5)  # overridden by the encoder's latent size
    at.selectbox(key="train_encoder").set_value("mnist-sigmoid-z2")
    at.number_input(key="train_epochs").set_value(1)
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.error, [e.value for e in at.error]
    status = fresh_runner.wait(120)
    assert status.state == "done", status.error
    assert status.config.latent == 2 and status.config.encoder_from.endswith("mnist-sigmoid-z2.safetensors")
    saved = load_checkpoint(status.out)
    assert saved.meta.encoder_from.name == "mnist-sigmoid-z2"
    at.run()  # the page sees the finished job and refreshes the catalog

    explorer = run_app()
    explorer.selectbox(key="left").set_value("mnist-sigmoid-z2").run()
    assert f"user/{status.out.stem}" in explorer.selectbox(key="right").options
