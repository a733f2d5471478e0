"""`dowel flash` on the virtual board: the real mpremote transport, the real MicroPython
file system (littlefs v2 in the board's flash image, read here with host_tools.vboard.flashimg),
the real soft reset and version query."""

from __future__ import annotations

import json
import shutil

import pytest
from dowel import config as dconfig
from dowel.version import FIRMWARE

from host_tools.board.link import Link
from host_tools.errors import DeviceError
from host_tools.firmware.deploy import MANIFEST, deploy
from host_tools.paths import device_dir

pytestmark = pytest.mark.vboard

CONFIG = json.dumps(dict(dconfig.defaults(), patient="P-VB-1")).encode()
LOG = b"not a segment: the log store ignores it, and flash must too\n"


@pytest.fixture
def vb(tmp_path, request):
    client = pytest.importorskip("host_tools.vboard.client")
    from host_tools.vboard import flashimg

    flash = tmp_path / "flash"
    flashimg.write(flash, {"dowel.json": CONFIG, "logs/keep.txt": LOG})
    name = "flash-" + request.node.name[:40]
    with client.VirtualBoard.start(flash_dir=flash, name=name) as board:
        yield board


@pytest.fixture
def src(tmp_path):
    copy = tmp_path / "device"
    shutil.copytree(device_dir(), copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def flash_files(vb) -> dict[str, bytes]:
    from host_tools.vboard import flashimg

    return flashimg.files(vb.flash_dir)


def run(vb, src, tmp_path, **kw):
    with Link.open(vb.port) as link:
        return deploy(link, tmp_path / "build", src=src, **kw)


def test_flash_uploads_then_nothing_then_the_changed_file(vb, src, tmp_path):
    first = run(vb, src, tmp_path)
    # The board runs the unix port of MicroPython 1.29 (the ESP32 runs 1.27.0).
    assert first.firmware == FIRMWARE and first.micropython.startswith("1.")
    assert "/main.py" in first.uploaded and "/dowel/app.mpy" in first.uploaded
    files = flash_files(vb)
    assert files["/dowel/app.mpy"][:2] == b"M\x06"
    assert json.loads(files[MANIFEST])["firmware"] == FIRMWARE

    second = run(vb, src, tmp_path)
    assert second.uploaded == [] and second.removed == []
    assert second.firmware == FIRMWARE

    with open(src / "dowel" / "cues.py", "a") as f:
        f.write("\n_VBOARD_MARKER = 1\n")
    third = run(vb, src, tmp_path)
    assert third.uploaded == ["/dowel/cues.mpy", MANIFEST]
    assert b"_VBOARD_MARKER" in flash_files(vb)["/dowel/cues.mpy"]

    files = flash_files(vb)
    assert files["/dowel.json"] == CONFIG and files["/logs/keep.txt"] == LOG
    assert not [p for p in files if p.endswith(".tmp")]


class Corrupting:
    """Wraps the transport: flips the last byte of the next `times` writes of `target`."""

    def __init__(self, transport, target: str, times: int):
        self._t = transport
        self.target = target
        self.times = times

    def fs_writefile(self, dest, data, **kw):
        if dest == self.target + ".tmp" and self.times > 0:
            self.times -= 1
            data = data[:-1] + bytes([data[-1] ^ 0xFF])
        return self._t.fs_writefile(dest, data, **kw)

    def __getattr__(self, name):
        return getattr(self._t, name)


def test_a_corrupted_upload_is_detected_and_retried(vb, src, tmp_path):
    run(vb, src, tmp_path)
    old = flash_files(vb)["/dowel/engine.mpy"]
    with open(src / "dowel" / "engine.py", "a") as f:
        f.write("\n_CHANGED = 1\n")

    with Link.open(vb.port) as link:
        link.transport = Corrupting(link.transport, "/dowel/engine.mpy", times=2)
        with pytest.raises(DeviceError, match="engine.mpy arrived corrupted"):
            deploy(link, tmp_path / "build", src=src)
        link.transport = link.transport._t
    files = flash_files(vb)
    assert files["/dowel/engine.mpy"] == old  # the old module is still whole
    assert "/dowel/engine.mpy.tmp" not in files and MANIFEST not in files
    assert files["/dowel.json"] == CONFIG

    said: list[str] = []
    with Link.open(vb.port) as link:
        link.transport = Corrupting(link.transport, "/dowel/engine.mpy", times=1)
        result = deploy(link, tmp_path / "build", src=src, say=said.append)
        link.transport = link.transport._t
    assert "/dowel/engine.mpy" in result.uploaded and result.firmware == FIRMWARE
    assert any("hash mismatch" in line for line in said)
    assert b"_CHANGED" in flash_files(vb)["/dowel/engine.mpy"]


def test_dowel_flash_command_on_the_virtual_board(vb, src, capsys, monkeypatch):
    from host_tools.cli import main

    monkeypatch.setattr(
        "host_tools.firmware.build.device_dir", lambda: src
    )  # a snapshot: others edit
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["flash", "--port", vb.port]) == 0
    assert "dowel firmware " + FIRMWARE in capsys.readouterr().out
    assert main(["flash", "--port", vb.port]) == 0
    assert "uploaded 0" in capsys.readouterr().out
    with Link.open(vb.port) as link:
        assert link.call("dowel.info", "version")[0] == FIRMWARE
