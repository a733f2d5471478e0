"""A calibration at the patient's side: three steps streamed live from the board, the rule
applied, the result written to the board and kept in the history.

    result = calibrate(link, "P-0001", ui=my_ui)   # a UI object gets every step and sample

Three steps, each streamed live from the board (host_tools.board.livestream): released (zero
levels), neutral hold (contact levels and their spread), check (two or three slow hinges, with
the proposed thresholds run through the firmware's own debounce to show where a loss would
fire). The rule and the refusals are in host_tools.calibrate.rule. A refused sensor stops
everything before the board is written; an accepted calibration is written atomically by the
board's `dowel.config.write_json`, read back and compared, the board's drift state is reset,
and the profile goes into the store's calibration history (host_tools.store.calibrations).

Nothing here prints or reads a terminal: a face (the CLI's `commands/calibrate.py`, the PT's
web app, the demo) passes a UI whose methods this module calls, `QuietUI` being the silent one.
"""

from __future__ import annotations

import datetime as _dt
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass, field

from dowel import config as dconfig

from host_tools.board import api
from host_tools.board import config as board_config
from host_tools.board.livestream import Sample, stream
from host_tools.calibrate import rule as cal
from host_tools.errors import DowelError, UsageError
from host_tools.store import calibrations, db
from host_tools.store.patients import prescription_of, prescription_words


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
        Phase(
            1,
            "released",
            "Hold the dowel away from the body, sensors touching nothing.",
            steps.released_ms,
            "released",
        ),
        Phase(
            2,
            "neutral hold",
            "Lay the dowel on the back touching the head, mid-back and "
            "sacrum; stand tall and hold still.",
            steps.move_ms,
            None,
        ),
        Phase(
            2, "neutral hold", "Hold still: recording the contact levels.", steps.hold_ms, "hold"
        ),
        Phase(
            3,
            "check",
            "Keep the three points on the dowel and do two or three slow hip "
            "hinges. A loss the live view marks during a good hinge means: redo.",
            steps.check_ms,
            "check",
        ),
    )


class CalibrationRefused(DowelError):
    """A sensor failed validation; nothing was written. `.proposal` holds the measurement."""

    def __init__(self, proposal: cal.Proposal):
        self.proposal = proposal
        lines = "\n".join("  - " + p for p in proposal.problems)
        super().__init__(
            f"calibration refused, nothing written to the dowel:\n{lines}\n"
            "Fix what is named above and run `dowel calibrate` again."
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
                    f"{cal.SAY[name]}: a loss fired during the check at {at} s; fine if the "
                    "patient really lost that point, else redo the calibration"
                )
        for name in self.never_touched:
            out.append(f"{cal.SAY[name]} never reached contact during the check")
        return out


@dataclass(frozen=True)
class PointView:
    """One point as a live display draws it: the reading against its thresholds."""

    name: str  # cal.SENSORS
    label: str  # cal.SAY: the words a PT reads
    reading: int  # ADC counts, 0..65535
    zero: int | None  # released level, once step 1 is done
    on: int | None  # thresholds, once the hold is accepted
    off: int | None
    state: str  # "" before the check step; "contact", "no contact" or "lost"
    lost_at_ms: tuple[int, ...]  # losses the thresholds fired during the check


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

    def points(self) -> list[PointView]:
        out = []
        for i, name in enumerate(cal.SENSORS):
            result = self.proposal.sensors[i] if self.proposal else None
            accepted = result is not None and result.problem is None
            lost = tuple(self.lost_at[name])
            state = ""
            if self.check is not None:
                state = "lost" if lost else "contact" if self.check.touching(i) else "no contact"
            out.append(
                PointView(
                    name,
                    cal.SAY[name],
                    self.last.counts[i] if self.last else 0,
                    self.zero[i].level if self.zero else None,
                    result.on if accepted else None,
                    result.off if accepted else None,
                    state,
                    lost,
                )
            )
        return out


class QuietUI:
    """What a calibration tells its face, and asks it; these do nothing and never ask (tests,
    scripts, the demo). A face overrides what it shows: `announce` a step, `wait_ready` for
    the PT, `live(view)` a context whose `refresh()` is called on every sample, the
    `show_proposal`, a yes/no `confirm`, and `say` for a line of text."""

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


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def check_patient(patient: str) -> None:
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
    check_patient(patient)
    board_id = api.unique_id(link)
    cfg, reason = api.read_config(link)
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
    pitch = [s.pitch_ddeg for s in samples["hold"] if s.pitch_ddeg is not None]
    view.proposal = proposal = cal.propose(zero, contact, pitch, cfg["start_deg"])
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
    with db.using(conn) as c:
        prescription = prescription_of(c, patient)
    new_cfg = cal.apply(cfg, proposal, patient, prescription=prescription)
    result = Calibration(
        patient, board_id, _utc_now(), proposal, new_cfg, list(check.losses), never, samples
    )
    for warning in result.warnings():
        ui.say(f"warning: {warning}")
    question = "Write these thresholds to the dowel?"
    if not ui.confirm(question, default=not result.warnings()):
        raise DowelError("calibration not written (the PT said no); run `dowel calibrate` again")

    board_config.write(link, new_cfg)
    api.reset_drift(link)
    result.calibration_id = calibrations.add(result, conn)
    ui.say(
        f"Calibration written to the dowel and stored for {patient} "
        f"(history: calibration #{result.calibration_id}). The dowel counts "
        f"{prescription_words(*prescription)}: a rising chime ends each set, a longer one the "
        "day."
    )
    return result
