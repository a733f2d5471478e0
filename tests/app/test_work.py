"""The app's jobs (host_tools.app.jobs) and what they run (host_tools.app.work): a calibration
driven by the page's answers on a fake board running the real device modules, pressed by a
synthetic patient (tests/fakes), with accept, redo, a refusal and a stop; a busy dowel; a
failing job in one line."""

from __future__ import annotations

import threading
import time

import pytest
from dowel import config as dconfig
from dowel import running

from host_tools.app import jobs as jobsmod
from host_tools.app import work
from host_tools.board.link import Link
from host_tools.calibrate.session import Steps
from host_tools.errors import DeviceError
from host_tools.store import db
from tests.fakes.patient import Patient, patient_board


@pytest.fixture(autouse=True)
def _drift():
    running.drift = None
    yield
    running.drift = None


def answering(job: jobsmod.Job, script: list[str], timeout: float = 60) -> threading.Thread:
    """Answer the job's questions in turn with `script`, as the PT's clicks would."""

    def run():
        end = time.monotonic() + timeout
        for choice in script:
            while time.monotonic() < end:
                q = job.question
                if q is not None and job.answer(q.id, choice):
                    break
                if not job.running:
                    return
                time.sleep(0.005)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def wait(job: jobsmod.Job, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while job.running and time.monotonic() < end:
        time.sleep(0.01)
    assert not job.running, "the job did not end"


def fake_link(monkeypatch, tmp_path, patient: Patient) -> Link:
    link = Link(patient_board(tmp_path, patient), "fake")
    monkeypatch.setattr(work.api, "connect", lambda port, **kw: link)
    return link


def calibrate_job(patient_id: str, script: list[str]):
    jobs = jobsmod.Jobs()
    job = jobs.start(
        "calibrate", "Calibrate", "fake", lambda j: work.calibration(j, patient_id, Steps())
    )
    answering(job, script)
    wait(job)
    return job


def test_calibration_answered_on_the_page_is_written(monkeypatch, tmp_path):
    fake_link(monkeypatch, tmp_path, Patient())
    job = calibrate_job("P-0100", ["Start", "Start", "Start", "Accept"])
    assert job.state == jobsmod.DONE, job.error
    assert job.result["calibration_id"] == 1 and job.result["patient"] == "P-0100"
    cfg, reason = dconfig.read(str(tmp_path / "dowel.json"))
    assert reason is None and cfg["patient"] == "P-0100"
    steps = [e["step"] for e in job.events if e["kind"] == "step"]
    assert steps == [1, 2, 3]
    proposal = next(e for e in job.events if e["kind"] == "proposal")
    assert all(r["problem"] is None and r["off"] < r["on"] for r in proposal["rows"])
    # The live snapshot the bars draw: both thresholds of every point, the check's states.
    live = job.live
    assert live["step"] == 3 and [p["label"] for p in live["points"]] == [
        "head (back of the head)",
        "mid-back (between the shoulder blades)",
        "sacrum (sacrum)",
    ]
    assert all(p["off"] < p["on"] and p["state"] == "contact" for p in live["points"])


def test_redo_starts_again_and_writes_once(monkeypatch, tmp_path):
    link = fake_link(monkeypatch, tmp_path, Patient(hold_at_ms=2500, hinge_at_ms=6000))
    # The synthetic patient's moves follow the board's clock from its start, so the second try
    # meets a patient who has moved on; the PT stops it at its first question.
    job = calibrate_job("P-0101", ["Start", "Start", "Start", "Redo", "Stop"])
    steps = [e["step"] for e in job.events if e["kind"] == "step"]
    assert steps == [1, 2, 3, 1]  # after Redo, step 1 again
    assert [e["kind"] for e in job.events].count("redo") >= 1
    assert link.transport.calls.count(("dowel.config", "write_json")) == 0
    assert job.state == jobsmod.STOPPED and "nothing was written" in job.error


def test_a_refused_sensor_is_shown_and_nothing_written(monkeypatch, tmp_path):
    link = fake_link(monkeypatch, tmp_path, Patient(faults={2: "disconnected"}))
    job = calibrate_job("P-0102", ["Start", "Start", "Stop"])
    refused = next(e for e in job.events if e["kind"] == "refused")
    assert any("sacrum" in p for p in refused["problems"])
    assert job.state == jobsmod.STOPPED
    assert link.transport.calls.count(("dowel.config", "write_json")) == 0
    with db.connect() as conn:
        assert conn.execute("SELECT COUNT(*) FROM calibrations").fetchone()[0] == 0


def test_a_busy_dowel_refuses_a_second_job():
    jobs = jobsmod.Jobs()
    release = threading.Event()
    first = jobs.start("pull", "Pull the logs", "/dev/ttyUSB0", lambda j: release.wait(10))
    with pytest.raises(jobsmod.Busy, match="busy: Pull the logs"):
        jobs.start("selftest", "Self-test", "/dev/ttyUSB0", lambda j: None)
    other = jobs.start("selftest", "Self-test", "/dev/ttyUSB1", lambda j: None)  # another dowel
    release.set()
    wait(first)
    wait(other)
    again = jobs.start("selftest", "Self-test", "/dev/ttyUSB0", lambda j: None)
    wait(again)
    assert again.state == jobsmod.DONE


def test_failures_end_in_one_line_and_a_bug_in_the_log():
    logged: list[str] = []
    jobs = jobsmod.Jobs(log=logged.append)

    def unplugged(job):
        raise DeviceError("lost the board on /dev/ttyUSB0: check the USB cable")

    job = jobs.start("pull", "Pull", "p", unplugged)
    wait(job)
    assert job.state == jobsmod.FAILED and job.error.endswith("check the USB cable")
    job = jobs.start("pull", "Pull", "p", lambda j: 1 / 0)
    wait(job)
    assert job.state == jobsmod.FAILED and "ZeroDivisionError" in job.error
    assert "\n" not in job.error and "Traceback" in logged[0]


def test_a_question_takes_only_its_own_choices():
    jobs = jobsmod.Jobs()
    job = jobs.start(
        "selftest", "Self-test", "p", lambda j: {"said": j.ask("Beep?", ("Yes", "No"))}
    )
    while job.question is None:
        time.sleep(0.005)
    q = job.question
    assert not job.answer(q.id, "Maybe")  # not a choice
    assert not job.answer(q.id + 1, "Yes")  # a stale page's question
    assert job.answer(q.id, "No")
    wait(job)
    assert job.result == {"said": "No"}


def test_an_answered_question_is_closed_before_the_job_wakes():
    # The page an answer redirects to is drawn at once; it must not offer the question again,
    # or a second click lands on a question already answered and the next one waits forever.
    go_on = threading.Event()

    def body(j):
        first = j.ask("Still?", ("Yes", "No"))
        go_on.wait(10)
        return {"first": first, "second": j.ask("Beep?", ("Yes", "No"))}

    job = jobsmod.Jobs().start("selftest", "Self-test", "p", body)
    while job.question is None:
        time.sleep(0.005)
    assert job.answer(job.question.id, "Yes")
    assert job.question is None  # not "Still?" until the job's thread runs on
    go_on.set()
    while job.question is None:
        time.sleep(0.005)
    assert job.question.text == "Beep?" and job.answer(job.question.id, "No")
    wait(job)
    assert job.result == {"first": "Yes", "second": "No"}


def test_stop_ends_a_job_waiting_at_a_question():
    jobs = jobsmod.Jobs()
    job = jobs.start("selftest", "Self-test", "p", lambda j: j.ask("Ready?", ("Start",)))
    while job.question is None:
        time.sleep(0.005)
    job.stop()
    wait(job)
    assert job.state == jobsmod.STOPPED and job.question is None


def test_the_feedback_the_pt_chose_is_written_with_the_sets_probe_sets_need(monkeypatch, tmp_path):
    from host_tools.board.feedback import COURSE
    from host_tools.store.patients import set_prescription

    board_cfg = dconfig.defaults()
    board_cfg["patient"] = "P-0042"  # calibrated before the dowel counted sets: reps_per_set 0
    dconfig.save(board_cfg, str(tmp_path / "dowel.json"))
    with db.connect() as conn:
        set_prescription(conn, "P-0042", 3, 8)
    fake_link(monkeypatch, tmp_path, Patient())
    job = jobsmod.Jobs().start(
        "feedback", "Set the feedback", "fake", lambda j: work.set_feedback(j, "course", True)
    )
    wait(job)
    assert job.error is None, job.error
    on_board, reason = dconfig.read(str(tmp_path / "dowel.json"))
    assert reason is None and on_board["schedule"] == COURSE and on_board["probe"] == "first"
    assert (on_board["sets_per_day"], on_board["reps_per_set"]) == (3, 8)
    assert job.result["summary"].startswith("The dowel now gives: learning course: early warning")
    assert "probe set (no feedback): the first set of each day" in job.result["summary"]
    job = jobsmod.Jobs().start(
        "feedback", "Set the feedback", "fake", lambda j: work.set_feedback(j, "loss", False)
    )
    wait(job)
    on_board, _ = dconfig.read(str(tmp_path / "dowel.json"))
    assert (on_board["schedule"], on_board["probe"], on_board["feedback"]) == ([], "off", "loss")
    # The PT changed the prescription since: setting the feedback takes it to the dowel.
    with db.connect() as conn:
        set_prescription(conn, "P-0042", 2, 15)
    job = jobsmod.Jobs().start(
        "feedback", "Set the feedback", "fake", lambda j: work.set_feedback(j, "loss", False)
    )
    wait(job)
    on_board, _ = dconfig.read(str(tmp_path / "dowel.json"))
    assert (on_board["sets_per_day"], on_board["reps_per_set"]) == (2, 15)
    assert "2 sets of 15 reps a day" in job.result["summary"]


class StandInVirtualBoard:
    """The virtual board's control side, as home_session uses it: the patient's clock runs on
    the host's, and a board without firmware never reaches main.py."""

    def __init__(self, runs_main: bool = True):
        self.runs_main = runs_main
        self.played: list[str] = []
        self.idled = False
        self._t0 = None

    def wait_booted(self, timeout, modes=("main", "repl")):
        if not self.runs_main:
            raise DeviceError(f"the virtual board did not boot within {timeout:.0f} s")

    def play(self, scenario):
        from host_tools.sim import load_scenario, render

        self.played.append(scenario)
        self._t0 = time.monotonic()
        self.timeline = render(load_scenario(scenario))
        return self.timeline

    def elapsed_ms(self):
        return int((time.monotonic() - self._t0) * 1000)

    def truth(self):
        return self.timeline.truth

    def idle(self):
        self.idled = True


def test_a_home_session_runs_to_the_put_down_with_its_truth(monkeypatch):
    from host_tools.sim.follow import truth_words

    monkeypatch.setattr(work, "LOOP_SETTLE_S", 0)
    board = StandInVirtualBoard()
    job = jobsmod.Jobs().start(
        "home", "Home", "vb", lambda j: work.home_session(j, board, "quick")
    )
    wait(job, 30)
    assert job.state == jobsmod.DONE, job.error
    assert board.played == ["quick"] and not board.idled
    assert job.progress == (board.timeline.duration_ms,) * 2
    assert truth_words(board.timeline.truth) in job.result["summary"]
    assert "3 hinges: 1 clean, mid-back lost 1, sacrum lost 1" in job.result["summary"]


def test_a_home_session_stopped_lays_the_dowel_down(monkeypatch):
    monkeypatch.setattr(work, "LOOP_SETTLE_S", 0)
    board = StandInVirtualBoard()
    job = jobsmod.Jobs().start("home", "Home", "vb", lambda j: work.home_session(j, board, "demo"))
    while job.progress is None:
        time.sleep(0.01)
    job.stop()
    wait(job, 10)
    assert job.state == jobsmod.STOPPED and board.idled
    assert "put the dowel down" in job.error


def test_a_home_session_on_a_board_without_firmware_names_the_fix(monkeypatch):
    board = StandInVirtualBoard(runs_main=False)
    job = jobsmod.Jobs().start(
        "home", "Home", "vb", lambda j: work.home_session(j, board, "quick")
    )
    wait(job, 10)
    assert job.state == jobsmod.FAILED and board.played == []
    assert "install the dowel firmware" in job.error


def test_a_waiting_question_keeps_the_dowel_from_giving_up(monkeypatch):
    # The dowel resets after minutes without a host call; a PT may leave a question longer.
    monkeypatch.setattr(jobsmod, "IDLE_S", 0.02)
    calls = []

    def body(j):
        j.idle = lambda: calls.append(time.monotonic())
        return {"said": j.ask("Ready?", ("Start",))}

    job = jobsmod.Jobs().start("calibrate", "Calibrate", "p", body)
    while len(calls) < 3:
        time.sleep(0.01)
    assert job.answer(job.question.id, "Start")
    wait(job)
    assert job.result == {"said": "Start"}
