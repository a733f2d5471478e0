"""Contact-loss detectors run on the same samples, and the scoring against the corpus truth.

    for det in detectors(params):
        events = det.run(trace)           # [(t_ms, "lost" | "contact"), ...]
    score = score_detector(det, corpus, params)

Every detector starts not in contact, sees the samples in order, and reports an event at the
sample that causes it. Parameters are chosen to be fair, and each states them (`det.params`):

- **dowel Contact**: the firmware's own `dowel.contact.Contact(on, off, loss_ms, regain_ms)`,
  fed `dt_ms` = the difference of the trace's sample times.
- The peers all read the same hysteresis comparator (`Schmitt`: low below `off`, high from `on`,
  unchanged in between), the fairest input they can get: a single threshold can only chatter
  more. Only the time rule differs.
- **raw threshold**: the comparator alone, no time window.
- **fixed-count debounce**: `n` consecutive samples at the new level, tuned per trace to its own
  nominal period so that at perfectly regular sampling it fires exactly when the window does:
  `n = ceil(loss_ms / period) + 1` (the first sample of the dip is at age 0).
- **adafruit_debouncer.Debouncer** over a predicate (the comparator), `interval = loss_ms`.
  It reads its own clock (`adafruit_ticks.ticks_ms`, imported into the module by name); the run
  swaps that one name for a clock that returns the current sample's time, wrapped at 2**29 like
  the real one. The library's logic runs unchanged.
- **chumicro_buttons.Button**, `settle_ms = loss_ms`, with the library's own MicroPython
  single-pin source (`MpButtonSource`, pin interrupt into a ring, debounced on `check(now_ms)`)
  and the library's injectable clock (`chumicro_timing.testing.FakeTicks`) set to each sample's
  time. On CPython the library refuses to build a pin source, so the run hands it a `machine.Pin`
  double whose level is the comparator and whose interrupt fires when that level changes at a
  sample. Both libraries have one window for both directions, so they regain after `loss_ms`.
"""

from __future__ import annotations

import math
import statistics
import sys
import types
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from dowel.contact import CONTACT, LOST, Contact

from bench.corpus import Params, Trace

Events = list[tuple[int, str]]


class Schmitt:
    """The hysteresis comparator every peer reads: high from `on`, low below `off`."""

    def __init__(self, on: int, off: int):
        self.on = on
        self.off = off
        self.high = False

    def feed(self, reading: int) -> bool:
        if reading >= self.on:
            self.high = True
        elif reading < self.off:
            self.high = False
        return self.high


@dataclass
class Detector:
    name: str
    params: str
    run: Callable[[Trace], Events]
    note: str = ""


def run_contact(p: Params) -> Callable[[Trace], Events]:
    def run(trace: Trace) -> Events:
        c = Contact(p.on, p.off, p.loss_ms, p.regain_ms)
        events: Events = []
        last = trace.times_ms[0]
        for t, reading in zip(trace.times_ms, trace.readings, strict=True):
            event = c.update(reading, t - last)
            last = t
            if event == LOST:
                events.append((t, "lost"))
            elif event == CONTACT:
                events.append((t, "contact"))
        return events

    return run


def run_raw_threshold(p: Params) -> Callable[[Trace], Events]:
    def run(trace: Trace) -> Events:
        comp = Schmitt(p.on, p.off)
        events: Events = []
        touching = False
        for t, reading in zip(trace.times_ms, trace.readings, strict=True):
            high = comp.feed(reading)
            if high != touching:
                touching = high
                events.append((t, "contact" if high else "lost"))
        return events

    return run


def fixed_counts(p: Params, period_ms: int) -> tuple[int, int]:
    return math.ceil(p.loss_ms / period_ms) + 1, math.ceil(p.regain_ms / period_ms) + 1


def run_fixed_count(p: Params) -> Callable[[Trace], Events]:
    def run(trace: Trace) -> Events:
        n_loss, n_regain = fixed_counts(p, trace.period_ms)
        comp = Schmitt(p.on, p.off)
        events: Events = []
        touching = False
        count = 0
        for t, reading in zip(trace.times_ms, trace.readings, strict=True):
            high = comp.feed(reading)
            count = count + 1 if high != touching else 0
            if count >= (n_regain if high else n_loss):
                touching = high
                count = 0
                events.append((t, "contact" if high else "lost"))
        return events

    return run


class TraceClock:
    """The trace's time as a ticks_ms source: what the device's clock would read at a sample."""

    TICKS_MAX = (1 << 29) - 1  # adafruit_ticks and chumicro_timing both wrap at 2**29

    def __init__(self) -> None:
        self.now_ms = 0

    def ticks_ms(self) -> int:
        return self.now_ms & self.TICKS_MAX


@contextmanager
def adafruit_clock(clock: TraceClock) -> Iterator[None]:
    import adafruit_debouncer

    saved = adafruit_debouncer.ticks_ms
    adafruit_debouncer.ticks_ms = clock.ticks_ms
    try:
        yield
    finally:
        adafruit_debouncer.ticks_ms = saved


def run_adafruit(p: Params) -> Callable[[Trace], Events]:
    def run(trace: Trace) -> Events:
        from adafruit_debouncer import Debouncer

        comp = Schmitt(p.on, p.off)
        clock = TraceClock()
        events: Events = []
        with adafruit_clock(clock):
            clock.now_ms = trace.times_ms[0]
            deb = Debouncer(lambda: comp.high, interval=p.loss_ms / 1000)
            for t, reading in zip(trace.times_ms, trace.readings, strict=True):
                clock.now_ms = t
                comp.feed(reading)
                deb.update()
                if deb.fell:
                    events.append((t, "lost"))
                elif deb.rose:
                    events.append((t, "contact"))
        return events

    return run


class _PinDouble:
    """A digital input whose level is the comparator: what `machine.Pin` would read if the FSR
    fed a Schmitt comparator wired to a GPIO. `set()` fires the interrupt on a change."""

    IN = 1
    OUT = 2
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_RISING = 1
    IRQ_FALLING = 2

    def __init__(self) -> None:
        self.level = 0
        self.handler: Callable[[object], None] | None = None

    def init(self, *args: object, **kwargs: object) -> None:
        pass

    def value(self) -> int:
        return self.level

    def irq(self, handler: Callable[[object], None] | None = None, trigger: int = 0) -> None:
        self.handler = handler

    def set(self, level: int) -> None:
        if level != self.level:
            self.level = level
            if self.handler is not None:
                self.handler(self)


@contextmanager
def _machine_double() -> Iterator[None]:
    """`machine` with only `Pin`, for as long as the library's source is being built."""
    saved = sys.modules.get("machine")
    module = types.ModuleType("machine")
    module.Pin = _PinDouble  # type: ignore[attr-defined]
    sys.modules["machine"] = module
    try:
        yield
    finally:
        if saved is None:
            del sys.modules["machine"]
        else:
            sys.modules["machine"] = saved


def run_chumicro(p: Params, polled: bool) -> Callable[[Trace], Events]:
    """`polled`: the library's polled source (`MpKeyMatrixSource`, one row by one column),
    which samples the pin on `check(now_ms)` as an ADC loop does; else its pin-interrupt source
    (`MpButtonSource`), whose interrupt here fires at the sample that shows the new level."""

    def run(trace: Trace) -> Events:
        from chumicro_buttons import Button
        from chumicro_buttons._adapters.mp import MpButtonSource, MpKeyMatrixSource
        from chumicro_timing.testing import FakeTicks

        ticks = FakeTicks(start_ms=trace.times_ms[0])
        pin = _PinDouble()
        with _machine_double():
            if polled:
                # A pressed key reads the driven row's level (0) on its column.
                pin.level = 1
                source = MpKeyMatrixSource(
                    (_PinDouble(),), (pin,), settle_ms=p.loss_ms, ticks=ticks
                )
            else:
                source = MpButtonSource((pin,), active_low=False, settle_ms=p.loss_ms, ticks=ticks)
        button = Button(ticks=ticks, source=source, long_press_ms=0)
        comp = Schmitt(p.on, p.off)
        events: Events = []
        for t, reading in zip(trace.times_ms, trace.readings, strict=True):
            ticks.advance(t - ticks.ticks_ms())
            high = comp.feed(reading)
            pin.set((0 if high else 1) if polled else (1 if high else 0))
            button.check(ticks.ticks_ms())
            if button.just_released:
                events.append((t, "lost"))
            elif button.just_pressed:
                events.append((t, "contact"))
        return events

    return run


def detectors(p: Params) -> list[Detector]:
    """Ours first, then the peers; a peer whose library is missing is reported, not skipped."""
    found = [
        Detector(
            "dowel Contact",
            f"on={p.on} off={p.off} loss_ms={p.loss_ms} regain_ms={p.regain_ms}",
            run_contact(p),
        ),
        Detector(
            "raw threshold", f"comparator on={p.on} off={p.off}, no window", run_raw_threshold(p)
        ),
        Detector(
            "fixed-count debounce",
            f"n=ceil({p.loss_ms}/period)+1 samples (4/10/20 ms: "
            + "/".join(str(fixed_counts(p, q)[0]) for q in (4, 10, 20))
            + f"), regain n=ceil({p.regain_ms}/period)+1",
            run_fixed_count(p),
        ),
    ]
    try:
        import adafruit_debouncer

        found.append(
            Detector(
                "adafruit Debouncer",
                f"{adafruit_debouncer.__version__}, predicate=comparator, "
                f"interval={p.loss_ms / 1000:g} s; the module's ticks_ms swapped for the "
                "sample's time (29-bit wrap, as adafruit_ticks), its logic unchanged",
                run_adafruit(p),
            )
        )
    except ImportError as exc:
        found.append(Detector("adafruit Debouncer", "", _missing, f"not installed: {exc}"))
    try:
        from importlib.metadata import version

        import chumicro_buttons  # noqa: F401

        ver = version("chumicro-buttons")
        found.append(
            Detector(
                "chumicro Button, polled",
                f"{ver}, its polled MicroPython source (MpKeyMatrixSource, 1 row x 1 column), "
                f"settle_ms={p.loss_ms}; its own injectable clock (FakeTicks) set to the "
                "sample's time; a machine.Pin double at the comparator's level",
                run_chumicro(p, polled=True),
            )
        )
        found.append(
            Detector(
                "chumicro Button, pin irq",
                f"{ver}, its pin-interrupt MicroPython source (MpButtonSource), "
                f"settle_ms={p.loss_ms}; FakeTicks as above; the interrupt fires at the sample "
                "that shows a new comparator level",
                run_chumicro(p, polled=False),
            )
        )
    except ImportError as exc:
        found.append(Detector("chumicro Button", "", _missing, f"not installed: {exc}"))
    return found


def _missing(trace: Trace) -> Events:
    raise RuntimeError("detector not available")


@dataclass
class Score:
    losses: int = 0
    missed: int = 0
    false_lost: int = 0
    false_by_family: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[int] = field(default_factory=list)  # past the window, per detected loss
    late: int = 0  # fired a whole sample gap or more after the window had passed
    early: int = 0  # fired before the loss had been seen for a whole window
    missed_names: list[str] = field(default_factory=list)
    false_names: list[str] = field(default_factory=list)

    @property
    def detected(self) -> int:
        return self.losses - self.missed

    def latency(self, q: str) -> float | None:
        if not self.latencies_ms:
            return None
        if q == "median":
            return statistics.median(self.latencies_ms)
        return max(self.latencies_ms) if q == "max" else min(self.latencies_ms)


def score_trace(events: Events, trace: Trace, p: Params, score: Score) -> None:
    """Match `lost` events to the true losses of one trace.

    Detected: a `lost` at a sample taken while the force was gone, [start, end). Latency past
    the window: fire time minus (the loss's first sample below `off` + loss_ms), the earliest
    instant the samples can show a whole window of loss (noise can put the loss's first sample
    in the band between the thresholds, where it shows nothing). Any detector that honours the
    window at sample times fires less than one gap (the gap ending at the firing sample) after
    that: otherwise `late`. Every other `lost` is false.
    """
    times = trace.times_ms
    readings = trace.readings
    lost_times = [t for t, kind in events if kind == "lost"]
    matched: set[int] = set()
    for start, end in trace.losses:
        score.losses += 1
        hits = [t for t in lost_times if start <= t < end]
        if not hits:
            score.missed += 1
            score.missed_names.append(f"{trace.name}@{start}")
            continue
        fire = hits[0]
        matched.add(fire)
        inside = [i for i, t in enumerate(times) if start <= t < end]
        first = next((times[i] for i in inside if readings[i] < p.off), times[inside[0]])
        latency = fire - (first + p.loss_ms)
        gap = fire - times[times.index(fire) - 1]
        score.latencies_ms.append(latency)
        if latency < 0:
            score.early += 1
        elif latency >= gap:
            score.late += 1
    for t in lost_times:
        if t not in matched:
            score.false_lost += 1
            score.false_by_family[trace.family] = score.false_by_family.get(trace.family, 0) + 1
            score.false_names.append(f"{trace.name}@{t}")


def score_detector(det: Detector, corpus: Iterable[Trace], p: Params) -> Score:
    score = Score()
    for trace in corpus:
        score_trace(det.run(trace), trace, p, score)
    return score
