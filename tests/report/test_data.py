"""The report's data layer against the fortnight the fixture wrote (expected figures from the
fixture's own Python lists, never from the SQL under test)."""

from __future__ import annotations

import random
import statistics
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from host_tools.errors import DowelError
from host_tools.report.data import POINTS, Spread, halves, load_report_data
from host_tools.store import db
from tests.report.weekdata import END, SKIPPED, START, Session, _insert_session, _make_reps

UTC = timezone.utc


def load(conn, patient="P-0001", **kw):
    kw.setdefault("tz", UTC)
    kw.setdefault("today", date(2025, 3, 20))
    return load_report_data(conn, patient, **kw)


def test_period_runs_from_first_visit_to_last_pull(conn, week):
    data = load(conn)
    # Calibrated and first practised on 3 Mar; logs pulled 17 Mar 08:00 with nothing that day.
    assert (data.start, data.end) == (START, END)
    assert [d.day for d in data.days] == [START + timedelta(days=i) for i in range(14)]


def test_reps_and_sessions_per_day_match_the_logs(conn, week):
    data = load(conn)
    for d in data.days:
        assert d.reps == week.reps_on(d.day), d.day
        assert d.sessions == len(week.on(d.day)), d.day
        assert d.target_reps == 50
    assert data.days_practised == 12
    assert {d.day for d in data.days if not d.practised} == SKIPPED
    # Every practised day but 9 Mar (two sessions of ten) reached 5 x 10.
    assert data.days_met == 11
    assert [d.day for d in data.days if d.practised and not d.met] == [date(2025, 3, 9)]


def test_session_outcomes_match_the_logs(conn, week):
    data = load(conn)
    expected = {(s.device_id, s.session): s for s in week.dated}
    assert [(s.device_id, s.session) for s in data.sessions] == [
        (s.device_id, s.session) for s in week.dated
    ]
    assert data.undated_sessions == 1
    for s in data.sessions:
        reps = expected[(s.device_id, s.session)].reps
        assert s.reps == len(reps)
        assert s.clean == sum(r.outcome == "clean" for r in reps)
        for p in POINTS:
            assert s.first_lost[p] == sum(r.outcome == p for r in reps)
        assert s.any_lost["head"] == sum(bool(r.lost_mask & 1) for r in reps)
        assert s.any_lost["sacrum"] == sum(bool(r.lost_mask & 4) for r in reps)
        assert s.clean + sum(s.first_lost.values()) == s.reps
        assert s.clean_share == pytest.approx(s.clean / len(reps))
    assert data.total_reps == sum(len(s.reps) for s in week.dated) == 570


def test_imu_spreads_match_the_logs(conn, week):
    data = load(conn)
    expected = {(s.device_id, s.session): s for s in week.dated}
    imu = data.imu_sessions
    assert len(imu) == sum(s.has_imu for s in week.dated) == 37
    for s in data.sessions:
        reps = expected[(s.device_id, s.session)].reps
        if not s.has_imu:
            assert s.depth.n == s.loss_pitch.n == s.lower_ms.n == 0
            continue
        depths = [r.depth_deg for r in reps]
        losses = [r.loss_pitch_deg for r in reps if r.outcome != "clean"]
        assert s.depth.median == pytest.approx(statistics.median(depths))
        assert s.depth.mean == pytest.approx(statistics.fmean(depths))
        assert s.depth.q1 <= s.depth.median <= s.depth.q3
        assert s.loss_pitch.n == len(losses)
        if losses:
            assert s.loss_pitch.median == pytest.approx(statistics.median(losses))
        assert s.pause_ms.median == pytest.approx(statistics.median(r.pause_ms for r in reps))


def test_since_limits_days_sessions_and_drift_but_keeps_calibration_history(conn, week):
    data = load(conn, since=date(2025, 3, 10))
    assert data.start == date(2025, 3, 10) and data.end == END
    assert len(data.days) == 7
    assert all(s.day >= date(2025, 3, 10) for s in data.sessions)
    assert data.total_reps == sum(len(s.reps) for s in week.dated if s.day >= date(2025, 3, 10))
    assert data.drift_prompts == []  # the 8 Mar prompt is before the period
    assert len(data.calibrations) == 2  # the PT still sees the levels of the visit before


def test_until_ends_the_period(conn, week):
    data = load(conn, until=date(2025, 3, 5))
    assert [d.reps for d in data.days] == [50, 50, 50]


def test_days_are_counted_in_the_report_zone(home):
    # 23:30 UTC on 3 Mar is already 4 Mar in UTC+2: the patient practised on 4 Mar there.
    conn = db.connect()
    s = Session("d1", 1, datetime(2025, 3, 3, 23, 30, tzinfo=UTC), False)
    s.reps = _make_reps(random.Random(1), "d1", 1, 10, 0.0, False)
    _insert_session(conn, "P-0009", s)
    plus2 = timezone(timedelta(hours=2))
    utc_days = [d.day for d in load(conn, "P-0009").days if d.practised]
    east_days = [d.day for d in load(conn, "P-0009", tz=plus2).days if d.practised]
    assert utc_days == [date(2025, 3, 3)]
    assert east_days == [date(2025, 3, 4)]


def test_today_counts_once_practised(home):
    conn = db.connect()
    s = Session("d1", 1, datetime(2025, 3, 3, 9, 0, tzinfo=UTC), False)
    _insert_session(conn, "P-0009", s)
    conn.execute("UPDATE sessions SET imported_utc = '2025-03-05T10:00:00Z'")
    # Pulled on 5 Mar with nothing practised yet that day: 5 Mar is not counted as missed.
    assert load(conn, "P-0009", today=date(2025, 3, 5)).end == date(2025, 3, 4)
    s2 = Session("d1", 2, datetime(2025, 3, 5, 8, 0, tzinfo=UTC), False)
    _insert_session(conn, "P-0009", s2)
    conn.execute("UPDATE sessions SET imported_utc = '2025-03-05T10:00:00Z'")
    assert load(conn, "P-0009", today=date(2025, 3, 5)).end == date(2025, 3, 5)


def test_calibration_levels_and_drift(conn, week):
    data = load(conn)
    first, second = data.calibrations
    assert first.levels["sacrum"]["contact"] == 40000
    assert second.levels["sacrum"]["contact"] == 33000
    assert first.levels["head"]["zero"] == 800
    # `dowel calibrate`'s rule: on = zero + 50% of (contact - zero).
    assert first.levels["head"]["on"] == 800 + (30000 - 800) // 2
    (drift,) = data.drift_prompts
    assert (drift.sensor, drift.calibrated, drift.current) == ("sacrum", 40000, 29000)
    assert drift.change == pytest.approx(-0.275)


def test_patient_without_sessions_has_no_days(conn, week):
    data = load(conn, "P-0002")
    assert data.sessions == [] and data.days == []
    assert len(data.calibrations) == 1


def test_one_session_patient_uses_its_prescription(conn, week):
    data = load(conn, "P-0003")
    assert data.patient.prescription == "3x8/day" and data.target_reps == 24
    assert [d.reps for d in data.days] == [8, 0, 0]  # 14 Mar, then nothing to the pull
    assert halves(data.sessions) is None


def test_unknown_patient_names_the_list_command(conn, week):
    with pytest.raises(DowelError, match="dowel patients"):
        load(conn, "P-7777")


def test_halves_drop_the_middle_session(conn, week):
    data = load(conn)
    h = halves(data.sessions)
    assert len(h.early) == len(h.late) == 28
    assert h.early[-1].started < data.sessions[28].started < h.late[0].started


@given(st.lists(st.floats(-90, 90, allow_nan=False), min_size=1, max_size=50))
def test_spread_orders_its_quartiles(values):
    s = Spread.of(values)
    assert s.n == len(values)
    assert min(values) <= s.q1 <= s.median <= s.q3 <= max(values)
    assert s.median == pytest.approx(statistics.median(values))
