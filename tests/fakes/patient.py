"""Synthetic patients on the dowel's pads, for the host's flows on a fake board: the real
firmware (`dowel.stream`, `dowel.selftest`, `dowel.hal`, ...) reads their pressure through
`tests/fakes/machine.py`'s ADC, against the board's virtual clock.

    board = patient_board(tmp_path, Patient(levels=(21000, 26000, 30000)))
    calibrate(Link(board, "fake"), "P-1")   # streams the patient's signal; tmp_path/dowel.json

    board = selftest_board(tmp_path, [(0, 1.0, 2.0)], wiring=(1, 0, 2))
    run_selftest(Link(board, "fake"), ui, clock=board_seconds(board))
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from dowel import pinmap

from tests.fakes.board import FakeBoard
from tests.fakes.i2c import Mpu
from tests.fakes.machine import Clock, Machine

# The fake board's cost of a round trip and of an ADC conversion: sending a stream call makes
# the board miss a slot or two, and a sample (three reads) takes about a millisecond.
ROUND_TRIP_MS = 15
READ_US = 333


@dataclass
class Patient:
    """Readings against the board's clock (from its start): released until `hold_at_ms`, neutral
    hold, then slow hinges from `hinge_at_ms` with each point's contact level swaying by
    `wobble_pct`. `faults` maps a sensor index to "disconnected" or "shorted". The defaults
    fit calibrate's default Steps: released recorded at 0-1.2 s, hold 3.3-5.6 s, check after."""

    levels: tuple[int, int, int] = (22000, 28000, 30000)
    zero: tuple[int, int, int] = (900, 1100, 700)
    noise: int = 150
    hold_at_ms: int = 2500
    hinge_at_ms: int = 6000
    wobble_pct: int = 25
    faults: dict | None = None
    seed: int = 1

    def __post_init__(self):
        self.rngs = [random.Random(self.seed * 3 + i) for i in range(3)]

    def count(self, i: int, t_ms: int) -> int:
        """Sensor `i`'s raw read_u16 at `t_ms`."""
        rng = self.rngs[i]
        fault = (self.faults or {}).get(i)
        if fault == "shorted":
            return 65535
        if fault == "disconnected":
            return max(0, int(rng.gauss(40, 20)))
        if t_ms < self.hold_at_ms:
            level = self.zero[i]
        else:
            level = self.levels[i]
            if t_ms >= self.hinge_at_ms:
                # A 4 s hinge cycle: the grip eases the pressure by up to wobble_pct.
                phase = ((t_ms - self.hinge_at_ms) % 4000) / 4000
                sway = 1 - self.wobble_pct / 100 * (1 - abs(1 - 2 * phase))
                level = int(self.zero[i] + (level - self.zero[i]) * sway)
        return min(65535, max(0, int(rng.gauss(level, self.noise))))


def patient_board(flash: Path, patient: Patient) -> FakeBoard:
    """A FakeBoard on `flash` (its config at flash/dowel.json) whose pads `patient` presses:
    readings against the board's clock, which starts when the board does."""
    machine = Machine(read_us=READ_US)
    for i, pin in enumerate(pinmap.SENSOR_PINS):
        machine.levels[pin] = lambda _n, i=i: patient.count(i, machine.clock.ms)
    return FakeBoard(flash, machine=machine, round_trip_ms=ROUND_TRIP_MS)


class TiltingMpu(Mpu):
    """An IMU held still at `g_milli` that tilts from upright to 45 degrees `tilt_after_s`
    after its acceleration is first read (None: never tilted). Counts saturate at +-2 g, as
    the chip's do."""

    def __init__(self, clock: Clock, g_milli: int, tilt_after_s: float | None, who_am_i: int):
        self.clock = clock
        self.g_milli = g_milli
        self.tilt_after_s = tilt_after_s
        self.first_read_ms: int | None = None
        super().__init__(who_am_i)

    def read_into(self, reg, buf):
        if reg == 0x3B and self.first_read_ms is None:  # ACCEL_XOUT_H: the host reads it
            self.first_read_ms = self.clock.ms
        super().read_into(reg, buf)

    @property
    def accel(self):
        counts = self.g_milli * 16384 // 1000
        tilted = (
            self.tilt_after_s is not None
            and self.first_read_ms is not None
            and self.clock.ms >= self.first_read_ms + self.tilt_after_s * 1000
        )
        x, z = (counts * 7071 // 10000,) * 2 if tilted else (counts, 0)
        return (max(-32768, min(32767, x)), 0, max(-32768, min(32767, z)))

    @accel.setter
    def accel(self, _value):  # Mpu's constructor sets a fixed one
        pass


def selftest_board(
    flash: Path,
    touches=(),
    *,
    wiring=(0, 1, 2),
    dead=(),
    preload=None,
    floating=(),
    rest=(900, 1100, 700),
    press=35000,
    imu=(1000, 1.0),
    who_am_i=0x68,
    battery_mv=3900,
    has_selftest=True,
) -> FakeBoard:
    """A built dowel for the self-test, pressed by a scripted patient: `touches` are (pad,
    start_s, end_s), the pad pressed over that time of the board's clock whatever the host is
    prompting. `wiring[pad]` is the sensor input (0..2, pin map order) the pad is soldered to
    (a swap is a permutation); inputs in `dead` read ~0 whatever is pressed (cut wire);
    `preload` adds a constant to an input at rest; inputs in `floating` wander (no resistor).
    `imu`: None (not fitted) or (g_milli, tilt_after_s) for a `TiltingMpu` answering
    `who_am_i`. `battery_mv`: the cell through the divider (None: no cell switched in).
    `has_selftest=False`: firmware from before `dowel.selftest`. Each raw-REPL round trip
    costs the board 10 ms."""
    clock = Clock()
    rng = random.Random(7)
    preload = preload or {}

    def reading(i: int) -> int:
        if i in dead:
            return rng.randint(0, 60)
        if i in floating:
            return rng.randint(0, 40000)
        t = clock.us / 1_000_000
        level = rest[i] + preload.get(i, 0)
        for pad, start, end in touches:
            if wiring[pad] == i and start <= t < end:
                level = press
        return max(0, min(65535, level + rng.randint(-150, 150)))

    levels = {pin: (lambda _n, i=i: reading(i)) for i, pin in enumerate(pinmap.SENSOR_PINS)}
    chip = None if imu is None else TiltingMpu(clock, imu[0], imu[1], who_am_i)
    machine = Machine(levels, clock=clock, imu=chip, battery_mv=battery_mv)
    missing = () if has_selftest else ("selftest",)
    return FakeBoard(flash, machine=machine, missing=missing, round_trip_ms=10)


def board_seconds(board: FakeBoard):
    """The board's clock in seconds, for a host flow's `clock`: the host waits in its time."""
    return lambda: board.clock.us / 1_000_000


def replay_losses(samples, sensors, loss_ms, regain_ms):
    """Every LOST the firmware's debounce fires on (t_ms, readings) with (on, off) per sensor:
    what the dowel would beep on for the same trace."""
    from host_tools.calibrate.rule import LiveCheck

    check = LiveCheck(sensors, loss_ms, regain_ms)
    for t_ms, readings in samples:
        check.feed(t_ms, readings)
    return check.losses
