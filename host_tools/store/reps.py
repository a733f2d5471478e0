"""Rep logs in the host database: import decoded segments, list sessions, export reps.

    with db.connect() as conn:
        counts = import_segment(conn, logread.decode(data), sha256=sha, size=len(data),
                                raw_path=path)
        rows = rep_rows(conn, "P-0001")          # one dict per rep, oldest session first
        write_rows(rows, "csv", sys.stdout)

Importing is idempotent: a rep's key is (device id, session, seq) and inserting an existing key
with the same content does nothing, so a segment pulled twice, or pulled again after an
interrupted pull, adds nothing. The same key with *different* content is never ignored: the
import stops (`ImportConflict`) and nothing of that segment is written. Device sessions go
through `log_sessions` (see `host_session`), keyed by the store's epoch and the random number
of the boot that wrote them, so a device session number that went back maps to a new session.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import IO

from dowel import logread
from dowel.feedback import MODE_NAMES
from dowel.points import NAMES

from host_tools.errors import DowelError
from host_tools.store import audit
from host_tools.words import count

REP_COLUMNS = (
    "patient",
    "device_id",
    "session",
    "session_date",
    "session_started_utc",
    "session_date_estimated",
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
    "feedback_stage",
    "feedback_mode",
    "faded_pct",
    "probe_set",
)


class ImportConflict(DowelError):
    """A record's key is already in the database with other content."""


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
        return NAMES[first_lost - 1]  # first_lost: 1 + the point's index, 0 clean
    for bit, name in enumerate(NAMES):
        if lost_mask & (1 << bit):
            return name
    return "clean"


def host_session(
    conn: sqlite3.Connection, device_id: str, epoch: int, boot: int, device_session: int
) -> int:
    """The `sessions.session` for a device session: the device's own number when it is free
    (the usual case), else the device's highest + 1 (its store was wiped and restarted, or its
    counter went back: another boot, another `boot` number)."""
    row = conn.execute(
        "SELECT session FROM log_sessions "
        "WHERE device_id = ? AND epoch = ? AND boot = ? AND device_session = ?",
        (device_id, epoch, boot, device_session),
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
        "INSERT INTO log_sessions (device_id, epoch, boot, device_session, session) "
        "VALUES (?,?,?,?,?)",
        (device_id, epoch, boot, device_session, session),
    )
    return session


def feedback_columns(feedback: tuple | None) -> tuple:
    """(stage, mode, faded_pct, probe) columns of a decoded rep's feedback; NULLs when its
    log did not say. A mode this host does not know keeps its number ("mode 7")."""
    if feedback is None:
        return (None, None, None, None)
    stage, mode, pct, probe = feedback
    name = MODE_NAMES[mode] if mode < len(MODE_NAMES) else f"mode {mode}"
    return (stage, name, pct if name == "faded" else None, int(probe))


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
    """Insert a decoded segment's sessions and reps, in one transaction. Raises
    ImportConflict (and writes nothing) when a key is there with other content."""
    if decoded.segment is None:
        raise ValueError("segment without a valid header: nothing to import")
    now_text = utc_text(now or datetime.now(timezone.utc))
    epoch = decoded.segment.epoch
    counts = ImportCounts()
    new_by_patient: dict[str, int] = {}  # reps new to the database, for the audit record
    keys: dict[int, tuple[str, int, str]] = {}  # id(Session) -> (device id, session, patient)
    with conn:
        if not conn.in_transaction:
            # The write lock first: another process importing the same dowel's log at once
            # (a second laptop, a second pull) must not map its sessions in between this
            # one's look-up and insert (`host_session`): it waits, then finds them mapped.
            conn.execute("BEGIN IMMEDIATE")
        for s in decoded.sessions:
            device_id = s.device_id.hex()
            session = host_session(conn, device_id, epoch, s.boot or 0, s.number)
            keys[id(s)] = (device_id, session, s.patient)
            content = (s.patient, s.ticks_ms, s.firmware, s.config_hash.hex(), int(s.has_imu))
            cur = conn.execute(
                "INSERT OR IGNORE INTO sessions (device_id, session, patient, started_utc, "
                "started_ticks, firmware, config_hash, has_imu, imported_utc, battery_pct) "
                "VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    device_id,
                    session,
                    s.patient,
                    rtc_utc(s.rtc),
                    s.ticks_ms,
                    s.firmware,
                    s.config_hash.hex(),
                    int(s.has_imu),
                    now_text,
                    s.battery_pct,
                ),
            )
            counts.sessions_new += cur.rowcount
            if not cur.rowcount:
                _same(
                    conn,
                    "SELECT patient, started_ticks, firmware, config_hash, has_imu "
                    "FROM sessions WHERE device_id = ? AND session = ?",
                    (device_id, session),
                    content,
                    f"session {s.number} of device {device_id}",
                )
            if s.rtc is not None:
                # A continuation header may be the first one seen with a clock: keep the date.
                conn.execute(
                    "UPDATE sessions SET started_utc = ?, started_estimated = 0, "
                    "started_earliest_utc = NULL, started_latest_utc = NULL "
                    "WHERE device_id = ? AND session = ? "
                    "AND (started_utc IS NULL OR started_estimated = 1)",
                    (rtc_utc(s.rtc), device_id, session),
                )
            if s.battery_pct is not None:
                conn.execute(
                    "UPDATE sessions SET battery_pct = ? WHERE device_id = ? AND session = ? "
                    "AND battery_pct IS NULL",
                    (s.battery_pct, device_id, session),
                )
        for r in decoded.reps:
            device_id, session, patient = keys[id(r.session)]
            content = (
                patient,
                r.start_ms,
                r.duration_ms,
                outcome(r.first_lost, r.lost_mask),
                r.lost_mask,
                r.loss_at_ms,
                _deg(r.loss_pitch_ddeg),
                _deg(r.depth_ddeg),
                r.lower_ms,
                r.pause_ms,
                r.rise_ms,
                *feedback_columns(r.feedback),
            )
            cur = conn.execute(
                "INSERT OR IGNORE INTO reps (device_id, session, seq, patient, start_ms, "
                "duration_ms, outcome, lost_mask, loss_at_ms, loss_pitch_deg, depth_deg, "
                "lower_ms, pause_ms, rise_ms, stage, mode, faded_pct, probe) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (device_id, session, r.seq, *content),
            )
            counts.reps_new += cur.rowcount
            if not cur.rowcount:
                _same(
                    conn,
                    "SELECT patient, start_ms, duration_ms, outcome, lost_mask, "
                    "loss_at_ms, loss_pitch_deg, depth_deg, lower_ms, pause_ms, rise_ms, "
                    "stage, mode, faded_pct, probe FROM reps "
                    "WHERE device_id = ? AND session = ? AND seq = ?",
                    (device_id, session, r.seq),
                    content,
                    f"rep {r.seq} of session {r.session.number} of device {device_id}",
                )
            counts.reps_seen += 1
            if cur.rowcount:
                new_by_patient[patient] = new_by_patient.get(patient, 0) + 1
        for patient, n in new_by_patient.items():
            audit.record(
                conn,
                "import",
                patient,
                f"{count(n, 'new rep')} from dowel {device_id} "
                f"(log segment {decoded.segment.number})",
            )
        first = decoded.sessions[0].device_id.hex() if decoded.sessions else None
        conn.execute(
            "INSERT OR IGNORE INTO log_segments (epoch, segment, sha256, size, device_id, reps, "
            "error, raw_path, pulled_utc) VALUES (?,?,?,?,?,?,?,?,?)",
            (
                epoch,
                decoded.segment.number,
                sha256,
                size,
                first,
                len(decoded.reps),
                decoded.error,
                raw_path,
                now_text,
            ),
        )
    return counts


def record_clock_read(conn: sqlite3.Connection, device_id: str, clock) -> None:
    """Keep the board's ticks at a known host time (a `host_tools.board.link.ClockSync`), as an
    anchor for the dates of this device's undated sessions: it follows every session of the
    device in the database so far (the loop is stopped while the host is connected)."""
    if clock is None or clock.ticks_ms is None:
        return
    with conn:
        conn.execute(
            "INSERT OR REPLACE INTO clock_reads (device_id, read_utc, ticks_ms, boot, "
            "after_session, board_utc) VALUES (?,?,?,?,?,?)",
            (
                device_id,
                clock.host_utc.astimezone(timezone.utc).isoformat(),
                clock.ticks_ms,
                clock.boot,
                max_session(conn, device_id),
                board.astimezone(timezone.utc).isoformat()
                if (board := getattr(clock, "board_utc", None)) is not None
                else None,
            ),
        )


def estimate_dates(conn: sqlite3.Connection, device_id: str) -> int:
    """(Re)estimate the start of every session of `device_id` the dowel's clock did not date
    (`host_tools.store.dates`), from the dated ones, the ticks and the clock reads; mark them
    estimated. Returns how many sessions carry an estimate."""
    from host_tools.store import dates as sd

    rows = conn.execute(
        "SELECT s.session, s.started_utc, s.started_estimated, s.started_ticks, s.imported_utc, "
        "l.boot, l.epoch, "
        "(SELECT MAX(r.start_ms + r.duration_ms) FROM reps r WHERE r.device_id = s.device_id "
        "AND r.session = s.session) AS length_ms "
        "FROM sessions s LEFT JOIN log_sessions l ON l.device_id = s.device_id "
        "AND l.session = s.session WHERE s.device_id = ? ORDER BY s.session",
        (device_id,),
    ).fetchall()
    if not rows:
        return 0
    points = []
    index = {}
    for i, r in enumerate(rows):
        dated = r["started_utc"] is not None and not r["started_estimated"]
        # Format 1 logs stored boot 0 (none): a boot only ties sessions of one log store.
        boot = None if not r["boot"] else (r["epoch"], r["boot"])
        points.append(
            sd.Point(
                key=r["session"],
                ticks_ms=r["started_ticks"],
                boot=boot,
                started=_parse(r["started_utc"]) if dated else None,
                length_ms=max(0, r["length_ms"] or 0),
            )
        )
        index[r["session"]] = i
    anchors = []
    epochs = {r["session"]: r["epoch"] for r in rows}
    for c in conn.execute(
        "SELECT read_utc, ticks_ms, boot, after_session FROM clock_reads WHERE device_id = ?",
        (device_id,),
    ):
        position = sum(1 for r in rows if r["session"] <= c["after_session"])
        last = rows[position - 1]["session"] if position else None
        boot = (epochs.get(last), c["boot"]) if c["boot"] else None
        anchors.append(
            sd.Anchor(
                at=_parse(c["read_utc"]), position=position, ticks_ms=c["ticks_ms"], boot=boot
            )
        )
    # Every pull is also a bound: the sessions it imported came before it.
    for imported in {r["imported_utc"] for r in rows}:
        position = 1 + max(i for i, r in enumerate(rows) if r["imported_utc"] <= imported)
        anchors.append(sd.Anchor(at=_parse(imported), position=position))
    cal = conn.execute(
        "SELECT MIN(taken_utc) FROM calibrations WHERE device_id = ?", (device_id,)
    ).fetchone()[0]
    estimates = sd.estimate(points, anchors, not_before=_parse(cal) if cal else None)
    with conn:
        for key, e in estimates.items():
            conn.execute(
                "UPDATE sessions SET started_utc = ?, started_estimated = 1, "
                "started_earliest_utc = ?, started_latest_utc = ? "
                "WHERE device_id = ? AND session = ?",
                (utc_text(e.started), utc_text(e.earliest), utc_text(e.latest), device_id, key),
            )
    return len(estimates)


def _parse(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _same(conn: sqlite3.Connection, query: str, key: tuple, content: tuple, what: str) -> None:
    row = conn.execute(query, key).fetchone()
    if row is not None and tuple(row) != content:
        raise ImportConflict(
            f"{what} is already in the database with other content: nothing of this segment "
            "was imported and it stays on the dowel. Keep its raw copy and report this "
            "(it means a record key was reused)"
        )


def _deg(ddeg: int | None) -> float | None:
    return None if ddeg is None else ddeg / 10.0


def session_rows(conn: sqlite3.Connection, patient: str | None = None) -> list[dict]:
    """One dict per session with its rep counts, oldest first (undated ones last;
    `started_estimated`: the start is the host's estimate, see `estimate_dates`)."""
    where, args = ("WHERE s.patient = ?", (patient,)) if patient else ("", ())
    rows = conn.execute(
        "SELECT s.patient, s.device_id, s.session, s.started_utc, s.firmware, s.has_imu, "
        "s.started_estimated, s.started_earliest_utc, s.started_latest_utc, s.battery_pct, "
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
            "started_estimated": bool(r["started_estimated"]),
            "started_earliest_utc": r["started_earliest_utc"],
            "started_latest_utc": r["started_latest_utc"],
            "battery_pct": r["battery_pct"],
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
        "SELECT r.*, s.started_utc, s.started_estimated FROM reps r LEFT JOIN sessions s "
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
                "session_date_estimated": bool(r["started_estimated"]) if started else None,
                "seq": r["seq"],
                "start_ms": r["start_ms"],
                "duration_ms": r["duration_ms"],
                "outcome": r["outcome"],
                "point_lost": None if r["outcome"] == "clean" else r["outcome"],
                "points_lost": "+".join(n for b, n in enumerate(NAMES) if mask & (1 << b)),
                "loss_at_ms": r["loss_at_ms"],
                "loss_pitch_deg": r["loss_pitch_deg"],
                "depth_deg": r["depth_deg"],
                "lower_ms": r["lower_ms"],
                "pause_ms": r["pause_ms"],
                "rise_ms": r["rise_ms"],
                "feedback_stage": r["stage"],
                "feedback_mode": r["mode"],
                "faded_pct": r["faded_pct"],
                "probe_set": None if r["probe"] is None else bool(r["probe"]),
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
