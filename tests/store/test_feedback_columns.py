"""Schema 4: each rep keeps the feedback it was given (log format 4), and a database made by
schema 3 is migrated in place with nothing lost."""

from __future__ import annotations

import hashlib
import sqlite3

from dowel import logfmt, logread

from host_tools.store import db
from host_tools.store import reps as repstore
from tests.fakes.logs import write_scenario

V3_REPS = (
    "CREATE TABLE reps (device_id TEXT NOT NULL, session INTEGER NOT NULL, seq INTEGER NOT NULL, "
    "patient TEXT NOT NULL, start_ms INTEGER NOT NULL, duration_ms INTEGER NOT NULL, outcome "
    "TEXT NOT NULL, lost_mask INTEGER NOT NULL, loss_at_ms INTEGER, loss_pitch_deg REAL, "
    "depth_deg REAL, lower_ms INTEGER, pause_ms INTEGER, rise_ms INTEGER, PRIMARY KEY "
    "(device_id, session, seq));"
    "INSERT INTO reps VALUES ('d', 1, 0, 'P-1', 0, 4000, 'sacrum', 4, 2000, 30.0, 40.0, 1500, "
    "500, 2000);"
    "PRAGMA user_version = 3;"
)


def test_a_schema_3_database_keeps_its_reps_and_gains_the_feedback_columns(tmp_path):
    path = tmp_path / "v3.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(V3_REPS)
    old.commit()
    old.close()
    conn = db.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == db.SCHEMA_VERSION
    row = conn.execute("SELECT * FROM reps").fetchone()
    assert (row["outcome"], row["depth_deg"], row["rise_ms"]) == ("sacrum", 40.0, 2000)
    assert (row["stage"], row["mode"], row["faded_pct"], row["probe"]) == (None,) * 4


def test_each_rep_is_imported_with_its_feedback_once(tmp_path):
    probe = logfmt.feedback_state(2, 2, 67, True)
    warning = logfmt.feedback_state(0, 1, 0, False)
    rep = (0, 1000, 4000, 4, 3, 2000, 300, 700, 1500, 500, 2000)
    reps = [
        (*rep, warning),
        (1, 7000, 4000, 0, 0, None, None, 700, 1500, 500, 2000, probe),
        (2, 13000, 4000, 0, 0, None, None, 700, 1500, 500, 2000),  # no feedback logged
    ]
    root = tmp_path / "logs"
    write_scenario(root, [reps], patient="P-7")
    (seg,) = sorted(root.glob("*.dwl"))
    data = seg.read_bytes()
    conn = db.connect(tmp_path / "db.sqlite3")
    for _ in range(2):  # a second import of the same segment adds nothing
        repstore.import_segment(
            conn,
            logread.decode(data, repair=True),
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
            raw_path=str(seg),
        )
    got = [
        (r["feedback_stage"], r["feedback_mode"], r["faded_pct"], r["probe_set"])
        for r in repstore.rep_rows(conn, "P-7")
    ]
    # The third rep follows the second's frame: the frame is in force until the next one.
    assert got == [(0, "warning", None, False), (2, "faded", 67, True), (2, "faded", 67, True)]
