"""`dowel ports`: the serial ports a dowel may be on, and which one `--port` would pick."""

from __future__ import annotations

import argparse

from host_tools.board import ports

HELP = "list the serial ports a dowel may be on (USB bridges of ESP32 boards, the virtual board)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--all", action="store_true", help="also list serial ports that are not likely boards"
    )


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    found = ports.list_ports()
    shown = found if args.all else [p for p in found if p.likely]
    if not shown:
        hidden = len(found)
        console.print(
            "No dowel found. Plug it in with a data-capable USB cable, or start the simulated "
            "one with `dowel vboard start`."
            + (f" ({hidden} other serial port(s): `dowel ports --all`.)" if hidden else "")
        )
        return 1
    table = Table(title="Serial ports")
    for column in ("port", "what", "USB id", "description", "serial"):
        table.add_column(column)
    for p in shown:
        table.add_row(
            p.device,
            p.kind or "-",
            p.usb_id,
            p.description,
            p.serial_number,
            style=None if p.likely else "dim",
        )
    console.print(table)
    likely = [p for p in found if p.likely]
    if len(likely) == 1:
        console.print(f"--port defaults to {likely[0].device}")
    elif len(likely) > 1:
        console.print(f"{len(likely)} possible dowels: commands will ask, or pass --port")
    return 0
