"""The clinic's patient list (host_tools.report.overview) on the fortnight of weekdata: this
week's reps and days against the prescription, counted from the rows written, and the warnings
a PT acts on."""

from __future__ import annotations

from datetime import date, timedelta, timezone

from host_tools.report.overview import LOW_BATTERY_PCT, overview
from tests.report.weekdata import END

UTC = timezone.utc


def rows_by_patient(conn, today=END):
    return {r.patient: r for r in overview(conn, today=today, tz=UTC)}


def test_this_week_counts_the_last_seven_days(conn, week):
    row = rows_by_patient(conn)["P-0001"]
    days = [END - timedelta(days=i) for i in range(7)]
    assert row.week_reps == sum(week.reps_on(d) for d in days)
    assert row.week_target == 7 * 50 and row.prescription == "5x10/day"
    assert row.week_days_met == sum(1 for d in days if week.reps_on(d) >= 50)
    assert row.week_pct == round(100 * row.week_reps / row.week_target)
    assert row.last_session == max(s.started for s in week.dated)
    assert row.warnings == ()  # drift on 8 Mar, but recalibrated on 10 Mar


def test_a_week_later_nothing_was_practised(conn, week):
    row = rows_by_patient(conn, today=END + timedelta(days=7))["P-0001"]
    assert (row.week_reps, row.week_days_met) == (0, 0)


def test_warnings_name_what_to_do(conn, week):
    rows = rows_by_patient(conn)
    assert rows["P-0003"].warnings == ("not calibrated yet",)
    conn.execute(
        "INSERT INTO drift_prompts (patient, device_id, seen_utc, sensor, calibrated, current)"
        " VALUES ('P-0001', 'dev', '2025-03-15T09:00:00+00:00', 'sacrum', 20000, 30000)"
    )
    last = max(week.dated, key=lambda s: s.started)
    conn.execute(
        "UPDATE sessions SET battery_pct = ? WHERE device_id = ? AND session = ?",
        (LOW_BATTERY_PCT, last.device_id, last.session),
    )
    conn.commit()
    warnings = rows_by_patient(conn)["P-0001"].warnings
    assert warnings[0] == "sensor drift (sacrum): recalibrate"
    assert warnings[1].startswith(f"battery low at the last session ({LOW_BATTERY_PCT} %)")


def test_the_low_battery_level_is_the_firmwares():
    from dowel import battery

    assert LOW_BATTERY_PCT == battery.percent(battery.LOW_MV) and 0 < LOW_BATTERY_PCT < 20


def test_a_full_week_of_little_practice_is_flagged(conn, week):
    row = rows_by_patient(conn, today=END + timedelta(days=7))["P-0001"]
    assert "practised 0 % of the prescription this week" in row.warnings
    # P-0002 was calibrated on 5 Mar and never practised: flagged a full week on, not before.
    assert (
        "practised 0 % of the prescription this week" in rows_by_patient(conn)["P-0002"].warnings
    )
    soon = rows_by_patient(conn, today=date(2025, 3, 8))["P-0002"]
    assert not any("practised" in w for w in soon.warnings)


def test_a_week_of_reps_that_lose_points_is_flagged():
    from host_tools.report.data import SessionStats
    from host_tools.report.overview import practice_warnings

    def session(reps, clean):
        return SessionStats("d", 1, None, None, True, "0.1.0", reps=reps, clean=clean)

    assert practice_warnings([session(10, 6)], 70, True) == [
        "practised 14 % of the prescription this week",
        "form: 40 % of this week's reps lost a point",
    ]
    assert practice_warnings([session(10, 7)], 20, True) == []  # 30 % lost: not flagged
    assert practice_warnings([session(9, 0)], 9, True) == []  # too few reps to say
    assert practice_warnings([session(1, 1)], 70, False) == []  # not a full week at home
