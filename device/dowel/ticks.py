"""Milliseconds between loop ticks from a wrapping tick counter.

    clock = Clock(time.ticks_ms, time.ticks_diff)
    dt_ms = clock.dt_ms()     # since the previous call, right across the counter's wrap

The counter and its difference function are passed in: the board passes MicroPython's
`time.ticks_ms`/`ticks_diff` (the counter wraps at 2**30 ms on the ESP32, about 12 days), and
tests pass counters that wrap on purpose. Never subtract raw ticks: only `ticks_diff` knows the
wrap.
"""


class Clock:
    def __init__(self, ticks_ms, ticks_diff):
        self._ticks_ms = ticks_ms
        self._ticks_diff = ticks_diff
        self._last = ticks_ms()

    def dt_ms(self):
        now = self._ticks_ms()
        dt = self._ticks_diff(now, self._last)
        self._last = now
        return dt
