"""`time` on the virtual board: the ESP32's ticks and RTC on top of the unix port's `time`.

    import time
    time.localtime()       # (2000, 1, 1, 0, 0, 3, 5, 1) three seconds after power-on

- Ticks: the unix port's own (`time.ticks_ms` counts CLOCK_MONOTONIC, period 2**62). An ESP32
  wraps them at 2**30 (MICROPY_PY_TIME_TICKS_PERIOD = MP_SMALL_INT_POSITIVE_MASK + 1 on a 32-bit
  port), but the unix port's C asyncio module keys its task queue with its own ticks
  (extmod/modasyncio.c, `ticks()`), so a Python-level wrap here would desynchronise the
  scheduler. The firmware's wrap handling is tested with injected tick values instead
  (tests/device/test_ticks.py).
- Wall clock: the RTC, which starts at 2000-01-01 00:00:00 at power-on (no battery) and is set
  with `machine.RTC().datetime(...)`; the ESP32 port's epoch is 2000, not 1970.

Installed as sys.modules["time"] by _vbboot before anything imports `time` (asyncio included).
"""

import os
from time import gmtime as _gmtime1970
from time import mktime as _mktime1970
from time import (  # noqa: F401 - re-exported
    sleep,
    sleep_ms,
    sleep_us,
    ticks_add,
    ticks_cpu,
    ticks_diff,
    ticks_ms,
    ticks_us,
)
from time import ticks_us as _raw_us

from micropython import const

_EPOCH_2000 = const(946684800)

_rtc = [int(os.getenv("VB_RTC_OFFSET_US") or -_raw_us())]  # RTC us since 2000 = raw_us + this


def rtc_us():
    return _raw_us() + _rtc[0]


def set_rtc_us(us):
    _rtc[0] = us - _raw_us()
    return _rtc[0]


def time():
    return rtc_us() // 1000000


def time_ns():
    return rtc_us() * 1000


def gmtime(secs=None):
    # 8 items, as the esp32 port's (shared/timeutils): the unix port adds a ninth, tm_isdst.
    return _gmtime1970((time() if secs is None else int(secs)) + _EPOCH_2000)[:8]


localtime = gmtime  # the board has no time zone


def mktime(t):
    return _mktime1970(tuple(t[:8]) + (0,) if len(t) == 8 else t) - _EPOCH_2000
