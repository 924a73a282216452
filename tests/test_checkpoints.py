"""vae.checkpoints: round trips, atomic writes, classic state dicts, and refusing bad files safely."""

import pickle
from pathlib import Path

import pytest
import safetensors.torch
import torch
from backend_fixtures import (
    BAD_CHECKPOINTS,
    ClassicVAE,
    RunsCodeWhenUnpickled,
    checkpoint_meta,
    small_model,
    torch_bytes,
)

import vae.checkpoints as checkpoints
from vae.checkpoints import (
    CheckpointError,
    discover,
    import_checkpoint,
    load_checkpoint,
    load_checkpoint_bytes,
    main,
    save_checkpoint,
)
from vae.evaluate import evaluate_on_sample
from vae.heads import HEADS
from vae.model import VAEConfig

UPLOAD_NAME = "my-upload.safetensors"




@pytest.fixture
def model():
    return small_model(latent=2, hidden=16, seed=0)


@pytest.fixture
def saved(tmp_path, model):
    path = tmp_path / "good.safetensors"
    save_checkpoint(path, model, checkpoint_meta(model, metrics={"neg_elbo": 123.5}))
    return path


@pytest.fixture(scope="module")
def classic():
    torch.manual_seed(1)
    return ClassicVAE().eval()


# --- round trip and atomic writes --------------------------------------------------------------

def test_save_then_load_round_trips_weights_metadata_and_head(saved, model):
    ckpt = load_checkpoint(saved)
    for key, value in model.state_dict().items():
        assert torch.equal(ckpt.model.state_dict()[key], value)
    assert ckpt.head is HEADS["raw"]
    assert ckpt.config == VAEConfig(latent=2, hidden=16)
    assert ckpt.meta.format == checkpoints.FORMAT
    assert ckpt.meta.epochs == 3 and ckpt.meta.metrics == {"neg_elbo": 123.5}
    assert "torch" in ckpt.meta.versions
    assert ckpt.path == saved and ckpt.name == "good"
    assert not ckpt.model.training
    assert not any(p.requires_grad for p in ckpt.model.parameters())


def test_a_failing_writer_leaves_the_old_checkpoint_byte_identical(saved, model, monkeypatch):
    before = saved.read_bytes()

    def disk_full_halfway(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"half a checkpoint")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(safetensors.torch, "save_file", disk_full_halfway)
    with torch.no_grad():
        model.fc1.weight.add_(1.0)
    with pytest.raises(CheckpointError, match="No space left on device"):
        save_checkpoint(saved, model, checkpoint_meta(model))
    assert saved.read_bytes() == before
    assert sorted(p.name for p in saved.parent.iterdir()) == ["good.safetensors"]


def test_metadata_with_nan_is_refused_before_writing(tmp_path, model):
    path = tmp_path / "nanmeta.safetensors"
    with pytest.raises(ValueError):
        save_checkpoint(path, model, checkpoint_meta(model, metrics={"neg_elbo": float("nan")}))
    assert not path.exists()


# --- classic state dicts --------------------------------------------------------------------

@pytest.mark.parametrize("zipfile", [True, False])
def test_classic_state_dict_loads_with_a_head(tmp_path, classic, zipfile):
    path = tmp_path / "vae_classic.pt"
    torch.save(classic.state_dict(), path, _use_new_zipfile_serialization=zipfile)
    ckpt = load_checkpoint(path, head="sigmoid")
    assert ckpt.head is HEADS["sigmoid"]
    assert ckpt.config == VAEConfig(latent=20, hidden=400)
    assert ckpt.meta.head == "sigmoid"
    z = torch.randn(3, 20)
    assert torch.equal(torch.sigmoid(ckpt.model.decode(z)), classic.decode(z))


def test_classic_state_dict_without_a_head_asks_for_one(tmp_path, classic):
    path = tmp_path / "vae_classic.pt"
    torch.save(classic.state_dict(), path)
    with pytest.raises(CheckpointError, match="which output head") as info:
        load_checkpoint(path)
    assert "vae_classic.pt" in str(info.value)
    for name in HEADS:
        assert name in str(info.value)


def test_a_head_that_contradicts_the_file_is_refused(saved):
    with pytest.raises(CheckpointError, match="trained with head 'raw', not 'sigmoid'"):
        load_checkpoint(saved, head="sigmoid")


def test_import_writes_safetensors_with_metrics_on_the_sample(tmp_path, classic):
    src = tmp_path / "vae_classic.pt"
    torch.save(classic.state_dict(), src)
    out = tmp_path / "imported.safetensors"
    ckpt = load_checkpoint(src, head="sigmoid")
    written = import_checkpoint(ckpt, out, source="imported from vae_classic.pt", metrics=evaluate_on_sample(ckpt))
    assert written.path == out
    loaded = load_checkpoint(out)
    metrics = loaded.meta.metrics
    assert metrics["n_images"] == 2000 and "shipped mnist sample" in loaded.meta.evaluated_on
    assert 400 < metrics["neg_elbo"] < 700  # an untrained model: about 784 ln 2 = 543 nats
    assert loaded.meta.source == "imported from vae_classic.pt" and loaded.head.name == "sigmoid"
    for key, value in classic.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[key], value)


def test_import_refuses_to_overwrite_or_to_write_another_format(tmp_path, saved):
    ckpt = load_checkpoint(saved)
    with pytest.raises(CheckpointError, match="already exists"):
        import_checkpoint(ckpt, saved, source="x", metrics={})
    with pytest.raises(CheckpointError, match="must end in .safetensors"):
        import_checkpoint(ckpt, tmp_path / "out.pt", source="x", metrics={})


# --- command line ---------------------------------------------------------------------------

def test_cli_import_then_summary(tmp_path, classic, capsys):
    src = tmp_path / "vae_classic.pt"
    torch.save(classic.state_dict(), src)
    out = tmp_path / "imported.safetensors"

    assert main(["import", str(src), "--head", "sigmoid", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "head:    sigmoid" in printed and "652,824 parameters" in printed
    assert "imported from vae_classic.pt" in printed
    assert out.is_file()

    assert main([str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(str(out)) and "-ELBO" in printed and "% below 0" in printed


def test_cli_on_a_bad_file_exits_2_with_one_error_line(tmp_path, capsys):
    bad = tmp_path / "garbage.safetensors"
    bad.write_bytes(b"this is not a checkpoint at all")
    assert main([str(bad)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: garbage.safetensors: ")
    assert captured.out == ""


def test_cli_import_of_a_code_running_pickle_exits_2_and_runs_nothing(tmp_path, capsys):
    marker = tmp_path / "pwned"
    src = tmp_path / "evil.pt"
    torch.save({"fc1.weight": RunsCodeWhenUnpickled(marker)}, src)
    out = tmp_path / "out.safetensors"
    assert main(["import", str(src), "--head", "sigmoid", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "refused to unpickle" in err[0]
    assert not marker.exists() and not out.exists()


def test_summary_shows_metrics_a_file_does_not_record_as_unknown(tmp_path, model, capsys):
    path = tmp_path / "odd.safetensors"
    save_checkpoint(path, model, checkpoint_meta(model, metrics={"neg_elbo": 1.5}))
    assert main([str(path)]) == 0
    assert "KL ?" in capsys.readouterr().out


# --- bad files: every one is a CheckpointError naming the problem ---------------------------

@pytest.mark.parametrize("case", list(BAD_CHECKPOINTS))
def test_every_bad_file_is_one_checkpoint_error_naming_the_file_and_the_problem(case):
    make, problem = BAD_CHECKPOINTS[case]
    with pytest.raises(CheckpointError, match=problem) as info:
        load_checkpoint_bytes(make(), UPLOAD_NAME)
    message = str(info.value)
    assert message.startswith(f"{UPLOAD_NAME}: ")
    assert "upload.bin" not in message and "\n" not in message


def test_a_bad_file_on_disk_is_named_by_its_file_name(tmp_path):
    make, problem = BAD_CHECKPOINTS["NaN weights"]
    path = tmp_path / "bad.safetensors"
    path.write_bytes(make())
    with pytest.raises(CheckpointError, match=f"^bad.safetensors: .*{problem}"):
        load_checkpoint(path)


def test_a_good_upload_loads_and_takes_its_name_from_the_filename(saved):
    ckpt = load_checkpoint_bytes(saved.read_bytes(), "friend's model.safetensors")
    assert ckpt.path is None and ckpt.name == "friend's model" and ckpt.head is HEADS["raw"]


@pytest.mark.parametrize("form", ["torch.save", "plain pickle"])
def test_a_pickle_that_would_run_code_is_refused_without_running_it(tmp_path, form):
    # the payload is live: unpickling it the unsafe way does create the marker
    control = tmp_path / "control-marker"
    pickle.loads(pickle.dumps(RunsCodeWhenUnpickled(control)))
    assert control.exists()

    marker = tmp_path / "marker"
    payload = {"fc1.weight": RunsCodeWhenUnpickled(marker)}
    data = torch_bytes(payload) if form == "torch.save" else pickle.dumps(payload, protocol=2)
    path = tmp_path / "evil.pt"
    path.write_bytes(data)

    with pytest.raises(CheckpointError, match="refused to unpickle"):
        load_checkpoint(path, head="sigmoid")
    with pytest.raises(CheckpointError, match="refused to unpickle"):
        load_checkpoint_bytes(data, "evil.pt", head="sigmoid")
    assert not marker.exists()


def test_a_file_over_the_size_limit_is_refused_before_reading(tmp_path, saved, monkeypatch):
    monkeypatch.setattr(checkpoints, "MAX_CHECKPOINT_BYTES", 1000)
    with pytest.raises(CheckpointError, match="over the .* limit"):
        load_checkpoint(saved)
    with pytest.raises(CheckpointError, match=f"^{UPLOAD_NAME}: .*over the .* limit"):
        load_checkpoint_bytes(saved.read_bytes(), UPLOAD_NAME)


def test_a_missing_file_or_a_folder_is_a_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match="cannot read file"):
        load_checkpoint(tmp_path / "absent.safetensors")
    with pytest.raises(CheckpointError, match="not a regular file"):
        load_checkpoint(tmp_path)


# --- discovery ----------------------------------------------------------------------------

def test_discover_skips_bad_files_with_one_error_line_each(tmp_path, saved):
    (tmp_path / "garbage.safetensors").write_bytes(b"\x00" * 64)
    (tmp_path / "truncated.safetensors").write_bytes(saved.read_bytes()[:-500])
    (tmp_path / "notes.txt").write_text("not a checkpoint and not looked at")
    found, errors = discover(tmp_path)
    assert [c.path.name for c in found] == ["good.safetensors"]
    assert len(errors) == 2
    assert errors[0].startswith("garbage.safetensors: ") and errors[1].startswith("truncated.safetensors: ")
    assert all("\n" not in e for e in errors)


def test_discover_in_an_empty_folder_finds_nothing(tmp_path):
    assert discover(tmp_path) == ([], [])
