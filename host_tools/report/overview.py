"""The clinic's patient list: for each patient the last session, this week's practice against
the prescription, and what the PT should look at (a drifted sensor, a low battery, no
calibration yet, little practice in a full week at home, many reps that lost a point).

    for row in overview(conn):
        print(row.patient, row.week_reps, "of", row.week_target, row.warnings)

"This week" is the last seven calendar days up to today, in the zone the report counts days in.
It reads the same `ReportData` the report is made of, so the list and the report never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from dowel import battery

from host_tools.report.data import ReportData, load_report_data, local_zone
from host_tools.store.patients import list_patients

WEEK_DAYS = 7
# What the list flags in a full week at home (the patient calibrated at least WEEK_DAYS ago):
LOW_PRACTICE_PCT = 50  # under half the prescription's reps
HIGH_FAULT_PCT = 40  # this share or more of the week's reps lost a point...
FAULT_MIN_REPS = 10  # ...of at least this many reps (fewer say little)
# A session that began under the firmware's low-battery level: the dowel needs charging.
LOW_BATTERY_PCT = battery.percent(battery.LOW_MV)


@dataclass(frozen=True)
class PatientRow:
    patient: str
    prescription: str
    sessions: int
    last_session: datetime | None
    last_calibration: datetime | None
    week_reps: int  # reps logged in the last WEEK_DAYS days
    week_target: int  # the prescription over those days
    week_days_met: int  # days whose prescription was met
    warnings: tuple[str, ...]

    @property
    def week_pct(self) -> int:
        return round(100 * self.week_reps / self.week_target) if self.week_target else 0


def practice_warnings(week: list, target: int, full_week: bool) -> list[str]:
    """This week's practice and form, when they need the PT: `week` the sessions of the last
    WEEK_DAYS days, `target` the prescription's reps over them."""
    out = []
    reps = sum(s.reps for s in week)
    if full_week and target and 100 * reps < LOW_PRACTICE_PCT * target:
        out.append(f"practised {round(100 * reps / target)} % of the prescription this week")
    lost = reps - sum(s.clean for s in week)
    if reps >= FAULT_MIN_REPS and 100 * lost >= HIGH_FAULT_PCT * reps:
        out.append(f"form: {round(100 * lost / reps)} % of this week's reps lost a point")
    return out


def warnings(data: ReportData, last_battery_pct: int | None) -> list[str]:
    out = []
    if not data.calibrations:
        out.append("not calibrated yet")
    else:
        since = data.calibrations[-1].taken
        drifted = sorted({d.sensor for d in data.drift_prompts if d.seen > since})
        if drifted:
            out.append("sensor drift (" + ", ".join(drifted) + "): recalibrate")
    if last_battery_pct is not None and last_battery_pct <= LOW_BATTERY_PCT:
        out.append(f"battery low at the last session ({last_battery_pct} %): charge the dowel")
    return out


def patient_row(conn, patient: str, today: date, tz: tzinfo) -> PatientRow:
    data = load_report_data(conn, patient, tz=tz, today=today)
    first = today - timedelta(days=WEEK_DAYS - 1)
    week = [s for s in data.sessions if s.day is not None and first <= s.day <= today]
    per_day: dict[date, int] = {}
    for s in week:
        per_day[s.day] = per_day.get(s.day, 0) + s.reps
    target = data.target_reps * WEEK_DAYS
    dated = [s for s in data.sessions if s.started is not None]
    last = max(dated, key=lambda s: s.started) if dated else None
    return PatientRow(
        patient=patient,
        prescription=data.patient.prescription,
        sessions=len(data.sessions) + data.undated_sessions,
        last_session=last.started if last else None,
        last_calibration=data.calibrations[-1].taken if data.calibrations else None,
        week_reps=sum(per_day.values()),
        week_target=target,
        week_days_met=sum(1 for reps in per_day.values() if reps >= data.target_reps),
        warnings=tuple(
            warnings(data, last.battery_pct if last else None)
            + practice_warnings(week, target, _home_all_week(data, first))
        ),
    )


def _home_all_week(data: ReportData, first: date) -> bool:
    """Had the patient the dowel (calibrated) on every day of the week from `first`?"""
    if not data.calibrations:
        return False
    return data.local_day(data.calibrations[0].taken) < first


def overview(conn, today: date | None = None, tz: tzinfo | None = None) -> list[PatientRow]:
    tz = tz or local_zone()
    today = today or datetime.now(tz).date()
    return [patient_row(conn, p.patient, today, tz) for p in list_patients(conn)]
