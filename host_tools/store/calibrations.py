"""The calibration history and the drift prompts the PT was shown, in the host's database.

    calibration_id = add(result)                       # a calibrate.session.Calibration
    record_drift(conn, "P-0001", device_id, findings)  # once per distinct reading

Each function takes an open connection, or opens (and closes) the default one when given None.
"""

from __future__ import annotations

import datetime as _dt
import json
import sqlite3
from collections.abc import Sequence

from dowel import config as dconfig

from host_tools.store import audit, db


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def add(result, conn: sqlite3.Connection | None = None) -> int:
    """Add an accepted calibration (a `host_tools.calibrate.session.Calibration`) to the
    `calibrations` history; returns its id."""
    levels = json.loads(result.proposal.levels_json())
    levels["check"] = {
        "losses": [[loss.t_ms, loss.sensor] for loss in result.losses],
        "never_touched": result.never_touched,
    }
    with db.using(conn) as c:
        c.execute("INSERT OR IGNORE INTO patients (patient) VALUES (?)", (result.patient,))
        cur = c.execute(
            "INSERT INTO calibrations (patient, device_id, taken_utc, config_json, levels_json)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                result.patient,
                result.device_id,
                result.taken_utc,
                dconfig.canonical(result.config),
                json.dumps(levels, sort_keys=True),
            ),
        )
        assert cur.lastrowid is not None  # an INSERT into a rowid table always sets it
        audit.record(
            c,
            "calibration",
            result.patient,
            f"calibration #{cur.lastrowid} written to dowel {result.device_id}",
        )
        c.commit()
        return cur.lastrowid


def record_drift(
    conn: sqlite3.Connection | None, patient: str, device_id: str, findings: Sequence
) -> None:
    """Keep each drift finding (a `host_tools.calibrate.drift.DriftFinding`) the first time
    this reading is seen, so the history says when the PT was prompted."""
    with db.using(conn) as c:
        for f in findings:
            seen = c.execute(
                "SELECT 1 FROM drift_prompts WHERE device_id = ? AND sensor = ? AND "
                "calibrated = ? AND current = ?",
                (device_id, f.sensor, f.calibrated, f.current),
            ).fetchone()
            if not seen:
                c.execute(
                    "INSERT INTO drift_prompts (patient, device_id, seen_utc, sensor, calibrated,"
                    " current) VALUES (?, ?, ?, ?, ?, ?)",
                    (patient, device_id, _utc_now(), f.sensor, f.calibrated, f.current),
                )
        c.commit()
