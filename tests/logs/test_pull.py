"""Pull, verify, import, delete: against the fake board (tests/fakes/board.py: the real device
code under CPython)."""

from __future__ import annotations

import random
import shutil
import stat
from datetime import datetime, timezone
from pathlib import Path

import pytest
from dowel import logfiles, loghost, logread, logstore

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
    return tmp_path / "home"


def rep_keys(conn) -> list[tuple]:
    return [
        tuple(r)
        for r in conn.execute(
            "SELECT device_id, session, seq, patient, start_ms, duration_ms, outcome, lost_mask, "
            "loss_at_ms, loss_pitch_deg, depth_deg, lower_ms, pause_ms, rise_ms FROM reps "
            "ORDER BY device_id, session, seq"
        )
    ]


def expected_rows(sessions, first_session=1, device="a4cf12345678", patient="P-0001"):
    rows = []
    for i, reps in enumerate(sessions):
        for seq, start, dur, mask, first, loss_at, pitch, depth, lower, pause, rise in reps:
            rows.append(
                (
                    device,
                    first_session + i,
                    seq,
                    patient,
                    start,
                    dur,
                    repstore.outcome(first, mask),
                    mask,
                    loss_at,
                    None if pitch is None else pitch / 10,
                    None if depth is None else depth / 10,
                    lower,
                    pause,
                    rise,
                )
            )
    return rows


def device_rows(root: Path) -> set[tuple]:
    """(session, seq) of every rep still on the device."""
    out = set()
    for path in sorted(root.glob("*.dwl")):
        out |= {(r.session.number, r.seq) for r in logread.decode(path.read_bytes()).reps}
    return out


@pytest.fixture
def board(tmp_path):
    root = tmp_path / "flash" / "logs"
    sessions = random_sessions(random.Random(21), 3, 12)
    write_scenario(root, sessions, segment_bytes=256)
    return root, sessions


def test_pull_imports_every_rep_and_frees_the_device(tmp_path, board):
    root, sessions = board
    conn = db.connect()
    progress = []
    link = fake_link(root.parent)
    report = log_pull.pull(link, conn, now=NOW, progress=progress.append)
    assert rep_keys(conn) == expected_rows(sessions)
    assert report.counts.reps_new == report.counts.reps_seen == 36
    assert report.counts.sessions_new == 3
    assert sum(progress) == report.payload_bytes > 0
    assert list(root.glob("*.dwl")) == []
    assert len(report.deleted) == report.segments > 3 and not report.warnings
    # Raw copies kept, owner-only, byte-identical to what the device held.
    raws = sorted((db.db_path().parent / "raw").rglob("*.dwl"))
    assert len(raws) == report.segments
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in raws)
    # The RTC was set from the host clock, in UTC.
    assert link.transport.machine.rtc[:7] == (2025, 3, 4, 1, 12, 30, 0)
    sessions_rows = repstore.session_rows(conn, "P-0001")
    assert [(r["session"], r["reps"]) for r in sessions_rows] == [(1, 12), (2, 12), (3, 12)]


def test_pulling_twice_never_duplicates(board):
    root, sessions = board
    conn = db.connect()
    first = log_pull.pull(fake_link(root.parent), conn, now=NOW, keep=True)
    assert first.kept and list(root.glob("*.dwl"))
    second = log_pull.pull(fake_link(root.parent), conn, now=NOW)
    assert second.counts.reps_new == 0 and second.counts.reps_seen == 36
    assert rep_keys(conn) == expected_rows(sessions)
    third = log_pull.pull(fake_link(root.parent), conn, now=NOW)
    assert third.segments == 0


def count_calls(root: Path) -> int:
    link = fake_link(root.parent)
    log_pull.pull(link, db.connect(), now=NOW)
    return link.transport.execs


@pytest.mark.parametrize("after", [False, True], ids=["before-device-acts", "after-device-acts"])
def test_interrupted_pull_then_pull_again(tmp_path, board, monkeypatch, after):
    """The cable goes at every call of a pull in turn; a second pull must end with exactly the
    scenario's rows, and at no point may a rep be neither on the device nor in the database."""
    root, sessions = board
    pristine = tmp_path / "pristine"
    shutil.copytree(root, pristine)
    calls = count_calls(root)
    assert calls > 10
    want = expected_rows(sessions)
    for die_at in range(1, calls + 1):
        trial = tmp_path / f"t{die_at}"
        shutil.rmtree(root)
        shutil.copytree(pristine, root)
        monkeypatch.setenv("DOWEL_HOME", str(trial))
        conn = db.connect()
        with pytest.raises(DeviceError):
            log_pull.pull(fake_link(root.parent, die_at=die_at, after=after), conn, now=NOW)
        in_db = {(r[1], r[2]) for r in rep_keys(conn)}
        assert in_db | device_rows(root) == {(r[1], r[2]) for r in want}, die_at
        log_pull.pull(fake_link(root.parent), conn, now=NOW)
        assert rep_keys(conn) == want, die_at
        assert list(root.glob("*.dwl")) == []
        conn.close()


def test_a_corrupted_transfer_deletes_nothing(board):
    root, sessions = board
    before = sorted(p.name for p in root.glob("*.dwl"))
    conn = db.connect()
    report = log_pull.pull(fake_link(root.parent, corrupt_reads=True), conn, now=NOW)
    assert report.deleted == [] and sorted(report.kept) == before
    assert rep_keys(conn) == []
    assert all("SHA-256" in w for w in report.warnings)
    log_pull.pull(fake_link(root.parent), conn, now=NOW)
    assert rep_keys(conn) == expected_rows(sessions)


def test_damaged_segment_is_imported_past_the_damage_and_kept(board):
    root, sessions = board
    seg = sorted(root.glob("*.dwl"))[1]
    data = bytearray(seg.read_bytes())
    data[len(data) // 2] ^= 0x55  # four bits: detected, not correctable
    seg.write_bytes(bytes(data))
    conn = db.connect()
    report = log_pull.pull(fake_link(root.parent), conn, now=NOW)
    assert [p.name for p in root.glob("*.dwl")] == [seg.name]
    assert report.kept == [seg.name]
    (warning,) = report.warnings
    assert "damaged" in warning and "bytes skipped at" in warning
    assert "dowel logs pull --accept-damaged" in warning
    got = rep_keys(conn)
    assert set(got) < set(expected_rows(sessions))
    # Pulling again adds nothing and deletes nothing; --accept-damaged frees it, said aloud.
    again = log_pull.pull(fake_link(root.parent), conn, now=NOW)
    assert again.kept == [seg.name] and again.counts.reps_new == 0
    freed = log_pull.pull(fake_link(root.parent), conn, now=NOW, accept_damaged=True)
    assert freed.deleted == [seg.name] and "freed as asked" in freed.warnings[0]
    assert list(root.glob("*.dwl")) == [] and rep_keys(conn) == got
    raws = list((db.db_path().parent / "raw").rglob(seg.stem + "-*.dwl"))
    assert [p.read_bytes() for p in raws] == [bytes(data)]


def test_a_tail_the_store_did_not_report_is_damage_not_a_torn_write(board):
    """littlefs commits whole writes: a last frame running past the end of the file is not
    a power cut. It is imported up to there and kept, with the fix named."""
    root, sessions = board
    seg = sorted(root.glob("*.dwl"))[-1]
    seg.write_bytes(seg.read_bytes()[:-3])
    conn = db.connect()
    report = log_pull.pull(fake_link(root.parent), conn, now=NOW)
    assert [p.name for p in root.glob("*.dwl")] == [seg.name]
    assert "did not report one" in report.warnings[0]
    assert "--accept-damaged" in report.warnings[0]
    assert rep_keys(conn) == expected_rows(sessions)[:-1]


def test_a_write_the_store_reports_unfinished_is_imported_and_deleted(tmp_path):
    """A write that failed half way (the flash said no): the store notes where it began, and
    the host may then free the segment without a word: nothing was ever committed there."""
    root = tmp_path / "flash" / "logs"
    sessions = random_sessions(random.Random(3), 1, 4)
    root.parent.mkdir()
    log = logstore.Log(root=str(root))
    log.begin_session(DEV, "0.1.0", b"\x01" * 8, "P-0001", None, 1000, True)
    for rep in sessions[0][:3]:
        assert log.add_rep(*rep)
    real = log._f

    class HalfWrite:
        def write(self, data):
            real.write(data[: len(data) // 2])
            real.flush()
            raise OSError(5, "EIO")

        def flush(self):
            pass

        def close(self):
            real.close()

    log._f = HalfWrite()
    assert not log.add_rep(*sessions[0][3])
    log.close()
    ((name, size, _sha, unfinished),) = loghost.segments(str(root))
    assert 0 < unfinished < size
    conn = db.connect()
    report = log_pull.pull(fake_link(root.parent), conn, now=NOW)
    assert report.deleted == [name]
    assert report.warnings == [
        "the dowel's log was full: 1 reps were not recorded. Pull more often."
    ]  # the failed rep, counted as dropped
    assert rep_keys(conn) == expected_rows([sessions[0][:3]])
    assert logfiles.load_state(str(root)).get("unfinished") == []


def test_a_wiped_store_gets_new_session_numbers(tmp_path, board):
    """A reflash erases the store: its sessions restart at 1 with a new epoch. They must not
    collide with (and vanish into) the sessions already imported."""
    root, sessions = board
    conn = db.connect()
    log_pull.pull(fake_link(root.parent), conn, now=NOW)
    shutil.rmtree(root)
    again = random_sessions(random.Random(99), 1, 4)
    write_scenario(root, again)
    report = log_pull.pull(fake_link(root.parent), conn, now=NOW)
    assert report.counts.reps_new == 4
    assert rep_keys(conn) == expected_rows(sessions) + expected_rows(again, first_session=4)
    # The device now numbers after the host's sessions, so the numbers line up again.
    assert logfiles.load_state(str(root))["session"] == 5


def test_dropped_reps_are_reported_once(board):
    root, _ = board
    state = logfiles.load_state(str(root))
    state["dropped"] = 7
    logfiles.save_state(str(root), state)
    conn = db.connect()
    report = log_pull.pull(fake_link(root.parent), conn, now=NOW)
    assert any("7 reps were not recorded" in w for w in report.warnings)
    assert log_pull.pull(fake_link(root.parent), conn, now=NOW).warnings == []


def test_database_is_owner_only(home):
    db.connect().close()
    path = db.db_path()
    assert path.parent == home
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_log_root_is_restored(board):
    # The fake board runs its own copy of the firmware: the host's dowel modules stay as they were.
    root, _ = board
    log_pull.pull(fake_link(root.parent), db.connect(), now=NOW, keep=True)
    assert logfiles.ROOT == "/logs"


def test_old_firmware_without_a_log_names_the_fix(board):
    root, _ = board
    old = fake_link(root.parent, missing=("clock", "loghost"))  # a release before the log
    with pytest.raises(DeviceError, match="dowel flash"):
        log_pull.pull(old, db.connect(), now=NOW)


def test_a_board_short_of_memory_is_read_in_smaller_chunks(monkeypatch):
    import base64

    from host_tools.board import api
    from host_tools.errors import DeviceError
    from host_tools.logs import pull as log_pull

    data = bytes(range(256)) * 40  # 10 KB
    asked = []

    def log_read(link, name, offset, n):
        asked.append(n)
        if n > 1000:  # no block that big left on the board's heap
            raise DeviceError("the board reported an error: MemoryError: memory allocation failed")
        return base64.b64encode(data[offset : offset + n]).decode()

    monkeypatch.setattr(api, "log_read", log_read)
    seg = log_pull.SegmentInfo("00000001.dwl", len(data), "0" * 64)
    assert log_pull.read_segment(None, seg) == data
    assert asked[:3] == [3072, 1536, 768] and max(asked[3:]) == 768
    monkeypatch.setattr(api, "log_read", lambda *a: (_ for _ in ()).throw(DeviceError("gone")))
    with pytest.raises(DeviceError, match="gone"):  # any other error still stops the pull
        log_pull.read_segment(None, seg)
