"""The loop's tick-to-milliseconds conversion across the counter's wrap."""

from dowel.ticks import Clock

PERIOD = 1 << 30  # MicroPython's TICKS_PERIOD on the ESP32


def ticks_diff(a, b):
    """MicroPython's documented ticks_diff semantics, for CPython."""
    return ((a - b + PERIOD // 2) % PERIOD) - PERIOD // 2


def test_dt_across_wrap():
    values = iter([PERIOD - 7, PERIOD - 2, 3, 8, 1000])
    clock = Clock(lambda: next(values), ticks_diff)
    assert [clock.dt_ms() for _ in range(4)] == [5, 5, 5, 992]


def test_elapsed_sum_matches_true_time_over_many_wraps():
    true_t = 0
    state = {"t": PERIOD - 100}

    def ticks_ms():
        return state["t"] % PERIOD

    clock = Clock(ticks_ms, ticks_diff)
    total = 0
    for step in [5, 7, 3, 1000, 5] * 2000:
        state["t"] += step
        true_t += step
        total += clock.dt_ms()
    assert total == true_t
