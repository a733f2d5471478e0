"""Sessions placed on the calendar when the dowel's clock could not date them.

    est = estimate(points, anchors, not_before=calibrated_at, not_after=pulled_at)
    est[key].started, est[key].earliest, est[key].latest, est[key].how

An ESP32 has no battery-backed clock: after a power-off its RTC restarts at 2000-01-01 and
the sessions it logs carry ticks only (`dowel.logstore`). What the host still knows:

- the order of the sessions (the device numbers them as it starts them);
- each session's `ticks_ms` at its start: milliseconds since the chip last reset (a power-on,
  or a hard reset), unchanged by a soft reset (ports/esp32/mphalport.c: `esp_timer_get_time`),
  wrapping at 2**30 ms (about 12.4 days; extmod/modtime.c, MICROPY_PY_TIME_TICKS_PERIOD);
- each session's `boot`, a random number the store draws every time the firmware starts: two
  sessions with the same boot were logged with no reset between them, so their ticks differ by
  the real time between them (a decrease is the counter's wrap);
- the dated sessions (the host set the clock, and it has run since);
- anchors: the board's ticks at a known host time (read at each pull, `dowel.clock.sync`),
  with the boot of the last session begun since the interpreter started.

A *run* is a series of sessions with one boot (format 1 logs, without boots: rising ticks).
A run is *fixed* when one of its sessions is dated, or an anchor carries its boot (the pull
came before any reset): then every session in it is at the power-on time plus its ticks, off
only by the crystal's drift (DRIFT_PPM). The others *float*: a run started at power-on, which
came after the previous run ended, and ended before the next known time. Between two known
times the floating runs keep their order and their own lengths, and the spare time is shared
out in equal gaps, which is the mean placement when every ordering of the gaps is equally
likely; `earliest` and `latest` are the bounds the facts allow (all gaps before, or after).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

TICKS_PERIOD_MS = 1 << 30  # MicroPython's ticks_ms wraps here (a small int on the ESP32)
# The ESP32's esp_timer runs from the 40 MHz crystal; DevKit crystals are +-10 ppm, aged and
# over temperature some tens: 50 ppm is 30 s over a week.
DRIFT_PPM = 50
MIN_ERROR = timedelta(seconds=2)  # ticks read at a session's start, the host's round trip
# With no earlier known time at all (no dated session, no calibration, no earlier pull), the
# floating sessions before the first known time are assumed to lie within this of it.
NO_LOWER_BOUND = timedelta(days=14)


@dataclass(frozen=True)
class Point:
    """One session, given in the order the device started them."""

    key: Hashable
    ticks_ms: int | None
    boot: int | None  # None: format 1 log
    started: datetime | None  # dated by the device's clock; None: to estimate
    length_ms: int = 0  # from its start to its last rep's end


@dataclass(frozen=True)
class Anchor:
    """A known host time: after the first `position` points, before the rest. With `ticks_ms`
    it is the board's reading at `at` (and `boot` its last session's boot, see above); without,
    a bound only (an old pull's time)."""

    at: datetime
    position: int
    ticks_ms: int | None = None
    boot: int | None = None


@dataclass(frozen=True)
class Estimate:
    started: datetime
    earliest: datetime
    latest: datetime
    how: str  # "ticks": from a dated session or a pull in the same run; "placed": see above


@dataclass
class _Run:
    first: int  # index of its first point
    points: list[Point]
    ticks: list[int]  # unwrapped
    power_on: datetime | None = None  # fixed runs: the time its ticks count from
    exact: bool = False  # fixed by a dated session or an anchor

    @property
    def span_ms(self) -> int:
        """From its power-on to its last session's end."""
        return self.ticks[-1] + self.points[-1].length_ms

    @property
    def last(self) -> int:
        return self.first + len(self.points) - 1


def _runs(points: Sequence[Point]) -> list[_Run]:
    runs: list[_Run] = []
    for i, p in enumerate(points):
        prev = runs[-1] if runs else None
        ticks = p.ticks_ms if p.ticks_ms is not None else 0
        same = (
            prev is not None
            and p.ticks_ms is not None
            and prev.points[-1].ticks_ms is not None
            and p.boot == prev.points[-1].boot
        )
        if same and p.boot is None:
            same = ticks >= prev.points[-1].ticks_ms  # format 1: a decrease is a reset
        if same:
            assert prev is not None
            wraps = (prev.ticks[-1] // TICKS_PERIOD_MS) * TICKS_PERIOD_MS
            t = wraps + ticks
            if t < prev.ticks[-1]:  # same boot, lower ticks: the counter wrapped
                t += TICKS_PERIOD_MS
            prev.points.append(p)
            prev.ticks.append(t)
        else:
            runs.append(_Run(first=i, points=[p], ticks=[ticks]))
    return runs


def _fix(run: _Run, anchors: Sequence[Anchor]) -> None:
    dated = [(i, p) for i, p in enumerate(run.points) if p.started is not None]
    if dated and run.points[dated[0][0]].ticks_ms is not None:
        # The latest dated session: the clock was set closest to it.
        i, p = dated[-1]
        assert p.started is not None
        run.power_on = p.started - timedelta(milliseconds=run.ticks[i])
        run.exact = True
        return
    boot = run.points[-1].boot
    for a in anchors:
        if (
            boot is not None
            and a.boot == boot
            and a.ticks_ms is not None
            and a.position == run.last + 1
        ):
            t = a.ticks_ms
            while t < run.ticks[-1]:
                t += TICKS_PERIOD_MS
            run.power_on = a.at - timedelta(milliseconds=t)
            run.exact = True
            return


def estimate(
    points: Sequence[Point],
    anchors: Sequence[Anchor] = (),
    *,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> dict[Hashable, Estimate]:
    """An Estimate for every point without a date (`started` None), keyed by `key`."""
    runs = _runs(points)
    for run in runs:
        _fix(run, anchors)
    # The timeline: fixed runs and anchors are known times, floating runs go between them.
    known: list[tuple[int, datetime, datetime]] = []  # (position, start, end); position: index
    for run in runs:
        if run.exact:
            assert run.power_on is not None
            start = run.power_on + timedelta(milliseconds=run.ticks[0])
            end = run.power_on + timedelta(milliseconds=run.span_ms)
            known.append((run.first, start, end))
    for a in anchors:
        known.append((a.position, a.at, a.at))  # an anchor at position p precedes point p
    if not_after is not None:
        known.append((len(points), not_after, not_after))
    known.sort(key=lambda k: (k[0], k[1]))
    out: dict[Hashable, Estimate] = {}
    floating = [r for r in runs if not r.exact]
    for run in runs:
        if run.exact:
            _exact(run, out)
    groups: list[list[_Run]] = []
    cuts = {a.position for a in anchors}  # a known time between two runs parts them
    for run in floating:
        if groups and groups[-1][-1].last + 1 == run.first and run.first not in cuts:
            groups[-1].append(run)
        else:
            groups.append([run])
    for group in groups:
        lo_pos, hi_pos = group[0].first, group[-1].last + 1
        before = [k for k in known if k[0] <= lo_pos and k[0] < hi_pos]
        after = [k for k in known if k[0] >= hi_pos]
        lower = max((k[2] for k in before), default=None)
        upper = min((k[1] for k in after), default=None)
        if not_before is not None and (lower is None or not_before > lower):
            lower = not_before
        total = timedelta(milliseconds=sum(r.span_ms for r in group))
        if upper is None:
            upper = (lower or datetime.now().astimezone()) + total
        if lower is None or lower > upper:
            lower = upper - total - NO_LOWER_BOUND
        _place(group, lower, upper, out)
    return out


def _drift(elapsed: timedelta) -> timedelta:
    return max(MIN_ERROR, abs(elapsed) * DRIFT_PPM / 1_000_000)


def _exact(run: _Run, out: dict) -> None:
    assert run.power_on is not None
    dated = [i for i, p in enumerate(run.points) if p.started is not None]
    for i, p in enumerate(run.points):
        if p.started is not None:
            continue
        started = run.power_on + timedelta(milliseconds=run.ticks[i])
        ref = run.ticks[dated[-1]] if dated else run.span_ms
        err = _drift(timedelta(milliseconds=ref - run.ticks[i]))
        out[p.key] = Estimate(started, started - err, started + err, "ticks")


def _place(group: list[_Run], lower: datetime, upper: datetime, out: dict) -> None:
    spans = [timedelta(milliseconds=r.span_ms) for r in group]
    slack = max(timedelta(0), upper - lower - sum(spans, timedelta(0)))
    gap = slack / (len(group) + 1)
    power_on = lower + gap
    for j, run in enumerate(group):
        earliest_on = lower + sum(spans[:j], timedelta(0))
        latest_on = upper - sum(spans[j:], timedelta(0))
        for i, p in enumerate(run.points):
            if p.started is not None:
                continue
            tick = timedelta(milliseconds=run.ticks[i])
            out[p.key] = Estimate(
                power_on + tick, earliest_on + tick, max(earliest_on, latest_on) + tick, "placed"
            )
        power_on += spans[j] + gap
