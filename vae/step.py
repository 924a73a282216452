"""One training step of the MLP VAE, its backward pass written out by hand.

Why not ``loss.backward()``: at batch 128 on a CPU the GEMMs were 57% of an autograd
step; the rest was autograd's graph and per-step buffers, fresh gradient
tensors and a Python optimizer loop over ten parameters (bench/RESULTS.md, training).
Here all weights live in one flat buffer that the model's parameters view, the
gradient GEMMs write straight into a matching flat gradient buffer, ``fc21`` and
``fc22`` run as one product, and one fused Adam (:class:`FlatAdam`) updates the whole buffer in a pass.

The likelihood is still the head's own: autograd differentiates ``head.nll`` with
respect to the decoder's output alone, so every head trains on exactly the loss
defined in :mod:`vae.heads`. The rest is the chain rule through the network of
:class:`vae.model.VAE` (Kingma & Welling 2014, Appendix B for the KL term); the tests
hold every gradient and a run of steps to autograd through the ``nn.Module``.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch
from torch.optim.adam import adam

from .heads import Head
from .model import VAE, kl_to_standard_normal

# Flat-buffer order: fc21 and fc22 adjacent (weights, then biases) so that together
# they are one (2 * latent) x hidden layer, i.e. one GEMM each way.
_LAYOUT = ("fc1.weight", "fc1.bias", "fc21.weight", "fc22.weight", "fc21.bias", "fc22.bias",
           "fc3.weight", "fc3.bias", "fc4.weight", "fc4.bias")


class _Saved(NamedTuple):
    """The forward pass's tensors that the backward pass reads."""

    x: torch.Tensor
    h1: torch.Tensor
    mu: torch.Tensor
    logvar: torch.Tensor
    std: torch.Tensor
    eps: torch.Tensor
    z: torch.Tensor
    h3: torch.Tensor
    pre: torch.Tensor
    nll: torch.Tensor


class TrainStep:
    """Adam steps on ``model`` with ``head``'s likelihood; call it with a batch of flattened images.

    The model's parameters are re-homed into one flat buffer (their values kept), so the
    model always shows the trained weights: save it, evaluate it, ``load_state_dict`` into it.

    With ``train_encoder=False`` only the decoder (fc3, fc4) learns: z is still drawn from
    q(z|x) of the encoder as it is, the backward pass stops at fc3, the encoder's gradients
    stay zero and Adam holds only the decoder's slice of the buffer, so the encoder's
    weights are never written. The KL term is then a constant of the batch: reported in the
    loss, not trained on.
    """

    def __init__(self, model: VAE, head: Head, lr: float, train_encoder: bool = True) -> None:
        self.model, self.head, self.train_encoder = model, head, train_encoder
        params = dict(model.named_parameters())
        if sorted(params) != sorted(_LAYOUT):
            raise ValueError(f"TrainStep needs exactly the parameters {', '.join(_LAYOUT)}")
        first = params["fc1.weight"]
        sizes = [params[k].numel() for k in _LAYOUT]
        self.flat = torch.nn.Parameter(torch.empty(sum(sizes), dtype=first.dtype, device=first.device))
        self.flat.grad = torch.zeros_like(self.flat)
        w, g = self.flat.detach(), self.flat.grad
        self.w: dict[str, torch.Tensor] = {}  # weights, as views of the flat buffer
        self.g: dict[str, torch.Tensor] = {}  # their gradients, as views of the flat gradient
        offsets = {}
        start = 0
        for name, size in zip(_LAYOUT, sizes):
            param = params[name]
            offsets[name] = start
            self.w[name] = w[start:start + size].view_as(param)
            self.g[name] = g[start:start + size].view_as(param)
            self.w[name].copy_(param.detach())
            param.data = self.w[name]  # the module now reads and shows the flat buffer
            start += size
        z2, hidden = 2 * model.config.latent, model.config.hidden
        w2, b2 = offsets["fc21.weight"], offsets["fc21.bias"]
        self.w["fc2.weight"], self.g["fc2.weight"] = (t[w2:w2 + z2 * hidden].view(z2, hidden) for t in (w, g))
        self.w["fc2.bias"], self.g["fc2.bias"] = (t[b2:b2 + z2] for t in (w, g))
        # Without the encoder only fc3 and fc4 learn: they sit last in the layout, so the decoder
        # is one contiguous tail of the buffer (and of its gradient), stepped in place.
        first_trained = 0 if train_encoder else offsets["fc3.weight"]
        self.optimizer = FlatAdam(w[first_trained:], g[first_trained:], lr=lr)

    def __call__(self, x: torch.Tensor) -> float:
        """One step on the batch ``x`` (n x 784); returns its summed negative ELBO in nats.

        A non-finite loss is returned without touching the weights, so the caller can stop
        with the model as it was after the last good step.
        """
        loss, saved = self.forward(x)
        if math.isfinite(loss):
            self.backward(saved)
            self.optimizer.step()
        return loss

    def gradient(self) -> torch.Tensor:
        """The last step's gradient, all parameters in one flat tensor (the buffer itself, not a copy)."""
        assert self.flat.grad is not None  # set in __init__, written in place by every step
        return self.flat.grad

    def forward(self, x: torch.Tensor) -> tuple[float, _Saved]:
        """The batch's summed negative ELBO and what :meth:`backward` needs (VAE.forward's ops and random draw)."""
        w, latent = self.w, self.model.config.latent
        h1 = torch.addmm(w["fc1.bias"], x, w["fc1.weight"].t()).relu_()
        stats = torch.addmm(w["fc2.bias"], h1, w["fc2.weight"].t())
        mu, logvar = stats[:, :latent], stats[:, latent:]
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        z = mu + std * eps
        h3 = torch.addmm(w["fc3.bias"], z, w["fc3.weight"].t()).relu_()
        pre = torch.addmm(w["fc4.bias"], h3, w["fc4.weight"].t()).requires_grad_()
        nll = self.head.nll(pre, x).sum()
        loss = (nll.detach() + kl_to_standard_normal(mu, logvar).sum()).item()
        return loss, _Saved(x, h1, mu, logvar, std, eps, z, h3, pre, nll)

    def backward(self, s: _Saved) -> None:
        """Write the gradient of the loss into the flat gradient buffer."""
        w, g = self.w, self.g
        # d(nll)/d(pre) from the head's own loss; the rest by the chain rule.
        (d_pre,) = torch.autograd.grad(s.nll, s.pre)
        torch.mm(d_pre.t(), s.h3, out=g["fc4.weight"])
        torch.sum(d_pre, 0, out=g["fc4.bias"])
        d_h3 = _relu_backward(d_pre.mm(w["fc4.weight"]), s.h3)
        torch.mm(d_h3.t(), s.z, out=g["fc3.weight"])
        torch.sum(d_h3, 0, out=g["fc3.bias"])
        if not self.train_encoder:
            return
        d_z = d_h3.mm(w["fc3.weight"])
        # z = mu + exp(logvar / 2) * eps; KL = -1/2 sum(1 + logvar - mu^2 - exp(logvar)).
        d_stats = torch.cat([d_z + s.mu, 0.5 * (d_z * s.eps * s.std + s.logvar.exp() - 1)], dim=1)
        torch.mm(d_stats.t(), s.h1, out=g["fc2.weight"])
        torch.sum(d_stats, 0, out=g["fc2.bias"])
        d_h1 = _relu_backward(d_stats.mm(w["fc2.weight"]), s.h1)
        torch.mm(d_h1.t(), s.x, out=g["fc1.weight"])
        torch.sum(d_h1, 0, out=g["fc1.bias"])


class FlatAdam:
    """``torch.optim.Adam(fused=True)`` on one flat tensor: the same update, by PyTorch's functional form.

    :func:`torch.optim.adam.adam` is the function ``torch.optim.Adam.step`` calls, with the same
    fused kernel; calling it directly skips what a one-tensor optimizer does not need. Why: creating
    any ``torch.optim.Optimizer`` imports ``torch._dynamo`` (~1.1 s of a training run's start-up,
    sympy included) and its ``step()`` adds ~35 µs of Python a step (bench/RESULTS.md, a whole
    training run). ``tests/test_step.py`` holds runs of steps to ``torch.optim.Adam``.
    """

    def __init__(self, param: torch.Tensor, grad: torch.Tensor, lr: float,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        self.param, self.grad = param.detach(), grad  # updated in place; no autograd involved
        self.lr, self.betas, self.eps = lr, betas, eps
        self.exp_avg = torch.zeros_like(self.param)
        self.exp_avg_sq = torch.zeros_like(self.param)
        self.steps = torch.zeros((), dtype=torch.float32, device=param.device)  # torch.optim.Adam's "step"

    def step(self) -> None:
        """One Adam update of the tensor from its gradient buffer."""
        adam([self.param], [self.grad], [self.exp_avg], [self.exp_avg_sq], [], [self.steps], fused=True,
             amsgrad=False, beta1=self.betas[0], beta2=self.betas[1], lr=self.lr, weight_decay=0.0,
             eps=self.eps, maximize=False)

    def state_dict(self) -> dict[str, Any]:
        """The moment estimates and the step count (copies), for a resume file."""
        return {"step": self.steps.clone(), "exp_avg": self.exp_avg.clone(), "exp_avg_sq": self.exp_avg_sq.clone(),
                "lr": self.lr, "betas": self.betas, "eps": self.eps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state_dict`'s output; ValueError (one line) if it is not for this tensor."""
        try:
            tensors = [state["step"], state["exp_avg"], state["exp_avg_sq"]]
        except (KeyError, TypeError):
            raise ValueError("not the state of a flat Adam (step, exp_avg, exp_avg_sq)") from None
        for have, got in zip((self.steps, self.exp_avg, self.exp_avg_sq), tensors):
            if not isinstance(got, torch.Tensor) or got.shape != have.shape:
                raise ValueError(f"Adam state of shape {getattr(got, 'shape', None)}, this model needs {have.shape}")
        for have, got in zip((self.steps, self.exp_avg, self.exp_avg_sq), tensors):
            have.copy_(got)


def _relu_backward(grad: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """ReLU's backward, in place on ``grad``: the gradient where the unit was active (output > 0 iff input > 0).

    ``sign(out)`` is 1 there and 0 elsewhere. Public ops, as fast as aten's internal
    ``threshold_backward`` in a paired A/B (masked_fill_ and where were 4-5% slower a step;
    bench/RESULTS.md, training).
    """
    return grad.mul_(out.sign())


class AutogradStep:
    """The same step the way the classic example writes it: ``loss.backward()`` and Adam on the module.

    The reference :class:`TrainStep` is held to (``--step autograd`` trains with it); slower on a
    CPU (bench/RESULTS.md, training) because autograd records a graph and allocates fresh
    gradients every step. With ``train_encoder=False`` only fc3 and fc4 learn, on the same loss.
    """

    def __init__(self, model: VAE, head: Head, lr: float, train_encoder: bool = True) -> None:
        self.model, self.head, self.train_encoder = model, head, train_encoder
        if not train_encoder:
            for layer in (model.fc1, model.fc21, model.fc22):
                layer.requires_grad_(False)
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(self.params, lr=lr, fused=True)

    def __call__(self, x: torch.Tensor) -> float:
        """One step on the batch ``x`` (n x 784); returns its summed negative ELBO in nats (see TrainStep)."""
        pre, mu, logvar = self.model(x)
        nll = self.head.nll(pre, x).sum()
        kl = kl_to_standard_normal(mu, logvar).sum()
        loss = float(nll.detach() + kl.detach())
        if math.isfinite(loss):
            self.optimizer.zero_grad(set_to_none=False)
            # the KL term depends on the encoder alone: a constant when only the decoder trains
            (nll + kl if self.train_encoder else nll).backward()
            self.optimizer.step()
        return loss

    def gradient(self) -> torch.Tensor:
        """The last step's gradient of every parameter, flattened into one tensor in the module's order."""
        return torch.cat([p.grad.flatten() if p.grad is not None else torch.zeros_like(p).flatten()
                          for p in self.model.parameters()])


STEPS: dict[str, type[TrainStep] | type[AutogradStep]] = {"handwritten": TrainStep, "autograd": AutogradStep}
