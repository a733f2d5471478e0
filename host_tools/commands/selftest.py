"""`dowel selftest`: a guided check of a built dowel; a pass/fail table naming what to fix."""

from __future__ import annotations

import argparse
import sys

from host_tools.board.ports import add_port_argument, resolve_port
from host_tools.errors import DowelError

HELP = "guided check of the sensors, buzzer, LED and IMU of a built dowel"

STYLE = {"PASS": "green", "WARN": "yellow", "FAIL": "bold red", "SKIP": "dim"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_port_argument(parser)
    parser.add_argument(
        "-y",
        "--yes",
        action="store_true",
        help="do not ask whether the beep was heard or the LED seen (they are marked SKIP)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds to wait for each press and for the tilt (default 10)",
    )


class ConsoleUi:
    def __init__(self, console):
        self.console = console

    def say(self, text: str) -> None:
        self.console.print(text)

    def confirm(self, question: str) -> bool:
        from rich.prompt import Confirm

        return Confirm.ask(question, console=self.console, default=True)


def render(checks, console) -> None:
    from rich.table import Table

    table = Table(title="dowel self-test")
    for column in ("check", "result", "reading", "to fix"):
        table.add_column(column, overflow="fold")
    for c in checks:
        table.add_row(c.item, f"[{STYLE[c.status]}]{c.status}[/]", c.detail, c.fix)
    console.print(table)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from host_tools.board import api
    from host_tools.selftest import session as selftest

    console = Console()
    yes = args.yes
    if not yes and not sys.stdin.isatty():
        console.print("(no terminal to answer questions on: buzzer and LED are not asked)")
        yes = True
    port = resolve_port(args.port)
    from host_tools.board import config as board_config

    try:
        with api.connect(port, fresh=True) as link:
            board_config.warn_if_rejected(
                link, lambda text: console.print(text, highlight=False, markup=False)
            )
            checks = selftest.run_selftest(
                link, ConsoleUi(console), yes=yes, timeout_s=args.timeout
            )
    except EOFError:
        raise DowelError(
            "stopped: input ended at a prompt (Ctrl-D), self-test not finished and nothing "
            "written; run `dowel selftest` again, or pass --yes to skip the questions"
        ) from None
    render(checks, console)
    if selftest.failed(checks):
        console.print(
            "[bold red]Self-test failed[/]: fix the items above, then run `dowel selftest` again."
        )
        return 1
    console.print("[green]Self-test passed.[/] Next: `dowel calibrate` for each patient.")
    return 0
