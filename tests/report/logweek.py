"""A week of practice written by the firmware's own log store and pulled by the host's importer.

    week = plan_week()                       # what the patient did, as plain Python
    live_week(week, flash, conn)             # the dowel writes it; the host pulls it
    week.dated_on(date(2025, 3, 4))          # expected figures come from these lists

Unlike `weekdata` (rows written straight into SQLite), every rep here goes through
`dowel.logstore.Log.begin_session`/`add_rep` with the arguments `dowel.app` passes, on a temp
dir as flash, and reaches the database through `host_tools.logs.pull.pull` over the fake link of
`tests/fakes/board.py` (the real device code strings run under CPython).

Patient P-0007, prescription 3x10/day, one dowel, Mon 3 to Sun 9 March 2025 (UTC):
- Mon 3, 09:00: the visit: calibrated, first pull (sets the dowel's clock); 2 sessions later;
- Tue 4: 3 sessions; Wed 5: none;
- Thu 6: the IMU unplugged: 2 sessions without it, a pull at 13:00 between them;
- Fri 7: 3 sessions, one of them a rep started and never finished (a session with no reps);
- Sat 8: 2 sessions, then the battery ran flat: after it the clock reads 2000-01-01, so the
  third session (5 minutes after it was switched back on) is undated; the dowel then stays on
  until the final pull, which reads its ticks and so dates that session exactly (estimated,
  `host_tools.store.dates`); Sun 9: none;
- Mon 10, 08:00: the final pull.
Reps are clean or lose each point first (some lose a second point later), with known depths,
loss pitches (one while still standing, below 0) and tempo; a few are long enough or far enough
apart to need the log's long record and wide gap forms.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

from dowel import config as dconfig
from dowel import logstore
from dowel.version import FIRMWARE

from host_tools.board.link import Link
from host_tools.logs import pull as log_pull
from tests.fakes.board import FakeBoard
from tests.fakes.machine import Clock, Machine

UTC = timezone.utc
PATIENT = "P-0007"
SETS, REPS_PER_SET = 3, 10
DEVICE_ID = b"\x24\x6f\x28\xa1\xb2\xc3"  # machine.unique_id(): the ESP32's MAC
DEVICE_HEX = DEVICE_ID.hex()
VISIT = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
MIDWEEK_PULL = datetime(2025, 3, 6, 13, 0, tzinfo=UTC)
FINAL_PULL = datetime(2025, 3, 10, 8, 0, tzinfo=UTC)
FIRST_DAY = date(2025, 3, 3)
LAST_DAY = date(2025, 3, 9)
POINTS = ("head", "midback", "sacrum")  # first_lost 1, 2, 3; lost_mask bits 0, 1, 2
# The RTC after the battery ran flat: the ESP32 restarts it at 2000-01-01 (a Saturday).
FLAT_RTC = (2000, 1, 1, 5, 0, 3, 12, 0)
POWER_ON_MS = 300_517  # that session began 5 minutes after the dowel was switched back on


@dataclass
class Session:
    started: datetime  # when the patient started (the RTC is wrong when `clock_lost`)
    has_imu: bool
    reps: list[tuple] = field(default_factory=list)  # add_rep argument tuples, in order
    clock_lost: bool = False
    number: int = 0  # what begin_session returned

    @property
    def dated(self) -> bool:
        return not self.clock_lost

    @property
    def day(self) -> date:
        return self.started.date()

    @property
    def key(self) -> str:
        return f"{DEVICE_HEX}/{self.number}"


@dataclass
class Week:
    sessions: list[Session]
    pulls: list[log_pull.PullReport] = field(default_factory=list)

    @property
    def dated(self) -> list[Session]:
        return [s for s in self.sessions if s.dated]

    def dated_on(self, day: date) -> list[Session]:
        return [s for s in self.dated if s.day == day]


def rtc_reading(moment: datetime) -> tuple[int, ...]:
    """What machine.RTC().datetime() returns at `moment` (the host set it to UTC)."""
    t = moment.astimezone(UTC)
    return (t.year, t.month, t.day, t.weekday(), t.hour, t.minute, t.second, 0)


def _rep(
    rng: random.Random,
    seq: int,
    start_ms: int,
    imu: bool,
    outcome: int,
    second: int | None,
    duration_ms: int,
) -> tuple:
    """One rep as `dowel.app` logs it: loss fields only when a point was lost, IMU fields
    only with an IMU, and lower + pause + rise = duration (`RepMachine._phases`)."""
    mask = 0 if outcome == 0 else 1 << (outcome - 1)
    if second is not None:
        mask |= 1 << (second - 1)
    loss_at = rng.randint(300, duration_ms - 300) if mask else None
    if not imu:
        return (seq, start_ms, duration_ms, mask, outcome, loss_at, None, None, None, None, None)
    depth = rng.randint(250, 700)
    # A head lost while still standing is at a pitch just under 0.
    pitch = (
        (rng.randint(-40, -5) if outcome == 1 and seq % 2 else rng.randint(100, depth))
        if mask
        else None
    )
    lower = rng.randint(800, duration_ms // 2)
    pause = rng.randint(0, (duration_ms - lower) // 3)
    return (
        seq,
        start_ms,
        duration_ms,
        mask,
        outcome,
        loss_at,
        pitch,
        depth,
        lower,
        pause,
        duration_ms - lower - pause,
    )


def _reps(rng: random.Random, n: int, imu: bool, long_rep: bool = False) -> list[tuple]:
    reps = []
    t = 0  # the session's clock: its first rep starts at 0 (`App._begin_session`)
    for seq in range(n):
        outcome = rng.choices((0, 1, 2, 3), weights=(50, 15, 12, 23))[0]
        second = None
        if outcome and rng.random() < 0.3:
            second = rng.choice([p for p in (1, 2, 3) if p != outcome])
        duration = rng.randint(2500, 7000)
        if long_rep and seq == n // 2:
            duration = 21000  # past the short record's 14-bit duration
        reps.append(_rep(rng, seq, t, imu, outcome, second, duration))
        rest = rng.randint(800, 4000) if rng.random() < 0.85 else rng.randint(20000, 180000)
        t += duration + rest
    return reps


def plan_week(seed: int = 11) -> Week:
    rng = random.Random(seed)

    def at(day: int, hour: int, minute: int) -> datetime:
        return datetime(2025, 3, day, hour, minute, rng.randrange(60), tzinfo=UTC)

    sessions = [
        Session(at(3, 12, 10), True, _reps(rng, 10, True)),
        Session(at(3, 19, 40), True, _reps(rng, 11, True, long_rep=True)),
        Session(at(4, 7, 5), True, _reps(rng, 10, True)),
        Session(at(4, 12, 30), True, _reps(rng, 9, True)),
        Session(at(4, 20, 15), True, _reps(rng, 12, True)),
        Session(at(6, 8, 0), False, _reps(rng, 10, False)),
        Session(at(6, 18, 45), False, _reps(rng, 11, False, long_rep=True)),
        Session(at(7, 7, 30), True, _reps(rng, 10, True)),
        Session(at(7, 13, 0), True, []),  # a rep started, the dowel was put down mid-rep
        Session(at(7, 13, 20), True, _reps(rng, 12, True)),
        Session(at(8, 9, 10), True, _reps(rng, 10, True)),
        Session(at(8, 17, 0), True, _reps(rng, 10, True)),
        Session(at(8, 21, 0), True, _reps(rng, 8, True), clock_lost=True),
    ]
    week = Week(sessions)
    reps = [r for s in sessions for r in s.reps]
    # The seed must give the mix the tests rely on: never silently a weaker week.
    assert {r[4] for r in reps} == {0, 1, 2, 3}, "every outcome"
    assert any(bin(r[3]).count("1") > 1 for r in reps), "a rep losing two points"
    assert any(r[6] is not None and r[6] < 0 for r in reps), "a loss while standing"
    assert all(s.day.weekday() not in (2, 6) for s in sessions), "Wed and Sun skipped"
    return week


def live_week(week: Week, flash: Path, conn, segment_bytes: int = logstore.SEGMENT_BYTES) -> Week:
    """Write `week` through the dowel's log store as the firmware would, pulling at the visit,
    mid-week and at the end. Boots: one per day (and after each pull: the board soft-resets,
    and after the battery ran flat); `Log.close` where the app's `finally` runs it."""
    cfg = dconfig.defaults()
    cfg["patient"] = PATIENT
    cfg_hash = dconfig.config_hash(cfg)
    raw = flash.parent / "raw"
    flash.parent.mkdir(parents=True, exist_ok=True)  # the board's "/": it always exists

    def pull(now: datetime, ticks_ms: int = 0, boot: int | None = None) -> None:
        board = FakeBoard(
            flash.parent, machine=Machine(clock=Clock(ticks_ms), device_id=DEVICE_ID)
        )
        # The dowel has stayed on since the session of `boot` began: its interpreter holds it.
        board.device("running").session_boot = boot
        week.pulls.append(log_pull.pull(Link(board, port="fake"), conn, now=now, raw_base=raw))

    pull(VISIT)  # at the visit: sets the RTC, so the week's sessions are dated
    log = None
    boot_day = None
    pulled_midweek = False
    for ticks, s in enumerate(week.sessions):
        if not pulled_midweek and s.started > MIDWEEK_PULL:
            if log is not None:
                log.close()  # Ctrl-C from the host stops the loop
                log = None
            pull(MIDWEEK_PULL)
            pulled_midweek = True
        if log is None or s.day != boot_day or s.clock_lost:
            if log is not None:
                log.close()
            log = logstore.Log(root=str(flash), segment_bytes=segment_bytes)
            boot_day = s.day
        rtc = FLAT_RTC if s.clock_lost else rtc_reading(s.started)
        ticks_ms = POWER_ON_MS if s.clock_lost else 1000 * ticks + 517
        s.number = log.begin_session(
            DEVICE_ID, FIRMWARE, cfg_hash, PATIENT, rtc, ticks_ms, s.has_imu
        )
        for rep in s.reps:
            assert log.add_rep(*rep), f"rep {rep} of session {s.number} not written"
    if log is not None:
        log.close()
    # The board's ticks at the final pull: it has run since the session after the flat battery.
    lost = [s for s in week.sessions if s.clock_lost][-1]
    since_ms = int((FINAL_PULL - lost.started).total_seconds() * 1000)
    pull(FINAL_PULL, ticks_ms=POWER_ON_MS + since_ms, boot=log.boot if log else None)
    return week
