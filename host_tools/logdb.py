"""Rep logs in the host database: import decoded segments, list sessions, export reps.

    with db.connect() as conn:
        counts = import_segment(conn, logread.decode(data), sha256=sha, size=len(data),
                                raw_path=path)
        rows = rep_rows(conn, "P-0001")          # one dict per rep, oldest session first
        write_rows(rows, "csv", sys.stdout)

Importing is idempotent: a rep's key is (device id, session, seq) and inserting an existing key
does nothing, so a segment pulled twice, or pulled again after an interrupted pull, adds
nothing. Device session numbers go through `log_sessions` (see `host_session`).
"""

from __future__ import annotations

import csv
import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import IO

from dowel import logfmt, logread

POINT_NAMES = ("head", "midback", "sacrum")  # lost_mask bits 0, 1, 2

REP_COLUMNS = (
    "patient",
    "device_id",
    "session",
    "session_date",
    "session_started_utc",
    "seq",
    "start_ms",
    "duration_ms",
    "outcome",
    "point_lost",
    "points_lost",
    "loss_at_ms",
    "loss_pitch_deg",
    "depth_deg",
    "lower_ms",
    "pause_ms",
    "rise_ms",
)


@dataclass
class ImportCounts:
    sessions_new: int = 0
    reps_new: int = 0
    reps_seen: int = 0

    def add(self, other: ImportCounts) -> None:
        self.sessions_new += other.sessions_new
        self.reps_new += other.reps_new
        self.reps_seen += other.reps_seen


def utc_text(when: datetime) -> str:
    return when.astimezone(timezone.utc).replace(microsecond=0).isoformat()


def rtc_utc(rtc: tuple[int, int, int, int, int, int] | None) -> str | None:
    """A session header's RTC reading (the host sets the RTC to UTC) as ISO 8601."""
    if rtc is None:
        return None
    try:
        return utc_text(datetime(*rtc, tzinfo=timezone.utc))
    except ValueError:  # a date like 31 February: keep the session, undated
        return None


def outcome(first_lost: int, lost_mask: int) -> str:
    if first_lost:
        return logfmt.POINTS[first_lost]
    for bit, name in enumerate(POINT_NAMES):
        if lost_mask & (1 << bit):
            return name
    return "clean"


def host_session(conn: sqlite3.Connection, device_id: str, epoch: int, device_session: int) -> int:
    """The `sessions.session` for a device session: the device's own number when it is free
    (the usual case), else the device's highest + 1 (its store was wiped and restarted)."""
    row = conn.execute(
        "SELECT session FROM log_sessions "
        "WHERE device_id = ? AND epoch = ? AND device_session = ?",
        (device_id, epoch, device_session),
    ).fetchone()
    if row is not None:
        return int(row[0])
    taken = conn.execute(
        "SELECT 1 FROM sessions WHERE device_id = ? AND session = ? UNION "
        "SELECT 1 FROM log_sessions WHERE device_id = ? AND session = ?",
        (device_id, device_session, device_id, device_session),
    ).fetchone()
    session = device_session
    if taken is not None:
        session = max_session(conn, device_id) + 1
    conn.execute(
        "INSERT INTO log_sessions (device_id, epoch, device_session, session) VALUES (?,?,?,?)",
        (device_id, epoch, device_session, session),
    )
    return session


def max_session(conn: sqlite3.Connection, device_id: str) -> int:
    row = conn.execute(
        "SELECT MAX(s) FROM (SELECT MAX(session) AS s FROM sessions WHERE device_id = ? UNION "
        "SELECT MAX(session) FROM log_sessions WHERE device_id = ?)",
        (device_id, device_id),
    ).fetchone()
    return int(row[0] or 0)


def import_segment(
    conn: sqlite3.Connection,
    decoded: logread.Decoded,
    *,
    sha256: str,
    size: int,
    raw_path: str,
    now: datetime | None = None,
) -> ImportCounts:
    """Insert a decoded segment's sessions and reps, in one transaction."""
    if decoded.segment is None:
        raise ValueError("segment without a valid header: nothing to import")
    now_text = utc_text(now or datetime.now(timezone.utc))
    epoch = decoded.segment.epoch
    counts = ImportCounts()
    keys: dict[int, tuple[str, int, str]] = {}  # id(Session) -> (device id, session, patient)
    with conn:
        for s in decoded.sessions:
            device_id = s.device_id.hex()
            session = host_session(conn, device_id, epoch, s.number)
            keys[id(s)] = (device_id, session, s.patient)
            cur = conn.execute(
                "INSERT OR IGNORE INTO sessions (device_id, session, patient, started_utc, "
                "started_ticks, firmware, config_hash, has_imu, imported_utc) "
                "VALUES (?,?,?,?,?,?,?,?,?)",
                (device_id, session, s.patient, rtc_utc(s.rtc), s.ticks_ms, s.firmware,
                 s.config_hash.hex(), int(s.has_imu), now_text),
            )
            counts.sessions_new += cur.rowcount
            if s.rtc is not None:
                # A continuation header may be the first one seen with a clock: keep the date.
                conn.execute(
                    "UPDATE sessions SET started_utc = ? WHERE device_id = ? AND session = ? "
                    "AND started_utc IS NULL",
                    (rtc_utc(s.rtc), device_id, session),
                )
        for r in decoded.reps:
            device_id, session, patient = keys[id(r.session)]
            cur = conn.execute(
                "INSERT OR IGNORE INTO reps (device_id, session, seq, patient, start_ms, "
                "duration_ms, outcome, lost_mask, loss_at_ms, loss_pitch_deg, depth_deg, "
                "lower_ms, pause_ms, rise_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (device_id, session, r.seq, patient, r.start_ms, r.duration_ms,
                 outcome(r.first_lost, r.lost_mask), r.lost_mask, r.loss_at_ms,
                 _deg(r.loss_pitch_ddeg), _deg(r.depth_ddeg), r.lower_ms, r.pause_ms,
                 r.rise_ms),
            )
            counts.reps_new += cur.rowcount
            counts.reps_seen += 1
        first = decoded.sessions[0].device_id.hex() if decoded.sessions else None
        conn.execute(
            "INSERT OR IGNORE INTO log_segments (epoch, segment, sha256, size, device_id, reps, "
            "error, raw_path, pulled_utc) VALUES (?,?,?,?,?,?,?,?,?)",
            (epoch, decoded.segment.number, sha256, size, first, len(decoded.reps),
             decoded.error, raw_path, now_text),
        )
    return counts


def _deg(ddeg: int | None) -> float | None:
    return None if ddeg is None else ddeg / 10.0


def session_rows(conn: sqlite3.Connection, patient: str | None = None) -> list[dict]:
    """One dict per session with its rep counts, oldest first (undated ones last)."""
    where, args = ("WHERE s.patient = ?", (patient,)) if patient else ("", ())
    rows = conn.execute(
        "SELECT s.patient, s.device_id, s.session, s.started_utc, s.firmware, s.has_imu, "
        "COUNT(r.seq) AS reps, COALESCE(SUM(r.outcome = 'clean'), 0) AS clean "
        f"FROM sessions s LEFT JOIN reps r ON r.device_id = s.device_id AND r.session = s.session "
        f"{where} GROUP BY s.device_id, s.session "
        "ORDER BY s.started_utc IS NULL, s.started_utc, s.device_id, s.session",
        args,
    ).fetchall()
    return [
        {
            "patient": r["patient"],
            "device_id": r["device_id"],
            "session": r["session"],
            "started_utc": r["started_utc"],
            "firmware": r["firmware"],
            "has_imu": bool(r["has_imu"]),
            "reps": r["reps"],
            "clean": r["clean"],
        }
        for r in rows
    ]


def rep_rows(conn: sqlite3.Connection, patient: str) -> list[dict]:
    """One dict per rep of `patient` (keys: REP_COLUMNS), oldest session first."""
    rows = conn.execute(
        "SELECT r.*, s.started_utc FROM reps r LEFT JOIN sessions s "
        "ON s.device_id = r.device_id AND s.session = r.session WHERE r.patient = ? "
        "ORDER BY s.started_utc IS NULL, s.started_utc, r.device_id, r.session, r.seq",
        (patient,),
    ).fetchall()
    out = []
    for r in rows:
        started = r["started_utc"]
        mask = r["lost_mask"]
        out.append(
            {
                "patient": r["patient"],
                "device_id": r["device_id"],
                "session": r["session"],
                "session_date": started[:10] if started else None,
                "session_started_utc": started,
                "seq": r["seq"],
                "start_ms": r["start_ms"],
                "duration_ms": r["duration_ms"],
                "outcome": r["outcome"],
                "point_lost": None if r["outcome"] == "clean" else r["outcome"],
                "points_lost": "+".join(n for b, n in enumerate(POINT_NAMES) if mask & (1 << b)),
                "loss_at_ms": r["loss_at_ms"],
                "loss_pitch_deg": r["loss_pitch_deg"],
                "depth_deg": r["depth_deg"],
                "lower_ms": r["lower_ms"],
                "pause_ms": r["pause_ms"],
                "rise_ms": r["rise_ms"],
            }
        )
    return out


def patient_known(conn: sqlite3.Connection, patient: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sessions WHERE patient = ? UNION SELECT 1 FROM reps WHERE patient = ? "
        "UNION SELECT 1 FROM patients WHERE patient = ?",
        (patient, patient, patient),
    ).fetchone()
    return row is not None


def write_rows(rows: list[dict], fmt: str, out: IO[str]) -> None:
    """CSV (header row, empty cells for missing values) or a JSON array of objects."""
    if fmt == "json":
        json.dump(rows, out, indent=1)
        out.write("\n")
        return
    writer = csv.DictWriter(out, fieldnames=list(REP_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row[k] is None else row[k] for k in REP_COLUMNS})
