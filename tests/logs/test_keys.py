"""Record keys that cannot collide: the session-reuse sequence (a state save that fails, a
pull cut before the host repairs the numbering, the next session reusing the number), the
store's fault when it cannot save a number, and an import that meets a key with other
content."""

from __future__ import annotations

import random
import sqlite3
from datetime import datetime, timezone

import pytest
from dowel import logfiles, logread, logstore

from host_tools.errors import DeviceError
from host_tools.logs import pull as log_pull
from host_tools.store import db
from host_tools.store import reps as repstore
from tests.fakes.board import fake_link
from tests.fakes.logs import random_sessions, write_scenario

NOW = datetime(2025, 3, 4, 12, 30, 0, tzinfo=timezone.utc)
DEV = b"\xa4\xcf\x12\x34\x56\x78"


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DOWEL_HOME", str(tmp_path / "home"))


def rows(conn) -> list[tuple]:
    return [
        tuple(r)
        for r in conn.execute(
            "SELECT session, seq, start_ms, duration_ms FROM reps ORDER BY session, seq"
        )
    ]


def reps_of(sessions) -> set[tuple]:
    return {(r[0], r[1], r[2]) for s in sessions for r in s}


def cut_before_renumber(monkeypatch):
    def cut(*a, **kw):
        raise DeviceError("lost contact with the board: cable pulled")

    monkeypatch.setattr(log_pull, "_renumber", cut)


def boot_and_log(root, reps) -> list[bool]:
    log = logstore.Log(root=str(root))
    log.begin_session(DEV, "0.1.0", b"\x01" * 8, "P-0001", None, 1000, True)
    written = [log.add_rep(*r) for r in reps]
    log.close()
    return written


def test_session_reuse_sequence_keeps_every_rep(tmp_path, monkeypatch):
    """The issue's sequence, with the state save failing: the store no longer logs under a
    number it could not save (the log-full cue plays instead), so nothing is reused; every rep
    the store accepted reaches the database."""
    root = tmp_path / "flash" / "logs"
    a, b, c = random_sessions(random.Random(1), 3, 3)
    write_scenario(root, [a])
    conn = db.connect()
    log_pull.pull(fake_link(root.parent), conn, now=NOW)
    real_save = logfiles.save_state

    def failing(*args):
        raise OSError(28, "ENOSPC")

    monkeypatch.setattr(logfiles, "save_state", failing)
    assert boot_and_log(root, b) == [False, False, False]  # refused: the cue, not reuse
    monkeypatch.setattr(logfiles, "save_state", real_save)
    written = boot_and_log(root, c)
    assert written == [True] * 3
    cut_before_renumber(monkeypatch)
    with pytest.raises(DeviceError):
        log_pull.pull(fake_link(root.parent), conn, now=NOW)
    assert list(root.glob("*.dwl")) == []  # imported and freed; only the renumbering missed
    monkeypatch.undo()
    monkeypatch.setenv("DOWEL_HOME", str(tmp_path / "home"))
    d = random_sessions(random.Random(2), 1, 3)[0]
    assert boot_and_log(root, d) == [True] * 3
    log_pull.pull(fake_link(root.parent), conn, now=NOW)
    got = rows(conn)
    assert len(got) == len(a) + len(c) + len(d)
    assert len({(s, q) for s, q, _, _ in got}) == len(got)


def test_a_session_number_that_went_back_is_a_new_session(tmp_path, monkeypatch):
    """Should the counter go back anyway (here: saves that silently do not persist, as the
    old firmware allowed), the boot number keeps the sessions apart: every rep is kept."""
    root = tmp_path / "flash" / "logs"
    a, b, c = random_sessions(random.Random(3), 3, 3)
    write_scenario(root, [a])
    conn = db.connect()
    log_pull.pull(fake_link(root.parent), conn, now=NOW)
    monkeypatch.setattr(logfiles, "save_state", lambda root, st: None)  # lost saves
    assert boot_and_log(root, b) == [True] * 3  # numbered 2, not persisted
    cut_before_renumber(monkeypatch)
    with pytest.raises(DeviceError):
        log_pull.pull(fake_link(root.parent), conn, now=NOW)
    monkeypatch.undo()
    monkeypatch.setenv("DOWEL_HOME", str(tmp_path / "home"))
    assert boot_and_log(root, c) == [True] * 3  # numbered 2 again, another boot
    report = log_pull.pull(fake_link(root.parent), conn, now=NOW)
    assert report.counts.reps_new == 3
    got = rows(conn)
    assert len(got) == 9 and [s for s, _, _, _ in got] == [1] * 3 + [2] * 3 + [3] * 3
    assert {(q, st, du) for _, q, st, du in got} == {(r[0], r[1], r[2]) for r in a + b + c}


def test_same_key_other_content_stops_the_import(tmp_path):
    """Same store epoch, same boot number, same session number, other reps: not a duplicate.
    The import stops, writes nothing of that segment, and the segment stays on the dowel."""
    root = tmp_path / "flash" / "logs"
    a = random_sessions(random.Random(4), 1, 3)
    write_scenario(root, [], boot=77)  # a store with its state: next session 1
    state = {p.name: p.read_bytes() for p in root.glob("state*.json")}
    write_scenario(root, a, boot=77)
    conn = db.connect()
    log_pull.pull(fake_link(root.parent), conn, now=NOW)
    before = rows(conn)
    for p in root.glob("state*.json"):
        p.unlink()
    for name, content in state.items():
        (root / name).write_bytes(content)  # the state as it was: the numbers come back
    b = random_sessions(random.Random(5), 1, 3)
    write_scenario(root, b, boot=77)
    with pytest.raises(repstore.ImportConflict, match="other content"):
        log_pull.pull(fake_link(root.parent), conn, now=NOW)
    assert rows(conn) == before and len(list(root.glob("*.dwl"))) == 1


def test_a_failed_state_save_stops_logging_until_a_save_works(tmp_path, monkeypatch):
    root = tmp_path / "logs"
    log = logstore.Log(root=str(root))
    assert log.begin_session(DEV, "0.1.0", b"\x01" * 8, "P-1", None, 0, True) == 1
    assert log.add_rep(0, 0, 4000, 0, 0, None, None, 700, 1500, 500, 2000)
    monkeypatch.setattr(
        logfiles, "save_state", lambda *a: (_ for _ in ()).throw(OSError(5, "EIO"))
    )
    log.begin_session(DEV, "0.1.0", b"\x01" * 8, "P-1", None, 0, True)
    assert log.fault and log.full
    assert not log.add_rep(0, 0, 4000, 0, 0, None, None, 700, 1500, 500, 2000)
    monkeypatch.undo()
    n = log.begin_session(DEV, "0.1.0", b"\x01" * 8, "P-1", None, 0, True)
    assert n == 3 and not log.fault and not log.full  # 2 was never written anywhere
    assert log.add_rep(0, 0, 4000, 0, 0, None, None, 700, 1500, 500, 2000)
    log.close()
    sessions = [
        s.number for p in root.glob("*.dwl") for s in logread.decode(p.read_bytes()).sessions
    ]
    assert sessions == [1, 3]


def test_a_version_1_database_is_migrated(tmp_path):
    path = tmp_path / "old.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE log_sessions (device_id TEXT NOT NULL, epoch INTEGER NOT NULL, "
        "device_session INTEGER NOT NULL, session INTEGER NOT NULL, "
        "PRIMARY KEY (device_id, epoch, device_session), UNIQUE (device_id, session));"
        "INSERT INTO log_sessions VALUES ('a4cf12345678', 5, 1, 1);"
        "PRAGMA user_version = 1;"
    )
    old.commit()
    old.close()
    conn = db.connect(path)
    assert [tuple(r) for r in conn.execute("SELECT * FROM log_sessions")] == [
        ("a4cf12345678", 5, 0, 1, 1)
    ]
    assert repstore.host_session(conn, "a4cf12345678", 5, 0, 1) == 1
    assert repstore.host_session(conn, "a4cf12345678", 5, 99, 1) == 2
