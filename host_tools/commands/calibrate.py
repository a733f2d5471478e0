"""`dowel calibrate --patient ID`: measure the patient's contact levels, set the thresholds.

    with Link.open(port) as link:
        result = calibrate(link, "P-0001")        # non-interactive, fixed step durations

Three steps, each streamed live from the board (host_tools.livestream): released (zero
levels), neutral hold (contact levels and their spread), check (two or three slow hinges, with
the proposed thresholds run through the firmware's own debounce to show where a loss would
fire). The rule and the refusals are in host_tools.calibration. A refused sensor stops
everything before the board is written; an accepted calibration is written atomically by the
board's `dowel.config.write_json`, read back and compared, the board's drift state is reset,
and the profile goes into the host database's `calibrations` table (history kept).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sqlite3
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from dowel import config as dconfig

from host_tools import calibration as cal
from host_tools.errors import DeviceError, DowelError, UsageError
from host_tools.livestream import Sample, stream

HELP = "calibrate the contact thresholds for a patient (guided; --yes for a fixed-time run)"


@dataclass(frozen=True)
class Steps:
    """Step durations in ms. Without questions (--yes) the released step, the move onto the
    back and the hold stream as one run, cut by the board's own sample times, so no host delay
    shifts a step; the defaults fit the shipped `calibration` scenario of the virtual board
    (released 0-2 s, pick-up 2-3.2 s, hold 3.2-6.2 s, three slow hinges from 6.2 s to 22 s)
    with half a second of slack for connecting. Interactively, `move_ms` is the settling time
    after the PT presses Enter for the hold."""

    released_ms: int = 1200
    move_ms: int = 2100
    hold_ms: int = 2300
    check_ms: int = 15000


INTERACTIVE_STEPS = Steps(released_ms=2000, move_ms=500, hold_ms=3000, check_ms=15000)


@dataclass(frozen=True)
class Phase:
    step: int  # 1..3, as the PT is told
    title: str
    text: str
    ms: int
    key: str | None  # samples kept under this key ("released", "hold", "check"); None: shown only


def phases(steps: Steps) -> tuple[Phase, ...]:
    return (
        Phase(1, "released", "Hold the dowel away from the body, sensors touching nothing.",
              steps.released_ms, "released"),
        Phase(2, "neutral hold", "Lay the dowel on the back touching the head, mid-back and "
              "sacrum; stand tall and hold still.", steps.move_ms, None),
        Phase(2, "neutral hold", "Hold still: recording the contact levels.",
              steps.hold_ms, "hold"),
        Phase(3, "check", "Keep the three points on the dowel and do two or three slow hip "
              "hinges. A loss the live view marks during a good hinge means: redo.",
              steps.check_ms, "check"),
    )


class CalibrationRefused(DowelError):
    """A sensor failed validation; nothing was written. `.proposal` holds the measurement."""

    def __init__(self, proposal: cal.Proposal):
        self.proposal = proposal
        lines = "\n".join("  - " + p for p in proposal.problems)
        super().__init__(
            f"calibration refused, nothing written to the dowel:\n{lines}\n"
            "Fix the point(s) named above and run `dowel calibrate` again."
        )


@dataclass
class Calibration:
    patient: str
    device_id: str
    taken_utc: str
    proposal: cal.Proposal
    config: dict
    losses: list[cal.Loss]  # losses the proposed thresholds fired during the check step
    never_touched: list[str]  # sensors that never reached contact during the check
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    calibration_id: int | None = None

    def warnings(self) -> list[str]:
        out = []
        for name in cal.SENSORS:
            times = [loss.t_ms for loss in self.losses if loss.sensor == name]
            if times:
                at = ", ".join(f"{ms / 1000:.1f}" for ms in times)
                out.append(
                    f"{cal.POINTS[name]}: a loss fired during the check at {at} s; fine if the "
                    "patient really lost that point, else redo the calibration"
                )
        for name in self.never_touched:
            out.append(f"{cal.POINTS[name]} never reached contact during the check")
        return out


# --------------------------------------------------------------------------------------------
# What the PT sees. The core talks to a UI object so tests and the demo can run it silently.


class View:
    """What the live display shows: the phase, the latest sample, and the thresholds."""

    def __init__(self, phase: Phase):
        self.phase = phase
        self.phase_t0_ms = 0  # stream time the phase began
        self.last: Sample | None = None
        self.zero: tuple[cal.Stats, ...] | None = None
        self.proposal: cal.Proposal | None = None
        self.check: cal.LiveCheck | None = None
        self.lost_at: dict[str, list[int]] = {name: [] for name in cal.SENSORS}

    @property
    def recording(self) -> bool:
        return self.phase.key is not None

    @property
    def phase_ms(self) -> int:
        return self.last.t_ms - self.phase_t0_ms if self.last else 0


class QuietUI:
    """No output, never asks: for tests, scripts that parse nothing, and the demo's core."""

    interactive = False

    def announce(self, phase: Phase) -> None:
        pass

    def wait_ready(self) -> None:
        pass

    @contextmanager
    def live(self, view: View):
        yield lambda: None

    def show_proposal(self, proposal: cal.Proposal) -> None:
        pass

    def confirm(self, question: str, default: bool) -> bool:
        return True

    def say(self, text: str) -> None:
        pass


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
        for i, name in enumerate(cal.SENSORS):
            reading = view.last.counts[i] if view.last else 0
            result = view.proposal.sensors[i] if view.proposal else None
            on = result.on if result and result.problem is None else None
            off = result.off if result and result.problem is None else None
            zero = str(view.zero[i].level) if view.zero else "-"
            limits = f"{off} / {on}" if on is not None else "-"
            state = Text("-")
            if view.check is not None:
                touching = view.check.touching(i)
                state = Text("contact", "green") if touching else Text("no contact", "yellow")
                lost = view.lost_at[name]
                if lost:
                    state = Text(f"LOSS x{len(lost)}, last {lost[-1] / 1000:.1f} s", "bold red")
            table.add_row(name, str(reading), _bar(reading, on, off), zero, limits, state)
        caption = []
        if view.proposal:
            caption.append("bar marks: [yellow]|[/] off (a dip under it for loss_ms is a loss), "
                           "[green]|[/] on")
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
                cal.POINTS[s.name],
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


# --------------------------------------------------------------------------------------------
# The core, callable with any Link (the CLI, the demo, the tests).


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def device_id(link) -> str:
    """The board's `machine.unique_id()` (the ESP32's MAC) as hex text, as the log headers
    carry it."""
    uid = link.call("dowel.hal", "unique_id")
    if not isinstance(uid, bytes | bytearray):
        raise DeviceError(f"the board answered {uid!r} for its id; run `dowel flash` again")
    return bytes(uid).hex()


def _check_patient(patient: str) -> None:
    try:
        dconfig.validate({"patient": patient})
    except dconfig.ConfigError as exc:
        raise UsageError(
            f"--patient {patient!r}: {exc.errors[0][1]} (the id the PT uses for this patient)"
        ) from None


def calibrate(
    link,
    patient: str,
    *,
    steps: Steps = Steps(),
    ui: QuietUI | None = None,
    conn: sqlite3.Connection | None = None,
    period_ms: int = 10,
) -> Calibration:
    """Run the three steps on `link`, write the accepted config to the board, verify it, and
    store the profile. Raises CalibrationRefused (nothing written) when a sensor fails."""
    ui = ui or QuietUI()
    _check_patient(patient)
    board_id = device_id(link)
    cfg, reason = link.call("dowel.config", "read")
    if reason:
        ui.say(f"note: the board was running on defaults ({reason}); calibration replaces it")
    samples: dict[str, list[Sample]] = {}
    view = View(phases(steps)[0])

    def record(run: tuple[Phase, ...], announce: bool) -> None:
        """Stream the phases back to back; keep each recorded phase's samples."""
        starts = [sum(p.ms for p in run[:i]) for i in range(len(run))]
        for p in run:
            if p.key:
                samples[p.key] = []
        current = -1
        with ui.live(view) as refresh:

            def on_sample(s: Sample) -> None:
                nonlocal current
                i = max(i for i, start in enumerate(starts) if s.t_ms >= start)
                if i != current:
                    current = i
                    view.phase, view.phase_t0_ms = run[i], starts[i]
                    if announce and (i == 0 or run[i].step != run[i - 1].step):
                        ui.announce(run[i])
                phase = run[i]
                view.last = s
                if phase.key:
                    samples[phase.key].append(s)
                    if phase.key == "check" and view.check is not None:
                        for loss in view.check.feed(s.t_ms, s.counts):
                            view.lost_at[loss.sensor].append(loss.t_ms)
                refresh()

            stream(link, sum(p.ms for p in run), on_sample, period_ms=period_ms)

    released, move, hold, check_phase = phases(steps)
    if ui.interactive:
        for run in ((released,), (move, hold)):
            ui.announce(run[0])
            ui.wait_ready()
            record(run, announce=False)
    else:
        record((released, move, hold), announce=True)
    view.zero = zero = cal.summarize([s.counts for s in samples["released"]])
    contact = cal.summarize([s.counts for s in samples["hold"]])
    view.proposal = proposal = cal.propose(zero, contact)
    ui.show_proposal(proposal)
    if not proposal.ok:
        raise CalibrationRefused(proposal)

    check = view.check = cal.LiveCheck(
        [(s.on, s.off) for s in proposal.sensors], cfg["loss_ms"], cfg["regain_ms"]
    )
    ui.announce(check_phase)
    ui.wait_ready()
    record((check_phase,), announce=False)
    never = [name for name, seen in zip(cal.SENSORS, check.touched, strict=True) if not seen]
    new_cfg = cal.apply(cfg, proposal, patient)
    result = Calibration(patient, board_id, _utc_now(), proposal, new_cfg, list(check.losses),
                         never, samples)
    for warning in result.warnings():
        ui.say(f"warning: {warning}")
    question = "Write these thresholds to the dowel?"
    if not ui.confirm(question, default=not result.warnings()):
        raise DowelError("calibration not written (the PT said no); run `dowel calibrate` again")

    write(link, new_cfg)
    link.call("dowel.drift", "reset")
    result.calibration_id = store(result, conn)
    ui.say(
        f"Calibration written to the dowel and stored for {patient} "
        f"(history: calibration #{result.calibration_id})."
    )
    return result


def write(link, cfg: dict) -> dict:
    """Write `cfg` through the board's own validation and atomic save, then read it back."""
    cfg = dconfig.validate(cfg)
    written = link.call("dowel.config", "write_json", dconfig.canonical(cfg))
    back, reason = link.call("dowel.config", "read")
    if written != cfg or back != cfg or reason:
        raise DeviceError(
            "the dowel did not keep the config it was sent (read-back differs"
            + (f": {reason}" if reason else "")
            + "). Its flash may be full or failing: run `dowel selftest`, then try again."
        )
    return back


def store(result: Calibration, conn: sqlite3.Connection | None = None) -> int:
    """Add the profile to the `calibrations` history; returns its id."""
    from host_tools import db

    own = conn is None
    conn = conn or db.connect()
    try:
        levels = json.loads(result.proposal.levels_json())
        levels["check"] = {
            "losses": [[loss.t_ms, loss.sensor] for loss in result.losses],
            "never_touched": result.never_touched,
        }
        conn.execute("INSERT OR IGNORE INTO patients (patient) VALUES (?)", (result.patient,))
        cur = conn.execute(
            "INSERT INTO calibrations (patient, device_id, taken_utc, config_json, levels_json)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                result.patient,
                result.device_id,
                result.taken_utc,
                dconfig.canonical(result.config),
                json.dumps(levels, sort_keys=True),
            ),
        )
        conn.commit()
        assert cur.lastrowid is not None  # an INSERT into a rowid table always sets it
        return cur.lastrowid
    finally:
        if own:
            conn.close()


# --------------------------------------------------------------------------------------------
# Drift: the board tracks contact levels while armed; the host prompts on connect.


def check_drift(
    link, conn: sqlite3.Connection | None = None, cfg: dict | None = None
) -> list[cal.DriftFinding]:
    """Ask the board whether its contact levels drifted; record what it says in
    `drift_prompts` (once per distinct reading) and return the findings for a prompt."""
    from host_tools import db

    if cfg is None:
        cfg, _ = link.call("dowel.config", "read")
    findings = cal.drift_findings(link.call("dowel.drift", "report"), cfg)
    if not findings:
        return []
    board_id = device_id(link)
    own = conn is None
    conn = conn or db.connect()
    try:
        for f in findings:
            seen = conn.execute(
                "SELECT 1 FROM drift_prompts WHERE device_id = ? AND sensor = ? AND "
                "calibrated = ? AND current = ?",
                (board_id, f.sensor, f.calibrated, f.current),
            ).fetchone()
            if not seen:
                conn.execute(
                    "INSERT INTO drift_prompts (patient, device_id, seen_utc, sensor, calibrated,"
                    " current) VALUES (?, ?, ?, ?, ?, ?)",
                    (cfg["patient"], board_id, _utc_now(), f.sensor, f.calibrated, f.current),
                )
        conn.commit()
    finally:
        if own:
            conn.close()
    return findings


def drift_prompt(findings: list[cal.DriftFinding], patient: str) -> str:
    lines = "\n".join("  - " + f.message() for f in findings)
    return (
        f"Recalibration recommended: the contact level drifted since the last calibration\n"
        f"{lines}\nRun `dowel calibrate --patient {patient}` at this visit."
    )


# --------------------------------------------------------------------------------------------
# Command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from host_tools.ports import add_port_argument

    parser.add_argument("--patient", required=True, help="patient id (A-Z a-z 0-9 _ -, <= 32)")
    parser.add_argument(
        "--yes", "-y", action="store_true",
        help="non-interactive: fixed step durations, no questions (scripts, tests, demo)",
    )
    add_port_argument(parser)


def run(args: argparse.Namespace) -> int:
    from host_tools.link import Link
    from host_tools.ports import resolve_port

    _check_patient(args.patient)
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
    with Link.open(port, fresh=True) as link:
        findings = check_drift(link)
        if findings:
            ui.say(drift_prompt(findings, args.patient))
        calibrate(link, args.patient, steps=steps, ui=ui)
    return 0
