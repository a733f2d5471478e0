"""`calibrate(link, patient)` end to end on a fake board running the real device modules
(tests/fakes/board.py), pressed by a synthetic patient (tests/fakes/patient.py)."""

import json
import re

import pytest
from dowel import config as dconfig
from dowel import drift as ddrift
from dowel import running

from host_tools.board.link import Link
from host_tools.calibrate import rule as cal
from host_tools.calibrate.drift import check_drift, drift_prompt
from host_tools.calibrate.session import CalibrationRefused, Steps, calibrate
from host_tools.commands.calibrate import PlainUI
from host_tools.store import db
from tests.fakes.patient import Patient, patient_board


def patient_link(tmp_path, patient: Patient) -> Link:
    return Link(patient_board(tmp_path, patient), "fake")


def config_writes(link: Link) -> int:
    return link.transport.calls.count(("dowel.config", "write_json"))


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("DOWEL_HOME", str(tmp_path / "home"))
    running.drift = None
    yield
    running.drift = None


@pytest.mark.parametrize(
    "levels",
    [(6000, 7500, 9000), (22000, 28000, 30000), (50000, 56000, 60000)],
    ids=["weak", "typical", "strong"],
)
def test_calibration_writes_thresholds_between_zero_and_contact(tmp_path, levels):
    patient = Patient(levels=levels)
    link = patient_link(tmp_path, patient)
    result = calibrate(link, "P-0001")
    on_board, reason = dconfig.read(str(tmp_path / "dowel.json"))
    assert reason is None and on_board == result.config
    assert on_board["patient"] == "P-0001"
    for i, name in enumerate(cal.SENSORS):
        s = on_board["sensors"][name]
        assert patient.zero[i] < s["off"] < s["on"] < levels[i]
        assert abs(s["level"] - levels[i]) < 3 * patient.noise
    # The check step's grip wobble (25 %) fired nothing.
    assert result.losses == [] and result.never_touched == []
    # 100 Hz in every step, cut at the step boundaries of the board's own clock.
    steps = Steps()
    for key, ms in (
        ("released", steps.released_ms),
        ("hold", steps.hold_ms),
        ("check", steps.check_ms),
    ):
        assert ms // 10 - 1 <= len(result.samples[key]) <= ms // 10
    hold = result.samples["hold"]
    assert hold[0].t_ms >= steps.released_ms + steps.move_ms and hold[-1].t_ms < (
        steps.released_ms + steps.move_ms + steps.hold_ms
    )
    # Stored with its levels, and the drift state was reset.
    with db.connect() as conn:
        rows = conn.execute("SELECT * FROM calibrations").fetchall()
    assert len(rows) == 1 and rows[0]["patient"] == "P-0001"
    assert rows[0]["device_id"] == "240ac4f00001"
    assert json.loads(rows[0]["config_json"]) == on_board
    levels_row = json.loads(rows[0]["levels_json"])
    assert levels_row["sacrum"]["contact"]["level"] == on_board["sensors"]["sacrum"]["level"]
    assert ("dowel.drift", "reset") in link.transport.calls


def test_history_is_kept(tmp_path):
    calibrate(patient_link(tmp_path, Patient(levels=(20000, 25000, 30000))), "P-2")
    calibrate(patient_link(tmp_path, Patient(levels=(16000, 25000, 36000), seed=3)), "P-2")
    with db.connect() as conn:
        rows = conn.execute(
            "SELECT levels_json FROM calibrations WHERE patient = 'P-2' ORDER BY id"
        ).fetchall()
    heads = [json.loads(r["levels_json"])["head"]["contact"]["level"] for r in rows]
    assert len(heads) == 2 and heads[0] > heads[1]


@pytest.mark.parametrize(
    "fault, sensor, words",
    [("disconnected", 0, "disconnected"), ("shorted", 2, "shorted")],
)
def test_faulty_sensor_is_refused_by_name_and_nothing_is_written(tmp_path, fault, sensor, words):
    link = patient_link(tmp_path, Patient(faults={sensor: fault}))
    before = dconfig.read(str(tmp_path / "dowel.json"))
    with pytest.raises(CalibrationRefused) as info:
        calibrate(link, "P-3")
    message = str(info.value)
    assert cal.SAY[cal.SENSORS[sensor]] in message and words in message
    assert "nothing written" in message
    # The other two points were fine and are not blamed.
    for other in set(range(3)) - {sensor}:
        assert cal.SAY[cal.SENSORS[other]] not in message
    assert config_writes(link) == 0 and dconfig.read(str(tmp_path / "dowel.json")) == before
    with db.connect() as conn:
        assert conn.execute("SELECT COUNT(*) FROM calibrations").fetchone()[0] == 0


def test_a_loss_during_the_check_is_reported(tmp_path):
    # A sacrum that leaves the dowel during the hinges (90 % wobble takes it to ~zero).
    patient = Patient(wobble_pct=95)
    result = calibrate(patient_link(tmp_path, patient), "P-4")
    assert result.losses and {loss.sensor for loss in result.losses} <= set(cal.SENSORS)
    assert any("loss fired" in w for w in result.warnings())


def test_bad_patient_id_is_refused_before_anything_runs(tmp_path):
    from host_tools.errors import UsageError

    link = patient_link(tmp_path, Patient())
    with pytest.raises(UsageError, match="patient"):
        calibrate(link, "no spaces allowed")
    assert link.transport.calls == []


def test_plain_output_walks_the_three_steps(tmp_path, capsys):
    calibrate(patient_link(tmp_path, Patient()), "P-5", ui=PlainUI())
    out = capsys.readouterr().out
    assert "Step 1/3, released" in out and "Step 3/3, check" in out
    assert "-> on" in out and "stored for P-5" in out


def test_drift_prompt_after_armed_readings_moved(tmp_path):
    link = patient_link(tmp_path, Patient(levels=(20000, 30000, 40000)))
    result = calibrate(link, "P-6")
    levels = [result.config["sensors"][n]["level"] for n in cal.SENSORS]
    # The firmware loop, armed for a while with the sacrum pad compressed.
    tracker = ddrift.Drift(levels, result.config["drift_pct"])
    for _ in range(6000):
        tracker.update((levels[0], levels[1], levels[2] * 6 // 10), 5)
    tracker.save(str(tmp_path / "drift.json"))
    running.drift = None
    with db.connect() as conn:
        findings = check_drift(link, conn)
        again = check_drift(link, conn)
        rows = conn.execute("SELECT sensor, calibrated, current FROM drift_prompts").fetchall()
    assert [f.sensor for f in findings] == ["sacrum"] == [f.sensor for f in again]
    assert [tuple(r) for r in rows] == [("sacrum", levels[2], findings[0].current)]
    assert "dowel calibrate --patient P-6" in drift_prompt(findings, "P-6")
    # Recalibrating (the same board, a later visit) resets the board's drift state.
    link = patient_link(tmp_path, Patient(levels=(20000, 30000, 24000)))
    calibrate(link, "P-6")
    assert check_drift(link) == [] and not (tmp_path / "drift.json").exists()


def test_yes_steps_fit_the_shipped_calibration_scenario():
    """`--yes` cuts steps by fixed times; the virtual board's `calibration` scenario must have
    each phase under its window, with half a second of slack for connecting."""
    from host_tools.sim import load_scenario, render

    scenario = load_scenario("calibration")
    truth = render(scenario).truth
    steps, slack = Steps(), 500
    # The patient waits for the host's first live reading (the board holds the scenario there),
    # so the phases line up whenever `dowel calibrate` starts.
    assert scenario["steps"][0]["do"] == "await_host" and truth["holds"][0]["at_ms"] == 0
    assert re.search(scenario["steps"][0]["match"], "import dowel.stream as _s")
    assert scenario["steps"][1]["do"] == "released"
    released_end = scenario["steps"][1]["ms"]
    pickup_ms = truth["pickups"][0]  # three-point contact from here
    first_rep = truth["reps"][0]["start_ms"]
    put_down = truth["releases"][0][0]
    assert steps.released_ms + slack <= released_end
    hold_start = steps.released_ms + steps.move_ms
    assert pickup_ms <= hold_start and hold_start + steps.hold_ms + slack <= first_rep
    check_end = hold_start + steps.hold_ms + steps.check_ms
    assert check_end + slack <= put_down
    assert sum(1 for r in truth["reps"] if r["end_ms"] <= check_end) >= 2


class _PT(PlainUI):
    """An interactive PT at the keyboard: presses Enter, then answers the final question."""

    interactive = True

    def __init__(self, answer: bool):
        super().__init__()
        self.answer = answer
        self.enters = 0
        self.asked: list[tuple[str, bool]] = []

    def wait_ready(self) -> None:
        self.enters += 1

    def confirm(self, question: str, default: bool) -> bool:
        self.asked.append((question, default))
        return self.answer


def test_interactive_flow_waits_for_enter_and_writes_only_on_yes(tmp_path):
    from host_tools.calibrate.session import INTERACTIVE_STEPS
    from host_tools.errors import DowelError

    # Interactive steps record straight after Enter: the patient is already in position.
    patient = Patient(hold_at_ms=2300, hinge_at_ms=6000)
    no = _PT(answer=False)
    link = patient_link(tmp_path, patient)
    with pytest.raises(DowelError, match="not written"):
        calibrate(link, "P-8", steps=INTERACTIVE_STEPS, ui=no)
    assert no.enters == 3 and no.asked == [("Write these thresholds to the dowel?", True)]
    assert config_writes(link) == 0

    yes = _PT(answer=True)
    result = calibrate(patient_link(tmp_path, patient), "P-8", steps=INTERACTIVE_STEPS, ui=yes)
    assert dconfig.read(str(tmp_path / "dowel.json"))[0] == result.config


def test_the_dowel_counts_the_patients_prescription_after_calibration(tmp_path):
    from host_tools.store.patients import set_prescription

    with db.connect() as conn:
        set_prescription(conn, "P-9", 3, 8)
    result = calibrate(patient_link(tmp_path, Patient()), "P-9")
    assert (result.config["sets_per_day"], result.config["reps_per_set"]) == (3, 8)
    # A patient the host has no prescription for gets the default one, as the report assumes.
    result = calibrate(patient_link(tmp_path / "b", Patient()), "P-10")
    assert (result.config["sets_per_day"], result.config["reps_per_set"]) == (5, 10)


def test_a_calibration_is_in_the_patients_history(tmp_path, monkeypatch):
    from host_tools.store import audit

    monkeypatch.setenv("DOWEL_PT", "PT Lee")
    result = calibrate(patient_link(tmp_path, Patient()), "P-11")
    with db.connect() as conn:
        (row,) = audit.history(conn, "P-11")
    assert row["action"] == "calibration" and row["actor"] == "PT Lee"
    assert row["detail"] == f"calibration #{result.calibration_id} written to dowel 240ac4f00001"
