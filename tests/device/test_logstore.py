"""The store on a temp dir as the flash: boot recovery of torn tails, segments, full flash,
session numbering, and the host-callable functions."""

from __future__ import annotations

import base64
import hashlib
import random
import shutil
import sys
from pathlib import Path

import pytest
from dowel import logfiles, logfmt, loghost, logread, logstore

from tests.fakes.logs import random_rep, random_sessions, write_scenario
from tests.fakes.machine import Machine

DEV = b"\xa4\xcf\x12\x34\x56\x78"


def segs(root: Path) -> list[Path]:
    return sorted(root.glob("*.dwl"))


def all_reps(root: Path) -> list[tuple]:
    """(session, add_rep args) of every rep on the store, decoding each segment on its own."""
    out = []
    for path in segs(root):
        d = logread.decode(path.read_bytes())
        out += [(r.session.number, r.fields()) for r in d.reps]
    return out


def frame_starts(data: bytes) -> list[int]:
    """Offsets where each frame of a clean segment starts."""
    starts, cut = [], len(data)
    while cut > 0:
        cut = logread.decode(data[: cut - 1]).good_bytes
        starts.append(cut)
    return sorted(starts)


def new_rep(seq=0):
    return (seq, 0, 4321, 1, 1, 100, 50, 600, 1000, 500, 2821)


def begin(log: logstore.Log, rtc=None) -> int:
    return log.begin_session(DEV, "0.1.0", b"\x02" * 8, "P-0001", rtc, 5000, True)


@pytest.fixture
def scenario():
    return random_sessions(random.Random(11), 2, 7)


def expected(sessions: list[list[tuple]], first_session: int = 1) -> list[tuple]:
    return [(first_session + i, rep) for i, reps in enumerate(sessions) for rep in reps]


def cut_and_reboot(src: Path, dst: Path, cut: int) -> logstore.Log:
    shutil.copytree(src, dst)
    seg = segs(dst)[-1]
    seg.write_bytes(seg.read_bytes()[:cut])
    return logstore.Log(root=str(dst))


def test_torn_last_rep_at_every_byte(tmp_path, scenario):
    src = tmp_path / "src"
    write_scenario(src, scenario)
    data = segs(src)[-1].read_bytes()
    last = frame_starts(data)[-1]
    for cut in range(last, len(data)):
        dst = tmp_path / f"cut{cut}"
        log = cut_and_reboot(src, dst, cut)
        assert log.torn_bytes == cut - last
        begin(log)
        assert log.add_rep(*new_rep())
        log.close()
        assert all_reps(dst) == expected(scenario)[:-1] + [(3, new_rep())]
        # A torn segment is sealed as it was, never appended to; a clean one is continued.
        assert segs(dst)[0].read_bytes().startswith(data[:cut])
        assert len(segs(dst)) == (1 if cut == last else 2)
        if cut > last:
            assert segs(dst)[0].read_bytes() == data[:cut]


def test_torn_session_header_at_every_byte(tmp_path, scenario):
    src = tmp_path / "src"
    write_scenario(src, scenario)
    log = logstore.Log(root=str(src))
    assert begin(log) == 3
    log.close()
    data = segs(src)[-1].read_bytes()
    header = frame_starts(data)[-1]
    for cut in range(header, len(data)):
        dst = tmp_path / f"cut{cut}"
        log = cut_and_reboot(src, dst, cut)
        assert begin(log) == 4  # session 3's number is never reused
        assert log.add_rep(*new_rep())
        log.close()
        assert all_reps(dst) == expected(scenario) + [(4, new_rep())]


def test_torn_segment_header_is_removed_at_boot(tmp_path):
    root = tmp_path / "logs"
    write_scenario(root, [[new_rep()]], segment_bytes=10**6)
    header = logfmt.segment_header(1, 2)
    for cut in range(len(header)):
        (root / "00000002.dwl").write_bytes(header[:cut])
        log = logstore.Log(root=str(root))
        assert not (root / "00000002.dwl").exists()
        log.close()
    assert all_reps(root) == [(1, new_rep())]


def test_damaged_segment_is_kept_and_sealed(tmp_path, scenario):
    root = tmp_path / "logs"
    write_scenario(root, scenario)
    seg = segs(root)[-1]
    data = bytearray(seg.read_bytes())
    data[40] ^= 0xFF
    seg.write_bytes(bytes(data))
    log = logstore.Log(root=str(root))
    begin(log)
    log.add_rep(*new_rep())
    log.close()
    assert seg.read_bytes() == bytes(data)
    assert len(segs(root)) == 2


def test_segments_rotate_and_each_decodes_alone(tmp_path):
    sessions = random_sessions(random.Random(5), 3, 40)
    root = tmp_path / "logs"
    write_scenario(root, sessions, segment_bytes=256)
    files = segs(root)
    assert len(files) > 5
    for path in files:
        assert path.stat().st_size <= 256
        d = logread.decode(path.read_bytes())
        assert d.error is None and d.segment.number == int(path.stem)
    assert all_reps(root) == expected(sessions)
    # Deleting the first segments (pulled) leaves the rest readable.
    for path in files[:3]:
        path.unlink()
    assert all_reps(root) == expected(sessions)[-len(all_reps(root)) :]


def test_reboot_appends_to_a_clean_last_segment(tmp_path):
    root = tmp_path / "logs"
    write_scenario(root, [[new_rep()]])
    write_scenario(root, [[new_rep()]])
    assert len(segs(root)) == 1
    assert all_reps(root) == [(1, new_rep()), (2, new_rep())]


class Flash:
    """A flash of `capacity` bytes in 4 KB blocks, shared by the files under `root`."""

    def __init__(self, capacity: int):
        self.capacity = capacity

    def free(self, root: str) -> int:
        used = sum(-(-p.stat().st_size // 4096) * 4096 for p in Path(root).iterdir())
        return self.capacity - used


def test_full_flash_stops_logging_and_keeps_every_record(tmp_path):
    root = tmp_path / "logs"
    flash = Flash(64 * 1024)
    log = logstore.Log(
        root=str(root), segment_bytes=8192, margin_bytes=12 * 1024, free_fn=flash.free
    )
    begin(log)
    rng = random.Random(3)
    written, t, seq = [], 0, 0
    while True:
        rep = random_rep(rng, seq, t)
        if not log.add_rep(*rep):
            break
        written.append((1, rep))
        seq, t = seq + 1, rep[1] + rep[2] + 100
    assert log.full
    assert flash.free(str(root)) >= 8 * 1024  # stopped before the margin was eaten
    sizes = [p.stat().st_size for p in segs(root)]
    for _ in range(5):
        assert not log.add_rep(*random_rep(rng, seq, t))
        assert begin(log) > 1  # a new session cannot write either
    assert [p.stat().st_size for p in segs(root)] == sizes  # nothing written, nothing lost
    assert all_reps(root) == written
    log.close()
    assert loghost.status(str(root))["dropped"] == 6  # the one that hit full + 5
    # The host pulls and deletes: logging resumes after the reboot.
    for path in segs(root):
        path.unlink()
    log = logstore.Log(root=str(root), margin_bytes=12 * 1024, free_fn=flash.free)
    assert not log.full
    begin(log)
    assert log.add_rep(*new_rep())
    log.close()


def test_write_failure_seals_the_segment_and_loses_only_that_rep(tmp_path):
    root = tmp_path / "logs"
    log = logstore.Log(root=str(root))
    begin(log)
    assert log.add_rep(*new_rep(0))
    real = log._f

    class HalfWrite:
        def write(self, data):
            real.write(data[: len(data) // 2])
            real.flush()
            raise OSError(28, "ENOSPC")

        def flush(self):
            pass

        def close(self):
            real.close()

    log._f = HalfWrite()
    assert not log.add_rep(*new_rep(1))
    assert log.full
    log.close()
    log = logstore.Log(root=str(root))  # reboot
    assert log.torn_bytes > 0
    begin(log)
    assert log.add_rep(*new_rep(0))
    log.close()
    assert all_reps(root) == [(1, new_rep(0)), (2, new_rep(0))]


def test_session_numbers_survive_deletion_and_lost_state(tmp_path):
    root = tmp_path / "logs"
    write_scenario(root, [[new_rep()], [new_rep()]])
    epoch = logfiles.load_state(str(root))["epoch"]
    for path in segs(root):  # pulled
        path.unlink()
    log = logstore.Log(root=str(root))
    assert begin(log) == 3
    log.close()
    for path in root.glob("state*.json"):  # state lost, segments still there
        path.unlink()
    log = logstore.Log(root=str(root))
    assert begin(log) == 4
    assert log._st["epoch"] == epoch  # taken back from the segment header
    log.close()
    assert logfiles.load_state(str(root))["session"] == 5


def test_rtc_is_kept_only_after_the_host_set_it(tmp_path, monkeypatch):
    root = str(tmp_path / "logs")
    machine = Machine()
    monkeypatch.setitem(sys.modules, "machine", machine)
    log = logstore.Log(root=root)
    begin(log, rtc=(2025, 6, 1, 6, 10, 0, 0, 0))
    log.close()
    loghost.set_rtc((2025, 6, 2, 0, 9, 30, 0, 0), root=root)
    assert machine.rtc[:3] == (2025, 6, 2)
    log = logstore.Log(root=root)
    begin(log, rtc=(2025, 6, 2, 0, 10, 0, 0, 123))  # later: set since power-up
    begin(log, rtc=(2000, 1, 1, 5, 0, 0, 3, 0))  # power was lost: the clock restarted
    log.close()
    sessions = [s for p in segs(Path(root)) for s in logread.decode(p.read_bytes()).sessions]
    assert [s.rtc for s in sessions] == [None, (2025, 6, 2, 10, 0, 0), None]


def test_host_calls(tmp_path, scenario):
    root = tmp_path / "logs"
    write_scenario(root, scenario, segment_bytes=200)
    listed = loghost.segments(str(root))
    assert [n for n, _, _, _ in listed] == [p.name for p in segs(root)]
    for name, size, sha, unfinished in listed:
        assert unfinished == -1
        data = (root / name).read_bytes()
        assert size == len(data) and sha == hashlib.sha256(data).hexdigest()
        chunk = base64.b64decode(loghost.read(name, 7, 50, str(root)))
        assert chunk == data[7:57]
    st = loghost.status(str(root))
    assert st["segments"] == len(listed) and st["bytes"] == sum(s for _, s, _, _ in listed)
    assert st["next_session"] == 3 and not st["full"] and st["format"] == logfmt.FORMAT_VERSION
    first, second = listed[0], listed[1]
    result = loghost.delete(
        [(first[0], first[2]), (second[0], "0" * 64), ("00000999.dwl", "0" * 64)], str(root)
    )
    assert result == {"deleted": [first[0]], "missing": ["00000999.dwl"], "changed": [second[0]]}
    assert not (root / first[0]).exists() and (root / second[0]).exists()
    with pytest.raises(ValueError):
        loghost.read("../state0.json", 0, 10, str(root))
    assert loghost.reserve_sessions(40, str(root)) == 40
    log = logstore.Log(root=str(root))
    assert begin(log) == 40
    log.close()


def test_host_calls_detach_the_running_log(tmp_path):
    root = tmp_path / "logs"
    log = logstore.Log(root=str(root))
    begin(log)
    log.add_rep(*new_rep())
    for name, _, sha, _ in loghost.segments(str(root)):
        loghost.delete([(name, sha)], str(root))
    assert segs(root) == []
    # The interrupted loop's Log writes nothing more into deleted or new files.
    assert not log.add_rep(*new_rep(1))
    assert segs(root) == []


def test_state_survives_a_torn_write_of_either_copy(tmp_path):
    src = tmp_path / "src"
    write_scenario(src, [[new_rep()], [new_rep()]])
    assert len(list(src.glob("state*.json"))) == 2
    for victim in ("state0.json", "state1.json"):
        root = tmp_path / victim
        shutil.copytree(src, root)
        (root / victim).write_text((root / victim).read_text()[:-7])  # power cut mid-write
        log = logstore.Log(root=str(root))
        assert begin(log) == 3
        assert log._st["epoch"] == logfiles.load_state(str(src))["epoch"]
        log.close()


def test_state_write_failure_never_touches_the_good_copy(tmp_path, monkeypatch):
    root = tmp_path / "logs"
    log = logstore.Log(root=str(root))
    begin(log)
    good = logfiles.load_state(str(root))
    real_open = open

    def failing_open(path, mode="r", *a, **kw):
        if "w" in mode and "state" in str(path):
            real_open(path, mode).close()  # truncated, then the write fails
            raise OSError(28, "ENOSPC")
        return real_open(path, mode, *a, **kw)

    monkeypatch.setattr("builtins.open", failing_open)
    for _ in range(3):
        with pytest.raises(OSError):
            logfiles.save_state(str(root), dict(log._st))
    monkeypatch.undo()
    assert logfiles.load_state(str(root)) == good
    log.close()


def test_feedback_is_written_when_it_changes_and_restated_by_each_segment_and_session(tmp_path):
    log = logstore.Log(root=str(tmp_path), segment_bytes=120)
    loss = logfmt.feedback_state(0, 0, 0, False)
    probe = logfmt.feedback_state(1, 2, 50, True)
    begin(log)
    states = [loss, loss, loss, probe, probe, loss, loss, loss, loss, loss]
    for seq, state in enumerate(states):
        assert log.add_rep(*new_rep(seq), feedback=state)
    begin(log)
    assert log.add_rep(*new_rep(0), feedback=loss)
    assert log.add_rep(*new_rep(1))  # no feedback to log (NO_FEEDBACK): nothing restated
    log.close()
    decoded = [logread.decode(p.read_bytes()) for p in segs(tmp_path)]
    assert len(decoded) > 2  # the reps spread over several segments
    got = [r.feedback for d in decoded for r in d.reps]
    want = {loss: (0, 0, 0, False), probe: (1, 2, 50, True)}
    assert got == [want[s] for s in states] + [want[loss], want[loss]]
    kinds = [
        data[i] >> 5
        for data in (p.read_bytes() for p in segs(tmp_path))
        for i in frame_starts(data)
    ]
    # One per change (3), per segment the session goes on in, per new session: never per rep.
    segments_with_reps = sum(1 for d in decoded if d.reps)
    assert 3 <= kinds.count(logfmt.K_FEEDBACK) <= 3 + segments_with_reps + 1 < len(states) + 2
