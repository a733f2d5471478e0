"""`deploy`: compile, hash-diff upload with verify, manifest, soft reset, version check; run
against a fake raw REPL that executes deploy's own code strings on CPython
(tests/fakes/board.py). The same flow on the virtual board is in test_deploy_vboard.py."""

from __future__ import annotations

import json
import shutil

import pytest
from dowel.version import FIRMWARE

from host_tools.board.link import Link
from host_tools.errors import DeviceError
from host_tools.firmware.build import compile_device
from host_tools.firmware.deploy import MANIFEST, deploy
from host_tools.paths import device_dir
from tests.fakes.board import FakeBoard

CONFIG = b'{"patient": "P-0001", "version": 1}\n'
LOG = b"\x01\x02\x03 rep log \xff"


@pytest.fixture
def src(tmp_path):
    """A private copy of device/, so a test can change a file."""
    copy = tmp_path / "device"
    shutil.copytree(device_dir(), copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


@pytest.fixture
def board(tmp_path):
    b = FakeBoard(tmp_path / "flash", firmware=False)
    b.put("/dowel.json", CONFIG)
    b.put("/logs/0001.bin", LOG)
    return b


def run(board, src, tmp_path):
    return deploy(Link(board, port="fake"), tmp_path / "build", src=src)


def expected_paths(src, tmp_path):
    built = compile_device(tmp_path / "expect", src)
    return {"/" + p.relative_to(tmp_path / "expect").as_posix() for p in built}


def test_first_flash_uploads_everything_and_answers_the_version(board, src, tmp_path):
    result = run(board, src, tmp_path)
    files = board.files()
    want = expected_paths(src, tmp_path)
    assert set(result.uploaded) == want | {MANIFEST}
    assert result.uploaded[-1] == MANIFEST  # written last: present only when all files are
    assert result.uploaded[-2] == "/main.py"  # after every module it imports
    assert result.skipped == []
    assert result.firmware == FIRMWARE and result.micropython == "1.27.0"
    assert "/main.py" in files and "/dowel/app.mpy" in files and "/dowel/app.py" not in files
    assert files["/main.py"] == (src / "main.py").read_bytes()  # main.py stays source
    assert files["/dowel/app.mpy"][:2] == b"M\x06"  # .mpy version 6
    assert not [p for p in files if p.endswith(".tmp")]
    assert board.soft_resets == 2  # one frees the heap before hashing, one restarts the loop


def test_manifest_records_version_and_every_hash(board, src, tmp_path):
    import hashlib

    run(board, src, tmp_path)
    files = board.files()
    manifest = json.loads(files[MANIFEST])
    assert manifest["firmware"] == FIRMWARE
    assert manifest["mpy"] == "6.3"
    assert set(manifest["files"]) == expected_paths(src, tmp_path)
    for path, digest in manifest["files"].items():
        assert hashlib.sha256(files[path]).hexdigest() == digest


def test_second_flash_uploads_nothing(board, src, tmp_path):
    run(board, src, tmp_path)
    board.writes.clear()
    result = run(board, src, tmp_path)
    assert result.uploaded == [] and result.removed == []
    assert not result.changed
    assert set(result.skipped) == expected_paths(src, tmp_path) | {MANIFEST}
    assert board.writes == []
    assert result.firmware == FIRMWARE


def test_a_changed_file_uploads_alone(board, src, tmp_path):
    run(board, src, tmp_path)
    with open(src / "dowel" / "cues.py", "a") as f:
        f.write("\n_SELFTEST_MARKER = 1\n")
    board.writes.clear()
    result = run(board, src, tmp_path)
    assert result.uploaded == ["/dowel/cues.mpy", MANIFEST]
    assert board.writes == ["/dowel/cues.mpy.tmp", "/dowel/manifest.json.tmp"]
    assert b"_SELFTEST_MARKER" in board.files()["/dowel/cues.mpy"]


def test_a_file_changed_on_the_board_is_restored(board, src, tmp_path):
    run(board, src, tmp_path)
    good = board.files()["/dowel/rep.mpy"]
    board.put("/dowel/rep.mpy", good[:-10])  # truncated by an earlier cut cable, say
    result = run(board, src, tmp_path)
    assert result.uploaded == ["/dowel/rep.mpy", MANIFEST]
    assert board.files()["/dowel/rep.mpy"] == good


def test_config_and_logs_are_never_touched(board, src, tmp_path):
    run(board, src, tmp_path)
    with open(src / "dowel" / "cues.py", "a") as f:
        f.write("\n_X = 2\n")
    run(board, src, tmp_path)
    files = board.files()
    assert files["/dowel.json"] == CONFIG
    assert files["/logs/0001.bin"] == LOG
    assert not [w for w in board.writes if w.startswith(("/dowel.json", "/logs"))]


def test_stale_modules_are_removed_but_not_other_files(board, src, tmp_path):
    board.put("/dowel/app.py", b"print('old source that would shadow app.mpy')\n")
    board.put("/dowel/retired.mpy", b"M\x06old")
    board.put("/dowel/rep.mpy.tmp", b"half a file")
    board.put("/dowel/notes.txt", b"someone's notes")
    result = run(board, src, tmp_path)
    assert result.removed == ["/dowel/app.py", "/dowel/rep.mpy.tmp", "/dowel/retired.mpy"]
    files = board.files()
    assert "/dowel/app.py" not in files and "/dowel/retired.mpy" not in files
    assert files["/dowel/notes.txt"] == b"someone's notes"
    assert files["/dowel.json"] == CONFIG


def test_a_corrupted_upload_is_retried_once(board, src, tmp_path):
    board.corrupt["/dowel/engine.mpy"] = 1
    said = []
    result = deploy(Link(board, port="fake"), tmp_path / "build", src=src, say=said.append)
    assert "/dowel/engine.mpy" in result.uploaded
    assert board.writes.count("/dowel/engine.mpy.tmp") == 2
    assert any("hash mismatch" in line and "engine.mpy" in line for line in said)
    built = compile_device(tmp_path / "again", src)
    engine = next(p for p in built if p.name == "engine.mpy")
    assert board.files()["/dowel/engine.mpy"] == engine.read_bytes()


def test_a_corrupted_upload_twice_is_an_error_and_leaves_the_old_file(board, src, tmp_path):
    run(board, src, tmp_path)
    old = board.files()["/dowel/engine.mpy"]
    with open(src / "dowel" / "engine.py", "a") as f:
        f.write("\n_Y = 3\n")
    board.corrupt["/dowel/engine.mpy"] = 2
    with pytest.raises(DeviceError, match="engine.mpy arrived corrupted"):
        run(board, src, tmp_path)
    files = board.files()
    assert files["/dowel/engine.mpy"] == old  # the old module is still whole
    assert "/dowel/engine.mpy.tmp" not in files
    assert MANIFEST not in files  # mixed files: the board does not claim a version
    assert files["/dowel.json"] == CONFIG and files["/logs/0001.bin"] == LOG
    # and the next flash repairs it
    result = run(board, src, tmp_path)
    assert "/dowel/engine.mpy" in result.uploaded and MANIFEST in board.files()


def test_fat_filesystem_rename_over_an_existing_file(tmp_path, src):
    board = FakeBoard(tmp_path / "flash", firmware=False, fat=True)
    run(board, src, tmp_path)
    with open(src / "dowel" / "cues.py", "a") as f:
        f.write("\n_Z = 4\n")
    result = run(board, src, tmp_path)
    assert result.uploaded == ["/dowel/cues.mpy", MANIFEST]
    assert b"_Z" in board.files()["/dowel/cues.mpy"]


@pytest.mark.parametrize(
    ("impl", "message"),
    [
        (("circuitpython", (9, 2, 1), 0x306), "not MicroPython"),
        (("micropython", (1, 22, 2), 0x206), "MicroPython 1.22.2"),
        (("micropython", (1, 19, 1), 0x006), "1.24-1.29"),
        (("micropython", (1, 23, 0), 0x306), "MicroPython 1.23.0"),
    ],
)
def test_other_firmware_is_refused_before_writing(tmp_path, src, impl, message):
    board = FakeBoard(tmp_path / "flash", firmware=False, impl=impl)
    board.put("/dowel.json", CONFIG)
    with pytest.raises(DeviceError, match=message) as exc:
        run(board, src, tmp_path)
    assert "--firmware" in str(exc.value)
    assert board.writes == []
    assert board.files() == {"/dowel.json": CONFIG}


def test_not_enough_space_is_refused_before_writing(tmp_path, src):
    board = FakeBoard(tmp_path / "flash", firmware=False, free=4096)
    with pytest.raises(DeviceError, match="bytes free"):
        run(board, src, tmp_path)
    assert board.writes == []


def test_a_wrong_version_answer_after_reset_is_an_error(tmp_path, src):
    board = FakeBoard(tmp_path / "flash", firmware=False, answer_version="0.0.9")
    with pytest.raises(DeviceError, match="answers firmware 0.0.9"):
        run(board, src, tmp_path)


def test_build_is_deterministic(tmp_path, src):
    a = compile_device(tmp_path / "a", src)
    b = compile_device(tmp_path / "b", src)
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert {p.name for p in a} >= {"main.py", "app.mpy", "selftest.mpy", "pinmap.mpy"}


@pytest.mark.parametrize("version", [(1, 24, 1), (1, 28, 0), (1, 29, 0)])
def test_every_release_that_loads_mpy_6_3_is_accepted(tmp_path, src, version):
    # 1.24 to 1.29 all emit and load .mpy 6.3 (py/persistentcode.h: MPY_VERSION 6,
    # MPY_SUB_VERSION 3); an ESP32 reports sys.implementation._mpy 0x2B06 (arch 10, xtensawin).
    board = FakeBoard(tmp_path / "flash", firmware=False, impl=("micropython", version, 0x2B06))
    result = run(board, src, tmp_path)
    assert result.micropython == ".".join(map(str, version)) and result.firmware == FIRMWARE
