"""The hand-written training step (vae.step) against autograd and torch.optim.Adam on the nn.Module."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vae.architecture import INPUT_DIM
from vae.checkpoints import ENCODER_KEYS
from vae.heads import HEADS
from vae.model import VAE, VAEConfig, kl_to_standard_normal
from vae.step import AutogradStep, FlatAdam, TrainStep

ROOT = Path(__file__).resolve().parent.parent
CONFIG = VAEConfig(latent=5, hidden=32)
# The step is plain torch ops: it runs wherever train() does (CUDA checked where a GPU is present).
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def twin_models(seed: int = 0, device: str = "cpu") -> tuple[VAE, VAE]:
    torch.manual_seed(seed)
    reference = VAE(CONFIG)
    model = VAE(CONFIG)
    model.load_state_dict(reference.state_dict())
    return reference.to(device), model.to(device)


def images(n: int = 64, seed: int = 1, device: str = "cpu") -> torch.Tensor:
    # Mostly 0 and 1 like MNIST, with grey values between.
    x = torch.rand(n, INPUT_DIM, generator=torch.Generator().manual_seed(seed))
    return torch.where(x < 0.6, 0.0, torch.where(x > 0.8, 1.0, x)).to(device)


def autograd_loss(model: VAE, head, x: torch.Tensor) -> torch.Tensor:
    pre, mu, logvar = model(x)
    return head.nll(pre, x).sum() + kl_to_standard_normal(mu, logvar).sum()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("train_encoder", [True, False], ids=["whole VAE", "decoder only"])
@pytest.mark.parametrize("head", HEADS.values(), ids=list(HEADS))
def test_one_step_has_the_loss_and_every_gradient_autograd_gives(head, train_encoder, device):
    reference, model = twin_models(device=device)
    if not train_encoder:
        for name in ENCODER_KEYS:
            reference.get_parameter(name).requires_grad_(False)
    step = TrainStep(model, head, lr=1e-3, train_encoder=train_encoder)
    x = images(device=device)
    torch.manual_seed(7)  # the same draw of eps for both
    expected = autograd_loss(reference, head, x)  # with a frozen encoder the KL is a constant
    expected.backward()
    torch.manual_seed(7)
    loss, saved = step.forward(x)
    step.backward(saved)
    assert loss == pytest.approx(expected.item(), rel=1e-6)
    for name, param in reference.named_parameters():
        if param.grad is None:  # a frozen encoder: the step leaves its gradient zero
            assert not step.g[name].any(), name
            continue
        scale = param.grad.abs().max().item()
        torch.testing.assert_close(step.g[name], param.grad, rtol=1e-4, atol=1e-4 * scale, msg=name)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("train_encoder", [True, False], ids=["whole VAE", "decoder only"])
@pytest.mark.parametrize("head", ["sigmoid", "raw"])
def test_a_run_of_steps_follows_the_autograd_step_on_the_module(head, train_encoder, device):
    reference, model = twin_models(device=device)
    initial = twin_models()[0].state_dict()
    by_autograd = AutogradStep(reference, HEADS[head], lr=1e-3, train_encoder=train_encoder)
    step = TrainStep(model, HEADS[head], lr=1e-3, train_encoder=train_encoder)
    for i in range(20):
        x = images(seed=i, device=device)
        torch.manual_seed(100 + i)
        expected = by_autograd(x)
        torch.manual_seed(100 + i)
        assert step(x) == pytest.approx(expected, rel=1e-4)
    # The module shows the trained weights (its parameters view the step's flat buffer).
    for (name, trained), (_, ref) in zip(model.named_parameters(), reference.named_parameters()):
        learns = train_encoder or name.startswith(("fc3.", "fc4."))
        assert torch.equal(trained.cpu(), initial[name]) is not learns, name
        torch.testing.assert_close(trained, ref, rtol=1e-4, atol=1e-5, msg=name)


def test_weights_loaded_into_the_module_are_the_ones_the_step_trains():
    # What --resume relies on: load_state_dict writes through to the flat buffer.
    source, model = twin_models(seed=3)
    step = TrainStep(model, HEADS["sigmoid"], lr=1e-3)
    other = VAE(CONFIG)
    model.load_state_dict(other.state_dict())
    for name, param in other.named_parameters():
        assert torch.equal(step.w[name], param.detach()), name


def test_a_non_finite_loss_is_returned_and_leaves_the_weights_untouched():
    _, model = twin_models()
    step = TrainStep(model, HEADS["sigmoid"], lr=1e-3)
    before = step.flat.detach().clone()
    x = images()
    x[3, 5] = float("nan")
    assert math.isnan(step(x))
    assert torch.equal(step.flat.detach(), before)
    assert math.isfinite(step(images()))
    assert not torch.equal(step.flat.detach(), before)


def test_a_model_with_other_parameters_is_refused():
    model = VAE(CONFIG)
    model.extra = torch.nn.Linear(2, 2)
    with pytest.raises(ValueError, match="fc1.weight"):
        TrainStep(model, HEADS["sigmoid"], lr=1e-3)


def test_flat_adam_updates_exactly_as_torch_optim_adam():
    torch.manual_seed(0)
    start = torch.randn(1000)
    reference = torch.nn.Parameter(start.clone())
    by_torch = torch.optim.Adam([reference], lr=3e-3, fused=True)
    param, grad = start.clone(), torch.zeros(1000)
    ours = FlatAdam(param, grad, lr=3e-3)
    for _ in range(10):
        g = torch.randn(1000)
        reference.grad = g.clone()
        grad.copy_(g)
        by_torch.step()
        ours.step()
    assert torch.equal(param, reference.detach())
    state = by_torch.state_dict()["state"][0]
    assert torch.equal(ours.exp_avg, state["exp_avg"]) and torch.equal(ours.exp_avg_sq, state["exp_avg_sq"])
    assert float(ours.steps) == float(state["step"]) == 10


def test_flat_adam_state_continues_a_run_and_refuses_another_size():
    torch.manual_seed(1)
    grads = [torch.randn(50) for _ in range(6)]
    straight = FlatAdam(torch.zeros(50), torch.zeros(50), lr=1e-2)
    for g in grads:
        straight.grad.copy_(g)
        straight.step()
    first = FlatAdam(torch.zeros(50), torch.zeros(50), lr=1e-2)
    for g in grads[:3]:
        first.grad.copy_(g)
        first.step()
    second = FlatAdam(first.param.clone(), torch.zeros(50), lr=1e-2)
    second.load_state_dict(first.state_dict())
    for g in grads[3:]:
        second.grad.copy_(g)
        second.step()
    assert torch.equal(second.param, straight.param)
    with pytest.raises(ValueError, match="shape"):
        FlatAdam(torch.zeros(49), torch.zeros(49), lr=1e-2).load_state_dict(first.state_dict())
    with pytest.raises(ValueError, match="flat Adam"):
        FlatAdam(torch.zeros(50), torch.zeros(50), lr=1e-2).load_state_dict(torch.optim.Adam([torch.nn.Parameter(
            torch.zeros(50))]).state_dict())


def test_a_training_step_is_built_without_importing_torch_dynamo():
    # any torch.optim.Optimizer imports torch._dynamo (~1.1 s of a training run's start-up)
    code = ("import sys; from vae.model import VAE, VAEConfig; from vae.heads import HEADS; "
            "from vae.step import TrainStep; s = TrainStep(VAE(VAEConfig()), HEADS['sigmoid'], 1e-3); "
            "s(__import__('torch').rand(8, 784)); print('torch._dynamo' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
