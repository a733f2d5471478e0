"""`dowel flash` as the user runs it: argument rules, the order of the steps, exit statuses.
The board is the fake raw REPL of tests/fakes/board.py; esptool is replaced."""

from __future__ import annotations

import pytest

from host_tools.board import api
from host_tools.board.link import Link
from host_tools.cli import main
from host_tools.commands import flash as flash_cmd
from host_tools.firmware import esptool_flash
from tests.fakes.board import FakeBoard
from tests.firmware.test_esptool_flash import make_image


@pytest.fixture
def board(tmp_path, monkeypatch):
    b = FakeBoard(tmp_path / "flash", firmware=False)
    b.put("/dowel.json", b"{}")
    opened = []

    def open_link(port, wait_s=0.0, **_kw):
        opened.append((port, wait_s))
        return Link(b, port)

    monkeypatch.setattr("host_tools.board.api.connect_when_booted", open_link)
    monkeypatch.setattr("host_tools.commands.flash.resolve_port", lambda p: p or "/dev/fake0")
    monkeypatch.setenv("COLUMNS", "200")
    b.opened = opened
    return b


def test_flash_installs_then_reflash_uploads_nothing(board, capsys):
    assert main(["flash"]) == 0
    out = capsys.readouterr().out
    assert "dowel firmware" in out and "dowel selftest" in out
    assert board.opened == [("/dev/fake0", 0.0)]
    assert board.closed  # the link was closed (soft reset back into the firmware)
    assert main(["flash", "--port", "/dev/fake0"]) == 0
    assert "uploaded 0" in capsys.readouterr().out


def test_erase_needs_firmware(board, capsys):
    assert main(["flash", "--erase"]) == 2
    assert "--firmware" in capsys.readouterr().err
    assert board.opened == []


def test_a_bad_image_is_refused_before_finding_the_board(tmp_path, monkeypatch, capsys):
    def no_port(_p):
        raise AssertionError("must not look for a board")

    monkeypatch.setattr("host_tools.commands.flash.resolve_port", no_port)
    bad = make_image(tmp_path / "s3.bin", chip_id=9)
    assert main(["flash", "--firmware", str(bad)]) == 2
    assert "ESP32-S3" in capsys.readouterr().err


def test_firmware_then_deploy_waits_for_the_boot(board, tmp_path, monkeypatch):
    image = make_image(tmp_path / "mp.bin")
    calls = []

    def fake_flash(port, path, *, erase, baud, say):
        calls.append((port, path, erase, baud))
        return esptool_flash.check_image(path)

    monkeypatch.setattr(esptool_flash, "flash_micropython", fake_flash)
    assert main(["flash", "--firmware", str(image), "--baud", "115200"]) == 0
    assert calls == [("/dev/fake0", image, False, 115200)]
    assert board.opened == [("/dev/fake0", flash_cmd.BOOT_WAIT_S)]


def test_erase_without_a_terminal_needs_yes(board, tmp_path, monkeypatch, capsys):
    image = make_image(tmp_path / "mp.bin")
    monkeypatch.setattr(
        esptool_flash,
        "flash_micropython",
        lambda *a, **k: pytest.fail("must not flash without confirmation"),
    )
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["flash", "--firmware", str(image), "--erase"]) == 2
    err = capsys.readouterr().err
    assert "config" in err and "logs" in err and "--yes" in err


def test_erase_with_yes(board, tmp_path, monkeypatch):
    image = make_image(tmp_path / "mp.bin")
    erased = []
    monkeypatch.setattr(
        esptool_flash,
        "flash_micropython",
        lambda port, path, *, erase, baud, say: (
            erased.append(erase) or esptool_flash.check_image(path)
        ),
    )
    assert main(["flash", "--firmware", str(image), "--erase", "--yes"]) == 0
    assert erased == [True]


def test_a_failed_deploy_is_a_clean_nonzero_exit(tmp_path, monkeypatch, capsys):
    b = FakeBoard(tmp_path / "flash", firmware=False, impl=("micropython", (1, 20, 0), 0x206))
    monkeypatch.setattr(
        "host_tools.board.api.connect_when_booted", lambda port, wait_s=0.0: Link(b, port)
    )
    monkeypatch.setattr("host_tools.commands.flash.resolve_port", lambda p: "/dev/fake0")
    assert main(["flash"]) == 1
    assert "MicroPython 1.20.0" in capsys.readouterr().err
    assert b.writes == []


def test_open_link_retries_while_the_board_boots(monkeypatch):
    from host_tools.errors import DeviceError

    attempts = []
    now = [0.0]

    def fake_connect(port, **_kw):
        attempts.append(port)
        if len(attempts) < 3:
            raise DeviceError("not yet")
        return "link"

    monkeypatch.setattr("host_tools.board.api.connect", fake_connect)
    sleep = lambda s: now.__setitem__(0, now[0] + s)  # noqa: E731
    assert api.connect_when_booted("p", 5.0, sleep=sleep, clock=lambda: now[0]) == "link"
    assert len(attempts) == 3
    attempts.clear()
    with pytest.raises(DeviceError):
        api.connect_when_booted("p", 0.0, sleep=sleep, clock=lambda: now[0])
    assert len(attempts) == 1


@pytest.mark.parametrize("data", [b'{"loss_ms": 5}', b"\x00\xff binary", b""])
def test_flash_says_when_the_board_rejects_its_config(board, capsys, data):
    board.put("/dowel.json", data)
    assert main(["flash"]) == 0  # the firmware is installed all the same
    out = " ".join(capsys.readouterr().out.split())
    assert "config /dowel.json rejected, defaults in use" in out
    assert "--from-defaults" in out
    assert board.files()["/dowel.json"] == data  # flashing never touches the config


def test_flash_with_a_valid_config_says_nothing_of_it(board, capsys):
    assert main(["flash"]) == 0
    assert "rejected" not in capsys.readouterr().out
