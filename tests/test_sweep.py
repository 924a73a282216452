"""vae.sweep: a grid of tiny runs on the shipped sample (files under tmp_path only)."""

import json
import math
import os

import pytest
import torch
from backend_fixtures import write_mnist_raw

import vae.sweep as sweep
from vae.evaluate import evaluate
from vae.heads import get_head
from vae.sweep import SCHEMA, Grid, SweepConfig, SweepError, main, read_results, run_sweep

TINY = SweepConfig(latent=2, hidden=32, epochs=1, batch_size=64)


def _strict_json(path):
    """The file parsed by a JSON reader that refuses NaN/Infinity (not valid JSON)."""
    def refuse(name):
        raise ValueError(f"{name} is not JSON")
    return json.loads(path.read_text(), parse_constant=refuse)


def test_a_sweep_writes_one_valid_json_record_per_run_with_per_epoch_metrics(tmp_path, small_splits):
    out = tmp_path / "results.json"
    cfg = SweepConfig(latent=2, hidden=32, epochs=2, batch_size=64)
    run_sweep(cfg, Grid(("sigmoid", "raw"), (1e-3,), (1, 2)), out, *small_splits, device="cpu")

    doc = _strict_json(out)
    assert doc["schema"] == SCHEMA and doc["config"] == cfg.to_dict()
    assert doc["grid"] == {"heads": ["sigmoid", "raw"], "lrs": [1e-3], "seeds": [1, 2]}
    assert doc["n_train"] == 300 and doc["n_test"] == 100
    assert {"torch", "python", "numpy"} <= set(doc["versions"]) and doc["machine"]["device"] == "cpu"
    assert doc["wall_seconds"] > 0
    assert sorted((r["head"], r["seed"]) for r in doc["runs"]) == [("raw", 1), ("raw", 2), ("sigmoid", 1), ("sigmoid", 2)]
    for run in doc["runs"]:
        assert run["lr"] == 1e-3 and run["diverged"] is False and run["diverged_at"] is None
        assert [e["epoch"] for e in run["epochs"]] == [1, 2]
        for e in run["epochs"]:
            assert e["max_grad_norm"] > 0 and e["bce"] > 0 and e["mse"] > 0 and e["train_loss"] > 0
            assert 0 <= e["pct_below_0"] <= 100 and 0 <= e["pct_above_1"] <= 100
        if run["head"] == "sigmoid":  # the sigmoid cannot leave (0, 1)
            assert all(e["pct_below_0"] == e["pct_above_1"] == 0 for e in run["epochs"])
    assert not list(tmp_path.glob(".*.tmp")) and sorted(os.listdir(tmp_path)) == ["results.json"]


def test_the_last_epochs_record_is_the_trained_models_test_metrics(tmp_path, small_splits):
    # The sweep only watches vae.train: the model it would keep scores exactly what it recorded.
    keep = tmp_path / "weights"
    run = sweep.run_one(TINY, "raw", 3e-3, 1, *small_splits, device="cpu", keep_dir=keep)
    from vae.checkpoints import load_checkpoint

    (path,) = keep.glob("*.safetensors")
    assert not list(keep.glob("*.resume.pt"))
    ckpt = load_checkpoint(path)
    m = evaluate(ckpt.model, get_head("raw"), small_splits[1].as_float(), seed=1)
    last = run["epochs"][-1]
    assert last["bce"] == pytest.approx(m.bce, rel=1e-5) and last["mse"] == pytest.approx(m.mse, rel=1e-5)
    assert last["pct_below_0"] == pytest.approx(100 * m.frac_below_0)
    assert last["pct_above_1"] == pytest.approx(100 * m.frac_above_1)


def test_the_largest_gradient_norm_is_the_largest_of_the_epochs_steps(tmp_path, small_splits, monkeypatch):
    seen = []
    original = sweep._RunWatch.step

    def spy(self, epoch, step, loss, grad):
        seen.append(float(grad.norm()))
        original(self, epoch, step, loss, grad)

    monkeypatch.setattr(sweep._RunWatch, "step", spy)
    run = sweep.run_one(TINY, "sigmoid", 1e-3, 1, *small_splits, device="cpu")
    assert len(seen) == 5  # 300 images, batch 64
    assert run["epochs"][0]["max_grad_norm"] == pytest.approx(max(seen))


def test_a_diverging_configuration_is_recorded_as_diverged_not_raised(tmp_path, small_splits):
    out = tmp_path / "results.json"
    cfg = SweepConfig(latent=2, hidden=32, epochs=3, batch_size=64)
    doc = run_sweep(cfg, Grid(("raw",), (5.0, 1e-3), (1,)), out, *small_splits, device="cpu")

    runs = {r["lr"]: r for r in _strict_json(out)["runs"]}
    assert runs == {r["lr"]: r for r in doc["runs"]}
    bad, good = runs[5.0], runs[1e-3]
    assert bad["diverged"] is True and good["diverged"] is False
    at = bad["diverged_at"]
    assert at["epoch"] >= 1 and 1 <= at["step"] <= 5
    assert at["loss"] in ("nan", "inf", "-inf") or not math.isfinite(float(at["loss"]))
    assert len(bad["epochs"]) == at["epoch"] - 1  # only finished epochs have records
    assert [e["epoch"] for e in good["epochs"]] == [1, 2, 3]


def test_a_restarted_sweep_skips_finished_runs_and_adds_the_rest(tmp_path, small_splits, monkeypatch):
    out = tmp_path / "results.json"
    calls = []
    real = sweep.run_one

    def counting(cfg, head, lr, seed, *args, **kwargs):
        calls.append((head, lr, seed))
        return real(cfg, head, lr, seed, *args, **kwargs)

    monkeypatch.setattr(sweep, "run_one", counting)
    run_sweep(TINY, Grid(("sigmoid",), (1e-3,), (1, 2)), out, *small_splits, device="cpu")
    first = _strict_json(out)["runs"]
    assert calls == [("sigmoid", 1e-3, 1), ("sigmoid", 1e-3, 2)]

    # "Killed" after those runs and started again with a bigger grid: only the new runs train.
    calls.clear()
    doc = run_sweep(TINY, Grid(("sigmoid", "raw"), (1e-3, 3e-3), (1, 2)), out, *small_splits, device="cpu")
    assert len(calls) == 6 and not {("sigmoid", 1e-3, 1), ("sigmoid", 1e-3, 2)} & set(calls)
    assert doc["runs"][:2] == first  # kept as they were
    assert len(doc["runs"]) == 8 and len({sweep.run_key(r) for r in doc["runs"]}) == 8
    assert doc["grid"] == {"heads": ["sigmoid", "raw"], "lrs": [1e-3, 3e-3], "seeds": [1, 2]}

    calls.clear()
    run_sweep(TINY, Grid(("raw",), (1e-3,), (2,)), out, *small_splits, device="cpu")  # all done already
    assert calls == [] and len(_strict_json(out)["runs"]) == 8


def test_a_run_interrupted_midway_leaves_every_finished_run_in_the_file(tmp_path, small_splits, monkeypatch):
    out = tmp_path / "results.json"
    real = sweep.run_one

    def killed_on_second(cfg, head, lr, seed, *args, **kwargs):
        if seed == 2:
            raise KeyboardInterrupt
        return real(cfg, head, lr, seed, *args, **kwargs)

    monkeypatch.setattr(sweep, "run_one", killed_on_second)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(TINY, Grid(("sigmoid",), (1e-3,), (1, 2)), out, *small_splits, device="cpu")
    assert [r["seed"] for r in _strict_json(out)["runs"]] == [1]
    assert not list(tmp_path.glob(".*.tmp"))


def test_adding_to_a_file_of_another_configuration_is_refused(tmp_path, small_splits):
    out = tmp_path / "results.json"
    run_sweep(TINY, Grid(("sigmoid",), (1e-3,), (1,)), out, *small_splits, device="cpu")
    before = out.read_bytes()
    with pytest.raises(SweepError, match="other settings.*epochs 1 there, 2 here"):
        run_sweep(SweepConfig(latent=2, hidden=32, epochs=2, batch_size=64), Grid(("raw",), (1e-3,), (1,)), out,
                  *small_splits, device="cpu")
    assert out.read_bytes() == before


@pytest.mark.parametrize("argv, message", [
    (["--heads", "sigmoid,tanh"], "unknown head 'tanh'"),
    (["--lrs", "0.001,0"], "learning rate 0 is not in"),
    (["--lrs", "-1e-3"], "learning rate -0.001 is not in"),
    (["--lrs", "fast"], "--lrs must be a comma-separated list"),
    (["--seeds", ","], "empty grid"),
    (["--epochs", "0"], "--epochs must be at least 1"),
    (["--jobs", "0"], "--jobs must be at least 1"),
    *([(["--device", "cuda"], "no CUDA device is available")] if not torch.cuda.is_available() else []),
])
def test_bad_input_is_one_line_and_exit_status_2(tmp_path, capsys, argv, message):
    args = {"--heads": "sigmoid", "--lrs": "0.001", "--seeds": "1"}
    for flag, value in zip(argv[::2], argv[1::2]):
        args[flag] = value
    out = tmp_path / "r.json"
    code = main([*(f"{k}={v}" for k, v in args.items()), "--data-dir", str(tmp_path), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert not out.exists()


def test_an_existing_file_with_other_settings_or_not_a_sweep_is_refused_by_the_command(tmp_path, capsys, small_splits):
    out = tmp_path / "r.json"
    run_sweep(TINY, Grid(("sigmoid",), (1e-3,), (1,)), out, *small_splits, device="cpu")
    before = out.read_bytes()
    code = main(["--heads", "raw", "--lrs", "0.001", "--seeds", "1", "--latent", "2", "--epochs", "3",
                 "--data-dir", str(tmp_path), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "other settings" in err and err.count("\n") == 1
    assert out.read_bytes() == before

    other = tmp_path / "notes.json"
    other.write_text('{"hello": 1}')
    assert main(["--heads", "raw", "--lrs", "0.001", "--seeds", "1", "--out", str(other)]) == 2
    assert "not a sweep results file" in capsys.readouterr().err and other.read_text() == '{"hello": 1}'


def test_an_unwritable_output_fails_before_any_training(tmp_path, capsys, small_splits, monkeypatch):
    write_mnist_raw(tmp_path / "data", *small_splits)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")  # even root cannot create a file inside a file
    monkeypatch.setattr(sweep, "run_one", lambda *a, **k: pytest.fail("trained although the output is unwritable"))
    code = main(["--heads", "sigmoid", "--lrs", "0.001", "--seeds", "1", "--latent", "2", "--epochs", "1",
                 "--data-dir", str(tmp_path / "data"), "--out", str(blocker / "r.json")])
    err = capsys.readouterr().err
    assert code == 2 and "cannot write" in err and err.count("\n") == 1, err
    assert blocker.read_text() == "not a folder"


def test_the_command_runs_a_sweep_on_idx_files(tmp_path, capsys, small_splits):
    write_mnist_raw(tmp_path / "data", *small_splits)
    out = tmp_path / "r.json"
    code = main(["--heads", "sigmoid,raw", "--lrs", "0.003", "--seeds", "1", "--latent", "2", "--epochs", "1",
                 "--data-dir", str(tmp_path / "data"), "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    doc = read_results(out)
    assert [(r["head"], r["lr"], r["seed"], len(r["epochs"])) for r in doc["runs"]] == [("sigmoid", 0.003, 1, 1),
                                                                                        ("raw", 0.003, 1, 1)]
    assert doc["config"]["latent"] == 2 and doc["config"]["hidden"] == 400
    assert "wrote" in capsys.readouterr().out


def test_runs_use_cuda_when_present(tmp_path, small_splits):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    run = sweep.run_one(TINY, "sigmoid", 1e-3, 1, *small_splits)
    assert run["device"] == "cuda" and run["epochs"]


def test_runs_in_worker_processes_give_the_same_records_as_runs_in_turn(tmp_path, small_splits):
    grid = Grid(("sigmoid", "raw"), (3e-3,), (1,))
    serial = run_sweep(TINY, grid, tmp_path / "serial.json", *small_splits, device="cpu")
    parallel = run_sweep(TINY, grid, tmp_path / "parallel.json", *small_splits, device="cpu", jobs=2)
    key = sweep.run_key
    assert sorted(map(key, parallel["runs"])) == sorted(map(key, serial["runs"]))
    assert all(r["threads"] == 1 for r in parallel["runs"])
    by_key = {key(r): r for r in serial["runs"]}
    for run in parallel["runs"]:
        for mine, theirs in zip(run["epochs"], by_key[key(run)]["epochs"], strict=True):
            for field in ("train_loss", "bce", "mse", "pct_below_0", "pct_above_1"):
                # one torch thread instead of several may round the GEMMs differently
                assert mine[field] == pytest.approx(theirs[field], rel=1e-3, abs=1e-3), field
    assert _strict_json(tmp_path / "parallel.json")["runs"] == parallel["runs"]


def test_decoder_only_runs_train_on_the_frozen_encoder_and_the_file_names_it(tmp_path, small_splits):
    from vae.checkpoints import load_checkpoint
    from vae.train import TrainConfig, train

    source = tmp_path / "encoder.safetensors"
    train(TrainConfig(head="sigmoid", latent=2, hidden=32, epochs=1, batch_size=64, seed=3), source, *small_splits,
          device="cpu")
    named = sweep.encoder_source(source, latent=2, hidden=32)
    cfg = SweepConfig(latent=2, hidden=32, epochs=1, batch_size=64, encoder_from=named, encoder_path=str(source))
    keep = tmp_path / "kept"
    doc = run_sweep(cfg, Grid(("raw",), (3e-3,), (1,)), tmp_path / "r.json", *small_splits, device="cpu", keep_dir=keep)

    assert _strict_json(tmp_path / "r.json")["config"]["encoder_from"] == named
    assert named["file"] == "encoder.safetensors" and len(named["sha256"]) == 64
    assert doc["runs"][0]["epochs"][0]["max_grad_norm"] > 0
    (decoder,) = keep.glob("*.safetensors")
    frozen, trained = load_checkpoint(source).weights, load_checkpoint(decoder).weights
    for key in ("fc1.weight", "fc1.bias", "fc21.weight", "fc21.bias", "fc22.weight", "fc22.bias"):
        assert (frozen[key] == trained[key]).all(), key
    assert not (frozen["fc4.weight"] == trained["fc4.weight"]).all()


def test_an_encoder_of_another_size_is_refused_in_one_line(tmp_path, capsys, small_splits):
    from vae.train import TrainConfig, train

    source = tmp_path / "encoder.safetensors"
    train(TrainConfig(head="sigmoid", latent=2, hidden=32, epochs=1, batch_size=64), source, *small_splits, device="cpu")
    code = main(["--heads", "raw", "--lrs", "0.001", "--seeds", "1", "--latent", "20", "--encoder-from", str(source),
                 "--out", str(tmp_path / "r.json")])
    err = capsys.readouterr().err
    assert code == 2 and "has latent 2, hidden 32; the sweep asks for latent 20, hidden 400" in err
    assert err.count("\n") == 1 and not (tmp_path / "r.json").exists()
    (tmp_path / "junk.safetensors").write_bytes(b"junk" * 100)
    assert main(["--heads", "raw", "--lrs", "0.001", "--seeds", "1", "--encoder-from", str(tmp_path / "junk.safetensors"),
                 "--out", str(tmp_path / "r.json")]) == 2
    assert capsys.readouterr().err.startswith("error: --encoder-from: ")
