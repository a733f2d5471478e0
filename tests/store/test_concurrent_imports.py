"""Several processes importing overlapping logs into one database at once (two laptops pulling
the same dowel, a pull repeated after a crash) import every rep exactly once, and none of
them fails: an import takes the write lock before it maps the dowel's sessions."""

from __future__ import annotations

import hashlib
import multiprocessing
import random
from pathlib import Path

from dowel import logread

from host_tools.store import db
from host_tools.store import reps as repstore
from tests.fakes.logs import random_sessions, write_scenario


def _import_all(db_path: str, segments: list[str], out) -> None:
    conn = db.connect(Path(db_path))
    new, errors = 0, []
    for name in segments:
        data = Path(name).read_bytes()
        try:
            counts = repstore.import_segment(
                conn,
                logread.decode(data, repair=True),
                sha256=hashlib.sha256(data).hexdigest(),
                size=len(data),
                raw_path=name,
            )
            new += counts.reps_new
        except Exception as exc:  # noqa: BLE001 - the test reports any failure
            errors.append(repr(exc))
    conn.close()
    out.put((new, errors))


def test_four_processes_import_the_same_segments_exactly_once(tmp_path):
    sessions = random_sessions(random.Random(3), 30, 40)
    write_scenario(tmp_path / "logs", sessions, segment_bytes=2000)
    segments = [str(p) for p in sorted((tmp_path / "logs").glob("*.dwl"))]
    assert len(segments) > 5
    db_path = tmp_path / "db.sqlite3"
    db.connect(db_path).close()
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    orders = [segments, segments[::-1], segments[1::2] + segments[::2], segments]
    procs = [ctx.Process(target=_import_all, args=(str(db_path), o, out)) for o in orders]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    assert [e for _, errors in results for e in errors] == []
    total = sum(len(s) for s in sessions)
    assert sum(new for new, _ in results) == total  # each rep new to exactly one of them
    conn = db.connect(db_path)
    assert conn.execute("SELECT COUNT(*) FROM reps").fetchone()[0] == total
    assert conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == len(sessions)
