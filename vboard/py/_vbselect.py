"""`select` on the virtual board: poll timeouts end on the ESP32's 100 Hz FreeRTOS tick.

On the esp32 port a poll with a timeout (asyncio's wait for the next task) blocks the task with
`MICROPY_INTERNAL_WFE`, which waits for the next tick interrupt or a notification (UART input,
a scheduled callback), and ends once the timeout has passed (extmod/modselect.c,
ports/esp32/mphalport.h): `await asyncio.sleep_ms(4)` returns at the first tick at least 4 ms
later, so a loop that sleeps 4 ms runs at 100 Hz, not 250 Hz. The unix port's poll() wakes
when the timeout ends; this wrapper stretches each timeout to the next 10 ms tick. Readiness
(a stream, a ThreadSafeFlag set by a timer callback) still ends the wait at once.

Installed as sys.modules["select"] by _vbboot before asyncio is imported.
"""

from select import POLLERR, POLLHUP, POLLIN, POLLOUT  # noqa: F401 - re-exported
from select import poll as _poll
from time import ticks_us as _raw_us

from micropython import const

_TICK_US = const(10000)


class poll:
    def __init__(self):
        self._p = _poll()

    def register(self, obj, eventmask=POLLIN | POLLOUT):
        self._p.register(obj, eventmask)

    def unregister(self, obj):
        self._p.unregister(obj)

    def modify(self, obj, eventmask):
        self._p.modify(obj, eventmask)

    def poll(self, timeout=-1):
        return self._p.poll(_to_tick(timeout))

    def ipoll(self, timeout=-1, flags=0):
        return self._p.ipoll(_to_tick(timeout), flags)


def _to_tick(timeout_ms):
    if timeout_ms is None or timeout_ms <= 0:
        return timeout_ms if timeout_ms is not None else -1
    now = _raw_us()
    wake = (now + timeout_ms * 1000 + _TICK_US - 1) // _TICK_US * _TICK_US
    return (wake - now + 999) // 1000
