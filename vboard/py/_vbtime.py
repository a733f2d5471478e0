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
from time import sleep_us as _sleep_us
from time import (  # noqa: F401 - re-exported
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


# Sleeps as long as asked, as the ESP32 port's mp_hal_delay_ms / mp_hal_delay_us do (they loop
# until the time has passed: docs/esp32-facts.md 1.3). The unix port's sleep ends early when the
# board's 10 ms tick (SIGALRM, host_tools/vboard/launch.py) interrupts it, measured on half of
# 7 ms sleeps; each interruption returns here, where scheduled callbacks run, as they do on the
# ESP32 between its ticks.
def sleep_us(us):
    end = _raw_us() + us
    _sleep_us(us)  # the port's own checks and pending callbacks, sleep_us(0) included
    left = end - _raw_us()
    while left > 0:
        _sleep_us(left)
        left = end - _raw_us()


def sleep_ms(ms):
    sleep_us(ms * 1000)


def sleep(s):
    sleep_us(int(s * 1000000))


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
