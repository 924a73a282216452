"""vae.atomic.write_atomically: a reader sees the old file or the new one, never half of one."""

import os

import pytest

from vae.atomic import write_atomically


@pytest.fixture
def old_file(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(b"old content")
    return path


def _half_write_then(exc):
    def write(tmp):
        tmp.write_bytes(b"new cont")  # half of the new content
        raise exc
    return write


def test_replaces_the_file_and_returns_its_path(old_file):
    assert write_atomically(old_file, lambda tmp: tmp.write_bytes(b"new content")) == old_file
    assert old_file.read_bytes() == b"new content"
    assert os.listdir(old_file.parent) == ["model.bin"]


def test_creates_missing_parent_folders(tmp_path):
    path = tmp_path / "a" / "b" / "new.bin"
    write_atomically(str(path), lambda tmp: tmp.write_bytes(b"x"))
    assert path.read_bytes() == b"x"


def test_the_writer_gets_a_hidden_temporary_file_beside_the_target(old_file):
    seen = []
    write_atomically(old_file, lambda tmp: seen.append(tmp) or tmp.write_bytes(b"y"))
    assert seen[0].parent == old_file.parent
    assert seen[0].name.startswith(".model.bin.") and seen[0].name.endswith(".tmp")
    assert not seen[0].exists()


@pytest.mark.parametrize("exc", [RuntimeError("writer failed"), KeyboardInterrupt(), OSError(28, "No space left on device")])
def test_old_content_survives_a_failing_or_interrupted_writer(old_file, exc):
    with pytest.raises(type(exc)):
        write_atomically(old_file, _half_write_then(exc))
    assert old_file.read_bytes() == b"old content"
    assert os.listdir(old_file.parent) == ["model.bin"]  # no temporary file left behind


def test_a_failing_first_write_leaves_no_file_at_all(tmp_path):
    path = tmp_path / "never.bin"
    with pytest.raises(RuntimeError):
        write_atomically(path, _half_write_then(RuntimeError("boom")))
    assert os.listdir(tmp_path) == []


def test_new_files_get_the_usual_permissions_not_private_temp_file_ones(tmp_path):
    # mkstemp creates 0600 files; a checkpoint must be readable like any file written with open()
    umask = os.umask(0o022)
    try:
        path = write_atomically(tmp_path / "perm.bin", lambda tmp: tmp.write_bytes(b"z"))
        reference = tmp_path / "reference.bin"
        reference.write_bytes(b"z")
    finally:
        os.umask(umask)
    assert (path.stat().st_mode & 0o777) == (reference.stat().st_mode & 0o777) == 0o644
