"""`dowel flash [--port] [--firmware FILE.bin] [--erase]`: put the dowel firmware on a board.

Always: compile `device/`, upload what changed, verify, check the version
(host_tools.firmware.deploy).
With --firmware: first install MicroPython itself with esptool (host_tools.firmware.esptool_flash).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from host_tools.board.ports import add_port_argument, resolve_port
from host_tools.errors import UsageError

HELP = "install the dowel firmware on a board (with --firmware, MicroPython first)"

BOOT_WAIT_S = 20.0  # after esptool's reset: MicroPython's first boot formats the filesystem


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_port_argument(parser)
    parser.add_argument(
        "--firmware",
        type=Path,
        metavar="FILE.bin",
        help="first write this MicroPython image (ESP32_GENERIC 1.24-1.29, from "
        "micropython.org/download/ESP32_GENERIC) with esptool",
    )
    parser.add_argument(
        "--erase",
        action="store_true",
        help="with --firmware: erase the whole flash first (deletes the config and the logs)",
    )
    parser.add_argument(
        "--baud",
        type=int,
        default=460800,
        help="esptool baud rate (default 460800; try 115200 on flaky cables)",
    )
    parser.add_argument("-y", "--yes", action="store_true", help="do not ask before --erase")


def confirm_erase(yes: bool) -> None:
    if yes:
        return
    warning = (
        "--erase deletes everything on the dowel, including the patient's config and "
        "every log not yet pulled with `dowel logs`."
    )
    if not sys.stdin.isatty():
        raise UsageError(warning + " Add --yes to confirm.")
    print(warning, file=sys.stderr)
    try:
        answer = input("Erase the whole flash? [y/N] ")
    except EOFError:
        answer = ""
    if answer.strip().lower() not in ("y", "yes"):
        raise UsageError("not erased; nothing was written")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from host_tools.board import api
    from host_tools.firmware import esptool_flash
    from host_tools.firmware.deploy import deploy

    console = Console()
    if args.erase and not args.firmware:
        raise UsageError(
            "--erase also wipes MicroPython, so it needs --firmware FILE.bin to put it back"
        )
    if args.firmware:
        esptool_flash.check_image(args.firmware)  # refuse a wrong file before touching the board
    port = resolve_port(args.port)
    wait_s = 0.0
    if args.firmware:
        if args.erase:
            confirm_erase(args.yes)
        info = esptool_flash.flash_micropython(
            port, args.firmware, erase=args.erase, baud=args.baud, say=console.print
        )
        console.print(f"MicroPython {info.version} written and verified; waiting for it to boot")
        wait_s = BOOT_WAIT_S
    console.print(f"Installing the dowel firmware on {port}")
    from host_tools.board import config as board_config

    with api.connect_when_booted(port, wait_s) as link:
        result = deploy(link, say=console.print)
        # The new firmware reads the same /dowel.json: a config it refuses is said here, not
        # discovered later from the warble.
        board_config.warn_if_rejected(
            link, say=lambda line: console.print(line, highlight=False, markup=False)
        )
    parts = [f"uploaded {len(result.uploaded)}", f"{len(result.skipped)} unchanged"]
    if result.removed:
        parts.append(f"removed {len(result.removed)} stale")
    console.print(
        f"[green]dowel firmware {result.firmware}[/] on MicroPython {result.micropython} at "
        f"{port}: {', '.join(parts)}. Next: `dowel selftest`."
    )
    return 0
