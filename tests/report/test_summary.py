"""The plain-language summary, for constructed cases whose every figure is known."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

from host_tools.report.data import load_report_data
from host_tools.report.summary import summarize
from host_tools.store import db
from host_tools.store.patients import set_prescription

UTC = timezone.utc


def add_session(conn, patient, number, started, reps, imu=True, pulled="2025-04-15T09:00:00Z"):
    """reps: (outcome, loss_pitch, depth) triples; IMU timings are fixed 1.5 / 0.5 / 1.5 s."""
    conn.execute(
        "INSERT INTO sessions (device_id, session, patient, started_utc, firmware, config_hash,"
        " has_imu, imported_utc) VALUES ('d1', ?, ?, ?, '0.1.0', 'h', ?, ?)",
        (
            number,
            patient,
            started.strftime("%Y-%m-%dT%H:%M:%SZ") if started else None,
            int(imu),
            pulled,
        ),
    )
    bits = {"clean": 0, "head": 1, "midback": 2, "sacrum": 4}
    for seq, (outcome, pitch, depth) in enumerate(reps):
        conn.execute(
            "INSERT INTO reps (device_id, session, seq, patient, start_ms, duration_ms, outcome,"
            " lost_mask, loss_pitch_deg, depth_deg, lower_ms, pause_ms, rise_ms)"
            " VALUES ('d1', ?, ?, ?, 0, 3500, ?, ?, ?, ?, ?, ?, ?)",
            (
                number,
                seq,
                patient,
                outcome,
                bits[outcome],
                pitch if imu else None,
                depth if imu else None,
                *((1500, 500, 1500) if imu else (None, None, None)),
            ),
        )


def calibrate(conn, patient, taken):
    conn.execute(
        "INSERT INTO calibrations (patient, device_id, taken_utc, config_json, levels_json) "
        "VALUES (?, 'd1', ?, '{}', ?)",
        (patient, taken, json.dumps({"head": {"contact": 30000, "zero": 700}})),
    )


def summary(conn, patient):
    return summarize(load_report_data(conn, patient, tz=UTC, today=date(2025, 4, 20)))


def test_learning_fortnight(home):
    conn = db.connect()
    set_prescription(conn, "P-0100", 1, 25)
    calibrate(conn, "P-0100", "2025-04-01T08:00:00Z")
    day = date(2025, 4, 1)
    practised = [day + timedelta(days=i) for i in range(14) if i not in (4, 9)]
    for n, d in enumerate(practised):
        early = n < 6
        sacrum, pitch = (10, 31.0) if early else (3, 44.0)
        reps = [("sacrum", pitch, pitch + 5)] * sacrum + [("clean", None, 50.0)] * (25 - sacrum)
        add_session(
            conn,
            "P-0100",
            n + 1,
            datetime.combine(d, datetime.min.time(), UTC) + timedelta(hours=9),
            reps,
        )
    assert summary(conn, "P-0100") == [
        "12 of 14 days practised (1 Apr to 14 Apr); the prescription (1x25/day, 25 reps a day)"
        " was met on 12 days.",
        "300 reps in 12 sessions; 74% clean (rose from 60% to 88%).",
        "Sacrum losses fell from 40% to 12% of reps.",
        "Average depth before loss rose from 31 to 44 degrees; average depth of clean reps "
        "stayed about 50 degrees.",
        "A rep took on average 1.5 s lowering, 0.5 s paused at the bottom, 1.5 s rising.",
        "Calibrated on 1 Apr.",
    ]


def test_one_session_without_imu(home):
    conn = db.connect()
    reps = [("clean", None, None)] * 7 + [("sacrum", None, None)] * 3
    add_session(
        conn,
        "P-0101",
        1,
        datetime(2025, 4, 2, 18, 0, tzinfo=UTC),
        reps,
        imu=False,
        pulled="2025-04-02T19:00:00Z",
    )
    assert summary(conn, "P-0101") == [
        "1 of 1 day practised (2 Apr); the prescription (5x10/day, 50 reps a day) was not met "
        "on any day.",
        "10 reps in 1 session; 70% clean.",
        "The point lost most often was the sacrum (30% of reps).",
        "No IMU on the dowel for these sessions, so depth and timing were not measured.",
        "Not calibrated on this computer yet (`dowel calibrate`).",
    ]


def test_no_data_at_all(home):
    conn = db.connect()
    set_prescription(conn, "P-0102", 5, 10)
    assert summary(conn, "P-0102") == [
        "No practice sessions pulled from the dowel yet (`dowel logs pull`).",
        "Not calibrated on this computer yet (`dowel calibrate`).",
    ]


def test_no_practice_in_the_period(home):
    conn = db.connect()
    add_session(
        conn, "P-0103", 1, datetime(2025, 4, 2, 18, 0, tzinfo=UTC), [("clean", 1.0, 40.0)] * 10
    )
    data = load_report_data(
        conn, "P-0103", since=date(2025, 4, 10), tz=UTC, today=date(2025, 4, 20)
    )
    assert summarize(data)[0] == "No practice sessions recorded from 10 Apr to 14 Apr."


def test_small_changes_are_not_called_trends(home):
    conn = db.connect()
    for n in range(4):
        # Sacrum on 4 and 4 of 20 reps early, 4 and 3 late.
        sacrum = 4 if n < 2 else 4 - (n == 3)
        reps = [("sacrum", 30.0 + n, 45.0)] * sacrum + [("clean", None, 45.0)] * (20 - sacrum)
        add_session(conn, "P-0104", n + 1, datetime(2025, 4, 1 + n, 9, tzinfo=UTC), reps)
    lines = summary(conn, "P-0104")
    # 20% -> 17.5%: under 5 points; loss pitch 30.5 -> 32.4 (4 reps at 32, 3 at 33): under 3.
    assert (
        "The point lost most often was the sacrum (19% of reps), about the same early and "
        "late." in lines
    )
    assert any(
        line.startswith("Average depth before loss stayed about 32 degrees") for line in lines
    )
    assert "80 reps in 4 sessions; 81% clean, about the same early and late." in lines
    assert not any("fell" in line or "rose" in line for line in lines)


def test_some_sessions_without_imu_are_named(home):
    conn = db.connect()
    for n in range(3):
        add_session(
            conn,
            "P-0105",
            n + 1,
            datetime(2025, 4, 1 + n, 9, tzinfo=UTC),
            [("head", 35.0, 40.0)] * 5 + [("clean", None, 40.0)] * 5,
            imu=n != 1,
        )
    lines = summary(conn, "P-0105")
    assert any(
        line.startswith(
            "From the 2 of 3 sessions with an IMU: average depth before "
            "loss stayed about 35 degrees"
        )
        for line in lines
    )


def test_drift_after_the_last_calibration_asks_for_one(home):
    conn = db.connect()
    add_session(conn, "P-0106", 1, datetime(2025, 4, 2, 9, tzinfo=UTC), [("clean", None, 40.0)])
    calibrate(conn, "P-0106", "2025-04-01T08:00:00Z")
    conn.execute(
        "INSERT INTO drift_prompts (patient, device_id, seen_utc, sensor, calibrated, "
        "current) VALUES ('P-0106', 'd1', '2025-04-03T08:00:00Z', 'midback', 30000, "
        "20000)"
    )
    assert summary(conn, "P-0106")[-1] == (
        "Calibrated on 1 Apr; 1 drift prompt since (mid-back 3 Apr): consider recalibrating."
    )


def test_undated_sessions_are_counted_out_loud(home):
    conn = db.connect()
    add_session(conn, "P-0107", 1, datetime(2025, 4, 2, 9, tzinfo=UTC), [("clean", None, 40.0)])
    add_session(conn, "P-0107", 2, None, [("clean", None, 40.0)])
    add_session(conn, "P-0107", 3, None, [("clean", None, 40.0)])
    assert "2 sessions had no date (the dowel's clock was not set) and are left out." in summary(
        conn, "P-0107"
    )


def test_sessions_without_reps(home):
    conn = db.connect()
    add_session(conn, "P-0108", 1, datetime(2025, 4, 2, 9, tzinfo=UTC), [])
    lines = summary(conn, "P-0108")
    assert lines[1] == "1 session recorded, with no completed reps."
    assert not any("IMU" in line for line in lines)


def test_until_before_the_first_session(home):
    conn = db.connect()
    add_session(conn, "P-0109", 1, datetime(2025, 4, 2, 9, tzinfo=UTC), [("clean", None, 40.0)])
    data = load_report_data(conn, "P-0109", until=date(2025, 3, 1), tz=UTC)
    # `dowel report` refuses this period (test_period.py); the data layer still says what it is.
    assert summarize(data)[:2] == [
        "The period starts 32 days before this patient's first session or calibration "
        "(2 Apr 2025): those days show as not practised.",
        "No practice sessions recorded on 1 Mar.",
    ]


def test_points_lost_equally_often_are_named_together(home):
    """Nine reps, each point lost first once: there is no "most often" point to name."""
    conn = db.connect()
    reps = [("clean", None, 45.0)] * 6 + [(p, 30.0, 40.0) for p in ("head", "midback", "sacrum")]
    add_session(conn, "P-0110", 1, datetime(2025, 4, 2, 9, tzinfo=UTC), reps)
    lines = summary(conn, "P-0110")
    assert "Head, mid-back and sacrum were each lost on 1 rep (11% of reps)." in lines
    assert not any("most often" in line for line in lines)


def test_two_points_tied_over_two_sessions(home):
    conn = db.connect()
    for n in range(2):
        reps = (
            [("head", 30.0, 40.0)] * 2 + [("sacrum", 30.0, 40.0)] * 2 + [("midback", 30.0, 40.0)]
        )
        add_session(
            conn,
            "P-0111",
            n + 1,
            datetime(2025, 4, 1 + n, 9, tzinfo=UTC),
            reps + [("clean", None, 45.0)] * 5,
        )
    lines = summary(conn, "P-0111")
    # 4 of 20 each, 2 of 10 in either half: compared, and no change.
    assert (
        "Head and sacrum were each lost on 4 reps (20% of reps), about the same early and late."
        in lines
    )


def test_a_rare_tie_is_named_too(home):
    conn = db.connect()
    reps = [("head", 30.0, 40.0), ("sacrum", 30.0, 40.0)] + [("clean", None, 45.0)] * 48
    add_session(conn, "P-0112", 1, datetime(2025, 4, 2, 9, tzinfo=UTC), reps)
    assert "Points seldom left the dowel (at most 2% of reps each, head and sacrum)." in summary(
        conn, "P-0112"
    )


def test_halves_too_small_to_compare_are_not_called_the_same(home):
    """Two sessions of four reps: halves of four reps are not compared, so no "about the same"."""
    conn = db.connect()
    for n in range(2):
        reps = [("sacrum", 30.0, 40.0)] + [("clean", None, 45.0)] * 3
        add_session(conn, "P-0113", n + 1, datetime(2025, 4, 1 + n, 9, tzinfo=UTC), reps)
    lines = summary(conn, "P-0113")
    assert "The point lost most often was the sacrum (25% of reps)." in lines
    assert not any("about the same" in line for line in lines)
