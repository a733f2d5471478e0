"""Device half of `dowel selftest`: small calls the host makes over the raw REPL.

    link.call("dowel.selftest", "window", 300)   # ((mins), (maxs)) of the 3 FSRs over 300 ms
    link.call("dowel.selftest", "beep", 2000, 300)
    link.call("dowel.selftest", "led", True)
    link.call("dowel.selftest", "imu")           # (present, pitch_ddeg, g_milli)
    link.call("dowel.selftest", "imu_chip")      # (who_am_i, "MPU-6500"), or (-1, "") if none
    link.call("dowel.selftest", "cue", "SACRUM_CUE", 700)   # plays it, 700 ms silence; its ms
    link.call("dowel.selftest", "battery")       # (present, cell_mv, percent)

The host judges; the board only measures. Readings are raw `read_u16` counts in the order of
`dowel.points`, the same numbers the firmware loop debounces. The board is the loop's own
`hal.Board` when the loop ran before the host stopped it (one owner per pin), else one made
here (`dowel.running.board`).
"""

import time
from array import array

from dowel import battery as _battery
from dowel import cues
from dowel.imu import COUNTS_PER_G
from dowel.pitch import atan2_ddeg
from dowel.running import board


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
    dev.read()
    ax, ay, az = dev.ax, dev.ay, dev.az
    mag = (ax * ax + ay * ay + az * az) ** 0.5
    return (True, atan2_ddeg(az, ax), int(mag * 1000 / COUNTS_PER_G))


def imu_chip():
    """(who_am_i, chip name) of the IMU the board found, or (-1, "") without one."""
    dev = board().imu
    if dev is None:
        return (-1, "")
    return (dev.who_am_i, dev.name)


def cue(name, gap_ms=0):
    """Play the cue `name` (one of `dowel.cues.NAMES`) whole, as the loop would, then keep
    silent for `gap_ms`; returns the cue's length in ms. The buzzer is silent afterwards
    whatever happens."""
    if name not in cues.NAMES:
        raise ValueError("no cue %r: one of %s" % (name, ", ".join(cues.NAMES)))
    pattern = getattr(cues, name)
    b = board()
    total = 0
    try:
        for i in range(0, len(pattern), 2):
            b.tone(pattern[i])
            time.sleep_ms(pattern[i + 1])
            total += pattern[i + 1]
    finally:
        b.tone(0)
    time.sleep_ms(gap_ms)
    return total


def battery():
    """(present, cell_mv, percent): the cell as the board reads it through its divider, or
    (False, 0, 0) when no cell is switched in (on USB with the power switch off) or the board
    has no battery input."""
    read = getattr(board(), "battery_mv", None)
    if read is None:
        return (False, 0, 0)
    mv = read()
    if mv < _battery.ABSENT_MV:
        return (False, mv, 0)
    return (True, mv, _battery.percent(mv))
