"""Every single bit of a multi-session segment flipped in turn, then a real pull (the real
decoder, the real importer, the real store's host calls through the fake link): no intact rep
is lost, no wrong row is imported, and the segment is never deleted without a word."""

from __future__ import annotations

import random
import time
from datetime import datetime, timezone
from pathlib import Path

from dowel import logfmt, logread

from host_tools.logs import pull as log_pull
from host_tools.store import db
from tests.fakes.board import fake_link
from tests.fakes.logs import random_sessions, write_scenario

from .test_pull import expected_rows, rep_keys

NOW = datetime(2025, 3, 4, 12, 30, 0, tzinfo=timezone.utc)


def frames(data: bytes) -> list[tuple[int, int, int]]:
    """(start, end, kind) of each frame of a clean segment."""
    out, pos = [], 0
    while pos < len(data):
        b0 = data[pos]
        head, length = (2, data[pos + 1]) if b0 & 31 == 31 else (1, b0 & 31)
        out.append((pos, pos + head + length + 2, b0 >> 5))
        pos = out[-1][1]
    return out


def test_every_bit_flip_of_a_multi_session_segment(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DOWEL_HOME", str(tmp_path / "home"))
    root = tmp_path / "flash" / "logs"
    # Three sessions with and without an IMU, short and long reps, in one segment.
    sessions = random_sessions(random.Random(7), 2, 6) + random_sessions(
        random.Random(8), 1, 5, has_imu=False
    )
    write_scenario(root, sessions, boot=0x1357)
    (seg,) = sorted(root.glob("*.dwl"))
    pristine = {p.name: p.read_bytes() for p in root.iterdir()}
    data = pristine[seg.name]
    d = logread.decode(data)
    assert d.error is None and len(d.sessions) == 3
    want = expected_rows(sessions)
    spans = frames(data)
    rep_frames = [f for f in spans if f[2] in (logfmt.K_REP, logfmt.K_REP_LONG)]
    assert len(rep_frames) == len(want)

    trials = lost = wrong = silent = kept = touched_recovered = 0
    started = time.monotonic()
    for bit in range(len(data) * 8):
        for p in root.iterdir():
            p.unlink()
        for name, content in pristine.items():
            (root / name).write_bytes(content)
        damaged = bytearray(data)
        damaged[bit // 8] ^= 1 << (bit % 8)
        seg.write_bytes(bytes(damaged))
        path = tmp_path / "trial.sqlite3"
        path.unlink(missing_ok=True)
        conn = db.connect(path)
        report = log_pull.pull(fake_link(root.parent), conn, now=NOW, raw_base=tmp_path / "raw")
        got = set(rep_keys(conn))
        conn.close()
        trials += 1
        # The rep whose frame holds the bit is touched; every other one is intact.
        touched = [i for i, f in enumerate(rep_frames) if f[0] <= bit // 8 < f[1]]
        intact = [row for i, row in enumerate(want) if i not in touched]
        lost += sum(1 for row in intact if row not in got)
        wrong += len(got - set(want))
        touched_recovered += sum(1 for i in touched if want[i] in got)
        if seg.exists():
            kept += 1
            assert any(seg.name in w and "--accept-damaged" in w for w in report.warnings)
        elif not any(seg.name in w for w in report.warnings):
            silent += 1
    print(
        f"\nbit flips: {trials} trials over {len(data)} bytes ({len(want)} reps, 3 sessions) in "
        f"{time.monotonic() - started:.0f} s: intact reps lost {lost}, wrong rows {wrong}, "
        f"silent deletes {silent}, kept on the dowel with a warning {kept}, touched reps "
        f"recovered by the single-bit repair {touched_recovered}"
    )
    assert (lost, wrong, silent) == (0, 0, 0)
    assert kept == trials  # any damage stays on the dowel until the PT says otherwise


def test_accept_damaged_frees_a_repaired_segment_and_keeps_its_raw_copy(tmp_path, monkeypatch):
    monkeypatch.setenv("DOWEL_HOME", str(tmp_path / "home"))
    root = tmp_path / "flash" / "logs"
    sessions = random_sessions(random.Random(9), 2, 4)
    write_scenario(root, sessions)
    (seg,) = sorted(root.glob("*.dwl"))
    damaged = bytearray(seg.read_bytes())
    damaged[40] ^= 0x08
    seg.write_bytes(bytes(damaged))
    conn = db.connect()
    first = log_pull.pull(fake_link(root.parent), conn, now=NOW)
    assert first.kept == [seg.name] and "1 flipped bit(s) corrected" in first.warnings[0]
    assert set(rep_keys(conn)) == set(expected_rows(sessions))
    second = log_pull.pull(fake_link(root.parent), conn, now=NOW, accept_damaged=True)
    assert second.deleted == [seg.name] and second.counts.reps_new == 0
    raw = [p for p in Path(db.db_path().parent / "raw").rglob("*.dwl")]
    assert [p.read_bytes() for p in raw] == [bytes(damaged)]
