"""Which serial port is the dowel on: every device command's `--port`, and `dowel ports`.

    parser = argparse.ArgumentParser()
    add_port_argument(parser)
    port = resolve_port(args.port)   # explicit wins; else the one likely board; else ask or fail

A likely board is a serial port behind one of the USB bridges ESP32 boards carry (or the
ESP32's own USB), or the running virtual board. Anything else (the motherboard's ttyS0, a
phone, a 3D printer) is listed by `dowel ports --all` but never picked on its own.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from host_tools.errors import DeviceError, UsageError

# (VID, PID) -> bridge; PID None matches every product of that vendor.
BRIDGES: dict[tuple[int, int | None], str] = {
    (0x10C4, 0xEA60): "Silicon Labs CP210x",
    (0x1A86, 0x7523): "WCH CH340",
    (0x1A86, 0x55D4): "WCH CH9102",
    (0x1A86, 0x55D3): "WCH CH343",
    (0x10C4, 0xEA70): "Silicon Labs CP2105",  # dual UART: one of its two ports is the ESP32
    (0x0403, 0x6001): "FTDI FT232R",
    (0x0403, 0x6015): "FTDI FT231X",
    (0x0403, 0x6014): "FTDI FT232H",
    (0x0403, 0x6010): "FTDI FT2232H",  # dual: ESP-Prog, ESP-WROVER-KIT (one port JTAG)
    (0x303A, None): "Espressif native USB",
}

VIRTUAL = "virtual board"


@dataclass(frozen=True)
class PortInfo:
    device: str
    kind: str  # a bridge name from BRIDGES, VIRTUAL, or "" (not a likely board)
    description: str = ""
    usb_id: str = ""  # "10C4:EA60"
    serial_number: str = ""

    @property
    def likely(self) -> bool:
        return bool(self.kind)


def bridge_name(vid: int | None, pid: int | None) -> str:
    """The ESP32 USB bridge this VID:PID belongs to, or "" when it is not one of them."""
    if vid is None:
        return ""
    return BRIDGES.get((vid, pid)) or BRIDGES.get((vid, None)) or ""


def virtual_port() -> str | None:
    """The running virtual board's port, or None (also when the vboard module is not built)."""
    try:
        from host_tools.vboard import running_port
    except ImportError:
        return None
    return running_port()


def _serial_ports():
    from serial.tools import list_ports

    return list_ports.comports()


def list_ports(
    serial_ports: Callable[[], Iterable] | None = None,
    vboard_port: Callable[[], str | None] | None = None,
) -> list[PortInfo]:
    """Every serial port, likely boards first (the virtual board last among them)."""
    serial_ports = serial_ports or _serial_ports
    vboard_port = vboard_port or virtual_port
    found = []
    for p in serial_ports():
        usb_id = f"{p.vid:04X}:{p.pid:04X}" if p.vid is not None and p.pid is not None else ""
        description = p.description if p.description and p.description != "n/a" else ""
        found.append(
            PortInfo(
                p.device, bridge_name(p.vid, p.pid), description, usb_id, p.serial_number or ""
            )
        )
    found.sort(key=lambda info: (not info.likely, info.device))
    vport = vboard_port()
    if vport:
        found.insert(
            sum(info.likely for info in found),
            PortInfo(vport, VIRTUAL, "MicroPython unix port + simulated patient"),
        )
    return found


DIALOUT_HINT = (
    "permission denied: on Linux, serial ports belong to the `dialout` group; run "
    "`sudo usermod -aG dialout $USER`, then log out and back in"
)
BRLTTY_HINT = (
    "on Linux, brltty (a braille-display service) grabs CH340 adapters, so the port vanishes "
    "or stays busy: `sudo apt remove brltty` (or disable its udev rule), then replug the dowel"
)
BUSY_HINT = (
    "is no other program (a serial monitor, another dowel command) using the port? "
    "`dowel ports` lists boards"
)


def _open_errno(port: str) -> int | None:
    """Why pyserial cannot open `port`: the errno of its error, or None (it opened)."""
    import serial

    try:
        serial.Serial(port).close()
    except serial.SerialException as exc:
        return exc.errno if isinstance(exc.errno, int) else None
    except OSError as exc:
        return exc.errno
    return None


def open_failure_hint(
    port: str,
    code: int | None = None,
    *,
    probe: Callable[[str], int | None] | None = None,
    exists: Callable[[str], bool] | None = None,
    platform: str | None = None,
) -> str:
    """One line naming the likely fix when `port` cannot be opened; `code` is the errno when
    the caller has it (else the port is opened once more to learn it)."""
    linux = (platform or sys.platform).startswith("linux")
    if port.startswith("/dev/") and not (exists or os.path.exists)(port):
        hint = f"{port} does not exist (unplugged?); `dowel ports` lists boards"
        return hint + ("; " + BRLTTY_HINT if linux else "")
    if code is None:
        code = (probe or _open_errno)(port)
    if code in (errno.EACCES, errno.EPERM):
        return DIALOUT_HINT if linux else "permission denied; " + BUSY_HINT
    if code == errno.ENOENT:
        return "the port vanished; " + (BRLTTY_HINT if linux else "replug the dowel")
    if code == errno.EBUSY and linux:
        return "the port is busy; " + BUSY_HINT + "; " + BRLTTY_HINT
    return BUSY_HINT


def listed_port(port: str, ports: Iterable[PortInfo] | None = None) -> str | None:
    """The device of `ports` (default: every serial port found, and the virtual board) that
    `port` names, by its path or what the path links to; None for anything else. What a page
    hands in as a port is only ever opened through this: pyserial takes `spy://`, `socket://`
    and any file as a port, and would open them."""
    if not port or "\0" in port:
        return None
    want = os.path.realpath(port) if port.startswith("/") else port
    for info in list_ports() if ports is None else ports:
        have = os.path.realpath(info.device) if info.device.startswith("/") else info.device
        if port == info.device or want == have:
            return info.device
    return None


def likely_ports(**sources) -> list[PortInfo]:
    return [info for info in list_ports(**sources) if info.likely]


def add_port_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--port",
        help="serial port of the dowel (default: the one board found; `dowel ports` lists them)",
    )


def resolve_port(
    port: str | None,
    *,
    candidates: Callable[[], list[PortInfo]] | None = None,
    interactive: bool | None = None,
    ask: Callable[[str], str] = input,
) -> str:
    """The port to use: `port` if given, else the single likely board, else ask (on a tty)."""
    if port:
        return port
    boards = (candidates or likely_ports)()
    if not boards:
        raise DeviceError(
            "no dowel found: plug it in with a data-capable USB cable (and install the CP210x "
            "or CH340 driver if your system needs one), or start the simulated one with "
            "`dowel vboard start`. `dowel ports --all` lists every serial port; pick one with "
            "--port."
            + (
                " On Linux, brltty may have taken a CH340: `sudo apt remove brltty`."
                if sys.platform.startswith("linux")
                else ""
            )
        )
    if len(boards) == 1:
        return boards[0].device
    if interactive is None:
        interactive = sys.stdin.isatty()
    listing = "\n".join(
        f"  {n}. {b.device}  ({b.kind}{', ' + b.description if b.description else ''})"
        for n, b in enumerate(boards, 1)
    )
    if not interactive:
        raise DeviceError(
            f"{len(boards)} possible dowels found; choose one with --port:\n{listing}"
        )
    print(f"{len(boards)} possible dowels found:\n{listing}", file=sys.stderr)
    while True:
        try:
            answer = ask(f"Which one? [1-{len(boards)}] ").strip()
        except EOFError:
            answer = ""
        if answer.isdigit() and 1 <= int(answer) <= len(boards):
            return boards[int(answer) - 1].device
        if answer in {b.device for b in boards}:
            return answer
        if not answer:
            raise UsageError("no port chosen; pass one with --port")
        print(f"  please type a number from 1 to {len(boards)}", file=sys.stderr)
