"""Port discovery: which serial ports are likely dowels, and what `--port` resolves to."""

from __future__ import annotations

import argparse
from types import SimpleNamespace

import pytest

from host_tools.board import ports
from host_tools.errors import DeviceError, UsageError


def port(device, vid=None, pid=None, description="n/a", serial_number=None):
    return SimpleNamespace(
        device=device, vid=vid, pid=pid, description=description, serial_number=serial_number
    )


SERIAL = [
    port("/dev/ttyS0"),
    port("/dev/ttyUSB0", 0x10C4, 0xEA60, "CP2102 USB to UART Bridge Controller", "0001"),
    port("/dev/ttyACM0", 0x2341, 0x0043, "Arduino Uno"),
    port("/dev/ttyUSB1", 0x1A86, 0x7523, "USB2.0-Serial"),
    port("/dev/ttyACM1", 0x303A, 0x1001, "USB JTAG/serial debug unit"),
]


@pytest.mark.parametrize(
    ("vid", "pid", "name"),
    [
        (0x10C4, 0xEA60, "Silicon Labs CP210x"),
        (0x1A86, 0x7523, "WCH CH340"),
        (0x1A86, 0x55D4, "WCH CH9102"),
        (0x0403, 0x6001, "FTDI FT232R"),
        (0x0403, 0x6015, "FTDI FT231X"),
        (0x303A, 0x1001, "Espressif native USB"),
        (0x303A, 0x4001, "Espressif native USB"),
        (0x1A86, 0x55D3, "WCH CH343"),
        (0x10C4, 0xEA70, "Silicon Labs CP2105"),
        (0x0403, 0x6014, "FTDI FT232H"),
        (0x0403, 0x6010, "FTDI FT2232H"),
        (0x1A86, 0x5523, ""),  # a WCH product that is not a UART bridge
        (0x10C4, 0x8A2A, ""),  # a Silicon Labs USB hub, not a bridge
        (0x2341, 0x0043, ""),
        (None, None, ""),
    ],
)
def test_bridge_names(vid, pid, name):
    assert ports.bridge_name(vid, pid) == name


def test_list_ports_marks_bridges_and_puts_likely_boards_first():
    found = ports.list_ports(lambda: SERIAL, lambda: "/dev/pts/7")
    assert [p.device for p in found] == [
        "/dev/ttyACM1",
        "/dev/ttyUSB0",
        "/dev/ttyUSB1",
        "/dev/pts/7",
        "/dev/ttyACM0",
        "/dev/ttyS0",
    ]
    by_device = {p.device: p for p in found}
    assert by_device["/dev/ttyUSB0"].usb_id == "10C4:EA60"
    assert by_device["/dev/ttyUSB0"].serial_number == "0001"
    assert by_device["/dev/pts/7"].kind == ports.VIRTUAL
    assert not by_device["/dev/ttyACM0"].likely
    assert by_device["/dev/ttyS0"].description == ""  # pyserial's "n/a" is not shown


def test_list_ports_without_a_virtual_board():
    found = ports.list_ports(lambda: SERIAL[:2], lambda: None)
    assert [p.device for p in found if p.likely] == ["/dev/ttyUSB0"]


def candidates(*devices):
    return lambda: [ports.PortInfo(d, "WCH CH340") for d in devices]


def test_explicit_port_wins_without_looking():
    def boom():
        raise AssertionError("must not scan when --port is given")

    assert ports.resolve_port("/dev/ttyUSB9", candidates=boom) == "/dev/ttyUSB9"


def test_single_board_is_the_default():
    assert ports.resolve_port(None, candidates=candidates("/dev/ttyUSB0")) == "/dev/ttyUSB0"


def test_no_board_names_the_virtual_board_and_ports_command():
    with pytest.raises(DeviceError) as exc:
        ports.resolve_port(None, candidates=candidates())
    assert "dowel vboard start" in str(exc.value)
    assert "dowel ports" in str(exc.value)


def test_several_boards_without_a_terminal_list_them():
    with pytest.raises(DeviceError) as exc:
        ports.resolve_port(
            None, candidates=candidates("/dev/ttyUSB0", "/dev/ttyUSB1"), interactive=False
        )
    assert "/dev/ttyUSB0" in str(exc.value) and "/dev/ttyUSB1" in str(exc.value)
    assert "--port" in str(exc.value)


def test_several_boards_on_a_terminal_asks_until_answered(capsys):
    answers = iter(["7", "x", "2"])
    chosen = ports.resolve_port(
        None,
        candidates=candidates("/dev/ttyUSB0", "/dev/ttyUSB1"),
        interactive=True,
        ask=lambda _prompt: next(answers),
    )
    assert chosen == "/dev/ttyUSB1"
    assert "type a number from 1 to 2" in capsys.readouterr().err


def test_several_boards_accept_a_typed_device_name():
    chosen = ports.resolve_port(
        None,
        candidates=candidates("/dev/ttyUSB0", "/dev/ttyUSB1"),
        interactive=True,
        ask=lambda _prompt: "/dev/ttyUSB0",
    )
    assert chosen == "/dev/ttyUSB0"


@pytest.mark.parametrize("answer", ["", EOFError])
def test_several_boards_empty_answer_is_a_usage_error(answer):
    def ask(_prompt):
        if answer is EOFError:
            raise EOFError
        return answer

    with pytest.raises(UsageError):
        ports.resolve_port(
            None, candidates=candidates("/dev/a", "/dev/b"), interactive=True, ask=ask
        )


def test_add_port_argument():
    parser = argparse.ArgumentParser()
    ports.add_port_argument(parser)
    assert parser.parse_args(["--port", "/dev/x"]).port == "/dev/x"
    assert parser.parse_args([]).port is None


def test_virtual_port_is_none_without_the_vboard_module(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_vboard(name, *args, **kwargs):
        if name == "host_tools.vboard":
            raise ModuleNotFoundError(
                "No module named 'host_tools.vboard'", name="host_tools.vboard"
            )
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_vboard)
    assert ports.virtual_port() is None


def test_ports_command_lists_likely_boards(monkeypatch, capsys):
    from host_tools.cli import main

    monkeypatch.setenv("COLUMNS", "200")  # rich would wrap the table at 80
    monkeypatch.setattr(ports, "_serial_ports", lambda: SERIAL)
    monkeypatch.setattr(ports, "virtual_port", lambda: None)
    assert main(["ports"]) == 0
    out = capsys.readouterr().out
    assert "/dev/ttyUSB0" in out and "Silicon Labs CP210x" in out
    assert "/dev/ttyACM0" not in out  # an Arduino is not offered
    assert "3 possible dowels" in out


def test_ports_command_with_nothing_found(monkeypatch, capsys):
    from host_tools.cli import main

    monkeypatch.setattr(ports, "_serial_ports", lambda: SERIAL[:1])
    monkeypatch.setattr(ports, "virtual_port", lambda: None)
    assert main(["ports"]) == 1
    assert "dowel vboard start" in capsys.readouterr().out


def test_new_bridges_are_picked_as_boards():
    serial = [
        port("/dev/ttyACM3", 0x1A86, 0x55D3),
        port("/dev/ttyUSB4", 0x10C4, 0xEA70),
        port("/dev/ttyUSB5", 0x0403, 0x6014),
        port("/dev/ttyUSB6", 0x0403, 0x6010),
    ]
    found = ports.list_ports(lambda: serial, lambda: None)
    assert all(p.likely for p in found) and len(found) == 4


def hint(port="/dev/ttyUSB0", code=None, *, exists=True, platform="linux", probed=None):
    return ports.open_failure_hint(
        port, code, probe=lambda _p: probed, exists=lambda _p: exists, platform=platform
    )


def test_permission_denied_names_the_dialout_group():
    import errno

    assert "dialout" in hint(code=errno.EACCES) and "usermod" in hint(code=errno.EACCES)
    assert "dialout" in hint(probed=errno.EACCES)  # learnt by opening the port once more
    assert "dialout" not in hint(code=errno.EACCES, platform="darwin")


def test_a_vanished_or_busy_port_names_brltty_on_linux():
    import errno

    assert "brltty" in hint(exists=False) and "does not exist" in hint(exists=False)
    assert "brltty" in hint(code=errno.EBUSY) and "serial monitor" in hint(code=errno.EBUSY)
    assert "brltty" in hint(code=errno.ENOENT)
    assert "brltty" not in hint(code=errno.EBUSY, platform="win32")
    assert "brltty" not in hint(port="COM3", exists=False, platform="win32")


def test_every_hint_is_one_line():
    import errno

    for code in (None, errno.EACCES, errno.EBUSY, errno.ENOENT, errno.EIO):
        for platform in ("linux", "darwin", "win32"):
            assert "\n" not in hint(code=code, platform=platform)


def test_probe_reads_the_errno_of_pyserials_error(monkeypatch):
    import errno

    import serial

    def refuse(port):
        raise serial.SerialException(errno.EACCES, f"could not open port {port}: denied")

    monkeypatch.setattr(serial, "Serial", refuse)
    assert ports._open_errno("/dev/ttyUSB0") == errno.EACCES
