"""vae.evaluate: test metrics held to a plain whole-set computation with PyTorch's own functions."""

import pytest
import torch
import torch.nn.functional as F
from backend_fixtures import small_model

from vae.evaluate import evaluate, sampled_elbo
from vae.heads import HEADS, get_head
from vae.model import kl_to_standard_normal


def _reference(model, head, x, seed, batch_size):
    """Every metric computed over the whole set at once; z drawn chunk by chunk as evaluate draws it."""
    with torch.no_grad():
        mu, logvar = model.encode(x)
        gen = torch.Generator().manual_seed(seed)
        eps = torch.cat([torch.randn(mu[i:i + batch_size].shape, generator=gen) for i in range(0, len(x), batch_size)])
        kl = kl_to_standard_normal(mu, logvar)
        pre = model.decode(mu)
        pixels = head.pixels(pre)
        n = len(x)
        return {
            "n_images": n,
            "neg_elbo": float((head.nll(model.decode(mu + torch.exp(0.5 * logvar) * eps), x) + kl).sum()) / n,
            "neg_elbo_mean_z": float((head.nll(pre, x) + kl).sum()) / n,
            "kl": float(kl.sum()) / n,
            "recon_nll": float(head.nll(pre, x).sum()) / n,
            "bce": float(F.binary_cross_entropy(pixels.clamp(0, 1), x, reduction="sum")) / n,
            "mse": float(F.mse_loss(pixels, x, reduction="sum")) / n,
            "frac_below_0": float((pixels < 0).float().mean()),
            "frac_above_1": float((pixels > 1).float().mean()),
            "pixel_min": float(pixels.min()),
            "pixel_max": float(pixels.max()),
        }


@pytest.mark.parametrize("head", list(HEADS))
def test_every_metric_is_the_whole_set_computation(mnist_sample, head):
    x = mnist_sample.as_float()[:250]
    model = small_model(seed=3)
    with torch.no_grad():
        model.fc4.bias.add_(0.6)  # raw pixels then fall on both sides of [0, 1]
    got = evaluate(model, get_head(head), x, seed=5, batch_size=100).to_dict()
    expected = _reference(model, get_head(head), x, seed=5, batch_size=100)
    if head == "raw":
        assert expected["frac_below_0"] > 0 and expected["frac_above_1"] > 0
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-5, abs=1e-7), key


def test_the_epoch_score_is_the_full_scores_sampled_elbo_and_kl(mnist_sample):
    x = mnist_sample.as_float()[:300]
    model, head = small_model(seed=2), get_head("sigmoid")
    quick, full = sampled_elbo(model, head, x, seed=7, batch_size=128), evaluate(model, head, x, seed=7, batch_size=128)
    assert (quick.n_images, quick.neg_elbo, quick.kl) == (full.n_images, full.neg_elbo, full.kl)
    assert sampled_elbo(model, head, x, seed=8, batch_size=128).neg_elbo != quick.neg_elbo  # the seed draws z


def test_evaluation_leaves_the_global_random_stream_alone(mnist_sample):
    x, model, head = mnist_sample.as_float()[:50], small_model(), get_head("sigmoid")
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    evaluate(model, head, x, seed=1)
    sampled_elbo(model, head, x, seed=1)
    assert torch.equal(torch.rand(3), expected)
