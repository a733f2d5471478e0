"""The host database: SQLite in the user's data directory, readable by its owner only.

    with db.connect() as conn:
        conn.execute("SELECT * FROM reps WHERE patient = ?", ("P-0001",))

The schema is created and migrated here, in one place. Time columns ending in `_utc` hold ISO
8601 UTC text; `_ms` columns are integer milliseconds; angles are degrees (REAL).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from host_tools.paths import data_dir

SCHEMA_VERSION = 1

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
    started_utc   TEXT,                  -- from the device RTC; NULL when the host never set it
    started_ticks INTEGER,               -- device ticks at start when the RTC was not set
    firmware      TEXT NOT NULL,
    config_hash   TEXT NOT NULL,
    has_imu       INTEGER NOT NULL,
    imported_utc  TEXT NOT NULL,
    PRIMARY KEY (device_id, session)
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
-- Rep log import (host_tools.logdb). A device's log store has a random epoch; a store wiped by
-- a reflash restarts its session numbers, so each (device, epoch, device session) is mapped to
-- the `sessions.session` it was imported as.
CREATE TABLE IF NOT EXISTS log_sessions (
    device_id      TEXT NOT NULL,
    epoch          INTEGER NOT NULL,
    device_session INTEGER NOT NULL,
    session        INTEGER NOT NULL,
    PRIMARY KEY (device_id, epoch, device_session),
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
"""


def db_path() -> Path:
    return data_dir() / "dowel.sqlite3"


def connect(path: Path | None = None) -> sqlite3.Connection:
    """Open (creating if needed, mode 0600) and migrate the database."""
    path = Path(path) if path else db_path()
    if not path.exists():
        # Create with owner-only permissions before SQLite writes anything into it.
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    conn.executescript(SCHEMA)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    conn.commit()
    return conn
