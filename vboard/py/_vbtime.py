"""`time` on the virtual dowel board: the interpreter's own `time`, except that wall-clock time
(`time`, `time_ns`, `localtime`, `gmtime`) comes from the board's RTC, which starts at
2000-01-01 00:00:00 on power-up like an unset ESP32 RTC and is set with `machine.RTC().datetime`.

    import time
    time.localtime()   # (2000, 1, 1, 0, 0, 3, 5, 1) three seconds after power-up

Installed as sys.modules["time"] by _board.setup(), so `import time` finds it.
"""

from time import gmtime as _gmtime
from time import (  # noqa: F401 - re-exported
    mktime,
    sleep,
    sleep_ms,
    sleep_us,
    ticks_add,
    ticks_cpu,
    ticks_diff,
    ticks_ms,
    ticks_us,
)

import _vb

_rtc_s = _vb.rtc_s
_rtc_us = _vb.rtc_us


def time():
    return _rtc_s()


def time_ns():
    return _rtc_s() * 1000000000 + _rtc_us() * 1000


def gmtime(secs=None):
    return _gmtime(_rtc_s() if secs is None else secs)


def localtime(secs=None):
    return _gmtime(_rtc_s() if secs is None else secs)
