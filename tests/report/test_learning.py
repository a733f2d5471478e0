"""The report's learning figures against a simulated four-week course whose truth is known:
the firmware's engine and log store give a learning patient the feedback the schedule says
(`host_tools.sim.course`), the log is imported as a pull would, and the report must show what
the patient really did, set by set."""

from __future__ import annotations

import hashlib
import statistics
from datetime import UTC, date, timedelta

import pytest
from dowel import logread

from host_tools.board.feedback import COURSE
from host_tools.report import learning as lrn
from host_tools.report.content import report_content
from host_tools.report.data import load_report_data
from host_tools.report.render import render_html
from host_tools.report.summary import learning_lines
from host_tools.sim.course import Learner, config_for, run_course
from host_tools.store import db
from host_tools.store import reps as repstore
from host_tools.store.patients import set_prescription

SCHEDULE = COURSE  # the learning course the PT's app prescribes


def imported(course, tmp_path, patient="P-COURSE", sets=3, reps=8):
    conn = db.connect(tmp_path / "db.sqlite3")
    set_prescription(conn, patient, sets, reps)
    for name, data in course.segments.items():
        repstore.import_segment(
            conn,
            logread.decode(data, repair=True),
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
            raw_path=name,
        )
    last = course.start.date() + timedelta(days=course.days - 1)
    return load_report_data(conn, patient, until=last, tz=UTC, today=date(2026, 4, 30)), conn


@pytest.fixture(scope="module")
def course():
    cfg = config_for(schedule=SCHEDULE, probe="first", reps_per_set=8, sets_per_day=3)
    return run_course(cfg, Learner(seed=3), days=28)


def test_the_probe_sets_fault_rate_falls_as_the_truth_says(course, tmp_path):
    assert course.logged_reps == len(course.reps) == 28 * 3 * 8  # the dowel saw every rep
    data, _ = imported(course, tmp_path)
    weeks = data.learning.weeks
    assert len(weeks) == 4 and data.learning.unknown == 0
    for i, w in enumerate(weeks):
        truth = [r for r in course.reps if r.day // 7 == i]
        alone = [r for r in truth if r.probe]
        assert w.alone_reps == len(alone) == 7 * 8  # the first set of each day
        assert w.alone_faults == sum(r.lost is not None for r in alone)
        guided = [r for r in truth if not r.probe]
        assert w.guided_faults == sum(r.lost is not None for r in guided)
        assert w.alone_rate == course.fault_rate(i, probe=True)
        # The depth where form broke: the dowel's pitch at the loss, against the truth's.
        truth_depth = statistics.median(r.loss_deg for r in truth if r.lost)
        assert w.loss_pitch.median == pytest.approx(truth_depth, abs=1.0)
    # A patient learning: without feedback, faults fall from the first week to the last, and
    # the depth reached before form breaks deepens.
    assert weeks[0].alone_rate - weeks[-1].alone_rate >= 0.2
    assert weeks[-1].loss_pitch.median - weeks[0].loss_pitch.median >= 4


def test_the_schedules_stages_are_on_the_time_axis_as_prescribed(course, tmp_path):
    data, _ = imported(course, tmp_path)
    stages = data.learning.stages
    assert [s.label for s in stages] == [
        "warning",
        "loss",
        "faded 67 %",
        "faded 33 %",
        "bandwidth",
    ]
    day0 = course.start.date()
    assert [(s.first - day0).days for s in stages] == [0, 3, 7, 14, 21]
    assert [(s.last - day0).days for s in stages] == [2, 6, 13, 20, 27]
    truth_modes = [r.mode for r in course.reps]
    assert truth_modes.count("faded") == 14 * 24 and truth_modes.count("warning") == 3 * 24


def test_the_report_says_it_in_plain_words_first_then_the_plots(course, tmp_path):
    data, _ = imported(course, tmp_path)
    lines = learning_lines(data)
    first, last = data.learning.weeks[0], data.learning.weeks[-1]
    assert lines[0].startswith("Without feedback (probe sets) the share of reps with a point lost")
    assert f"{round(100 * first.alone_rate)}% in week 1" in lines[0]
    assert f"{round(100 * last.alone_rate)}% in week 4" in lines[0]
    assert any("warning (2 Mar–4 Mar), then loss (5 Mar–8 Mar)" in line for line in lines)
    assert any(line.startswith("Faults by point: sacrum (the low back rounded)") for line in lines)
    blocks = report_content(data, course.start)
    kinds = [
        getattr(b, "id", None) or getattr(getattr(b, "plot", None), "key", None)
        for b in blocks.blocks
    ]
    i = kinds.index("learning")
    assert kinds[i + 1 : i + 4] == ["learning", "fault_depth", "learning-weeks"]
    html = render_html(data, course.start)
    assert 'id="fig-learning"' in html and 'id="fig-fault_depth"' in html


def test_feedback_removed_too_early_shows_as_a_rise_without_it(tmp_path):
    cfg = config_for(
        schedule=[{"mode": "loss", "days": 2}, {"mode": "none"}], reps_per_set=8, sets_per_day=3
    )
    course = run_course(cfg, Learner(seed=5), days=7)
    data, _ = imported(course, tmp_path)
    guided = [r for r in course.reps if r.day < 2]
    alone = [r for r in course.reps if 2 <= r.day < 4]

    def rate(reps):
        return sum(r.lost is not None for r in reps) / len(reps)

    assert rate(alone) > rate(guided) + 0.05  # the truth: guidance was not yet skill
    week = data.learning.weeks[0]
    assert week.guided_reps == len(guided) and week.guided_faults == sum(
        r.lost is not None for r in guided
    )
    assert [s.label for s in data.learning.stages] == ["loss", "none"]
    lines = learning_lines(data)
    # No probe set ran: the reps without feedback are the `none` stage's, and it says so.
    assert lines[0].startswith("Without feedback (stages with no feedback) the share")
    assert "was " in lines[0] and "went from" not in lines[0]  # one week: no change to tell
    assert any("No probe sets in this period" in line and "probe=first" in line for line in lines)


def test_logs_that_do_not_say_their_feedback_give_no_learning_section(tmp_path):
    from tests.report.weekdata import build_week

    conn = db.connect(tmp_path / "db.sqlite3")
    build_week(conn)
    data = load_report_data(conn, "P-0001", tz=UTC, today=date(2025, 3, 17))
    assert data.learning is None and learning_lines(data) == []
    assert lrn.load_learning(conn, "P-0001", data.sessions, data.start, data.end) is None


def test_the_courses_fhir_bundle_validates_with_the_dowel_and_the_prescription(course, tmp_path):
    import json

    from fhir.resources.R4B.bundle import Bundle

    from host_tools.report.fhir import CODE_SYSTEM, CODES, session_bundle
    from tests.report.fhir_rules import check_bundle

    data, conn = imported(course, tmp_path)
    conn.execute(
        "INSERT INTO calibrations (patient, device_id, taken_utc, config_json, levels_json) "
        "VALUES ('P-COURSE', 'c055e5000001', '2026-03-02T07:00:00Z', '{}', '{}')"
    )
    bundle = json.loads(json.dumps(session_bundle(conn, "P-COURSE")))
    Bundle.model_validate(bundle)
    assert check_bundle(bundle, CODE_SYSTEM, set(CODES)) == []
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds.count("Device") == 1 and kinds.count("DeviceMetric") == 3
    assert kinds.count("ServiceRequest") == 1
    assert kinds.count("Observation") == len(data.sessions) == 28 * 3
    by_type = {e["resource"]["resourceType"]: e["resource"] for e in bundle["entry"]}
    device = by_type["Device"]
    assert device["serialNumber"] == "c055e5000001" and device["version"][0]["value"] == "0.1.0"
    metric = by_type["DeviceMetric"]
    assert metric["calibration"] == [
        {"type": "two-point", "state": "calibrated", "time": "2026-03-02T07:00:00Z"}
    ]
    assert metric["source"]["reference"] == f"urn:uuid:{device['id']}"
    request = by_type["ServiceRequest"]
    assert request["occurrenceTiming"]["repeat"] == {
        "frequency": 3,
        "period": 1,
        "periodUnit": "d",
    }
    assert request["quantityQuantity"]["value"] == 8
