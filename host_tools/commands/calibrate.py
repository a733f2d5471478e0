"""`dowel calibrate --patient ID`: the calibration at the patient's side, in a terminal.

The workflow is host_tools.calibrate.session; this module only shows it (live bars with rich,
or plain lines in a pipe) and asks the PT between steps.
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import contextmanager

from host_tools.calibrate import rule as cal
from host_tools.calibrate.drift import check_drift, drift_prompt
from host_tools.calibrate.session import (
    INTERACTIVE_STEPS,
    Phase,
    QuietUI,
    Steps,
    View,
    calibrate,
    check_patient,
)
from host_tools.errors import DowelError, UsageError

HELP = "calibrate the contact thresholds for a patient (guided; --yes for a fixed-time run)"


class PlainUI(QuietUI):
    """Line output for a pipe or log file (no cursor movement)."""

    def __init__(self, out=None):
        self.out = out or sys.stdout

    def announce(self, phase: Phase) -> None:
        print(f"Step {phase.step}/3, {phase.title}: {phase.text}", file=self.out, flush=True)

    def show_proposal(self, proposal: cal.Proposal) -> None:
        for s in proposal.sensors:
            print(
                f"  {s.name:8} released {s.zero.level:5d} +/-{s.zero.noise:<4d} "
                f"contact {s.contact.level:5d} +/-{s.contact.noise:<4d} "
                + (f"-> on {s.on}, off {s.off}" if s.problem is None else "REFUSED"),
                file=self.out,
            )

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)


class RichUI(PlainUI):
    """The guided terminal flow: live bars against the thresholds, Enter between steps."""

    def __init__(self, interactive: bool, console=None):
        from rich.console import Console

        self.console = console or Console()
        self.interactive = interactive

    def announce(self, phase: Phase) -> None:
        self.console.rule(f"[bold]Step {phase.step} of 3: {phase.title}")
        self.console.print(phase.text, markup=False, highlight=False)

    def wait_ready(self) -> None:
        if self.interactive:
            self.console.input("Press [bold]Enter[/] when the patient is ready (Ctrl-C stops) ")

    @contextmanager
    def live(self, view: View):
        from rich.live import Live

        last_draw = 0.0
        with Live(self._render(view), console=self.console, auto_refresh=False) as live:

            def refresh() -> None:
                nonlocal last_draw
                now = time.monotonic()
                if now - last_draw >= 1 / 15:
                    last_draw = now
                    live.update(self._render(view), refresh=True)

            yield refresh
            live.update(self._render(view), refresh=True)

    def _render(self, view: View):
        from rich.table import Table
        from rich.text import Text

        doing = "recording" if view.recording else "get in position"
        table = Table(
            title=f"Step {view.phase.step}, {view.phase.title}: {doing} "
            f"{view.phase_ms / 1000:4.1f} / {view.phase.ms / 1000:.1f} s",
            expand=False,
        )
        for column in ("point", "reading", "0 .. 65535", "released", "off / on", "state"):
            table.add_column(column, no_wrap=True)
        for p in view.points():
            state = Text("-")
            if p.state == "lost":
                state = Text(
                    f"LOSS x{len(p.lost_at_ms)}, last {p.lost_at_ms[-1] / 1000:.1f} s", "bold red"
                )
            elif p.state:
                state = Text(p.state, "green" if p.state == "contact" else "yellow")
            zero = "-" if p.zero is None else str(p.zero)
            limits = f"{p.off} / {p.on}" if p.on is not None else "-"
            table.add_row(
                p.name, str(p.reading), _bar(p.reading, p.on, p.off), zero, limits, state
            )
        caption = []
        if view.proposal:
            caption.append(
                "bar marks: [yellow]|[/] off (a dip under it for loss_ms is a loss), "
                "[green]|[/] on"
            )
        if view.last and view.last.pitch_ddeg is not None:
            caption.append(f"trunk pitch {view.last.pitch_ddeg / 10:.1f} deg")
        table.caption = "\n".join(caption) or None
        return table

    def show_proposal(self, proposal: cal.Proposal) -> None:
        from rich.table import Table

        table = Table(title="Measured levels and proposed thresholds (ADC counts)")
        for column in ("point", "released", "contact", "off", "on", ""):
            table.add_column(column)
        for s in proposal.sensors:
            table.add_row(
                cal.SAY[s.name],
                f"{s.zero.level} +/-{s.zero.noise}",
                f"{s.contact.level} +/-{s.contact.noise}",
                str(s.off) if s.problem is None else "-",
                str(s.on) if s.problem is None else "-",
                "[green]ok" if s.problem is None else "[bold red]refused",
            )
        self.console.print(table)

    def confirm(self, question: str, default: bool) -> bool:
        if not self.interactive:
            return True
        from rich.prompt import Confirm

        return Confirm.ask(question, default=default, console=self.console)

    def say(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False)


def _bar(reading: int, on: int | None, off: int | None, width: int = 24):
    from rich.text import Text

    def cell(value: int) -> int:
        return min(width - 1, value * width // 65536)

    filled = cell(reading) + 1 if reading > 0 else 0
    text = Text()
    for i in range(width):
        if on is not None and i == cell(on):
            text.append("|", "bold green")
        elif off is not None and i == cell(off):
            text.append("|", "bold yellow")
        else:
            text.append("#" if i < filled else ".", "cyan" if i < filled else "dim")
    return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from host_tools.board.ports import add_port_argument

    parser.add_argument("--patient", required=True, help="patient id (A-Z a-z 0-9 _ -, <= 32)")
    parser.add_argument(
        "--yes",
        "-y",
        action="store_true",
        help="non-interactive: fixed step durations, no questions (scripts, tests, demo)",
    )
    add_port_argument(parser)


def run(args: argparse.Namespace) -> int:
    from host_tools.board import api
    from host_tools.board.ports import resolve_port

    check_patient(args.patient)
    interactive = not args.yes
    if interactive and not sys.stdin.isatty():
        raise UsageError(
            "calibration asks the PT questions, but input is not a terminal: run it in a "
            "terminal, or pass --yes for the fixed-time version"
        )
    from rich.console import Console

    console = Console()
    # A pipe or log file gets plain lines, unless the PT is there to answer questions.
    ui: QuietUI = RichUI(interactive, console) if console.is_terminal or interactive else PlainUI()
    steps = INTERACTIVE_STEPS if interactive else Steps()
    port = resolve_port(args.port)
    try:
        with api.connect(port, fresh=True) as link:
            findings = check_drift(link)
            if findings:
                ui.say(drift_prompt(findings, args.patient))
            calibrate(link, args.patient, steps=steps, ui=ui)
    except EOFError:
        # Ctrl-D at a prompt: every prompt comes before the thresholds are written.
        raise DowelError(
            "stopped: input ended at a prompt (Ctrl-D), no calibration written; run "
            "`dowel calibrate` again when the patient is ready"
        ) from None
    return 0
