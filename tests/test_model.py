"""vae.model: the classic pytorch/examples MLP VAE, with the decoder stopping before the sigmoid."""

import pytest
import torch
from backend_fixtures import ClassicVAE, classic_loss_function
from torch.distributions import Normal, kl_divergence

from vae.heads import HEADS
from vae.model import INPUT_DIM, VAE, VAEConfig, kl_to_standard_normal

CLASSIC_PARAMETER_NAMES = [
    "fc1.weight", "fc1.bias", "fc21.weight", "fc21.bias", "fc22.weight", "fc22.bias",
    "fc3.weight", "fc3.bias", "fc4.weight", "fc4.bias",
]


@pytest.mark.parametrize("latent", [20, 2])
def test_encode_decode_and_forward_have_the_classic_shapes(latent):
    torch.manual_seed(0)
    model = VAE(VAEConfig(latent=latent))
    x = torch.rand(5, INPUT_DIM)

    mu, logvar = model.encode(x)
    assert mu.shape == (5, latent) and logvar.shape == (5, latent)
    assert model.decode(mu).shape == (5, INPUT_DIM)

    pre, mu_f, logvar_f = model(x.view(5, 1, 28, 28))  # forward flattens image-shaped input
    assert pre.shape == (5, INPUT_DIM)
    assert torch.equal(mu_f, mu) and torch.equal(logvar_f, logvar)


def test_parameter_names_and_count_match_the_classic_example():
    model = VAE()
    assert [name for name, _ in model.named_parameters()] == CLASSIC_PARAMETER_NAMES
    assert sum(p.numel() for p in model.parameters()) == 652_824
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == model.config.parameter_shapes()


@pytest.mark.parametrize("latent,hidden", [(2, 400), (7, 16)])
def test_parameter_shapes_describe_the_built_model(latent, hidden):
    model = VAE(VAEConfig(latent=latent, hidden=hidden))
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == model.config.parameter_shapes()


def test_classic_state_dict_loads_into_ours_and_decode_is_the_classic_decode_before_its_sigmoid():
    torch.manual_seed(1)
    classic = ClassicVAE()
    ours = VAE()
    ours.load_state_dict(classic.state_dict(), strict=True)
    z = torch.randn(8, 20)

    pre = ours.decode(z)
    assert torch.equal(torch.sigmoid(pre), classic.decode(z))
    assert (pre < 0).any() and (pre > 0).any()  # pre-activation values, not probabilities

    x = torch.rand(8, INPUT_DIM)
    for a, b in zip(ours.encode(x), classic.encode(x)):
        assert torch.equal(a, b)


def test_our_state_dict_loads_into_the_classic_class():
    torch.manual_seed(2)
    ours = VAE()
    classic = ClassicVAE()
    classic.load_state_dict(ours.state_dict(), strict=True)
    z = torch.randn(4, 20)
    assert torch.equal(classic.decode(z), torch.sigmoid(ours.decode(z)))


def test_forward_with_the_sigmoid_head_gives_the_classic_loss(mnist_sample):
    torch.manual_seed(3)
    classic = ClassicVAE()
    ours = VAE()
    ours.load_state_dict(classic.state_dict())
    x = mnist_sample.as_float()[:64]

    torch.manual_seed(4)
    recon, mu, logvar = classic(x)
    expected = classic_loss_function(recon, x, mu, logvar)

    torch.manual_seed(4)  # same epsilon draw
    pre, mu2, logvar2 = ours(x)
    ours_loss = HEADS["sigmoid"].nll(pre, x).sum() + kl_to_standard_normal(mu2, logvar2).sum()

    torch.testing.assert_close(ours_loss, expected, rtol=1e-5, atol=1e-3)


def test_reparameterize_returns_the_mean_when_the_variance_is_zero():
    mu = torch.randn(3, 20)
    assert torch.equal(VAE.reparameterize(mu, torch.full_like(mu, -1e4)), mu)


def test_reparameterize_lets_gradients_flow_to_mu_and_logvar():
    mu = torch.zeros(2, 4, requires_grad=True)
    logvar = torch.zeros(2, 4, requires_grad=True)
    VAE.reparameterize(mu, logvar).pow(2).sum().backward()
    assert mu.grad is not None and logvar.grad is not None
    assert logvar.grad.abs().sum() > 0


@pytest.mark.parametrize("kwargs", [
    {"latent": 0}, {"latent": 129}, {"latent": 1000}, {"latent": -2}, {"latent": 2.0},
    {"latent": True}, {"latent": "20"}, {"hidden": 4}, {"hidden": 5000},
])
def test_config_rejects_unsupported_sizes(kwargs):
    with pytest.raises(ValueError, match="not supported"):
        VAEConfig(**kwargs)


@pytest.mark.parametrize("latent", [1, 2, 20, 128])
def test_config_accepts_latent_sizes_in_range(latent):
    assert VAEConfig(latent=latent).latent == latent


def test_kl_to_standard_normal_equals_torch_distributions_kl():
    torch.manual_seed(5)
    mu = torch.randn(6, 20, dtype=torch.float64) * 2
    logvar = torch.randn(6, 20, dtype=torch.float64) * 2
    reference = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)).sum(-1)
    torch.testing.assert_close(kl_to_standard_normal(mu, logvar), reference)


def test_kl_is_zero_for_the_prior_itself():
    assert torch.equal(kl_to_standard_normal(torch.zeros(2, 5), torch.zeros(2, 5)), torch.zeros(2))
