"""What each of the app's jobs does: the same library calls the CLI's commands make, with a
job (host_tools.app.jobs) as their face. Every body opens its own link, so nothing of a board
outlives the job that held it.

Each UI class here is the web twin of a terminal one: `CalibrationUI` of
`commands.calibrate.RichUI`, `SelftestUI` of `commands.selftest.ConsoleUi`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict

from host_tools.app.jobs import Job, Stopped
from host_tools.board import api
from host_tools.board import config as board_config
from host_tools.board.feedback import describe, preset_pairs
from host_tools.board.status import read_status
from host_tools.calibrate import rule as cal
from host_tools.calibrate.drift import check_drift
from host_tools.calibrate.session import (
    INTERACTIVE_STEPS,
    CalibrationRefused,
    Phase,
    QuietUI,
    Steps,
    View,
    calibrate,
)
from host_tools.store import db

STOPPED_CALIBRATION = (
    "calibration stopped by the PT; nothing was written to the dowel, which keeps the "
    "calibration it had"
)
LIVE_HZ = 50  # snapshots a second at most; the page draws at its own rate (>= 20 Hz)
# A link's close leaves the board to run main.py again; its imports and boot take a moment
# more before the loop watches the pads.
LOOP_SETTLE_S = 1.0
PUT_DOWN_S = 0.5  # after the scenario: the last rep's record is written at the put-down


def board_status(job: Job) -> dict:
    with api.connect(job.port) as link:
        st = read_status(link)
        drift = []
        if st.problem is None and st.patient:
            with db.using(None) as conn:
                drift = [f.message() for f in check_drift(link, conn)]
    return {"status": st, "drift": drift}


# ---- calibration --------------------------------------------------------------------------


class Redo(Exception):
    """The PT asked to start the calibration again."""


class CalibrationUI(QuietUI):
    """The calibration's questions and live view, as job events and snapshots."""

    interactive = True

    def __init__(self, job: Job, on_start: Callable[[int], None] | None = None):
        self.job = job
        self.on_start = on_start  # told the step the PT started (the virtual board's patient)
        self.step = 0

    def announce(self, phase: Phase) -> None:
        self.step = phase.step
        self.job.emit("step", step=phase.step, title=phase.title, text=phase.text)

    def wait_ready(self) -> None:
        if self.job.ask("Press Start when the patient is ready.", ("Start", "Stop")) == "Stop":
            raise Stopped(STOPPED_CALIBRATION)
        if self.on_start:
            self.on_start(self.step)

    @contextmanager
    def live(self, view: View):
        last = 0.0

        def refresh() -> None:
            nonlocal last
            now = time.monotonic()
            if now - last >= 1 / LIVE_HZ:
                last = now
                self.job.set_live(snapshot(view))

        yield refresh
        self.job.set_live(snapshot(view))

    def show_proposal(self, proposal: cal.Proposal) -> None:
        self.job.emit(
            "proposal",
            rows=[
                {
                    "point": cal.SAY[s.name],
                    "released": f"{s.zero.level} ±{s.zero.noise}",
                    "contact": f"{s.contact.level} ±{s.contact.noise}",
                    "off": s.off if s.problem is None else None,
                    "on": s.on if s.problem is None else None,
                    "problem": s.problem,
                }
                for s in proposal.sensors
            ],
        )

    def confirm(self, question: str, default: bool) -> bool:
        choice = self.job.ask(question, ("Accept", "Redo", "Stop"))
        if choice == "Redo":
            raise Redo
        if choice == "Stop":
            raise Stopped(STOPPED_CALIBRATION)
        return True

    def say(self, text: str) -> None:
        self.job.say(text)


def snapshot(view: View) -> dict:
    return {
        "step": view.phase.step,
        "title": view.phase.title,
        "recording": view.recording,
        "phase_ms": view.phase_ms,
        "phase_total_ms": view.phase.ms,
        "pitch_deg": None
        if view.last is None or view.last.pitch_ddeg is None
        else view.last.pitch_ddeg / 10,
        "points": [asdict(p) for p in view.points()],
    }


def calibration(
    job: Job,
    patient: str,
    steps: Steps = INTERACTIVE_STEPS,
    on_start: Callable[[int], None] | None = None,
) -> dict:
    ui = CalibrationUI(job, on_start)
    with api.connect(job.port, fresh=True) as link, db.using(None) as conn:
        job.idle = lambda: link.exec("")  # a host call: the dowel waits for the PT
        board_config.warn_if_rejected(link, job.say)
        findings = check_drift(link, conn)
        if findings:
            job.say(
                "Recalibration recommended: the contact level drifted since the last "
                "calibration: " + "; ".join(f.message() for f in findings)
            )
        while True:
            try:
                result = calibrate(link, patient, steps=steps, ui=ui, conn=conn)
            except Redo:
                job.emit("redo")
                job.say("Starting again from step 1.")
                continue
            except CalibrationRefused as exc:
                job.emit("refused", problems=exc.proposal.problems)
                choice = job.ask(
                    "Calibration refused, nothing written. Fix what is named, then redo.",
                    ("Redo", "Stop"),
                )
                if choice == "Stop":
                    raise Stopped(STOPPED_CALIBRATION) from None
                job.emit("redo")
                continue
            return {
                "calibration_id": result.calibration_id,
                "patient": patient,
                "warnings": result.warnings(),
            }


# ---- self-test, logs, firmware --------------------------------------------------------------


class SelftestUI:
    def __init__(self, job: Job):
        self.job = job

    def say(self, text: str) -> None:
        self.job.say(text)

    def confirm(self, question: str) -> bool:
        return self.job.ask(question, ("Yes", "No")) == "Yes"


def selftest(job: Job, on_start: Callable[[], None] | None = None) -> dict:
    """The guided self-test; `on_start` is told once the link is open (the virtual board's
    patient then presses the pads when the test asks)."""
    from host_tools.selftest import session

    with api.connect(job.port, fresh=True) as link:
        job.idle = lambda: link.exec("")  # a host call: the dowel waits for the PT
        board_config.warn_if_rejected(link, job.say)
        if on_start:
            on_start()
        checks = session.run_selftest(link, SelftestUI(job))
    return {"checks": [asdict(c) for c in checks], "failed": session.failed(checks)}


def pull(job: Job, keep: bool = False) -> dict:
    from host_tools.errors import DeviceError
    from host_tools.logs.pull import pull as pull_logs

    total = 0

    def on_total(n: int) -> None:
        nonlocal total
        total = n
        job.set_progress(0, n)

    done = 0

    def progress(n: int) -> None:
        nonlocal done
        done += n
        job.set_progress(done, total)

    with api.connect(job.port, fresh=True) as link, db.using(None) as conn:
        board_config.warn_if_rejected(link, job.say)
        patient = board_config.calibrated_patient(api.read_config(link)[0])
        try:
            report = pull_logs(link, conn, keep=keep, progress=progress, on_total=on_total)
        except DeviceError as exc:
            raise DeviceError(
                f"{exc} Nothing is lost: reps already imported stay imported and every segment "
                "not yet verified is still on the dowel. Reconnect and pull again."
            ) from None
    return {
        "summary": report.summary(),
        "warnings": report.warnings,
        "reps_new": report.counts.reps_new,
        "patient": patient,  # whose config the dowel holds: the page links to them
    }


def set_feedback(job: Job, preset: str, probe: bool) -> dict:
    """Write the feedback the PT chose (`host_tools.board.feedback`) to the dowel's config,
    with the prescription this computer holds for the dowel's patient: the set cues and probe
    sets count it, and the PT may have changed it since the calibration."""
    from host_tools.store.patients import get_patient

    pairs = preset_pairs(preset, probe)
    with api.connect(job.port) as link:
        cfg, _reason = api.read_config(link)
        patient = board_config.calibrated_patient(cfg)
        with db.using(None) as conn:
            info = get_patient(conn, patient) if patient else None
        if info is not None:
            pairs += [
                ("sets_per_day", str(info.sets_per_day)),
                ("reps_per_set", str(info.reps_per_set)),
            ]
        _old, new = board_config.set_fields(link, pairs)
    return {
        "summary": f"The dowel now gives: {describe(new)}.",
        "patient": board_config.calibrated_patient(new),
    }


def home_session(job: Job, board, scenario: str) -> dict:
    """The virtual board's patient does `scenario` at home, the dowel in its own loop (no link
    open, as at home); the job holds the dowel until the patient puts it down."""
    from host_tools.errors import DeviceError
    from host_tools.sim.follow import truth_words
    from host_tools.sim.scenario import load_scenario

    try:
        board.wait_booted(15, modes=("main",))
    except DeviceError:
        raise DeviceError(
            "the virtual dowel is not running its loop, so it would log nothing: install the "
            "dowel firmware on the dowel page, then start the session again"
        ) from None
    time.sleep(LOOP_SETTLE_S)
    timeline = board.play(scenario)
    job.say(f"The virtual patient started: {load_scenario(scenario)['description']}.")
    end = time.monotonic() + timeline.duration_ms / 1000 + PUT_DOWN_S
    try:
        while (left := end - time.monotonic()) > 0:
            done = min(timeline.duration_ms, board.elapsed_ms())
            job.set_progress(done, timeline.duration_ms)  # raises Stopped on the Stop button
            time.sleep(min(left, 0.25))
    except Stopped:
        board.idle()  # the patient lays the dowel down mid-session
        raise Stopped("stopped by the PT: the virtual patient put the dowel down") from None
    job.set_progress(timeline.duration_ms, timeline.duration_ms)
    return {
        "summary": "The virtual patient did " + truth_words(board.truth()) + ". Pull the logs "
        "to see what the dowel logged."
    }


def flash(job: Job) -> dict:
    from host_tools.firmware.deploy import deploy

    with api.connect(job.port) as link:
        result = deploy(link, say=job.say, progress=job.set_progress)
        board_config.warn_if_rejected(link, job.say)
    return {
        "summary": f"dowel firmware {result.firmware} on MicroPython {result.micropython}: "
        f"uploaded {len(result.uploaded)}, {len(result.skipped)} unchanged"
    }
