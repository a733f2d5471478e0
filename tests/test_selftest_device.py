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

    def __init__(self, levels, accel=None):
        super().__init__("machine")
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
                pass

            def scan(self):
                return [pinmap.MPU6050_ADDR] if machine.accel else []

            def readfrom_mem(self, addr, reg, n):
                if reg == 0x75:
                    return b"\x68"
                assert reg == 0x3B
                return struct.pack(">hhh", *machine.accel)[:n]

            def writeto_mem(self, addr, reg, data):
                pass

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

    def make(levels, accel=None):
        machine = FakeMachine(levels, accel)
        monkeypatch.setitem(sys.modules, "machine", machine)
        import dowel

        # `from dowel import hal` would reuse the package attribute: drop both.
        for name in ("hal", "selftest", "app"):
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


def test_read_and_window(device):
    head, mid, sacrum = pinmap.SENSOR_PINS
    ramp = lambda n: 1000 + 100 * n  # noqa: E731 - rises with every read
    st, _m = device({head: steady(900), mid: ramp, sacrum: steady(30000)})
    assert st.read()[0] == 900 and st.read()[2] == 30000
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


def test_uses_the_running_loops_board(device, monkeypatch):
    st, _m = device({p: steady(0) for p in pinmap.SENSOR_PINS})

    class Board:
        imu = None

        def read(self, buf):
            buf[0], buf[1], buf[2] = 1, 2, 3

    app = types.SimpleNamespace(current=types.SimpleNamespace(board=Board()))
    monkeypatch.setitem(sys.modules, "dowel.app", app)
    st._board = None
    assert st.read() == (1, 2, 3)
