"""Who did what (host_tools.store.audit): an import, a calibration and a prescription change
each leave one record naming the PT and the time, in the transaction that made the change;
the record refuses changes; `dowel history` reads it back."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest
from dowel import logread

from host_tools import cli
from host_tools.store import audit, db
from host_tools.store import reps as repstore
from host_tools.store.patients import set_prescription
from tests.fakes.logs import write_scenario


@pytest.fixture
def conn(tmp_path, monkeypatch):
    monkeypatch.setenv("DOWEL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DOWEL_PT", "Dr. Ana Ortiz")
    c = db.connect()
    yield c
    c.close()


def test_each_change_is_recorded_once_with_the_pt(conn, tmp_path, capsys):
    set_prescription(conn, "P-7", 3, 8)
    set_prescription(conn, "P-7", 5, 10)
    root = tmp_path / "logs"
    rep = (0, 1000, 4000, 0, 0, None, None, 700, 1500, 500, 1800)
    write_scenario(
        root, [[rep, (1, 7000, 4000, 0, 0, None, None, 700, 1500, 500, 1800)]], patient="P-7"
    )
    (seg,) = root.glob("*.dwl")
    data = seg.read_bytes()
    for _ in range(2):  # the second import adds nothing, and records nothing
        repstore.import_segment(
            conn,
            logread.decode(data),
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
            raw_path=str(seg),
        )
    rows = audit.history(conn, "P-7")
    assert [(r["action"], r["detail"]) for r in rows] == [
        ("prescription", "3x8/day (a new patient)"),
        ("prescription", "5x10/day (was 3x8/day)"),
        ("import", "2 new reps from dowel a4cf12345678 (log segment 1)"),
    ]
    assert {r["actor"] for r in rows} == {"Dr. Ana Ortiz"}
    assert cli.main(["history", "--patient", "P-7"]) == 0
    out = capsys.readouterr().out
    assert "Dr. Ana Ortiz on " in out and "prescription: 5x10/day (was 3x8/day)" in out


def test_the_record_is_append_only(conn):
    set_prescription(conn, "P-8", 3, 8)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE audit SET actor = 'someone else'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM audit")
    assert len(audit.history(conn, "P-8")) == 1


def test_without_dowel_pt_the_os_user_is_the_actor(monkeypatch):
    import getpass

    monkeypatch.delenv("DOWEL_PT", raising=False)
    monkeypatch.setattr(getpass, "getuser", lambda: "ptlaptop3")
    assert audit.actor() == "ptlaptop3"
