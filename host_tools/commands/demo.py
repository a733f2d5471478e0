"""`dowel demo`, the main job: the whole product in under a minute, on a virtual board when no
dowel is plugged in: flash the firmware, calibrate a simulated patient, watch nine hinges live
(force bars, state, pitch, each beep and its point), pull the log and summarize the session.

Every step goes through the code path a real dowel uses: `deploy` (what `dowel flash` runs),
`calibrate` (what `dowel calibrate --yes` runs), the firmware's own loop and console event lines,
and `log_pull.pull` (what `dowel logs pull` runs).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dowel.points import NAMES
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from host_tools.board import api
from host_tools.board.console import ConsoleEvent, LineReader
from host_tools.logs import pull as log_pull
from host_tools.report.data import POINT_LABELS
from host_tools.store import db
from host_tools.words import count

HELP = "watch the dowel work end to end (on a virtual board when no dowel is plugged in)"


PATIENT = "DEMO"
BAR_WIDTH = 30
CHECK_MS = 5300  # the calibration's check step: one slow hinge of the shipped scenario


@dataclass
class LiveState:
    """What the live view shows, updated from the firmware's console events."""

    state: str = "booting"
    rep: int | None = None
    lines: list[str] = field(default_factory=list)
    reps_done: int = 0
    on_line: Callable[[str], None] | None = None  # also print each line as it comes (no tty)

    def apply(self, t_s: float, event: ConsoleEvent) -> None:
        f = event.fields
        self.state = str(f.get("state", self.state))
        if event.event == "rep_start":
            self.rep = int(f["rep"])
            self.lines.append(f"{t_s:5.1f} s  rep {self.rep + 1} starts")
        elif event.event == "fault":
            for point in event.points():
                pitch = f.get("pitch_ddeg", -32768)
                at = f" at {int(pitch) / 10:.0f} deg" if pitch != -32768 else ""
                self.lines.append(f"{t_s:5.1f} s  BEEP: {POINT_LABELS[point]} lost{at}")
        elif event.event == "rep_end":
            self.reps_done += 1
            lost = event.points()
            outcome = "clean" if not lost else "lost " + ", ".join(POINT_LABELS[p] for p in lost)
            depth = int(f.get("depth_ddeg", -32768))
            deep = f", depth {depth / 10:.0f} deg" if depth != -32768 else ""
            self.lines.append(f"{t_s:5.1f} s  rep {int(f['rep']) + 1} ends: {outcome}{deep}")
        elif event.event == "armed":
            self.lines.append(f"{t_s:5.1f} s  ready: three-point contact")
        elif event.event == "release":
            self.lines.append(f"{t_s:5.1f} s  dowel put down (no beep)")
        elif event.event == "boot":
            self.state = "idle"
            return
        if self.on_line:
            self.on_line(self.lines[-1])
        del self.lines[:-8]


def _bar(value: int, on: int, off: int, scale: int) -> Text:
    """A force bar scaled to the patient's own contact level, with the off and on thresholds
    marked: green above on, yellow between, red below off (where a loss is being timed)."""
    filled = round(min(value, scale) / scale * BAR_WIDTH)
    marks = {round(on / scale * BAR_WIDTH), round(off / scale * BAR_WIDTH)}
    colour = "green" if value >= on else "yellow" if value >= off else "red"
    text = Text()
    for i in range(BAR_WIDTH):
        if i in marks:
            text.append("┃", style="bold white" if i < filled else "dim")
        else:
            text.append("█" if i < filled else " ", style=colour)
    return text


def render_live(t_s: float, readings, pitch_deg: float, sensors, live: LiveState) -> Group:
    """`sensors`: per point (on, off, contact level) from the calibration."""
    table = Table.grid(padding=(0, 1))
    for name, value, (on, off, level) in zip(NAMES, readings, sensors, strict=True):
        table.add_row(
            f"{POINT_LABELS[name]:>8}",
            _bar(value, on, off, scale=max(level * 3 // 2, on + 1)),
            f"{value:5d}",
            "touching" if value >= off else "off",
        )
    status = Text(f"  t {t_s:5.1f} s   pitch {pitch_deg:5.1f} deg   state ", style="bold")
    status.append(live.state.replace("_", " "), style="bold cyan")
    if live.state in ("in_rep", "fault") and live.rep is not None:
        status.append(f"   rep {live.rep + 1}")
    status.append(f"   reps done {live.reps_done}")
    return Group(table, status, Text("\n".join(live.lines), style="white"))


def _plan(scenario: str) -> str:
    """What the scenario's simulated patient will do, from its own ground truth."""
    from host_tools.sim import load_scenario, render

    truth = render(load_scenario(scenario)).truth
    reps = len(truth["reps"])
    lost = [POINT_LABELS[sensor] for _t, sensor in truth["losses"]]
    parts = [count(reps, "rep")]
    parts.append("losing " + ", ".join(lost) if lost else "no point lost")
    if truth["wobbles"]:
        parts.append(f"{len(truth['wobbles'])} grip wobble(s) that must not beep")
    return ", ".join(parts)


def _say(console: Console) -> Callable[[str], None]:
    return lambda msg: console.print(msg, highlight=False)


def _calibration_scenario() -> dict:
    """The shipped calibration scenario with one check hinge instead of three: the demo's
    minute is better spent on the reps."""
    from host_tools.sim import load_scenario

    scenario = load_scenario("calibration")
    for step in scenario["steps"]:
        if step["do"] == "hinge":
            step["reps"] = 1
    return scenario


def _wait_until(board, t_ms: int) -> None:
    while board.elapsed_ms() < t_ms:
        time.sleep(0.1)


def run_virtual(console: Console, scenario: str = "demo") -> None:
    """The demo on a fresh virtual board, which is stopped at the end."""
    from host_tools.calibrate.session import QuietUI, Steps, calibrate
    from host_tools.firmware.deploy import deploy
    from host_tools.vboard import VirtualBoard

    say = _say(console)
    started = time.monotonic()
    conn = db.connect()
    with tempfile.TemporaryDirectory(prefix="dowel-demo-") as flash:
        say(
            "[bold]No dowel plugged in: starting a virtual board[/bold] (MicroPython's own "
            "unix port, booted as an ESP32 boots, with a simulated patient)."
        )
        with VirtualBoard.start(flash_dir=Path(flash), imu=True, name="demo") as board:
            say(f"  board on {board.port}")
            say("[bold]1. Flashing the firmware[/bold] (the same upload `dowel flash` does)")
            link = api.connect(board.port)
            try:
                result = deploy(link)
                say(
                    f"  {len(result.uploaded)} files uploaded and verified; firmware "
                    f"{result.firmware} answers"
                )
                api.sync_clock(link)
                say(
                    "[bold]2. Calibrating[/bold] the simulated patient: dowel released, then "
                    "held on the back, then a slow hinge to check"
                )
                timeline = board.play(_calibration_scenario())
                cal = calibrate(
                    link, PATIENT, steps=Steps(check_ms=CHECK_MS), ui=QuietUI(), conn=conn
                )
                # Let the patient put the dowel down before the firmware starts on the new
                # thresholds, as a PT would hand it over.
                _wait_until(board, timeline.duration_ms)
            finally:
                link.close()  # soft reset: the firmware loop starts with the new thresholds
            thresholds = [(s.on, s.off, s.contact.level) for s in cal.proposal.sensors]
            for name, s in zip(NAMES, cal.proposal.sensors, strict=True):
                say(
                    f"  {POINT_LABELS[name]:>8}: contact level {s.contact.level:5d}, zero "
                    f"{s.zero.level:5d} -> beeps below {s.off}, back in contact above {s.on}"
                )
            say(f"[bold]3. The patient hinges[/bold]: {_plan(scenario)}")
            _play_live(console, board, scenario, thresholds)
            say("[bold]4. Pulling the log[/bold] (what `dowel logs pull` does)")
            link = api.connect(board.port)
            try:
                report = log_pull.pull(link, conn)
            finally:
                link.close(restart=False)
            say(
                f"  {report.counts.reps_new} reps imported from {report.segments} segment(s), "
                f"every record's CRC and each segment's SHA-256 verified, then deleted on the "
                "board"
            )
            heard = [point for _t, point in board.cues()]
            truth = board.truth()
    _summary(console, conn, heard, truth)
    conn.close()
    say(
        f"\nDone in {time.monotonic() - started:.0f} s; the board is stopped. "
        f"See the PT's report with: [bold]dowel report --patient {PATIENT}[/bold]"
    )


def _play_live(console: Console, board, scenario: str, thresholds) -> None:
    import serial

    state = LiveState()
    reader = LineReader()
    port = serial.Serial(board.port, 115200, timeout=0)
    try:
        time.sleep(0.3)  # the soft reset's boot lines
        for event in reader.feed(port.read(4096)):
            state.apply(0.0, event)
        timeline = board.play(scenario)
        t0 = time.monotonic()
        end_s = timeline.duration_ms / 1000 + 0.5

        def frame() -> Group:
            t_s = time.monotonic() - t0
            head, midback, sacrum, pitch = timeline.at(min(t_s * 1000, timeline.duration_ms - 1))
            return render_live(t_s, (head, midback, sacrum), pitch, thresholds, state)

        if console.is_terminal:
            with Live(frame(), console=console, refresh_per_second=15, transient=False) as view:
                while time.monotonic() - t0 < end_s:
                    for event in reader.feed(port.read(4096)):
                        state.apply(time.monotonic() - t0, event)
                    view.update(frame())
                    time.sleep(0.05)
        else:
            state.on_line = lambda line: console.print("  " + line, highlight=False)
            while time.monotonic() - t0 < end_s:
                for event in reader.feed(port.read(4096)):
                    state.apply(time.monotonic() - t0, event)
                time.sleep(0.1)
    finally:
        port.close()


def _summary(console: Console, conn, heard: list[str], truth) -> None:
    session = conn.execute(
        "SELECT device_id, session FROM sessions WHERE patient = ? "
        "ORDER BY imported_utc DESC, session DESC LIMIT 1",
        (PATIENT,),
    ).fetchone()
    latest = (
        conn.execute(
            "SELECT * FROM reps WHERE device_id = ? AND session = ? ORDER BY seq", tuple(session)
        ).fetchall()
        if session
        else []
    )
    table = Table(title="The session, as the PT will see it", title_justify="left")
    for col in ("rep", "outcome", "depth", "lost at", "lowering", "pause", "rising"):
        table.add_column(col, justify="right" if col != "outcome" else "left")
    for r in latest:
        lost_at = f"{r['loss_pitch_deg']:.0f} deg" if r["loss_pitch_deg"] is not None else ""
        table.add_row(
            str(r["seq"] + 1),
            "clean" if r["outcome"] == "clean" else POINT_LABELS[r["outcome"]] + " lost",
            f"{r['depth_deg']:.0f} deg" if r["depth_deg"] is not None else "",
            lost_at,
            *(
                f"{r[k] / 1000:.1f} s" if r[k] is not None else ""
                for k in ("lower_ms", "pause_ms", "rise_ms")
            ),
        )
    console.print(table)
    true_losses = [sensor for _t, sensor in truth.get("losses", [])]
    clean = sum(1 for r in latest if r["outcome"] == "clean")
    console.print(
        f"{len(latest)} reps, {clean} clean. Beeps heard: "
        f"{', '.join(POINT_LABELS[p] for p in heard) or 'none'}; the simulated patient "
        f"truly lost: {', '.join(POINT_LABELS[p] for p in true_losses) or 'nothing'}; "
        f"{len(truth.get('wobbles', []))} grip wobbles, none of which may beep.",
        highlight=False,
    )


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--scenario", default="demo", help="the simulated patient's scenario (default: demo)"
    )


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from host_tools.board.ports import VIRTUAL, likely_ports
    from host_tools.sim import load_scenario

    # A wrong name fails now, listing the scenarios, not after the board and calibration (20 s).
    load_scenario(args.scenario)
    console = Console()
    real = [p for p in likely_ports() if p.kind != VIRTUAL]
    if real:
        console.print(
            f"A dowel seems to be plugged in on {real[0].device} ({real[0].kind}). The demo runs "
            "on a virtual board and leaves your dowel alone; to use yours: `dowel flash`, "
            "`dowel calibrate --patient ID`, then `dowel logs pull`.",
            highlight=False,
        )
    run_virtual(console, scenario=args.scenario)
    return 0
