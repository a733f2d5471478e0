"""The store under concurrent pulls: M processes each importing the same N segments at once
(laptops pulling overlapping logs into one database), against one process importing them
alone, measured in the same run; every rep must land exactly once.

    rows = run(quick=False)   # [(figure, value, compared against, target)]

Segments are written by the firmware's own `dowel.logstore` (random sessions, as the tests'
`tests/fakes/logs` makes them) and imported by `host_tools.store.reps.import_segment`, the
pull's own import, into SQLite files in a temp dir (a shared PostgreSQL server is issue 18's
next step).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import random
import tempfile
import time
from pathlib import Path


def _segments(root: Path, sessions: int, reps: int, seed: int) -> tuple[list[str], int]:
    from dowel import logstore

    rng = random.Random(seed)
    log = logstore.Log(root=str(root), segment_bytes=4096)
    total = 0
    for i in range(sessions):
        log.begin_session(
            b"\xa4\xcf\x12\x34\x56\x78", "0.1.0", b"\x01" * 8, "P-LOAD", None, i, True
        )
        t = 0
        for seq in range(reps):
            lost = rng.random() < 0.25
            log.add_rep(
                seq,
                t,
                4200,
                4 if lost else 0,
                3 if lost else 0,
                2000 if lost else None,
                300 if lost else None,
                420,
                1600,
                500,
                2100,
            )
            t += 6000
            total += 1
    log.close()
    return [str(p) for p in sorted(root.glob("*.dwl"))], total


def _import(db_path: str, segments: list[str], out) -> None:
    from dowel import logread

    from host_tools.store import db
    from host_tools.store import reps as repstore

    conn = db.connect(Path(db_path))
    new, errors = 0, 0
    t0 = time.perf_counter()
    for name in segments:
        data = Path(name).read_bytes()
        try:
            new += repstore.import_segment(
                conn,
                logread.decode(data, repair=True),
                sha256=hashlib.sha256(data).hexdigest(),
                size=len(data),
                raw_path=name,
            ).reps_new
        except Exception:  # noqa: BLE001 - counted: the figure says how many failed
            errors += 1
    conn.close()
    out.put((new, errors, time.perf_counter() - t0))


def _run(db_path: Path, orders: list[list[str]]) -> tuple[float, int, int, int]:
    """(wall seconds, reps new in all, imports failed, reps in the database)."""
    from host_tools.store import db

    db.connect(db_path).close()
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_import, args=(str(db_path), o, out)) for o in orders]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    results = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    wall = time.perf_counter() - t0
    conn = db.connect(db_path)
    stored = conn.execute("SELECT COUNT(*) FROM reps").fetchone()[0]
    conn.close()
    return wall, sum(r[0] for r in results), sum(r[1] for r in results), stored


def run(quick: bool = False) -> list[tuple[str, str, str, str]]:
    sessions, reps, procs = (10, 20, 2) if quick else (60, 40, 4)
    with tempfile.TemporaryDirectory() as tmp:
        segments, total = _segments(Path(tmp) / "logs", sessions, reps, seed=7)
        alone, _, _, _ = _run(Path(tmp) / "alone.sqlite3", [segments])
        orders = [segments if i % 2 == 0 else segments[::-1] for i in range(procs)]
        wall, new, failed, stored = _run(Path(tmp) / "shared.sqlite3", orders)
    ok = new == total and stored == total and failed == 0
    return [
        (
            f"{procs} processes pulling the same {len(segments)} segments at once",
            f"{total / wall:.0f} reps/s ({total} reps in {wall:.2f} s, process start included)",
            f"one process alone: {total / alone:.0f} reps/s ({alone:.2f} s)",
            "-",
        ),
        (
            "  duplicates and losses",
            f"{new - total if new > total else 0} duplicated, {total - stored} lost, "
            f"{failed} imports failed",
            f"each rep new to exactly one process; {stored} of {total} in the database",
            f"0, 0, 0: {'met' if ok else 'NOT met'}",
        ),
    ]
