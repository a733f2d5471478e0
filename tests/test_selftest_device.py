"""The device half, `dowel.selftest`, on CPython with a stand-in `machine` module: what it
measures and returns. (On MicroPython itself it runs in test_selftest_vboard.py.)"""

from __future__ import annotations

import importlib
import struct
import sys
import time
import types

import pytest
from dowel import pinmap


class FakeMachine(types.ModuleType):
    """Just enough of MicroPython's `machine` for dowel.hal: ADC levels per GPIO, an LED pin,
    a PWM, and an MPU6050 on I2C answering a fixed acceleration."""

    def __init__(self, levels, accel=None, who_am_i=0x68):
        super().__init__("machine")
        self.who_am_i = who_am_i
        self.levels = levels  # GPIO -> callable(n) giving the n-th read_u16
        self.accel = accel  # (ax, ay, az) counts, or None: no IMU on the bus
        self.pin_values: dict[int, int] = {}
        self.pwm_log: list[tuple[str, int]] = []
        machine = self

        class Pin:
            OUT = 1
            IN = 0

            def __init__(self, n, mode=None, value=None):
                self.n = n
                if value is not None:
                    machine.pin_values[n] = value

            def value(self, v=None):
                if v is None:
                    return machine.pin_values.get(self.n, 0)
                machine.pin_values[self.n] = v

        class ADC:
            ATTN_11DB = 3

            def __init__(self, pin):
                self.gpio = pin.n
                self.count = 0

            def atten(self, _a):
                pass

            def read_u16(self):
                self.count += 1
                return machine.levels[self.gpio](self.count)

        class PWM:
            def __init__(self, pin, freq=0, duty_u16=0):
                pass

            def freq(self, f):
                machine.pwm_log.append(("freq", f))

            def duty_u16(self, d):
                machine.pwm_log.append(("duty", d))

        class I2C:
            def __init__(self, *_a, **_k):
                self.regs = {0x75: machine.who_am_i, 0x6B: 0x40}

            def scan(self):
                return [pinmap.MPU6050_ADDR] if machine.accel else []

            def readfrom_mem(self, addr, reg, n):
                buf = bytearray(n)
                self.readfrom_mem_into(addr, reg, buf)
                return bytes(buf)

            def readfrom_mem_into(self, addr, reg, buf):
                if reg == 0x3B:
                    buf[:] = struct.pack(">hhh", *machine.accel)[: len(buf)]
                else:
                    buf[0] = self.regs.get(reg, 0)

            def writeto_mem(self, addr, reg, data):
                self.regs[reg] = data[0]

        self.Pin, self.ADC, self.PWM, self.I2C = Pin, ADC, PWM, I2C


@pytest.fixture
def device(monkeypatch):
    """Import dowel.selftest against a FakeMachine; returns (module, machine) factory."""
    clock = [0]

    def ticks_ms():
        return clock[0]

    def sleep_ms(ms):
        clock[0] += ms

    monkeypatch.setattr(time, "ticks_ms", ticks_ms, raising=False)
    monkeypatch.setattr(time, "ticks_diff", lambda a, b: a - b, raising=False)
    monkeypatch.setattr(time, "sleep_ms", sleep_ms, raising=False)
    micropython = types.ModuleType("micropython")
    micropython.const = lambda x: x
    monkeypatch.setitem(sys.modules, "micropython", micropython)

    def make(levels, accel=None, who_am_i=0x68):
        machine = FakeMachine(levels, accel, who_am_i)
        monkeypatch.setitem(sys.modules, "machine", machine)
        import dowel

        # `from dowel import hal` would reuse the package attribute: drop both. A fresh
        # `dowel.running` too, so no Board made against an earlier test's machine is reused.
        for name in ("hal", "selftest", "app", "running"):
            monkeypatch.delitem(sys.modules, "dowel." + name, raising=False)
            monkeypatch.delattr(dowel, name, raising=False)
        module = importlib.import_module("dowel.selftest")
        return module, machine

    yield make
    import dowel

    for name in ("hal", "selftest"):  # imported against the fake machine: never reuse them
        sys.modules.pop("dowel." + name, None)
        if hasattr(dowel, name):
            delattr(dowel, name)


def steady(value):
    return lambda n: value


def test_window(device):
    head, mid, sacrum = pinmap.SENSOR_PINS
    ramp = lambda n: 1000 + 100 * n  # noqa: E731 - rises with every read
    st, _m = device({head: steady(900), mid: ramp, sacrum: steady(30000)})
    lo, hi = st.window(100)
    assert lo[0] == hi[0] == 900
    assert lo[2] == hi[2] == 30000
    assert hi[1] - lo[1] >= 100 * 20  # sampled every 5 ms over 100 ms: ~21 reads


def test_beep_and_led(device):
    st, machine = device({p: steady(0) for p in pinmap.SENSOR_PINS})
    assert st.beep(2000, 50) == 2000
    assert ("freq", 2000) in machine.pwm_log
    assert machine.pwm_log[-1] == ("duty", 0)  # silent again afterwards
    assert st.led(True) is True and machine.pin_values[pinmap.LED_PIN] == 1
    assert st.led(False) is False and machine.pin_values[pinmap.LED_PIN] == 0


def test_imu_absent(device):
    st, _m = device({p: steady(0) for p in pinmap.SENSOR_PINS}, accel=None)
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
    st, _m = device({p: steady(0) for p in pinmap.SENSOR_PINS}, accel=accel)
    present, pitch, g = st.imu()
    assert present
    assert abs(pitch - pitch_ddeg) <= 5
    assert abs(g - g_milli) <= 5


@pytest.mark.parametrize(("who", "name"), [(0x68, "MPU6050"), (0x70, "MPU-6500")])
def test_imu_chip_is_reported(device, who, name):
    st, _m = device({p: steady(0) for p in pinmap.SENSOR_PINS}, accel=(16384, 0, 0),
                    who_am_i=who)
    assert st.imu_chip() == (who, name)
    assert st.imu()[0]


def test_imu_chip_absent(device):
    st, _m = device({p: steady(0) for p in pinmap.SENSOR_PINS}, accel=None)
    assert st.imu_chip() == (-1, "")


def test_every_cue_plays_whole_and_ends_silent(device):
    from dowel import cues

    st, machine = device({p: steady(0) for p in pinmap.SENSOR_PINS})
    for name in cues.NAMES:
        machine.pwm_log.clear()
        pattern = getattr(cues, name)
        assert st.cue(name, 100) == sum(pattern[1::2])
        played = [f for k, f in machine.pwm_log if k == "freq"]
        assert played == [f for f in pattern[0::2] if f], name
        assert machine.pwm_log[-1] == ("duty", 0)
    with pytest.raises(ValueError, match="no cue 'BOGUS': one of HEAD_CUE"):
        st.cue("BOGUS")


def loop_with(board):
    """What `dowel.running` holds once the firmware loop ran: an App with its Board."""
    running = sys.modules["dowel.running"]
    running.app = types.SimpleNamespace(board=board)


def test_battery_through_the_boards_reading(device):
    st, _m = device({p: steady(0) for p in pinmap.SENSOR_PINS})
    loop_with(types.SimpleNamespace(battery_mv=lambda: 3820))
    assert st.battery() == (True, 3820, 50)
    loop_with(types.SimpleNamespace(battery_mv=lambda: 40))  # on USB, switch off
    assert st.battery() == (False, 40, 0)
    loop_with(types.SimpleNamespace())  # a board without a battery input
    assert st.battery() == (False, 0, 0)


def test_uses_the_running_loops_board(device):
    st, _m = device({p: steady(0) for p in pinmap.SENSOR_PINS})

    class Board:
        imu = None

        def read(self, buf):
            buf[0], buf[1], buf[2] = 1, 2, 3

    loop_with(Board())
    assert st.window(0) == ((1, 2, 3), (1, 2, 3))


def test_without_a_loop_every_call_drives_one_board(device):
    st, machine = device({p: steady(0) for p in pinmap.SENSOR_PINS})
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
