"""vae.train: tiny runs on a few hundred sample digits (all files under tmp_path)."""

import dataclasses
import os

import numpy as np
import pytest
import torch
from backend_fixtures import write_mnist_raw

from vae.checkpoints import load_checkpoint
from vae.evaluate import evaluate
from vae.heads import get_head
from vae.model import VAE, VAEConfig
from vae.train import TrainConfig, TrainingError, main, resume_path, train


def _history_losses(history):
    return [(h["epoch"], h["train_loss"], h["test_loss"]) for h in history]


def test_training_lowers_the_test_loss_and_writes_checkpoint_and_resume_state(tmp_path, small_splits, tiny_cfg):
    train_split, test_split = small_splits
    cfg = dataclasses.replace(tiny_cfg, epochs=2)
    x_test = test_split.as_float()
    head = get_head(cfg.head)
    torch.manual_seed(cfg.seed)  # train() starts from exactly this initialisation
    before = evaluate(VAE(VAEConfig(latent=cfg.latent, hidden=cfg.hidden)), head, x_test, seed=cfg.seed).neg_elbo

    out = tmp_path / "tiny.safetensors"
    ckpt = train(cfg, out, train_split, test_split, device="cpu")
    after = evaluate(ckpt.model, head, x_test, seed=cfg.seed).neg_elbo

    assert after < before - 50, (before, after)
    assert out.is_file() and resume_path(out).is_file()
    assert resume_path(out) == tmp_path / "tiny.resume.pt"
    saved = load_checkpoint(out)
    assert saved.head.name == "sigmoid" and saved.config == VAEConfig(latent=2, hidden=32)
    assert saved.meta.epochs == 2 and [h["epoch"] for h in saved.meta.history] == [1, 2]
    assert saved.meta.metrics["neg_elbo"] == pytest.approx(after, rel=1e-6)
    assert saved.meta.n_train == 300 and saved.meta.n_test == 100
    for key, value in ckpt.model.state_dict().items():
        assert torch.equal(saved.model.state_dict()[key], value)


def test_progress_is_reported_with_the_test_loss_at_each_epoch_end(tmp_path, small_splits, tiny_cfg):
    events = []
    train(dataclasses.replace(tiny_cfg, epochs=2), tmp_path / "p.safetensors", *small_splits,
          device="cpu", progress=events.append)
    ends = [e for e in events if e.test_loss is not None]
    assert [e.epoch for e in ends] == [1, 2]
    assert all(e.step == e.steps_per_epoch == 5 for e in ends)  # 300 images / batch 64


FULL_METRICS = {"n_images", "neg_elbo", "neg_elbo_mean_z", "kl", "recon_nll", "bce", "mse", "frac_below_0",
                "frac_above_1", "pixel_min", "pixel_max"}


def test_each_epoch_is_scored_with_the_test_loss_and_the_last_with_every_metric(tmp_path, small_splits, tiny_cfg):
    out, scored = tmp_path / "s.safetensors", {}

    def remember(p):
        if p.test_loss is not None:
            scored[p.epoch] = (p.metrics, dict(load_checkpoint(out).meta.metrics))

    ckpt = train(dataclasses.replace(tiny_cfg, epochs=3), out, *small_splits, device="cpu", progress=remember)
    assert [scored[e][0] is None for e in (1, 2, 3)] == [True, True, False]
    assert [set(scored[e][1]) for e in (1, 2)] == [{"n_images", "neg_elbo", "kl"}] * 2
    assert set(scored[3][0]) == set(scored[3][1]) == FULL_METRICS
    full = evaluate(ckpt.model, get_head(tiny_cfg.head), small_splits[1].as_float(), seed=tiny_cfg.seed).to_dict()
    assert scored[3][1] == pytest.approx(full, rel=1e-6)
    assert [h["test_loss"] for h in ckpt.meta.history][-1] == scored[3][1]["neg_elbo"]


def test_every_metric_every_epoch_when_asked(tmp_path, small_splits, tiny_cfg):
    ends = []
    train(dataclasses.replace(tiny_cfg, epochs=2), tmp_path / "all.safetensors", *small_splits, device="cpu",
          progress=lambda p: ends.append(p.metrics) if p.test_loss is not None else None, metrics_every_epoch=True)
    assert [set(m) for m in ends] == [FULL_METRICS] * 2


@pytest.mark.parametrize("stop", [KeyboardInterrupt, RuntimeError])
def test_a_run_stopped_early_leaves_its_checkpoint_scored_with_every_metric(tmp_path, small_splits, tiny_cfg, stop):
    # Ctrl-C, or the app cancelling a job from its progress callback, in the middle of epoch 3 of 4
    out = tmp_path / "stopped.safetensors"

    def interrupt(p):
        if p.epoch == 3 and p.test_loss is None:
            raise stop("stop")

    with pytest.raises(stop):
        train(dataclasses.replace(tiny_cfg, epochs=4), out, *small_splits, device="cpu", progress=interrupt)
    kept = load_checkpoint(out)
    assert kept.meta.epochs == 2 and set(kept.meta.metrics) == FULL_METRICS
    full = evaluate(kept.model, get_head(tiny_cfg.head), small_splits[1].as_float(), seed=tiny_cfg.seed).to_dict()
    assert dict(kept.meta.metrics) == pytest.approx(full, rel=1e-6)
    # and the run goes on from there as if never stopped
    resumed = train(dataclasses.replace(tiny_cfg, epochs=4), out, *small_splits, resume=True, device="cpu")
    straight = train(dataclasses.replace(tiny_cfg, epochs=4), tmp_path / "straight.safetensors", *small_splits,
                     device="cpu")
    assert _history_losses(resumed.meta.history) == _history_losses(straight.meta.history)
    assert dict(resumed.meta.metrics) == dict(straight.meta.metrics)


def test_resuming_gives_exactly_the_uninterrupted_run(tmp_path, small_splits, tiny_cfg):
    cfg2 = dataclasses.replace(tiny_cfg, epochs=2)
    straight = train(cfg2, tmp_path / "straight.safetensors", *small_splits, device="cpu")

    out = tmp_path / "split.safetensors"
    train(dataclasses.replace(tiny_cfg, epochs=1), out, *small_splits, device="cpu")
    resumed = train(cfg2, out, *small_splits, resume=True, device="cpu")

    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert _history_losses(resumed.meta.history) == _history_losses(straight.meta.history)
    assert load_checkpoint(out).meta.epochs == 2


def test_the_autograd_step_trains_the_model_the_handwritten_step_trains(tmp_path, small_splits, tiny_cfg):
    fast = train(tiny_cfg, tmp_path / "fast.safetensors", *small_splits, device="cpu")
    plain = train(dataclasses.replace(tiny_cfg, step="autograd"), tmp_path / "plain.safetensors", *small_splits, device="cpu")
    for key, value in fast.model.state_dict().items():
        torch.testing.assert_close(plain.model.state_dict()[key], value, rtol=1e-3, atol=1e-4, msg=key)


def test_resuming_with_the_other_step_is_one_error_line(tmp_path, small_splits, tiny_cfg):
    out = tmp_path / "stepped.safetensors"
    train(tiny_cfg, out, *small_splits, device="cpu")
    before = out.read_bytes()
    with pytest.raises(TrainingError, match="trained with --step handwritten, not --step autograd") as info:
        train(dataclasses.replace(tiny_cfg, epochs=2, step="autograd"), out, *small_splits, resume=True, device="cpu")
    assert "\n" not in str(info.value) and out.read_bytes() == before


def test_resume_without_a_resume_file_is_a_training_error(tmp_path, small_splits, tiny_cfg):
    out = tmp_path / "never-trained.safetensors"
    with pytest.raises(TrainingError, match="does not exist") as info:
        train(tiny_cfg, out, *small_splits, resume=True, device="cpu")
    assert str(resume_path(out)) in str(info.value)
    assert not out.exists()


def test_resume_past_the_requested_epochs_is_a_training_error(tmp_path, small_splits, tiny_cfg):
    out = tmp_path / "done.safetensors"
    train(tiny_cfg, out, *small_splits, device="cpu")
    with pytest.raises(TrainingError, match="already has 1 epochs"):
        train(tiny_cfg, out, *small_splits, resume=True, device="cpu")


def test_resume_state_of_another_optimizer_layout_is_one_error_line_and_changes_nothing(tmp_path, small_splits, tiny_cfg):
    # Resume files of earlier versions hold one Adam state per parameter; TrainStep has one flat one.
    out = tmp_path / "old.safetensors"
    train(tiny_cfg, out, *small_splits, device="cpu")
    state = torch.load(resume_path(out), weights_only=True)
    model = VAE(VAEConfig(latent=tiny_cfg.latent, hidden=tiny_cfg.hidden))
    state["optimizer"] = torch.optim.Adam(model.parameters()).state_dict()
    torch.save(state, resume_path(out))
    before = (out.read_bytes(), resume_path(out).read_bytes())
    with pytest.raises(TrainingError, match="this version of vae.train") as info:
        train(dataclasses.replace(tiny_cfg, epochs=2), out, *small_splits, resume=True, device="cpu")
    assert "\n" not in str(info.value)
    assert (out.read_bytes(), resume_path(out).read_bytes()) == before


def test_divergence_stops_with_a_training_error_and_keeps_the_last_good_checkpoint(tmp_path, small_splits):
    # The raw head has no squashing output: with a huge learning rate it blows up within a
    # few epochs. One step per epoch (the whole split is one batch), so the first epochs
    # finish; the blow-up then shows at an epoch's end. Snapshot the files after each epoch.
    cfg = TrainConfig(head="raw", latent=2, hidden=32, epochs=10, batch_size=300, lr=5.0, seed=1)
    out = tmp_path / "diverge.safetensors"
    snapshots = []

    def remember(p):
        if p.test_loss is not None:
            snapshots.append((p.epoch, load_checkpoint(out).weights, resume_path(out).read_bytes()))

    with pytest.raises(TrainingError) as info:
        train(cfg, out, *small_splits, device="cpu", progress=remember)

    message = str(info.value)
    assert any(word in message for word in ("nan", "inf")), message
    assert "\n" not in message
    assert snapshots, "training diverged before any epoch finished; the test needs a good checkpoint"
    last_epoch, weights, resume_bytes = snapshots[-1]
    assert f"epoch {last_epoch}" in message
    kept = load_checkpoint(out)
    assert kept.weights.keys() == weights.keys() and all(np.array_equal(kept.weights[k], weights[k]) for k in weights)
    assert resume_path(out).read_bytes() == resume_bytes
    assert kept.meta.epochs == last_epoch
    assert all(torch.isfinite(p).all() for p in kept.model.parameters())
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("head", ["raw", "sigmoid"])
def test_divergence_within_the_first_epoch_writes_no_checkpoint(tmp_path, small_splits, head):
    cfg = TrainConfig(head=head, latent=2, hidden=32, epochs=3, batch_size=64, lr=5.0, seed=1)
    out = tmp_path / "diverge.safetensors"
    with pytest.raises(TrainingError, match=r"loss became (nan|inf|-inf) at epoch 1, step \d+ .*no checkpoint was written"):
        train(cfg, out, *small_splits, device="cpu")
    assert os.listdir(tmp_path) == []


def test_weights_that_turn_non_finite_at_an_epochs_last_step_are_not_saved(tmp_path, small_splits, tiny_cfg, monkeypatch):
    # The loss is checked before each step; the step after the last check of an epoch
    # must not slip a broken model into the checkpoint or the resume state.
    import vae.train as train_module
    from vae.step import TrainStep

    class PoisonedStep(TrainStep):
        steps = 0

        def __call__(self, x):
            loss = super().__call__(x)
            PoisonedStep.steps += 1
            if PoisonedStep.steps == 10:  # the last step of epoch 2 (5 steps per epoch)
                with torch.no_grad():
                    self.model.fc4.bias.fill_(float("nan"))
            return loss

    monkeypatch.setitem(train_module.STEPS, "handwritten", PoisonedStep)
    out = tmp_path / "poisoned.safetensors"
    cfg = dataclasses.replace(tiny_cfg, epochs=3)
    saved = {}

    def remember(p):
        if p.test_loss is not None:
            saved[p.epoch] = (load_checkpoint(out).weights, resume_path(out).read_bytes())

    with pytest.raises(TrainingError, match="(?i)nan|inf") as info:
        train(cfg, out, *small_splits, device="cpu", progress=remember)
    assert list(saved) == [1]
    assert "epoch 2" in str(info.value)
    weights, resume_bytes = saved[1]
    kept = load_checkpoint(out)
    assert all(np.array_equal(kept.weights[k], weights[k]) for k in weights)
    assert resume_path(out).read_bytes() == resume_bytes
    assert kept.meta.epochs == 1


def test_unwritable_output_location_is_a_clear_training_error(tmp_path, small_splits, tiny_cfg):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a regular file where a folder should be")
    out = blocker / "sub" / "ckpt.safetensors"
    with pytest.raises(TrainingError) as info:
        train(tiny_cfg, out, *small_splits, device="cpu")
    message = str(info.value)
    assert "could not write" in message and str(blocker) in message
    assert "\n" not in message


@pytest.mark.parametrize("kwargs", [
    {"head": "tanh"}, {"latent": 0}, {"epochs": 0}, {"batch_size": 0}, {"lr": 0.0}, {"lr": 10.0},
    {"dataset": "cifar"}, {"step": "sgd"},
])
def test_train_config_rejects_invalid_settings(kwargs):
    with pytest.raises(ValueError):
        TrainConfig(**kwargs)


# --- command line -------------------------------------------------------------------------

def test_cli_with_missing_dataset_and_no_download_exits_2_with_one_error_line(tmp_path, capsys):
    out = tmp_path / "x.safetensors"
    code = main(["--data-dir", str(tmp_path / "nothing"), "--no-download", "--out", str(out), "--epochs", "1"])
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert str(tmp_path / "nothing" / "MNIST" / "raw") in lines[0]
    assert not out.exists()


def test_cli_refuses_to_train_over_an_existing_checkpoint_without_force(tmp_path, capsys):
    out = tmp_path / "mine.safetensors"
    out.write_bytes(b"a model someone wants to keep")
    code = main(["--data-dir", str(tmp_path), "--no-download", "--out", str(out)])
    assert code == 2 and out.read_bytes() == b"a model someone wants to keep"
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "already exists: continue it with --resume, or pass --force" in err
    assert err.count("\n") == 1


def test_cli_refuses_an_output_that_is_not_safetensors(tmp_path, capsys):
    code = main(["--data-dir", str(tmp_path), "--no-download", "--out", str(tmp_path / "x.pt")])
    assert code == 2
    assert capsys.readouterr().err.startswith("error: --out must end in .safetensors")


def test_cli_trains_from_idx_files_and_writes_the_checkpoint(tmp_path, small_splits, capsys):
    write_mnist_raw(tmp_path / "data", *small_splits)
    out = tmp_path / "ckpts" / "cli.safetensors"
    code = main(["--data-dir", str(tmp_path / "data"), "--no-download", "--out", str(out), "--epochs", "1",
                 "--latent", "2", "--hidden", "16", "--head", "logits", "--device", "cpu"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"wrote {out}" in captured.out
    ckpt = load_checkpoint(out)
    assert ckpt.head.name == "logits" and ckpt.config.latent == 2 and ckpt.meta.n_train == 300


def test_cli_reports_an_unwritable_output_folder_as_one_error_line(tmp_path, small_splits, capsys):
    write_mnist_raw(tmp_path / "data", *small_splits)
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    code = main(["--data-dir", str(tmp_path / "data"), "--no-download", "--out", str(blocker / "sub" / "x.safetensors"),
                 "--epochs", "1", "--latent", "2", "--hidden", "16", "--device", "cpu"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert lines[-1].startswith("error: ") and str(blocker) in lines[-1]
