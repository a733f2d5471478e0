"""Dated sessions without a battery-backed clock: the host's estimate of undated sessions
(`host_tools.store.dates`) against the true times of a simulated week at home, and the clock
set on every connection (`host_tools.board.api.connect`) through the fake board."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest
from dowel import loghost, logread
from dowel.rtc8563 import Pcf8563

from host_tools.board import api
from host_tools.board.link import Link
from host_tools.logs import pull as log_pull
from host_tools.store import db
from host_tools.store import reps as repstore
from host_tools.store.dates import Anchor, Point, estimate
from tests.fakes.board import FakeBoard
from tests.fakes.i2c import Pcf8563Chip
from tests.fakes.machine import Machine

UTC = timezone.utc
VISIT = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def home_week(rng: random.Random, days: int = 7):
    """Sessions of a week at home: 1-3 practice times a day, each 1-2 sessions (10 min apart
    or more) logged in one power-on; the dowel is switched off after most practice times (so
    its ticks restart and its RTC is lost), and left on after some. Returns the points (the
    first, right after the visit, dated: the host set the clock), true starts, and the final
    pull's anchor."""
    points, truth = [], {}
    now = VISIT + timedelta(hours=2)
    on_at, boot, key = now, 1, 0
    dated, off = True, False
    for day in range(days):
        for hour in sorted(rng.sample([7, 8, 12, 13, 18, 19, 21], rng.randint(1, 3))):
            start = VISIT.replace(hour=hour, minute=rng.randrange(60)) + timedelta(days=day)
            if start <= now:
                continue
            if off:  # switched on a few minutes before practising
                on_at = max(now, start - timedelta(minutes=rng.randint(1, 30)))
                off = False
            for _ in range(rng.randint(1, 2)):
                length = rng.randint(2, 8) * 60_000
                ticks = int((start - on_at).total_seconds() * 1000)
                points.append(Point(key, ticks, boot, start if dated else None, length))
                truth[key] = start
                key += 1
                now = start + timedelta(milliseconds=length)
                start = now + timedelta(minutes=rng.randint(11, 40))
            if rng.random() < 0.7:  # switched off: the next power-on restarts ticks and RTC
                off = True
                boot += 1
                dated = False
    pull = VISIT + timedelta(days=days, hours=1)
    if off:  # switched on at the visit
        on_at = pull - timedelta(minutes=2)
        boot += 1
    anchor = Anchor(pull, len(points), int((pull - on_at).total_seconds() * 1000), boot)
    return points, truth, anchor


def errors(est, truth) -> list[float]:
    return [abs((est[k].started - truth[k]).total_seconds()) / 3600 for k in est]


def test_a_week_with_power_cycles_is_placed_in_order_within_its_bounds():
    worst_h, all_err, exact_err, n_exact, n_placed = 0.0, [], [], 0, 0
    for seed in range(40):
        points, truth, anchor = home_week(random.Random(seed))
        est = estimate(points, [anchor], not_before=VISIT)
        undated = [p.key for p in points if p.started is None]
        assert sorted(est) == sorted(undated)  # every undated session gets a date: none dropped
        order = [est[p.key].started if p.key in est else p.started for p in points]
        assert order == sorted(order), seed  # the sessions' order is kept
        for k, e in est.items():
            assert e.earliest <= truth[k] <= e.latest, (seed, k)  # the bounds hold the truth
            assert e.earliest <= e.started <= e.latest
            if e.how == "ticks":
                n_exact += 1
                exact_err.append(abs((e.started - truth[k]).total_seconds()))
            else:
                n_placed += 1
        err = errors(est, truth)
        all_err += err
        worst_h = max(worst_h, max(err, default=0))
    all_err.sort()
    median_h = all_err[len(all_err) // 2]
    print(
        f"\nestimated sessions: {len(all_err)} ({n_exact} from ticks, {n_placed} placed); "
        f"error median {median_h:.1f} h, 90th percentile {all_err[int(len(all_err) * 0.9)]:.1f} h,"
        f" worst {worst_h:.1f} h; from ticks worst {max(exact_err):.3f} s"
    )
    assert n_exact and n_placed
    assert max(exact_err) < 1  # same power-on as a dated session or the pull: to the second
    assert median_h < 24  # placed ones: mostly on the right day or the next


def test_the_last_power_on_is_dated_from_the_pull_and_a_wrap_is_no_reset():
    pull = datetime(2025, 3, 20, 9, 0, tzinfo=UTC)
    period = 1 << 30
    # One boot for 13 days: the ticks wrapped between the two sessions.
    a = Point("a", period - 3_600_000, 7, None, 60_000)
    b = Point("b", 5_000_000, 7, None, 60_000)
    est = estimate([a, b], [Anchor(pull, 2, 6_000_000, 7)])
    assert est["b"].started == pull - timedelta(milliseconds=1_000_000)
    assert est["a"].started == est["b"].started - timedelta(milliseconds=3_600_000 + 5_000_000)
    assert {e.how for e in est.values()} == {"ticks"}


def test_a_reset_after_the_last_session_leaves_it_placed_not_tied_to_the_pull():
    pull = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
    dated = Point("d", 1000, 1, datetime(2025, 3, 8, 18, 0, tzinfo=UTC), 600_000)
    lost = Point("x", 20_000, 2, None, 300_000)
    # At the pull the interpreter holds no session of boot 2 (it was switched off since).
    est = estimate([dated, lost], [Anchor(pull, 2, 50_000, None)])
    e = est["x"]
    assert e.how == "placed"
    assert dated.started + timedelta(minutes=10) <= e.earliest < e.started < e.latest <= pull


def connected(board: FakeBoard, **kw) -> Link:
    """api.connect to the fake board: the same code strings a board runs."""
    return api.connect("fake", sleep=lambda _s: None, transport_factory=lambda _p: board, **kw)


def test_every_connection_sets_the_board_clock_and_the_store_knows(tmp_path):
    board = FakeBoard(tmp_path)  # just switched on: its RTC reads 2000-01-01
    when = datetime(2025, 3, 4, 10, 30, 15, tzinfo=UTC)
    link = connected(board, now=lambda: when)
    assert board.machine.rtc == (2025, 3, 4, 1, 10, 30, 15, 0)
    assert link.clock is not None and link.clock.firmware and link.clock_error is None
    assert link.clock.pcf8563 is None  # no PCF8563 on the fake board's bus
    assert abs(link.clock.host_utc - when) < timedelta(seconds=1)
    # What the dowel's clock said before the host set it (the coincident time stamp).
    assert link.clock.board_utc == datetime(2000, 1, 1, tzinfo=UTC)
    board.machine.rtc = (2025, 3, 4, 1, 10, 29, 58, 0)  # 17 s behind the host, say
    assert connected(board, now=lambda: when).clock.board_utc == datetime(
        2025, 3, 4, 10, 29, 58, tzinfo=UTC
    )
    st = loghost.status(str(tmp_path / "logs"))
    assert st["rtc_set"] == [2025, 3, 4, 10, 30, 15]  # sessions from now on are dated
    log = board.device("logstore").Log()  # the firmware's own store, on the board's /logs
    log.begin_session(
        b"\x01" * 6, "0.1.0", b"h" * 8, "P-1", board.machine.rtc, 5, True, battery_pct=64
    )
    log.close()
    d = logread.decode(next((tmp_path / "logs").glob("*.dwl")).read_bytes())
    assert d.sessions[0].rtc == (2025, 3, 4, 10, 30, 15)
    assert d.sessions[0].battery_pct == 64


def test_a_fitted_pcf8563_is_set_too(tmp_path):
    chip = Pcf8563Chip()
    board = FakeBoard(tmp_path, machine=Machine(rtc_chip=chip))
    link = connected(board, now=lambda: datetime(2025, 3, 4, 10, 30, 15, tzinfo=UTC))
    assert link.clock.pcf8563 is True and link.clock.pcf8563_error is None
    assert Pcf8563(board.machine.I2C(0), 0x51).datetime() == board.machine.rtc


def test_a_connection_can_be_opened_without_setting_the_clock(tmp_path):
    board = FakeBoard(tmp_path)
    link = connected(board, set_clock=False)
    assert link.clock is None and board.machine.rtc[0] == 2000


def test_the_pull_keeps_the_ticks_and_dates_the_last_power_on(tmp_path, monkeypatch):
    """The dowel lost its clock, logged two sessions and stayed on until the pull: both dated
    from the pull's ticks, to the second, marked estimated; battery levels imported."""
    monkeypatch.setenv("DOWEL_HOME", str(tmp_path / "home"))
    board = FakeBoard(tmp_path / "flash")
    truth = [
        datetime(2025, 3, 7, 18, 5, 0, tzinfo=UTC),
        datetime(2025, 3, 7, 18, 40, 0, tzinfo=UTC),
    ]
    on_at = truth[0] - timedelta(minutes=3)
    log = board.device("logstore").Log()  # logged by the board's own firmware
    for t, battery in zip(truth, (81, None), strict=True):
        ms = int((t - on_at).total_seconds() * 1000)
        log.begin_session(
            b"\x02" * 6,
            "0.1.0",
            b"h" * 8,
            "P-9",
            (2000, 1, 1, 5, 0, 3, 0, 0),
            ms,
            False,
            battery_pct=battery,
        )
        log.add_rep(0, 1000, 4000, 0, 0, None, None, None, None, None, None)
    log.close()
    pull_at = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
    board.clock.advance_ms((pull_at - on_at).total_seconds() * 1000)  # on since `on_at`
    conn = db.connect()
    report = log_pull.pull(Link(board), conn, now=pull_at, raw_base=tmp_path / "raw")
    assert report.estimated == 2 and report.clock.boot == log.boot
    rows = repstore.session_rows(conn, "P-9")
    assert [r["started_utc"] for r in rows] == [t.isoformat() for t in truth]
    assert all(r["started_estimated"] for r in rows)
    assert [r["battery_pct"] for r in rows] == [81, None]


@pytest.mark.parametrize("version", [2])
def test_a_version_2_database_is_migrated_to_3(tmp_path, version):
    import sqlite3

    path = tmp_path / "old.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE sessions (device_id TEXT NOT NULL, session INTEGER NOT NULL, patient TEXT "
        "NOT NULL, started_utc TEXT, started_ticks INTEGER, firmware TEXT NOT NULL, config_hash "
        "TEXT NOT NULL, has_imu INTEGER NOT NULL, imported_utc TEXT NOT NULL, PRIMARY KEY "
        "(device_id, session));"
        "INSERT INTO sessions VALUES ('d', 1, 'P-1', NULL, 5, '0.1.0', 'h', 1, "
        "'2025-03-10T09:00:00+00:00');"
        f"PRAGMA user_version = {version};"
    )
    old.commit()
    old.close()
    conn = db.connect(path)
    row = conn.execute("SELECT started_estimated, battery_pct FROM sessions").fetchone()
    assert tuple(row) == (0, None)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == db.SCHEMA_VERSION
    # Its undated session gets an estimate (bounded by the pull that imported it).
    assert repstore.estimate_dates(conn, "d") == 1
    got = conn.execute("SELECT started_utc, started_estimated FROM sessions").fetchone()
    assert got[1] == 1 and got[0] <= "2025-03-10T09:00:00+00:00"
