"""A seeded corpus of single-sensor FSR traces with ground truth, for scoring contact-loss
detectors side by side.

    params = Params.from_config()                 # on/off/loss_ms/regain_ms of config.defaults()
    for trace in make_corpus(240, params):        # the same 240 traces on every run
        trace.times_ms, trace.readings            # what a detector sees: int ms, read_u16 counts
        trace.losses, trace.dips                  # the truth: [start_ms, end_ms) intervals

The truth is physical, not a detector's output. Each trace is a timeline of segments in which
the point either presses the dowel (*contact*) or its force is gone (*gone*); every edge is a
step. A detector samples that timeline at irregular times, plus Gaussian noise.

- A **true loss** is a gone segment lasting at least `loss_ms + 2 * max_gap_ms`: it must fire
  `lost` while the force is still gone. The `2 * max_gap_ms` (the trace's longest sample gap)
  is the guard band of any sampled detector: the first sample in the loss can come up to one gap
  after it began and the last up to one gap before it ended, so a loss only just longer than the
  window can show the detector less than a window of samples. The corpus generates no gone
  segment in the band `[loss_ms, loss_ms + 2 * max_gap_ms)`: nothing decides it.
- A **dip** is a gone segment shorter than `loss_ms` (grip dips, chatter, one-sample glitches):
  it must not fire.
- The calibration contract: the noiseless level of a contact segment stays at least
  `2 * noise + 1500` counts above `on`, and of a gone segment as far below `off` (that is what
  calibration sets the thresholds for). Noise is unclipped Gaussian, so it can still step over.
- After a true loss the point presses again for at least `regain_ms + 2 * max_gap_ms` before the
  next gone segment, so every detector has been able to regain contact; contact segments
  between dips last at least `2 * max_gap_ms`, so they hold at least two samples.

Families (in turn): `losses` (true losses of many lengths, some just past the guard band),
`dips` (sub-window dips, some shorter than a sample gap), `chatter` (bursts of short dips),
`drift` (the contact and gone levels wander slowly, with losses and dips on top), `mixed`.
Noise sigma cycles through NOISE_COUNTS and the nominal sample period through PERIODS_MS;
each gap is the nominal period times U(0.5, 1.5), with occasional stalls of 2-5 periods (a
garbage collection, a flash write). Trace `i` depends only on `(seed, i)`, so a shorter corpus
is a prefix of a longer one.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

FAMILIES = ("losses", "dips", "chatter", "drift", "mixed")
NOISE_COUNTS = (0, 300, 800, 1600)
PERIODS_MS = (4, 10, 20)  # the loop asks for 4 ms (250 Hz); slower loops are scored too
STALL_CHANCE = 0.01
FULL_SCALE = 65535
DEFAULT_SEED = 8
HORIZON_MS = 30000  # sample times are drawn this far; the longest timeline is about half


@dataclass(frozen=True)
class Params:
    on: int
    off: int
    loss_ms: int
    regain_ms: int

    @classmethod
    def from_config(cls) -> Params:
        """The firmware's default thresholds and windows (`dowel.config.defaults()`)."""
        from dowel import config

        cfg = config.defaults()
        sensor = cfg["sensors"]["sacrum"]
        return cls(sensor["on"], sensor["off"], cfg["loss_ms"], cfg["regain_ms"])


@dataclass(frozen=True)
class Trace:
    name: str
    family: str
    noise_counts: int
    period_ms: int  # nominal
    max_gap_ms: int
    times_ms: tuple[int, ...]
    readings: tuple[int, ...]
    losses: tuple[tuple[int, int], ...]  # true losses, [start, end) ms
    dips: tuple[tuple[int, int], ...]  # gone segments shorter than loss_ms

    @property
    def duration_ms(self) -> int:
        return self.times_ms[-1] - self.times_ms[0]


def _sample_times(rng: random.Random, period_ms: int, until_ms: int) -> list[int]:
    times = [0]
    t = 0
    rand = rng.random
    while t < until_ms:
        if rand() < STALL_CHANCE:
            gap = period_ms * rng.randint(2, 5)
        else:
            gap = max(1, round(period_ms * (0.5 + rand())))
        t += gap
        times.append(t)
    return times


class _Timeline:
    """Contact/gone segments laid end to end from t = 0."""

    def __init__(self, rng: random.Random, p: Params, noise: int, max_gap: int):
        self.rng = rng
        self.p = p
        self.max_gap = max_gap
        self.margin = 2 * noise + 1500
        self.t = 0
        self.segments: list[tuple[int, int, bool, float, float]] = []  # start, end, gone, a, b
        self.losses: list[tuple[int, int]] = []
        self.dips: list[tuple[int, int]] = []

    # Levels: a segment's noiseless level goes linearly from a to b (drift families pass
    # their own). Contact sits at least `margin` above on, gone at least `margin` below off.
    def contact_level(self) -> float:
        return self.rng.uniform(self.p.on + self.margin, 52000)

    def gone_level(self, deep: bool) -> float:
        top = max(0, self.p.off - self.margin)
        return self.rng.uniform(0, min(top, 4000) if deep else top)

    def contact(self, length: int, a: float | None = None, b: float | None = None) -> None:
        a = self.contact_level() if a is None else a
        b = a + self.rng.uniform(-3000, 3000) if b is None else b
        b = min(max(b, self.p.on + self.margin), FULL_SCALE)
        self._add(length, False, a, b)

    def gone(self, length: int, deep: bool = True, level: float | None = None) -> None:
        w = self.p.loss_ms
        assert length < w or length >= w + 2 * self.max_gap, "gone segment in the guard band"
        lvl = self.gone_level(deep) if level is None else level
        (self.losses if length >= w else self.dips).append((self.t, self.t + length))
        self._add(length, True, lvl, lvl)

    def _add(self, length: int, gone: bool, a: float, b: float) -> None:
        self.segments.append((self.t, self.t + length, gone, a, b))
        self.t += length

    # Building blocks shared by the families.
    def settle(self) -> None:
        self.contact(self.p.regain_ms + 2 * self.max_gap + self.rng.randint(100, 400))

    def after_loss(self) -> None:
        self.contact(self.p.regain_ms + 2 * self.max_gap + self.rng.randint(150, 800))

    def between_dips(self) -> None:
        self.contact(2 * self.max_gap + self.rng.randint(0, 400))

    def loss_length(self) -> int:
        floor = self.p.loss_ms + 2 * self.max_gap
        if self.rng.random() < 0.35:  # just past the guard band: the hardest to get in time
            return floor + self.rng.randint(0, 15)
        return round(math.exp(self.rng.uniform(math.log(floor), math.log(3000))))

    def dip_length(self) -> int:
        w = self.p.loss_ms
        pick = self.rng.random()
        if pick < 0.25:  # right up to the window
            return w - 1 - self.rng.randint(0, 5)
        if pick < 0.45:  # a glitch, often between two samples
            return self.rng.randint(1, self.max_gap)
        return self.rng.randint(1, w - 1)

    def loss(self) -> None:
        self.gone(self.loss_length(), deep=True)
        self.after_loss()

    def dip(self) -> None:
        self.gone(self.dip_length(), deep=self.rng.random() < 0.5)
        self.between_dips()

    def chatter(self) -> None:
        for _ in range(self.rng.randint(3, 10)):
            self.gone(self.rng.randint(1, min(self.p.loss_ms - 1, 60)), deep=False)
            self.contact(2 * self.max_gap + self.rng.randint(0, 40))
        self.between_dips()

    def level_at(self, t: int) -> tuple[float, bool]:
        for start, end, gone, a, b in self.segments:
            if start <= t < end:
                return a + (b - a) * (t - start) / max(1, end - start), gone
        raise ValueError(t)


def _drift(tl: _Timeline, rng: random.Random) -> None:
    """Slow drifts: the contact level wanders between `on + margin` and a high level over
    seconds (a patient easing off and pressing again), the gone level wanders below off."""
    p = tl.p
    low = p.on + tl.margin
    high = rng.uniform(low + 4000, 56000)
    period_ms = rng.uniform(1500, 6000)
    phase = rng.uniform(0, 2 * math.pi)

    def contact_at(t: int) -> float:
        return low + (high - low) * (0.5 + 0.5 * math.sin(phase + 2 * math.pi * t / period_ms))

    def drifting_contact(length: int) -> None:
        tl.contact(length, contact_at(tl.t), contact_at(tl.t + length))

    drifting_contact(p.regain_ms + 2 * tl.max_gap + rng.randint(1500, 3000))
    for _ in range(rng.randint(2, 4)):
        if rng.random() < 0.5:
            tl.gone(tl.loss_length(), deep=False)
            drifting_contact(p.regain_ms + 2 * tl.max_gap + rng.randint(500, 2000))
        else:
            tl.gone(tl.dip_length(), deep=False)
            drifting_contact(2 * tl.max_gap + rng.randint(500, 2000))


def _build(family: str, tl: _Timeline, rng: random.Random) -> None:
    if family == "drift":
        _drift(tl, rng)
        return
    tl.settle()
    if family == "losses":
        for _ in range(rng.randint(1, 4)):
            tl.loss()
    elif family == "dips":
        for _ in range(rng.randint(3, 8)):
            tl.dip()
    elif family == "chatter":
        for _ in range(rng.randint(1, 3)):
            tl.chatter()
    else:
        for _ in range(rng.randint(3, 7)):
            rng.choice((tl.loss, tl.dip, tl.chatter))()


def make_trace(index: int, params: Params, seed: int = DEFAULT_SEED) -> Trace:
    rng = random.Random(f"{seed}:{index}")
    family = FAMILIES[index % len(FAMILIES)]
    noise = NOISE_COUNTS[(index // len(FAMILIES)) % len(NOISE_COUNTS)]
    period = PERIODS_MS[(index // (len(FAMILIES) * len(NOISE_COUNTS))) % len(PERIODS_MS)]
    # Sample times first (generously long), so the guard band can use the trace's real
    # longest gap; the timeline then fits well inside them and the tail is cut.
    times = _sample_times(rng, period, HORIZON_MS)
    max_gap = max(b - a for a, b in zip(times, times[1:], strict=False))
    tl = _Timeline(rng, params, noise, max_gap)
    _build(family, tl, rng)
    assert tl.t < HORIZON_MS, "timeline longer than its sample times"
    times = [t for t in times if t < tl.t]
    readings = []
    for t in times:
        level, _gone = tl.level_at(t)
        noisy = round(level + (rng.gauss(0, noise) if noise else 0))
        readings.append(min(max(noisy, 0), FULL_SCALE))
    return Trace(
        name=f"{family}-{index:03d}",
        family=family,
        noise_counts=noise,
        period_ms=period,
        max_gap_ms=max_gap,
        times_ms=tuple(times),
        readings=tuple(readings),
        losses=tuple(tl.losses),
        dips=tuple(tl.dips),
    )


def make_corpus(count: int, params: Params, seed: int = DEFAULT_SEED) -> list[Trace]:
    return [make_trace(i, params, seed) for i in range(count)]
