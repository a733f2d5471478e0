"""Per-patient calibration maths: levels measured in two steps become contact thresholds.

    zero = summarize(released_samples)       # step 1: dowel held away from the body
    contact = summarize(hold_samples)        # step 2: three-point neutral hold
    proposal = propose(zero, contact)        # thresholds, or a problem per sensor
    if proposal.ok:
        cfg = apply(cfg, proposal, "P-0001")  # validated by dowel.config, ready to write

Pure: no device, no clock, no terminal. The session (host_tools.calibrate.session) streams
the samples and writes the result; the tests drive these functions directly.

The threshold rule (README, "Calibration rule"), with zero level Z and contact level C the
medians of the released and neutral-hold readings and R = C - Z:

    on  = Z + 50% of R      (a touch run starts at or above this)
    off = Z + 30% of R      (a dip below this for loss_ms is a lost point)

so the hysteresis on - off is 20% of R, twice the 10% minimum; a grip wobble must take a
reading down through 70% of the range before it counts, while a real loss takes it to about Z.
A sensor is refused (nothing is written) when it reads full scale released (shorted) or in
contact (saturated), when C is not at least MIN_RANGE_COUNTS above Z (weak or disconnected),
or when its noise in either step reaches a threshold within NOISE_SIGMAS standard deviations.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from dowel import config as dconfig
from dowel import points
from dowel.contact import LOST, Contact

SENSORS = points.NAMES
# How messages name each point for the PT: "mid-back (between the shoulder blades)", never a GPIO.
SAY = {
    name: f"{label} ({where})"
    for name, label, where in zip(points.NAMES, points.LABELS, points.WHERE, strict=True)
}

FULL_SCALE = 65535
ON_PCT = 50
OFF_PCT = 30
MIN_HYSTERESIS_PCT = 10  # the README's promise; a test holds ON_PCT - OFF_PCT to it
# ~4.6% of full scale, ~150 mV at the ESP32's 11 dB attenuation: well above ADC noise, well
# below the gap of the weakest contact a loose-fitting dowel gives through the foam.
MIN_RANGE_COUNTS = 3000
SATURATED_COUNTS = 65000  # read_u16 pins near 65535 when the ADC input is at or above ~3.1 V
DEAD_COUNTS = 600  # both steps under this: nothing reaches the ADC (open circuit)
NOISE_SIGMAS = 3
MIN_SAMPLES = 10


@dataclass(frozen=True)
class Stats:
    """One sensor over one step: median level and a robust noise figure, in ADC counts."""

    level: int  # median
    noise: int  # robust standard deviation: (p90 - p10) / 2.563, which a few spikes cannot move
    low: int  # 5th percentile
    high: int  # 95th percentile
    n: int


@dataclass(frozen=True)
class SensorResult:
    name: str
    zero: Stats
    contact: Stats
    on: int = 0
    off: int = 0
    problem: str | None = None

    @property
    def level(self) -> int:
        return self.contact.level


@dataclass(frozen=True)
class Proposal:
    sensors: tuple[SensorResult, ...]
    posture: str | None = None  # why the neutral hold was not taken standing (None: it was)

    @property
    def ok(self) -> bool:
        return self.posture is None and all(s.problem is None for s in self.sensors)

    @property
    def problems(self) -> list[str]:
        found = [s.problem for s in self.sensors if s.problem]
        return found + ([self.posture] if self.posture else [])

    def levels_json(self) -> str:
        """What the host database keeps of the measurement (calibrations.levels_json)."""
        return json.dumps(
            {
                s.name: {
                    "zero": asdict(s.zero),
                    "contact": asdict(s.contact),
                    "on": s.on,
                    "off": s.off,
                }
                for s in self.sensors
            },
            sort_keys=True,
        )


def _percentile(sorted_values: Sequence[int], pct: int) -> int:
    # Nearest-rank on the sorted list: exact integers, no interpolation to argue about.
    index = (len(sorted_values) - 1) * pct // 100
    return sorted_values[index]


def stats(values: Sequence[int]) -> Stats:
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no samples")
    p10 = _percentile(ordered, 10)
    p90 = _percentile(ordered, 90)
    return Stats(
        level=_percentile(ordered, 50),
        noise=round((p90 - p10) / 2.563),
        low=_percentile(ordered, 5),
        high=_percentile(ordered, 95),
        n=len(ordered),
    )


def summarize(readings: Sequence[Sequence[int]]) -> tuple[Stats, Stats, Stats]:
    """Per-sensor stats of a step's readings, each a (head, midback, sacrum) triple."""
    if len(readings) < MIN_SAMPLES:
        raise ValueError(f"only {len(readings)} samples; need at least {MIN_SAMPLES}")
    return tuple(stats([r[i] for r in readings]) for i in range(3))  # type: ignore[return-value]


def thresholds(zero: Stats, contact: Stats, name: str = "head") -> SensorResult:
    """Apply the rule to one sensor: thresholds, or a problem naming the point and the fix."""
    point = SAY[name]
    z, c = zero.level, contact.level
    span = c - z

    def refuse(problem: str) -> SensorResult:
        return SensorResult(name, zero, contact, problem=f"{point}: {problem}")

    if z >= SATURATED_COUNTS:
        return refuse(
            f"reads full scale ({z} counts) with the dowel away from the body, so the sensor or "
            "its wiring is shorted. Check the FSR's leads and connector for a solder bridge or a "
            "pinched wire."
        )
    if c >= SATURATED_COUNTS:
        return refuse(
            f"reads full scale ({c} counts) in contact: the input saturates, so a loss threshold "
            "cannot be placed. Check for a wire shorted under load and that the foam pad is on "
            "the sensor."
        )
    if z < DEAD_COUNTS and c < DEAD_COUNTS:
        return refuse(
            f"reads about zero in both steps ({z} released, {c} in contact): the sensor looks "
            "disconnected. Check its connector and wires, and that the dowel rests on this "
            "point during the hold."
        )
    if span < MIN_RANGE_COUNTS:
        return refuse(
            f"contact level {c} is not clearly above the released level {z} (needs "
            f"{MIN_RANGE_COUNTS} counts more, got {span}): the point barely presses the sensor. "
            "Check that the dowel touches this point during the hold, that the sensor sits "
            "under its pad, and the sensor's wiring."
        )
    on = z + span * ON_PCT // 100
    off = z + span * OFF_PCT // 100
    if contact.level - NOISE_SIGMAS * contact.noise < on:
        return refuse(
            f"too noisy in contact: readings spread +/-{contact.noise} counts around {c}, "
            f"reaching the contact threshold {on}. Check the connector for a loose contact and "
            "that the patient holds still during the neutral hold."
        )
    if z + NOISE_SIGMAS * zero.noise >= off:
        return refuse(
            f"too noisy released: readings spread +/-{zero.noise} counts around {z}, reaching "
            f"the loss threshold {off}. Check the connector for a loose contact and that nothing "
            "touches the sensor in step 1."
        )
    return SensorResult(name, zero, contact, on=on, off=off)


def propose(
    zero: Sequence[Stats],
    contact: Sequence[Stats],
    hold_pitch_ddeg: Sequence[int] = (),
    start_deg: int = 15,
) -> Proposal:
    """Thresholds per sensor; with the IMU's pitch during the neutral hold (tenths of a
    degree), the hold is also refused when the patient was not standing."""
    pairs = zip(zero, contact, SENSORS, strict=True)
    sensors = tuple(thresholds(z, c, name) for z, c, name in pairs)
    return Proposal(sensors, standing_problem(hold_pitch_ddeg, start_deg))


def standing_problem(hold_pitch_ddeg: Sequence[int], start_deg: int) -> str | None:
    """The contact levels (and the drift reference) must come from the patient standing tall:
    a hold whose median pitch the dowel itself would count as a hinge (at or past `start_deg`)
    is refused. No pitch (no IMU): nothing to check."""
    if not hold_pitch_ddeg:
        return None
    median = sorted(hold_pitch_ddeg)[len(hold_pitch_ddeg) // 2]
    if abs(median) < start_deg * 10:
        return None
    return (
        f"neutral hold: the trunk was {abs(median) / 10:.0f} degrees from upright (the dowel "
        f"counts a hinge from {start_deg}); the patient must stand tall, the dowel touching "
        "head, mid-back and sacrum, for the hold"
    )


def apply(
    cfg: dict,
    proposal: Proposal,
    patient: str,
    utc_offset_min: int | None = None,
    prescription: tuple[int, int] | None = None,
) -> dict:
    """The device config with the proposal's thresholds and levels, validated by the firmware's
    own `dowel.config.validate` (raises its ConfigError naming any bad field). The patient's
    day (probe sets, sets per day) starts at midnight in `utc_offset_min`, by default this
    computer's zone now: the PT calibrates at the patient's side. `prescription` (sets a day,
    reps a set) is what the dowel counts for its set-done and day-done cues."""
    if not proposal.ok:
        raise ValueError("a refused proposal cannot be applied")
    new = json.loads(json.dumps(cfg))
    new["patient"] = patient
    if utc_offset_min is None:
        offset = datetime.now().astimezone().utcoffset()
        utc_offset_min = int(offset.total_seconds() // 60) if offset else 0
    new["utc_offset_min"] = utc_offset_min
    if prescription is not None:
        new["sets_per_day"], new["reps_per_set"] = prescription
    for s in proposal.sensors:
        new["sensors"][s.name] = {"on": s.on, "off": s.off, "level": s.level}
    return dconfig.validate(new)


@dataclass(frozen=True)
class Loss:
    t_ms: int
    sensor: str


class LiveCheck:
    """The firmware's own debounce run on streamed samples with proposed (on, off) per sensor:
    what the dowel would do with these thresholds. Feed samples in order."""

    def __init__(self, sensors: Sequence[tuple[int, int]], loss_ms: int, regain_ms: int):
        self.contacts = [Contact(on, off, loss_ms, regain_ms) for on, off in sensors]
        self.losses: list[Loss] = []
        self.touched = [False, False, False]  # reached debounced contact at least once
        self._prev_t: int | None = None

    def feed(self, t_ms: int, readings: Sequence[int]) -> list[Loss]:
        dt = 0 if self._prev_t is None else t_ms - self._prev_t
        self._prev_t = t_ms
        fired = []
        for i, contact in enumerate(self.contacts):
            event = contact.update(readings[i], dt)
            if event == LOST:
                fired.append(Loss(t_ms, SENSORS[i]))
            if contact.touching:
                self.touched[i] = True
        self.losses += fired
        return fired

    def touching(self, i: int) -> bool:
        return self.contacts[i].touching
