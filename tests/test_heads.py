"""vae.heads: each output head against the reference computation in PyTorch (and FACTS.md)."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.distributions import ContinuousBernoulli, Normal

from vae.heads import GAUSSIAN_SIGMA, HEADS, get_head

D = 784
ALL_HEADS = ["sigmoid", "raw", "logits", "continuous-bernoulli", "clamp"]
BOUNDED_HEADS = ["sigmoid", "logits", "continuous-bernoulli", "clamp"]


@pytest.fixture
def batch(mnist_sample):
    """Pre-activations away from 0 (|pre| in [0.1, 8]) and real pixel targets in [0, 1]."""
    gen = torch.Generator().manual_seed(0)
    x = mnist_sample.as_float()[:4]
    magnitude = 0.1 + 7.9 * torch.rand(4, D, generator=gen)
    sign = torch.where(torch.rand(4, D, generator=gen) < 0.5, -1.0, 1.0)
    return magnitude * sign, x


def _log_C(lam: torch.Tensor) -> torch.Tensor:
    """log of the continuous-Bernoulli normaliser C(lambda) = 2 atanh(1 - 2 lambda) / (1 - 2 lambda)."""
    return torch.log(2 * torch.atanh(1 - 2 * lam) / (1 - 2 * lam))


def _cb_mean(lam: torch.Tensor) -> torch.Tensor:
    """mu(lambda) = lambda / (2 lambda - 1) + 1 / (2 atanh(1 - 2 lambda))."""
    return lam / (2 * lam - 1) + 1 / (2 * torch.atanh(1 - 2 * lam))


# --- the registry -------------------------------------------------------------------------

def test_registry_holds_exactly_the_five_heads():
    assert sorted(HEADS) == sorted(ALL_HEADS)
    for name, head in HEADS.items():
        assert head.name == name
        assert get_head(name) is head


def test_only_the_raw_head_is_unbounded():
    assert sorted(name for name, head in HEADS.items() if head.bounded) == sorted(BOUNDED_HEADS)


def test_the_heads_whose_decoder_outputs_logits_are_the_sigmoid_based_ones():
    # the explorer shows these logits with the sigmoid curve that maps them into (0, 1)
    assert sorted(n for n, head in HEADS.items() if head.logit_output) == ["continuous-bernoulli", "logits", "sigmoid"]
    for name in ("sigmoid", "logits", "continuous-bernoulli"):
        assert HEADS[name].pixels_np(np.float32(0.0)) == 0.5 and HEADS[name].pixels_np(np.float32(-30.0)) < 0.05


def test_unknown_head_raises_value_error_listing_the_known_heads():
    with pytest.raises(ValueError, match="nope") as info:
        get_head("nope")
    for name in ALL_HEADS:
        assert name in str(info.value)


# --- each likelihood against its reference --------------------------------------------------

def test_sigmoid_head_nll_is_bce_on_sigmoid_outputs(batch):
    pre, x = batch
    expected = F.binary_cross_entropy(torch.sigmoid(pre), x, reduction="none").sum(-1)
    torch.testing.assert_close(HEADS["sigmoid"].nll(pre, x), expected)


def test_sigmoid_head_gradient_is_pytorchs_bce_gradient_bit_for_bit_even_when_saturated():
    # The head computes BCE with PyTorch's formulas in vectorised ops (vae.bce.ClassicBCE).
    torch.manual_seed(0)
    pre = torch.cat([torch.randn(64, 700) * 4, torch.full((64, 42), 40.0), torch.full((64, 42), -120.0)], 1)
    x = torch.rand(64, 784).round() * torch.rand(64, 784)
    ours, reference = pre.clone().requires_grad_(), pre.clone().requires_grad_()
    HEADS["sigmoid"].nll(ours, x).sum().backward()
    F.binary_cross_entropy(torch.sigmoid(reference), x, reduction="sum").backward()
    assert torch.equal(ours.grad, reference.grad)
    assert torch.isfinite(ours.grad).all(), "saturated sigmoids: zero gradient, never NaN"
    expected = F.binary_cross_entropy(torch.sigmoid(pre), x, reduction="none")
    torch.testing.assert_close(HEADS["sigmoid"].nll(pre, x), expected.sum(-1))


def test_sigmoid_head_scores_nan_outputs_as_nan_instead_of_raising(batch):
    # F.binary_cross_entropy itself refuses NaN; a diverged model must give a NaN loss
    pre, x = batch
    pre = pre.clone()
    pre[1, 5] = float("nan")
    nll = HEADS["sigmoid"].nll(pre, x)
    assert torch.isnan(nll[1])
    expected = F.binary_cross_entropy(torch.sigmoid(pre[[0, 2, 3]]), x[[0, 2, 3]], reduction="none").sum(-1)
    torch.testing.assert_close(nll[[0, 2, 3]], expected)


@pytest.mark.parametrize("name", ALL_HEADS)
def test_every_head_scores_nan_outputs_as_nan(name, batch):
    pre, x = batch
    pre = pre.clone()
    pre[0, 0] = float("nan")
    assert torch.isnan(HEADS[name].nll(pre, x)[0])


def test_raw_head_nll_is_a_gaussian_with_variance_one_half(batch):
    pre, x = batch
    assert GAUSSIAN_SIGMA == pytest.approx(math.sqrt(0.5))
    expected = -Normal(pre, math.sqrt(0.5)).log_prob(x).sum(-1)
    torch.testing.assert_close(HEADS["raw"].nll(pre, x), expected)


def test_raw_head_nll_is_summed_squared_error_plus_a_constant(batch):
    pre, x = batch
    sse = ((pre.double() - x.double()) ** 2).sum(-1)
    expected = sse + D * 0.5 * math.log(math.pi)
    torch.testing.assert_close(HEADS["raw"].nll(pre, x).double(), expected, rtol=1e-5, atol=1e-3)


def test_logits_head_nll_is_bce_with_logits(batch):
    pre, x = batch
    expected = F.binary_cross_entropy_with_logits(pre, x, reduction="none").sum(-1)
    torch.testing.assert_close(HEADS["logits"].nll(pre, x), expected)


def test_logits_head_equals_the_sigmoid_head_for_moderate_logits(batch):
    pre, x = batch
    pre = pre.clamp(-5, 5)
    torch.testing.assert_close(HEADS["logits"].nll(pre, x), HEADS["sigmoid"].nll(pre, x), rtol=1e-5, atol=1e-3)


def test_continuous_bernoulli_head_nll_is_the_torch_distribution(batch):
    pre, x = batch
    expected = -ContinuousBernoulli(logits=pre).log_prob(x).sum(-1)
    torch.testing.assert_close(HEADS["continuous-bernoulli"].nll(pre, x), expected)


def test_continuous_bernoulli_nll_is_bce_with_logits_minus_log_normaliser(batch):
    pre, x = batch
    pre64, x64 = pre.double(), x.double()
    lam = torch.sigmoid(pre64)
    expected = (F.binary_cross_entropy_with_logits(pre64, x64, reduction="none") - _log_C(lam)).sum(-1)
    torch.testing.assert_close(HEADS["continuous-bernoulli"].nll(pre, x).double(), expected, rtol=1e-5, atol=1e-3)
    # log C > 0 away from lambda = 1/2, so the normalised likelihood is below BCE
    assert (HEADS["continuous-bernoulli"].nll(pre, x) < HEADS["logits"].nll(pre, x)).all()


def test_normaliser_formula_gives_two_at_one_half():
    lam = torch.tensor([0.5 - 1e-7, 0.5 + 1e-7], dtype=torch.float64)
    torch.testing.assert_close(torch.exp(_log_C(lam)), torch.tensor([2.0, 2.0], dtype=torch.float64))


def test_clamp_head_nll_is_a_gaussian_on_clamped_outputs(batch):
    pre, x = batch
    pre = pre / 4  # many values inside [0, 1], many outside
    expected = -Normal(pre.clamp(0, 1), math.sqrt(0.5)).log_prob(x).sum(-1)
    torch.testing.assert_close(HEADS["clamp"].nll(pre, x), expected)


def test_clamp_head_passes_no_gradient_for_outputs_outside_0_1():
    pre = torch.tensor([[-0.5, -3.0, 0.3, 0.7, 1.5, 4.0]], requires_grad=True)
    x = torch.full((1, 6), 0.5)
    HEADS["clamp"].nll(pre, x).sum().backward()
    outside = torch.tensor([[True, True, False, False, True, True]])
    assert torch.all(pre.grad[outside] == 0)
    assert torch.all(pre.grad[~outside] != 0)


def test_sigmoid_head_still_passes_gradient_where_clamp_does_not():
    pre = torch.tensor([[-0.5, 1.5]], requires_grad=True)
    HEADS["sigmoid"].nll(pre, torch.full((1, 2), 0.5)).sum().backward()
    assert torch.all(pre.grad != 0)


# --- what BCE says about each head's output -------------------------------------------------

@pytest.mark.parametrize("name", ["raw", "logits"])
def test_bce_refuses_identity_outputs_outside_0_1(name):
    pre = torch.tensor([[-0.3, 0.5, 1.2]])
    message = HEADS[name].bce_error(pre, torch.full((1, 3), 0.5))
    assert message is not None and "between 0 and 1" in message
    assert "\n" not in message


@pytest.mark.parametrize("name", ["sigmoid", "continuous-bernoulli", "clamp"])
def test_bce_accepts_outputs_of_squashing_heads(name):
    pre = torch.tensor([[-1e4, -0.3, 0.5, 1.2, 1e4]])
    assert HEADS[name].bce_error(pre, torch.full((1, 5), 0.5)) is None


def test_bce_error_is_none_for_raw_outputs_that_happen_to_lie_in_0_1():
    assert HEADS["raw"].bce_error(torch.tensor([[0.0, 0.4, 1.0]]), torch.full((1, 3), 0.5)) is None


# --- the logit-20 fact (FACTS.md) ----------------------------------------------------------

def test_float32_sigmoid_saturates_to_exactly_one_near_logit_17():
    assert torch.sigmoid(torch.tensor(16.0)).item() < 1.0
    assert torch.sigmoid(torch.tensor(18.0)).item() == 1.0


def test_at_logit_20_sigmoid_bce_costs_100_with_zero_gradient():
    pre = torch.tensor([[20.0]], requires_grad=True)
    loss = HEADS["sigmoid"].nll(pre, torch.zeros(1, 1))
    loss.sum().backward()
    assert loss.item() == 100.0  # log term clamped at -100
    assert pre.grad.item() == 0.0  # the saturated sigmoid blocks the gradient


def test_at_logit_20_bce_with_logits_costs_20_with_gradient_one():
    pre = torch.tensor([[20.0]], requires_grad=True)
    loss = HEADS["logits"].nll(pre, torch.zeros(1, 1))
    loss.sum().backward()
    assert loss.item() == pytest.approx(20.0)
    assert pre.grad.item() == pytest.approx(1.0)


# --- pixels -----------------------------------------------------------------------------

EXTREME = torch.tensor([[-1e4, -100.0, -20.0, -1.0, 0.0, 1.0, 20.0, 100.0, 1e4]])


@pytest.mark.parametrize("name", BOUNDED_HEADS)
def test_pixels_of_bounded_heads_stay_in_0_1_for_extreme_logits(name):
    pixels = HEADS[name].pixels(EXTREME)
    assert pixels.shape == EXTREME.shape and pixels.dtype == EXTREME.dtype
    assert torch.isfinite(pixels).all()
    assert pixels.min() >= 0 and pixels.max() <= 1


def test_raw_head_pixels_are_the_decoder_output_unchanged():
    assert torch.equal(HEADS["raw"].pixels(EXTREME), EXTREME)


def test_logits_head_shows_sigmoid_pixels_but_outputs_raw_logits():
    assert torch.equal(HEADS["logits"].pixels(EXTREME), torch.sigmoid(EXTREME))
    assert torch.equal(HEADS["logits"].output(EXTREME), EXTREME)


def test_continuous_bernoulli_pixels_are_its_mean_not_lambda():
    # includes logits of +-0.006 (lambda = 0.4985), just outside torch's float32 Taylor window
    pre = torch.tensor([-20.0, -8.0, -3.0, -1.0, -0.2, -0.006, 0.006, 0.2, 1.0, 3.0, 8.0, 20.0])
    expected = _cb_mean(torch.sigmoid(pre.double()))
    pixels = HEADS["continuous-bernoulli"].pixels(pre)
    assert pixels.dtype == torch.float32
    torch.testing.assert_close(pixels.double(), expected, rtol=0, atol=1e-6)
    assert not torch.allclose(pixels, torch.sigmoid(pre), atol=1e-2)


def test_continuous_bernoulli_mean_is_one_half_at_logit_zero():
    assert HEADS["continuous-bernoulli"].pixels(torch.zeros(3)).tolist() == pytest.approx([0.5] * 3)
