"""Serving without torch: the explorer's numpy decoder, heads and chi-squared quantile against
their torch references, frozen checkpoint weights, and a server whose first page
never imports torch (bench/RESULTS.md, cold start and memory)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from backend_fixtures import small_model

import vae.paths
from services.catalog import load_catalog
from services.decoding import decode_points, reconstruct_pixels
from services.latent_geometry import chi2_quantile
from vae.architecture import VAEConfig, decode_arrays, encode_mean_arrays
from vae.checkpoints import Checkpoint, load_checkpoint
from vae.heads import HEADS

ROOT = Path(__file__).resolve().parent.parent


# --- the decoder ------------------------------------------------------------------------------

@pytest.mark.parametrize("latent,hidden", [(2, 8), (20, 400), (128, 64)])
def test_numpy_decoder_is_the_torch_decoder(latent, hidden):
    model = small_model(latent=latent, hidden=hidden, seed=3).eval()
    weights = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    z = np.random.default_rng(0).standard_normal((50, latent)).astype(np.float32)
    with torch.no_grad():
        expected = model.decode(torch.from_numpy(z)).numpy()
    got = decode_arrays(weights, z)
    assert got.dtype == np.float32 and got.shape == (50, 784)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("latent,hidden", [(2, 8), (20, 400)])
def test_numpy_encoder_mean_is_the_torch_encoders(latent, hidden, mnist_sample):
    model = small_model(latent=latent, hidden=hidden, seed=4).eval()
    weights = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    x = mnist_sample.floats()[:64]
    with torch.no_grad():
        expected, _ = model.encode(torch.from_numpy(x))
    got = encode_mean_arrays(weights, x)
    assert got.dtype == np.float32 and got.shape == (64, latent)
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-5, atol=1e-5)


def test_every_shipped_checkpoint_decodes_in_numpy_to_its_torch_pixels():
    catalog = load_catalog(user=ROOT / "no-such-folder")
    assert len(catalog.checkpoints) >= 9 and not catalog.errors
    for name, ckpt in catalog.checkpoints.items():
        z = np.random.default_rng(1).standard_normal((32, ckpt.config.latent)).astype(np.float32) * 2
        with torch.inference_mode():
            pre = ckpt.model.decode(torch.from_numpy(z))
            expected = ckpt.head.pixels(pre).numpy()
        pixels = np.stack([d.pixels for d in decode_points(ckpt, z)])
        np.testing.assert_allclose(pixels, expected, rtol=1e-4, atol=1e-5, err_msg=name)
        # the counts the app shows agree too (values at exactly 0 or 1 are not "outside")
        assert (pixels < 0).sum() == (expected < 0).sum() and (pixels > 1).sum() == (expected > 1).sum(), name


def test_reconstructing_the_sample_in_numpy_gives_the_torch_pixels(mnist_sample):
    ckpt = load_catalog(user=ROOT / "no-such-folder").checkpoints["mnist-continuous-bernoulli-z20"]
    x = mnist_sample.floats()[:300]
    with torch.inference_mode():
        mu, _ = ckpt.model.encode(torch.from_numpy(x))
        expected = ckpt.head.pixels(ckpt.model.decode(mu)).numpy()
    got = reconstruct_pixels(ckpt, x, batch_size=128)  # batches that do not divide 300
    assert got.shape == (300, 784)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_the_parameter_count_is_the_models():
    for cfg in (VAEConfig(), VAEConfig(latent=2, hidden=8)):
        model = small_model(latent=cfg.latent, hidden=cfg.hidden)
        assert cfg.parameter_count() == sum(p.numel() for p in model.parameters())
    assert VAEConfig().parameter_count() == 652_824  # the classic 784-400-20 model


# --- heads --------------------------------------------------------------------------------------

LOGITS = np.concatenate([np.linspace(-30, 30, 2001), [-1e4, -100, -88.8, -0.006, 0.0, 0.006, 88.8, 100, 1e4]]
                        ).astype(np.float32)


@pytest.mark.parametrize("name", list(HEADS))
def test_numpy_pixels_are_the_torch_pixels_for_every_head(name):
    head = HEADS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow or divide-by-zero warnings at extreme logits
        got = head.pixels_np(LOGITS)
    expected = head.pixels(torch.from_numpy(LOGITS)).numpy()
    assert got.dtype == np.float32 and got.shape == LOGITS.shape
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
    if head.bounded:
        assert got.min() >= 0 and got.max() <= 1


# --- the chi-squared quantile behind the "far outside the prior" warning -------------------------

@pytest.mark.parametrize("df", [1, 2, 3, 7, 20, 50, 128])
def test_chi2_quantile_leaves_about_one_in_a_thousand_prior_draws_above_it(df):
    tail = 1 - float(torch.special.gammainc(torch.tensor(df / 2, dtype=torch.float64),
                                            torch.tensor(chi2_quantile(df) / 2, dtype=torch.float64)))
    assert 0.0007 < tail < 0.0011


# --- checkpoints as served ------------------------------------------------------------------------

@pytest.fixture
def fresh():
    return load_checkpoint(vae.paths.CHECKPOINT_DIR / "mnist-sigmoid-z20.safetensors")


def test_served_weights_are_frozen_float32_arrays(fresh: Checkpoint):
    assert set(fresh.weights) == set(fresh.config.parameter_shapes())
    for key, value in fresh.weights.items():
        assert value.dtype == np.float32 and value.flags.c_contiguous, key
        with pytest.raises(ValueError, match="read-only"):
            value[...] = 0


def test_the_torch_model_is_built_once_however_many_threads_ask(fresh: Checkpoint):
    assert not fresh.model_is_built  # not built by loading
    start, seen = threading.Barrier(8), []

    def ask() -> None:
        start.wait()
        seen.append(fresh.model)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(m) for m in seen}) == 1
    model = seen[0]
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    for key, value in model.state_dict().items():
        assert np.array_equal(value.numpy(), fresh.weights[key]), key


_EXPLORER_WITHOUT_TORCH = """
import sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file({app!r}, default_timeout=60).run()
assert not at.exception, [e.value for e in at.exception]
assert at.get("bidi_component"), "the explorer's panel was not drawn"
next(b for b in at.button if b.label == "Start from this digit").click().run()  # encodes a digit
assert not at.exception, [e.value for e in at.exception]
at.switch_page("app_pages/latent_map.py").run()  # encodes the sample, decodes a grid
assert not at.exception and at.get("plotly_chart"), [e.value for e in at.exception]
at.switch_page("app_pages/heads.py").run()  # decodes with every head
assert not at.exception, [e.value for e in at.exception]
print("torch imported:", "torch" in sys.modules)
import torch  # now, as the other pages do: the server's one-thread setting must reach it
print("torch threads:", torch.get_num_threads())
"""


def test_the_explorer_latent_map_and_head_comparison_are_served_without_importing_torch():
    code = _EXPLORER_WITHOUT_TORCH.format(app=str(ROOT / "app.py"))
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "torch imported: False" in out.stdout
    assert "torch threads: 1" in out.stdout
