"""One atomic write for the device's small files (`dowel.atomic`): the old file or the new one,
never half of either, on littlefs (rename replaces) and on FAT (rename refuses an existing
target); and the config, drift, feedback and fault files all go through it."""

import os

import pytest
from dowel import atomic, config, drift, fault


@pytest.fixture
def fat(monkeypatch):
    """os.rename as FAT does it: an existing target is refused."""
    real = os.rename

    def rename(src, dst):
        if os.path.exists(dst):
            raise OSError(17, "EEXIST")
        real(src, dst)

    monkeypatch.setattr(os, "rename", rename)


@pytest.mark.parametrize("fs", ["littlefs", "fat"])
def test_write_replaces_the_file_whole(tmp_path, request, fs):
    if fs == "fat":
        request.getfixturevalue("fat")
    path = str(tmp_path / "f.json")
    atomic.write(path, "old")
    atomic.write(path, "new")
    assert open(path).read() == "new"
    assert not os.path.exists(atomic.tmp(path))


def test_a_write_that_fails_leaves_the_old_file(tmp_path, monkeypatch):
    path = str(tmp_path / "f.json")
    atomic.write(path, "old")
    real_open = open

    def cut(name, mode="r", *args, **kwargs):
        f = real_open(name, mode, *args, **kwargs)
        if name == atomic.tmp(path):
            f.write("ha")
            f.close()
            raise OSError(5, "EIO")  # power cut while writing the new file
        return f

    monkeypatch.setattr("builtins.open", cut)
    with pytest.raises(OSError):
        atomic.write(path, "new")
    monkeypatch.undo()
    assert open(path).read() == "old"


def test_remove_takes_the_file_and_a_leftover(tmp_path):
    path = str(tmp_path / "f.json")
    atomic.write(path, "x")
    with open(atomic.tmp(path), "w") as f:
        f.write("cut")
    atomic.remove(path)
    atomic.remove(path)  # nothing there: no error
    assert not os.listdir(tmp_path)


def test_every_small_file_is_written_through_it(tmp_path, monkeypatch):
    written = []
    real = atomic.write

    def spy(path, text):
        written.append(os.path.basename(path))
        real(path, text)

    monkeypatch.setattr(atomic, "write", spy)
    config.save(config.defaults(), str(tmp_path / "dowel.json"))
    d = drift.Drift([20000, 30000, 40000], 25)
    d.update((20000, 30000, 40000), 5)
    d.save(str(tmp_path / "drift.json"))
    from dowel.feedback import Feedback

    Feedback(config.defaults()).save("P-0001", str(tmp_path / "feedback.json"))
    assert (tmp_path / "feedback.json").exists()
    monkeypatch.setattr(fault.sys, "print_exception", lambda exc, f: None, raising=False)
    monkeypatch.setattr(fault.time, "ticks_ms", lambda: 1234, raising=False)
    fault.record("loop", ValueError("boom"), path=str(tmp_path / "fault.txt"))
    assert written == ["dowel.json", "drift.json", "feedback.json", "fault.txt"]
    assert fault.last(str(tmp_path / "fault.txt")) == "loop ValueError: boom ticks_ms=1234"


def test_the_fault_line_is_rewritten_on_fat_too(tmp_path, monkeypatch, fat):
    monkeypatch.setattr(fault.sys, "print_exception", lambda exc, f: None, raising=False)
    monkeypatch.setattr(fault.time, "ticks_ms", lambda: 1, raising=False)
    path = str(tmp_path / "fault.txt")
    fault.record("boot", ValueError("first"), path=path)
    fault.record("loop", ValueError("second"), path=path)
    assert fault.last(path) == "loop ValueError: second ticks_ms=1"
    fault.clear(path)
    assert fault.last(path) is None and not os.listdir(tmp_path)
