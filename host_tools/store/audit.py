"""Who did what: an append-only record of each import, calibration and prescription change,
with the PT who did it and when, so a patient's history across laptops reads as one story.

    audit.record(conn, "prescription", "P-0001", "5x10/day (was 3x8/day)")
    audit.history(conn, "P-0001")      # [{"at_utc", "actor", "host", "action", "detail"}]

The PT is `DOWEL_PT` when set (a clinic's laptops may share an OS account), else the OS user.
The table refuses UPDATE and DELETE (triggers in `db.SCHEMA`): a record, once written, stays.
A record is written in the caller's transaction, so it lands with the change it describes.
"""

from __future__ import annotations

import getpass
import os
import socket
import sqlite3
from datetime import datetime, timezone

ACTIONS = ("import", "calibration", "prescription")


def actor() -> str:
    """The PT doing this: DOWEL_PT, else the OS user."""
    name = os.environ.get("DOWEL_PT", "").strip()
    if name:
        return name[:80]
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name for this uid (a container): say so
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"


def record(
    conn: sqlite3.Connection,
    action: str,
    patient: str | None,
    detail: str,
    now: datetime | None = None,
) -> None:
    if action not in ACTIONS:
        raise ValueError(f"audit action {action!r} is not one of {ACTIONS}")
    at = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    conn.execute(
        "INSERT INTO audit (at_utc, actor, host, action, patient, detail) VALUES (?,?,?,?,?,?)",
        (
            at.isoformat(timespec="seconds").replace("+00:00", "Z"),
            actor(),
            socket.gethostname()[:80],
            action,
            patient,
            detail,
        ),
    )


def history(conn: sqlite3.Connection, patient: str) -> list[dict]:
    rows = conn.execute(
        "SELECT at_utc, actor, host, action, detail FROM audit WHERE patient = ? "
        "ORDER BY at_utc, id",
        (patient,),
    ).fetchall()
    return [dict(r) for r in rows]
