"""The report's data layer: SQLite rows in, plain numbers out (no plotting, no wording).

    with db.connect() as conn:
        data = load_report_data(conn, "P-0001", since=date(2025, 3, 1), tz=timezone.utc)
    data.days[0].reps, data.sessions[-1].clean_share, data.sessions[-1].depth.median

Everything the page, the PDF and the summary show comes from here, so tests check the figures
against the database through these same functions. Days are calendar days in `tz` (the PT's
computer's zone by default): a patient practising at 23:30 practised that evening, not the next
UTC day.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo

from dowel import points

from host_tools.report.learning import Learning, load_learning
from host_tools.report.stats import Spread
from host_tools.store.patients import PatientInfo, require_patient

# The three points in the dowel's order (dowel.points), and each one's bit in a lost mask.
POINTS = points.NAMES
POINT_BITS = {name: 1 << i for i, name in enumerate(points.NAMES)}
# How the report names each point for the PT.
POINT_LABELS = dict(zip(points.NAMES, points.LABELS, strict=True))


@dataclass
class SessionStats:
    """One practice session (one device log session) and what happened in its reps."""

    device_id: str
    session: int
    started: datetime | None  # aware UTC; None when the dowel's clock was never set
    day: date | None  # calendar day in the report's zone
    has_imu: bool
    firmware: str
    # The dowel's clock had lost the date: `started` is the host's estimate, between `earliest`
    # and `latest` (`host_tools.store.dates`).
    estimated: bool = False
    earliest: datetime | None = None
    latest: datetime | None = None
    battery_pct: int | None = None  # at the session's start; None: unknown
    reps: int = 0
    clean: int = 0
    # First point lost (the rep's outcome): these plus `clean` add up to `reps`.
    first_lost: dict[str, int] = field(default_factory=lambda: dict.fromkeys(POINTS, 0))
    # Every point lost at some time during the rep (from lost_mask): a rep may count in several.
    any_lost: dict[str, int] = field(default_factory=lambda: dict.fromkeys(POINTS, 0))
    depth: Spread = Spread.of([])  # IMU: deepest pitch of each rep, degrees
    loss_pitch: Spread = Spread.of([])  # IMU: pitch when the first point left, degrees
    clean_depth: Spread = Spread.of([])  # IMU: deepest pitch of clean reps
    lower_ms: Spread = Spread.of([])
    pause_ms: Spread = Spread.of([])
    rise_ms: Spread = Spread.of([])

    @property
    def key(self) -> str:
        return f"{self.device_id}/{self.session}"

    @property
    def clean_share(self) -> float | None:
        return self.clean / self.reps if self.reps else None

    def lost_share(self, point: str) -> float | None:
        return self.first_lost[point] / self.reps if self.reps else None

    @property
    def has_imu_data(self) -> bool:
        return self.has_imu and (self.depth.n > 0 or self.loss_pitch.n > 0)


@dataclass(frozen=True)
class DayStats:
    day: date
    sessions: int
    reps: int
    clean: int
    target_reps: int

    @property
    def practised(self) -> bool:
        return self.reps > 0

    @property
    def met(self) -> bool:
        return self.reps >= self.target_reps


@dataclass(frozen=True)
class CalibrationVisit:
    taken: datetime
    device_id: str
    # sensor -> {"contact": level, "zero": level, "on": threshold, "off": threshold}; a key is
    # missing when the stored calibration did not record it.
    levels: dict[str, dict[str, float]]


@dataclass(frozen=True)
class DriftPrompt:
    seen: datetime
    device_id: str
    sensor: str
    calibrated: int
    current: int

    @property
    def change(self) -> float | None:
        """Relative change of the contact level from the calibrated one (0.3 = 30 % higher)."""
        return (self.current - self.calibrated) / self.calibrated if self.calibrated else None


@dataclass
class ReportData:
    patient: PatientInfo
    start: date | None  # first calendar day of the period; None: nothing recorded at all
    end: date | None  # last calendar day (inclusive)
    days: list[DayStats]
    sessions: list[SessionStats]  # sessions in the period (dated or estimated), oldest first
    undated_sessions: int  # sessions left out: no start time, not even an estimate
    calibrations: list[CalibrationVisit]
    drift_prompts: list[DriftPrompt]
    tz: tzinfo = timezone.utc  # the zone calendar days are counted in
    # What the host knows of, whatever the period: from the first session or calibration day to
    # the last day the pulled logs cover (`_default_end`); None: nothing recorded / never pulled.
    recorded_from: date | None = None
    pulled_until: date | None = None
    # Learning apart from performance (`host_tools.report.learning`); None: no rep of the
    # period says what feedback it was given (logs from before format 4, or no reps).
    learning: Learning | None = None

    def local_day(self, moment: datetime) -> date:
        return moment.astimezone(self.tz).date()

    @property
    def target_reps(self) -> int:
        return self.patient.sets_per_day * self.patient.reps_per_set

    @property
    def total_reps(self) -> int:
        return sum(s.reps for s in self.sessions)

    @property
    def total_clean(self) -> int:
        return sum(s.clean for s in self.sessions)

    @property
    def days_practised(self) -> int:
        return sum(1 for d in self.days if d.practised)

    @property
    def days_met(self) -> int:
        return sum(1 for d in self.days if d.met)

    @property
    def estimated_sessions(self) -> list[SessionStats]:
        """Sessions in the period whose date the host estimated."""
        return [s for s in self.sessions if s.estimated]

    @property
    def imu_sessions(self) -> list[SessionStats]:
        return [s for s in self.sessions if s.has_imu_data]


def parse_utc(text: str) -> datetime:
    """ISO 8601 text from the database as an aware UTC datetime (naive text is taken as UTC)."""
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def local_zone() -> tzinfo:
    """The zone of this computer (where the PT reads the report)."""
    zone = datetime.now().astimezone().tzinfo
    assert zone is not None
    return zone


def load_sessions(
    conn: sqlite3.Connection, patient: str, tz: tzinfo = timezone.utc
) -> list[SessionStats]:
    """Every session of `patient` with its rep counts and IMU spreads: dated ones (by the
    dowel's clock, or estimated by the host: `estimated`) oldest first, then those without a
    start time at all."""
    rows = conn.execute(
        "SELECT device_id, session, started_utc, has_imu, firmware, started_estimated, "
        "started_earliest_utc, started_latest_utc, battery_pct FROM sessions "
        "WHERE patient = ?",
        (patient,),
    ).fetchall()

    def moment(text: str | None) -> datetime | None:
        return parse_utc(text) if text is not None else None

    sessions: dict[tuple[str, int], SessionStats] = {}
    for row in rows:
        started = moment(row["started_utc"])
        estimated = bool(row["started_estimated"]) and started is not None
        sessions[(row["device_id"], row["session"])] = SessionStats(
            device_id=row["device_id"],
            session=row["session"],
            started=started,
            day=started.astimezone(tz).date() if started else None,
            has_imu=bool(row["has_imu"]),
            firmware=row["firmware"],
            estimated=estimated,
            earliest=moment(row["started_earliest_utc"]) if estimated else None,
            latest=moment(row["started_latest_utc"]) if estimated else None,
            battery_pct=row["battery_pct"],
        )
    values: dict[tuple[str, int], dict[str, list[float]]] = {
        k: {"depth": [], "loss_pitch": [], "clean_depth": [], "lower": [], "pause": [], "rise": []}
        for k in sessions
    }
    reps = conn.execute(
        "SELECT device_id, session, outcome, lost_mask, loss_pitch_deg, depth_deg, lower_ms, "
        "pause_ms, rise_ms FROM reps WHERE patient = ? ORDER BY device_id, session, seq",
        (patient,),
    )
    for rep in reps:
        key = (rep["device_id"], rep["session"])
        stats = sessions.get(key)
        if stats is None:
            continue  # reps whose session header never made it in: no day, no IMU flag
        stats.reps += 1
        outcome = rep["outcome"]
        if outcome == "clean":
            stats.clean += 1
        elif outcome in POINT_BITS:
            stats.first_lost[outcome] += 1
        else:
            raise ValueError(f"rep outcome {outcome!r} in session {key} is not clean or a point")
        for point, bit in POINT_BITS.items():
            if rep["lost_mask"] & bit:
                stats.any_lost[point] += 1
        v = values[key]
        if rep["depth_deg"] is not None:
            v["depth"].append(rep["depth_deg"])
            if outcome == "clean":
                v["clean_depth"].append(rep["depth_deg"])
        if rep["loss_pitch_deg"] is not None and outcome != "clean":
            v["loss_pitch"].append(rep["loss_pitch_deg"])
        for name in ("lower", "pause", "rise"):
            if rep[name + "_ms"] is not None:
                v[name].append(rep[name + "_ms"])
    for key, stats in sessions.items():
        v = values[key]
        stats.depth = Spread.of(v["depth"])
        stats.loss_pitch = Spread.of(v["loss_pitch"])
        stats.clean_depth = Spread.of(v["clean_depth"])
        stats.lower_ms = Spread.of(v["lower"])
        stats.pause_ms = Spread.of(v["pause"])
        stats.rise_ms = Spread.of(v["rise"])
    epoch = datetime.min.replace(tzinfo=timezone.utc)
    return sorted(
        sessions.values(),
        key=lambda s: (s.started is None, s.started or epoch, s.device_id, s.session),
    )


def _levels(config_json: str, levels_json: str) -> dict[str, dict[str, float]]:
    """Levels per sensor from a calibration row: {"contact", "zero", "on", "off"}, each present
    when recorded. `levels_json` is what `dowel calibrate` measured
    (`host_tools.calibrate.rule.Proposal.levels_json`: per sensor, "zero" and "contact" stats
    with a median "level", and "on"/"off"); the config written to the dowel fills in what is
    missing."""
    try:
        config = json.loads(config_json) or {}
    except ValueError:
        config = {}
    try:
        measured = json.loads(levels_json) or {}
    except ValueError:
        measured = {}

    def number(value) -> float | None:
        if isinstance(value, dict):  # a Stats record: its median level
            value = value.get("level")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        return None

    out: dict[str, dict[str, float]] = {}
    sensors = config.get("sensors") if isinstance(config, dict) else None
    for point in POINTS:
        entry: dict[str, float] = {}
        cfg = (sensors or {}).get(point) or {}
        for key in ("on", "off"):
            if number(cfg.get(key)) is not None:
                entry[key] = cfg[key]
        if (number(cfg.get("level")) or 0) > 0:  # 0 is the default: never calibrated
            entry["contact"] = cfg["level"]
        m = measured.get(point) if isinstance(measured, dict) else None
        if isinstance(m, dict):
            for key in ("contact", "zero", "on", "off"):
                value = number(m.get(key))
                if value is not None and (value or key == "zero"):
                    entry[key] = value
        out[point] = entry
    return out


def _load_calibrations(conn, patient: str, since_utc: datetime | None):
    cals = [
        CalibrationVisit(
            taken=parse_utc(r["taken_utc"]),
            device_id=r["device_id"],
            levels=_levels(r["config_json"], r["levels_json"]),
        )
        for r in conn.execute(
            "SELECT taken_utc, device_id, config_json, levels_json FROM calibrations "
            "WHERE patient = ? ORDER BY taken_utc, id",
            (patient,),
        )
    ]
    drifts = [
        DriftPrompt(
            seen=parse_utc(r["seen_utc"]),
            device_id=r["device_id"],
            sensor=r["sensor"],
            calibrated=r["calibrated"],
            current=r["current"],
        )
        for r in conn.execute(
            "SELECT seen_utc, device_id, sensor, calibrated, current FROM drift_prompts "
            "WHERE patient = ? ORDER BY seen_utc, id",
            (patient,),
        )
    ]
    if since_utc is not None:
        # Calibration history is kept whole (levels change between visits: the PT wants the
        # visit before the period too); drift prompts are events, so they follow the period.
        drifts = [d for d in drifts if d.seen >= since_utc]
    return cals, drifts


def load_report_data(
    conn: sqlite3.Connection,
    patient: str,
    since: date | None = None,
    until: date | None = None,
    tz: tzinfo | None = None,
    today: date | None = None,
) -> ReportData:
    """Everything the report shows for `patient`, for calendar days since..until in `tz`.

    Without `since` the period starts on the first day with a session or a calibration (the
    visit). Without `until` it ends on the day the logs were last pulled, or the day before when
    nothing was practised that day yet (it was still under way): the host knows nothing of the
    days after, so they are not counted as missed. No logs ever pulled: no period end, no days.
    Raises DowelError naming `dowel patients` for an unknown patient.
    """
    info = require_patient(conn, patient)
    tz = tz or local_zone()
    today = today or datetime.now(tz).date()
    everything = load_sessions(conn, patient, tz)
    sessions = [s for s in everything if s.day is not None]
    undated = len(everything) - len(sessions)
    since_utc = (
        datetime.combine(since, datetime.min.time(), tzinfo=tz).astimezone(timezone.utc)
        if since
        else None
    )
    calibrations, drifts = _load_calibrations(conn, patient, since_utc)

    firsts = [s.day for s in sessions if s.day] + [
        c.taken.astimezone(tz).date() for c in calibrations
    ]
    recorded_from = min(firsts) if firsts else None
    pulled_until = _default_end(conn, patient, sessions, tz, today)
    start = since if since is not None else recorded_from
    end = until
    if end is None and start is not None and pulled_until is not None:
        end = max(pulled_until, start)
    if start is not None and end is not None:
        start = min(start, end)  # --until before the first session: an empty one-day period
        sessions = [s for s in sessions if s.day and start <= s.day <= end]
    days = _days(sessions, start, end, info.sets_per_day * info.reps_per_set)
    data = ReportData(
        patient=info,
        start=start,
        end=end,
        days=days,
        sessions=sessions,
        undated_sessions=undated,
        calibrations=calibrations,
        drift_prompts=drifts,
        tz=tz,
        recorded_from=recorded_from,
        pulled_until=pulled_until,
    )
    data.learning = load_learning(conn, patient, sessions, start, end)
    return data


def _default_end(conn, patient, sessions, tz, today: date) -> date | None:
    row = conn.execute(
        "SELECT MAX(imported_utc) FROM sessions WHERE patient = ?", (patient,)
    ).fetchone()
    if row[0] is None:
        return None
    pulled = min(parse_utc(row[0]).astimezone(tz).date(), today)
    end = pulled if any(s.day == pulled for s in sessions) else pulled - timedelta(days=1)
    last = max((s.day for s in sessions if s.day), default=None)
    if last is not None and last > end:
        end = last  # clocks disagree (the dowel's ahead of this computer): keep every session
    return end


def _days(sessions: list[SessionStats], start, end, target: int) -> list[DayStats]:
    if start is None or end is None:
        return []
    out = []
    day = start
    while day <= end:
        todays = [s for s in sessions if s.day == day]
        out.append(
            DayStats(
                day=day,
                sessions=len(todays),
                reps=sum(s.reps for s in todays),
                clean=sum(s.clean for s in todays),
                target_reps=target,
            )
        )
        day += timedelta(days=1)
    return out


@dataclass(frozen=True)
class HalfComparison:
    """Early vs late part of the period: the sessions split in two by time (the middle session
    of an odd count is left out, so each half has as many sessions)."""

    early: list[SessionStats]
    late: list[SessionStats]


def halves(sessions: list[SessionStats]) -> HalfComparison | None:
    if len(sessions) < 2:
        return None
    n = len(sessions) // 2
    return HalfComparison(early=sessions[:n], late=sessions[-n:])


def pooled_share(sessions: list[SessionStats], point: str | None) -> tuple[int, int]:
    """(count, reps): reps whose outcome was `point` (None = clean) over all reps."""
    reps = sum(s.reps for s in sessions)
    if point is None:
        return sum(s.clean for s in sessions), reps
    return sum(s.first_lost[point] for s in sessions), reps


def pooled_values(sessions: list[SessionStats], attr: str) -> tuple[float | None, int]:
    """(mean, n) of a per-rep measure pooled over sessions (weighted by each session's n)."""
    total = 0.0
    n = 0
    for s in sessions:
        spread: Spread = getattr(s, attr)
        if spread.n:
            assert spread.mean is not None
            total += spread.mean * spread.n
            n += spread.n
    return (total / n if n else None), n
