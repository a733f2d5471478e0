"""The device half, `dowel.selftest`, on CPython on a fake board with the stand-in `machine`
(tests/fakes/): what it measures and returns. (On MicroPython itself it runs in
tests/selftest/test_vboard.py.)"""

from __future__ import annotations

import types

import pytest
from dowel import pinmap

from tests.fakes.board import FakeBoard
from tests.fakes.i2c import Mpu
from tests.fakes.machine import Machine


@pytest.fixture
def device(tmp_path):
    """A fake board (tests/fakes/board.py) whose `machine` reads `levels` ({GPIO: n-th read}),
    with an IMU answering `accel` counts (None: no IMU on the bus)."""

    def make(levels, accel=None, who_am_i=0x68):
        imu = None if accel is None else Mpu(who_am_i, accel)
        return FakeBoard(tmp_path / "flash", machine=Machine(levels, imu=imu))

    return make


def steady(value):
    return lambda n: value


def test_window(device):
    head, mid, sacrum = pinmap.SENSOR_PINS
    ramp = lambda n: 1000 + 100 * n  # noqa: E731 - rises with every read
    fake = device({head: steady(900), mid: ramp, sacrum: steady(30000)})
    st = fake.device("selftest")
    lo, hi = st.window(100)
    assert lo[0] == hi[0] == 900
    assert lo[2] == hi[2] == 30000
    assert hi[1] - lo[1] >= 100 * 20  # sampled every 5 ms over 100 ms: ~21 reads


def test_beep_and_led(device):
    fake = device({p: steady(0) for p in pinmap.SENSOR_PINS})
    st = fake.device("selftest")
    machine = fake.machine
    assert st.beep(2000, 50) == 2000
    assert ("freq", 2000) in machine.pwm_log
    assert machine.pwm_log[-1] == ("duty", 0)  # silent again afterwards
    assert st.led(True) is True and machine.pin_values[pinmap.LED_PIN] == 1
    assert st.led(False) is False and machine.pin_values[pinmap.LED_PIN] == 0


def test_imu_absent(device):
    fake = device({p: steady(0) for p in pinmap.SENSOR_PINS}, accel=None)
    st = fake.device("selftest")
    assert st.imu() == (False, 0, 0)


@pytest.mark.parametrize(
    ("accel", "pitch_ddeg", "g_milli"),
    [
        ((16384, 0, 0), 0, 1000),  # dowel upright: gravity along X
        ((11585, 0, 11585), 450, 1000),  # leaning 45 degrees
        ((0, 16384, 0), 0, 1000),  # rolled on its side: 1 g still, no pitch
    ],
)
def test_imu_pitch_and_magnitude(device, accel, pitch_ddeg, g_milli):
    fake = device({p: steady(0) for p in pinmap.SENSOR_PINS}, accel=accel)
    st = fake.device("selftest")
    present, pitch, g = st.imu()
    assert present
    assert abs(pitch - pitch_ddeg) <= 5
    assert abs(g - g_milli) <= 5


@pytest.mark.parametrize(("who", "name"), [(0x68, "MPU6050"), (0x70, "MPU-6500")])
def test_imu_chip_is_reported(device, who, name):
    fake = device({p: steady(0) for p in pinmap.SENSOR_PINS}, accel=(16384, 0, 0), who_am_i=who)
    st = fake.device("selftest")
    assert st.imu_chip() == (who, name)
    assert st.imu()[0]


def test_imu_chip_absent(device):
    fake = device({p: steady(0) for p in pinmap.SENSOR_PINS}, accel=None)
    st = fake.device("selftest")
    assert st.imu_chip() == (-1, "")


def test_every_cue_plays_whole_and_ends_silent(device):
    from dowel import cues

    fake = device({p: steady(0) for p in pinmap.SENSOR_PINS})
    st = fake.device("selftest")
    machine = fake.machine
    for name in cues.NAMES:
        machine.pwm_log.clear()
        pattern = getattr(cues, name)
        assert st.cue(name, 100) == sum(pattern[1::2])
        played = [f for k, f in machine.pwm_log if k == "freq"]
        assert played == [f for f in pattern[0::2] if f], name
        assert machine.pwm_log[-1] == ("duty", 0)
    with pytest.raises(ValueError, match="no cue 'BOGUS': one of HEAD_CUE"):
        st.cue("BOGUS")


def loop_with(fake, board):
    """What the fake board's `dowel.running` holds once the firmware loop ran: an App with
    its Board."""
    fake.device("running").app = types.SimpleNamespace(board=board)


def test_battery_through_the_boards_reading(device):
    fake = device({p: steady(0) for p in pinmap.SENSOR_PINS})
    st = fake.device("selftest")
    loop_with(fake, types.SimpleNamespace(battery_mv=lambda: 3820))
    assert st.battery() == (True, 3820, 50)
    loop_with(fake, types.SimpleNamespace(battery_mv=lambda: 40))  # on USB, switch off
    assert st.battery() == (False, 40, 0)
    loop_with(fake, types.SimpleNamespace())  # a board without a battery input
    assert st.battery() == (False, 0, 0)


def test_uses_the_running_loops_board(device):
    fake = device({p: steady(0) for p in pinmap.SENSOR_PINS})
    st = fake.device("selftest")

    class Board:
        imu = None

        def read(self, buf):
            buf[0], buf[1], buf[2] = 1, 2, 3

    loop_with(fake, Board())
    assert st.window(0) == ((1, 2, 3), (1, 2, 3))


def test_without_a_loop_every_call_drives_one_board(device):
    fake = device({p: steady(0) for p in pinmap.SENSOR_PINS})
    st = fake.device("selftest")
    machine = fake.machine
    made = []
    real_pwm = machine.PWM

    def pwm(*args, **kwargs):
        made.append(1)
        return real_pwm(*args, **kwargs)

    machine.PWM = pwm
    st.beep(2000, 10)
    st.led(True)
    st.window(10)
    assert len(made) == 1  # one Board, made by the first call: one owner per pin
