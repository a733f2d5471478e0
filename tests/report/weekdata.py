"""A realistic fortnight of practice, written straight into a test database.

    week = build_week(conn)        # returns the rows it wrote, as plain Python
    week.reps_on(date(2025, 3, 3)) # expected figures come from these lists, not from SQL

Patient P-0001 (default prescription 5x10/day), 3 Mar to 16 Mar 2025 (UTC):
- calibrated on 3 Mar; a sacrum drift prompt on 8 Mar; recalibrated on 10 Mar;
- no practice on 6 Mar and 12 Mar; 9 Mar two sessions only; other days five sessions of ten;
- dowel A (with IMU) until 11 Mar, dowel B (no IMU) from 13 Mar;
- sacrum losses fall from about 40% to about 10% of reps, depth before loss rises from about
  30 to about 45 degrees, lowering slows and the pause lengthens: a patient learning;
- one more session whose start is unknown (the dowel's clock was never set).
P-0002: calibrated, never practised. P-0003: one session of 8 reps, no IMU, prescription 3x8.
"""

from __future__ import annotations

import random
import sqlite3
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from dowel import config as dconfig

from host_tools.calibrate import rule as cal

START = date(2025, 3, 3)
DAYS = 14
END = START + timedelta(days=DAYS - 1)
SKIPPED = {date(2025, 3, 6), date(2025, 3, 12)}
PARTIAL = {date(2025, 3, 9): 2}
IMU_UNTIL = date(2025, 3, 11)
BITS = {"head": 1, "midback": 2, "sacrum": 4}
SESSION_HOURS = (7, 10, 13, 16, 19)


@dataclass
class Rep:
    device_id: str
    session: int
    seq: int
    outcome: str
    lost_mask: int
    loss_pitch_deg: float | None
    depth_deg: float | None
    lower_ms: int | None
    pause_ms: int | None
    rise_ms: int | None


@dataclass
class Session:
    device_id: str
    session: int
    started: datetime | None
    has_imu: bool
    reps: list[Rep] = field(default_factory=list)

    @property
    def day(self) -> date | None:
        return self.started.date() if self.started else None


@dataclass
class Week:
    patient: str
    sessions: list[Session]  # dated ones in time order, then the undated one
    p3_session: Session  # P-0003's only session

    @property
    def dated(self) -> list[Session]:
        return [s for s in self.sessions if s.started is not None]

    def on(self, day: date) -> list[Session]:
        return [s for s in self.dated if s.day == day]

    def reps_on(self, day: date) -> int:
        return sum(len(s.reps) for s in self.on(day))


def _insert_session(conn, patient, s: Session, firmware="0.1.0"):
    conn.execute(
        "INSERT INTO sessions (device_id, session, patient, started_utc, started_ticks, firmware,"
        " config_hash, has_imu, imported_utc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            s.device_id,
            s.session,
            patient,
            s.started.strftime("%Y-%m-%dT%H:%M:%SZ") if s.started else None,
            None if s.started else 123456,
            firmware,
            "c0ffee",
            int(s.has_imu),
            "2025-03-17T08:00:00Z",
        ),
    )
    t = 0
    for r in s.reps:
        duration = (r.lower_ms or 1500) + (r.pause_ms or 300) + (r.rise_ms or 1500)
        conn.execute(
            "INSERT INTO reps (device_id, session, seq, patient, start_ms, duration_ms, outcome,"
            " lost_mask, loss_at_ms, loss_pitch_deg, depth_deg, lower_ms, pause_ms, rise_ms)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                r.device_id,
                r.session,
                r.seq,
                patient,
                t,
                duration,
                r.outcome,
                r.lost_mask,
                None if r.outcome == "clean" else 900,
                r.loss_pitch_deg,
                r.depth_deg,
                r.lower_ms,
                r.pause_ms,
                r.rise_ms,
            ),
        )
        t += duration + 2000


def _make_reps(rng, device, session, n, progress, imu) -> list[Rep]:
    reps = []
    p_sacrum = 0.42 - 0.32 * progress
    p_head = 0.10
    p_mid = 0.05
    for seq in range(n):
        x = rng.random()
        outcome = (
            "sacrum"
            if x < p_sacrum
            else "head"
            if x < p_sacrum + p_head
            else "midback"
            if x < p_sacrum + p_head + p_mid
            else "clean"
        )
        mask = 0 if outcome == "clean" else BITS[outcome]
        if outcome == "sacrum" and rng.random() < 0.3:
            mask |= BITS["head"]  # the head often follows the sacrum
        if imu:
            depth = rng.gauss(50 + 8 * progress, 4)
            loss = None if outcome == "clean" else rng.gauss(30 + 15 * progress, 3)
            if loss is not None:
                depth = max(depth, loss + 2)
            reps.append(
                Rep(
                    device,
                    session,
                    seq,
                    outcome,
                    mask,
                    None if loss is None else round(loss, 1),
                    round(depth, 1),
                    int(rng.gauss(1200 + 800 * progress, 150)),
                    max(0, int(rng.gauss(200 + 400 * progress, 60))),
                    int(rng.gauss(1500, 150)),
                )
            )
        else:
            reps.append(Rep(device, session, seq, outcome, mask, None, None, None, None, None))
    return reps


def calibrate(conn, patient: str, device: str, taken: str, contact: dict[str, int]) -> None:
    """A calibration row as `dowel calibrate` stores it: the real threshold maths, the real
    levels_json and the config validated by the firmware's own rules."""
    zero = {"head": 800, "midback": 810, "sacrum": 820}
    proposal = cal.propose(
        [cal.Stats(zero[p], 40, zero[p] - 60, zero[p] + 60, 150) for p in contact],
        [cal.Stats(v, 300, v - 500, v + 500, 150) for v in contact.values()],
    )
    cfg = cal.apply(dconfig.defaults(), proposal, patient)
    conn.execute(
        "INSERT INTO calibrations (patient, device_id, taken_utc, config_json, levels_json) "
        "VALUES (?, ?, ?, ?, ?)",
        (patient, device, taken, dconfig.canonical(cfg), proposal.levels_json()),
    )


def build_week(conn: sqlite3.Connection, seed: int = 7) -> Week:
    rng = random.Random(seed)
    patient = "P-0001"
    sessions: list[Session] = []
    counters = {"dowel-a1": 0, "dowel-b2": 40}
    for i in range(DAYS):
        day = START + timedelta(days=i)
        if day in SKIPPED:
            continue
        imu = day <= IMU_UNTIL
        device = "dowel-a1" if imu else "dowel-b2"
        for k in range(PARTIAL.get(day, 5)):
            counters[device] += 1
            started = datetime(
                day.year,
                day.month,
                day.day,
                SESSION_HOURS[k],
                rng.randrange(0, 50),
                tzinfo=timezone.utc,
            )
            s = Session(device, counters[device], started, imu)
            s.reps = _make_reps(rng, device, s.session, 10, i / (DAYS - 1), imu)
            sessions.append(s)
    undated = Session("dowel-b2", 99, None, False)
    undated.reps = _make_reps(rng, "dowel-b2", 99, 10, 1.0, False)
    sessions.append(undated)
    for s in sessions:
        _insert_session(conn, patient, s)

    for taken, levels in (
        ("2025-03-03T08:30:00+00:00", {"head": 30000, "midback": 36000, "sacrum": 40000}),
        ("2025-03-10T08:45:00+00:00", {"head": 31000, "midback": 35000, "sacrum": 33000}),
    ):
        calibrate(conn, patient, "dowel-a1", taken, levels)
    conn.execute(
        "INSERT INTO drift_prompts (patient, device_id, seen_utc, sensor, calibrated, current) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (patient, "dowel-a1", "2025-03-08T07:05:00Z", "sacrum", 40000, 29000),
    )
    # P-0002: calibrated at the visit, then nothing.
    calibrate(
        conn,
        "P-0002",
        "dowel-c3",
        "2025-03-05T10:00:00+00:00",
        {"head": 28000, "midback": 30000, "sacrum": 35000},
    )
    # P-0003: one short session, no IMU, own prescription.
    conn.execute(
        "INSERT INTO patients (patient, sets_per_day, reps_per_set) VALUES (?, ?, ?)",
        ("P-0003", 3, 8),
    )
    one = Session("dowel-c3", 1, datetime(2025, 3, 14, 18, 0, tzinfo=timezone.utc), False)
    one.reps = _make_reps(rng, "dowel-c3", 1, 8, 0.0, False)
    _insert_session(conn, "P-0003", one)
    conn.commit()
    return Week(patient, sessions, one)
