"""Device half of `dowel selftest`: small calls the host makes over the raw REPL.

    link.call("dowel.selftest", "window", 300)   # ((mins), (maxs)) of the 3 FSRs over 300 ms
    link.call("dowel.selftest", "beep", 2000, 300)
    link.call("dowel.selftest", "led", True)
    link.call("dowel.selftest", "imu")           # (present, pitch_ddeg, g_milli)

The host judges; the board only measures. Readings are raw `read_u16` counts in the sensor
order of `dowel.pinmap.SENSORS`, the same numbers the firmware loop debounces. The board is the
loop's own `hal.Board` when the loop ran before the host stopped it (one owner per pin), else
one made here.
"""

import sys
import time
from array import array

from dowel import hal
from dowel.pitch import atan2_ddeg

_ACCEL_XOUT_H = 0x3B
_COUNTS_PER_G = 16384  # MPU6050 at +-2 g, as hal sets it

_board = None


def board():
    global _board
    if _board is None:
        app = sys.modules.get("dowel.app")
        running = getattr(app, "current", None) if app else None
        _board = running.board if running is not None else hal.Board()
    return _board


def read():
    """The three FSR readings now, as a tuple of counts."""
    buf = array("H", (0, 0, 0))
    board().read(buf)
    return tuple(buf)


def window(ms, every_ms=5):
    """Per-sensor minimum and maximum over `ms` milliseconds: ((min x3), (max x3))."""
    b = board()
    buf = array("H", (0, 0, 0))
    b.read(buf)
    lo = list(buf)
    hi = list(buf)
    start = time.ticks_ms()
    while time.ticks_diff(time.ticks_ms(), start) < ms:
        time.sleep_ms(every_ms)
        b.read(buf)
        for i in range(3):
            v = buf[i]
            if v < lo[i]:
                lo[i] = v
            if v > hi[i]:
                hi[i] = v
    return (tuple(lo), tuple(hi))


def beep(freq_hz, ms):
    """Sound the buzzer (the LED follows it) for `ms`; returns the frequency played."""
    b = board()
    b.tone(freq_hz)
    try:
        time.sleep_ms(ms)
    finally:
        b.tone(0)
    return freq_hz


def led(on):
    board().led(on)
    return bool(on)


def imu():
    """(present, pitch_ddeg, g_milli): the firmware's pitch (atan2 of Z over X, deci-degrees)
    and the size of the measured acceleration in thousandths of g (1000 when held still)."""
    dev = board().imu
    if dev is None:
        return (False, 0, 0)
    raw = dev.i2c.readfrom_mem(dev.addr, _ACCEL_XOUT_H, 6)
    axes = []
    for i in (0, 2, 4):
        v = (raw[i] << 8) | raw[i + 1]
        axes.append(v - 0x10000 if v & 0x8000 else v)
    ax, ay, az = axes
    mag = (ax * ax + ay * ay + az * az) ** 0.5
    return (True, atan2_ddeg(az, ax), int(mag * 1000 / _COUNTS_PER_G))
