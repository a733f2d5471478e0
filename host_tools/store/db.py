"""The host database: SQLite in the user's data directory, readable by its owner only.

    with db.connect() as conn:
        conn.execute("SELECT * FROM reps WHERE patient = ?", ("P-0001",))

The schema is created and migrated here, in one place. Time columns ending in `_utc` hold ISO
8601 UTC text; `_ms` columns are integer milliseconds; angles are degrees (REAL).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from host_tools.errors import DowelError
from host_tools.paths import data_dir

SCHEMA_VERSION = 6
BUSY_TIMEOUT_S = 30.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS patients (
    patient       TEXT PRIMARY KEY,
    sets_per_day  INTEGER NOT NULL DEFAULT 5,
    reps_per_set  INTEGER NOT NULL DEFAULT 10
);
-- One row per session header found on a device log.
CREATE TABLE IF NOT EXISTS sessions (
    device_id     TEXT NOT NULL,
    session       INTEGER NOT NULL,      -- per-device session counter
    patient       TEXT NOT NULL,
    started_utc   TEXT,                  -- from the device RTC, or estimated (below)
    started_ticks INTEGER,               -- device ticks_ms at start (since the chip's reset)
    firmware      TEXT NOT NULL,
    config_hash   TEXT NOT NULL,
    has_imu       INTEGER NOT NULL,
    imported_utc  TEXT NOT NULL,
    -- Version 3. 1: started_utc is the host's estimate (the dowel's clock had lost the date;
    -- host_tools.store.dates), between started_earliest_utc and started_latest_utc.
    started_estimated    INTEGER NOT NULL DEFAULT 0,
    started_earliest_utc TEXT,
    started_latest_utc   TEXT,
    battery_pct   INTEGER,               -- 0..100 at the start; NULL: unknown (no monitor)
    PRIMARY KEY (device_id, session)
);
-- Version 3: the board's ticks_ms read at a known host time (each pull), for session dates.
-- `boot`: the log store's boot of the last session begun since the board's interpreter
-- started (NULL: none); `after_session`: the host session numbers up to it came before.
CREATE TABLE IF NOT EXISTS clock_reads (
    device_id     TEXT NOT NULL,
    read_utc      TEXT NOT NULL,         -- ISO 8601 UTC with microseconds
    ticks_ms      INTEGER NOT NULL,
    boot          INTEGER,
    after_session INTEGER NOT NULL,
    board_utc     TEXT,                  -- the dowel's own clock then, before the host set it
    PRIMARY KEY (device_id, read_utc)
);
-- One row per rep record. The key makes re-importing idempotent.
CREATE TABLE IF NOT EXISTS reps (
    device_id     TEXT NOT NULL,
    session       INTEGER NOT NULL,
    seq           INTEGER NOT NULL,
    patient       TEXT NOT NULL,
    start_ms      INTEGER NOT NULL,      -- since the session started
    duration_ms   INTEGER NOT NULL,
    outcome       TEXT NOT NULL,         -- 'clean' or the first point lost: head|midback|sacrum
    lost_mask     INTEGER NOT NULL,      -- bit 0 head, 1 midback, 2 sacrum: every point lost
    loss_at_ms    INTEGER,               -- time into the rep of the first loss
    loss_pitch_deg REAL,                 -- IMU pitch at the first loss
    depth_deg     REAL,                  -- IMU: deepest pitch of the rep
    lower_ms      INTEGER,               -- IMU: lowering, pause at the bottom, rising
    pause_ms      INTEGER,
    rise_ms       INTEGER,
    -- The feedback the rep was given (log format 4; NULL: an older log, not known):
    stage         INTEGER,               -- index of the PT's schedule stage (0: the first)
    mode          TEXT,                  -- loss|warning|faded|bandwidth|none (dowel.feedback)
    faded_pct     INTEGER,               -- faded: the share of reps cued
    probe         INTEGER,               -- 1: a probe set, no fault feedback at all
    PRIMARY KEY (device_id, session, seq)
);
-- Calibration history: every accepted calibration, so a PT sees levels change between visits.
CREATE TABLE IF NOT EXISTS calibrations (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    patient       TEXT NOT NULL,
    device_id     TEXT NOT NULL,
    taken_utc     TEXT NOT NULL,
    config_json   TEXT NOT NULL,         -- the config written to the device
    levels_json   TEXT NOT NULL          -- measured zero/contact levels and spreads per sensor
);
-- Drift the device reported on connect (contact level moved from the calibrated one).
CREATE TABLE IF NOT EXISTS drift_prompts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    patient       TEXT NOT NULL,
    device_id     TEXT NOT NULL,
    seen_utc      TEXT NOT NULL,
    sensor        TEXT NOT NULL,
    calibrated    INTEGER NOT NULL,
    current       INTEGER NOT NULL
);
-- Rep log import (host_tools.store.reps). A device's log store has a random epoch, and every boot
-- a random `boot` number (0: format 1 logs, which have none); a store wiped by a reflash
-- restarts its session numbers, and a number could go back, so each (device, epoch, boot,
-- device session) is mapped to the `sessions.session` it was imported as.
CREATE TABLE IF NOT EXISTS log_sessions (
    device_id      TEXT NOT NULL,
    epoch          INTEGER NOT NULL,
    boot           INTEGER NOT NULL DEFAULT 0,
    device_session INTEGER NOT NULL,
    session        INTEGER NOT NULL,
    PRIMARY KEY (device_id, epoch, boot, device_session),
    UNIQUE (device_id, session)
);
-- Every segment pulled: its SHA-256, what it held, and the raw copy kept before the device
-- deleted it.
CREATE TABLE IF NOT EXISTS log_segments (
    epoch         INTEGER NOT NULL,
    segment       INTEGER NOT NULL,
    sha256        TEXT NOT NULL,
    size          INTEGER NOT NULL,
    device_id     TEXT,
    reps          INTEGER NOT NULL,
    error         TEXT,                  -- why decoding stopped early (a torn tail, damage)
    raw_path      TEXT NOT NULL,
    pulled_utc    TEXT NOT NULL,
    PRIMARY KEY (epoch, segment, sha256)
);
-- Who did what (host_tools.store.audit): append-only, UPDATE and DELETE refused.
CREATE TABLE IF NOT EXISTS audit (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    at_utc        TEXT NOT NULL,
    actor         TEXT NOT NULL,         -- the PT: DOWEL_PT, else the OS user
    host          TEXT NOT NULL,         -- the computer it was done on
    action        TEXT NOT NULL,         -- import | calibration | prescription
    patient       TEXT,
    detail        TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit record is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit record is append-only'); END;
"""


def db_path() -> Path:
    return data_dir() / "dowel.sqlite3"


def connect(path: Path | None = None) -> sqlite3.Connection:
    """Open (creating if needed, mode 0600) and migrate the database. A database in a folder
    the user cannot write opens read-only, so reading commands still work there; a damaged
    or unopenable file raises a DowelError naming the fix."""
    path = Path(path) if path else db_path()
    if not path.exists():
        try:
            if not os.access(path.parent, os.W_OK):
                raise PermissionError(13, "the folder is read-only")
            # Create with owner-only permissions before SQLite writes anything into it.
            fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        except OSError as exc:
            raise DowelError(
                f"cannot create the database {path} ({exc.strerror}): make {path.parent} "
                "writable, or set DOWEL_HOME to a folder you can write"
            ) from None
        os.close(fd)
    # SQLite writes its journal beside the file, so the folder must be writable too.
    writable = os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
    try:
        if writable:
            # Another command may hold the write lock (an import, a calibration): wait for it.
            conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S)
        else:
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        # The first read of the file: where a damaged or foreign file shows.
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        error = explain(exc, path)
        if error is None:
            raise
        raise error from None
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    if version == SCHEMA_VERSION:
        return conn  # nothing to write: a read-only database serves reading commands
    if not writable:
        conn.close()
        raise DowelError(
            f"{path} needs upgrading (schema {version} -> {SCHEMA_VERSION}) but is read-only: "
            f"make {path.parent} and the file writable, then run the command again"
        )
    _migrate(conn)
    conn.executescript(SCHEMA)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    conn.commit()
    return conn


def explain(exc: sqlite3.DatabaseError, path: Path | None = None) -> DowelError | None:
    """The fix for a failure of the database file itself (damaged, read-only, unopenable), or
    None for anything else (a wrong query is a bug, not the user's to fix)."""
    path = Path(path) if path else db_path()
    # sqlite_errorname is Python 3.11+; the messages are SQLite's own, stable for decades.
    name = getattr(exc, "sqlite_errorname", "")
    text = str(exc)
    if name in ("SQLITE_NOTADB", "SQLITE_CORRUPT") or (
        not name and type(exc) is sqlite3.DatabaseError
    ):
        return DowelError(
            f"{path} is damaged or not a dowel database ({text}): move it aside (rename it) and "
            "restore it from a backup; without one, the next command starts an empty database"
        )
    if name.startswith("SQLITE_READONLY") or (not name and "readonly" in text):
        return DowelError(
            f"{path.parent} is read-only, so this command cannot write the database: make the "
            "folder writable, or set DOWEL_HOME to a folder you can write"
        )
    if name.startswith("SQLITE_CANTOPEN") or (not name and "unable to open" in text):
        return DowelError(
            f"cannot open the database {path}: make it and {path.parent} readable and "
            "writable by you"
        )
    return None


def _migrate(conn: sqlite3.Connection) -> None:
    _migrate_2(conn)
    _migrate_3(conn)
    _migrate_4(conn)
    _add_columns(conn, "clock_reads", (("board_utc", "TEXT"),))  # 5 -> 6


# Version 3 -> 4: what feedback each rep was given (stage, mode, faded share, probe set).
_V4_COLUMNS = (
    ("stage", "INTEGER"),
    ("mode", "TEXT"),
    ("faded_pct", "INTEGER"),
    ("probe", "INTEGER"),
)


def _migrate_4(conn: sqlite3.Connection) -> None:
    """Version 3 -> 4: reps gain their feedback; the reps imported so far are from logs that
    did not say (NULL: not known)."""
    _add_columns(conn, "reps", _V4_COLUMNS)


def _add_columns(conn: sqlite3.Connection, table: str, columns: tuple) -> None:
    cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
    if not cols:
        return  # a new database: the schema makes the table whole
    missing = [(name, kind) for name, kind in columns if name not in cols]
    if missing:
        with conn:
            for name, kind in missing:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")


# Version 2 -> 3: the columns `sessions` gained (`clock_reads` is new: the schema makes it).
_V3_COLUMNS = (
    ("started_estimated", "INTEGER NOT NULL DEFAULT 0"),
    ("started_earliest_utc", "TEXT"),
    ("started_latest_utc", "TEXT"),
    ("battery_pct", "INTEGER"),
)


def _migrate_3(conn: sqlite3.Connection) -> None:
    """Version 2 -> 3: sessions gain estimated start times and the battery level; the
    sessions imported so far are dated by the dowel or not at all (estimated 0), battery
    unknown. Their dates are estimated at the next pull of their dowel."""
    _add_columns(conn, "sessions", _V3_COLUMNS)


def _migrate_2(conn: sqlite3.Connection) -> None:
    """Version 1 -> 2: `log_sessions` gains `boot` in its key (SQLite cannot change a key in
    place, so the table is rebuilt; the sessions imported so far get boot 0)."""
    cols = [r[1] for r in conn.execute("PRAGMA table_info(log_sessions)")]
    if not cols or "boot" in cols:
        return
    with conn:
        conn.execute("ALTER TABLE log_sessions RENAME TO log_sessions_v1")
        conn.executescript(SCHEMA)
        conn.execute(
            "INSERT INTO log_sessions (device_id, epoch, boot, device_session, session) "
            "SELECT device_id, epoch, 0, device_session, session FROM log_sessions_v1"
        )
        conn.execute("DROP TABLE log_sessions_v1")


@contextmanager
def using(conn: sqlite3.Connection | None) -> Iterator[sqlite3.Connection]:
    """`conn` itself, or the default database opened for the block and closed after it: for
    library calls that take an optional connection."""
    if conn is not None:
        yield conn
        return
    own = connect()
    try:
        yield own
    finally:
        own.close()
