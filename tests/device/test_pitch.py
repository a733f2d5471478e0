"""Trunk pitch: the integer atan2 and the low-pass, whose weight follows the sample period so its
time constant stays ~30 ms when the loop reads the IMU every 16 ms instead of every tick."""

import math
import random

from dowel.pitch import Pitch, atan2_ddeg


def test_atan2_within_its_stated_error():
    for deg10 in range(-1800, 1800, 7):
        r = math.radians(deg10 / 10)
        for g in (300, 4000, 16384):
            y, x = round(g * math.sin(r)), round(g * math.cos(r))
            want = math.degrees(math.atan2(y, x)) * 10
            diff = (atan2_ddeg(y, x) - want + 1800) % 3600 - 1800
            assert abs(diff) < 4 + 10 * 57.3 / g, (deg10, g)  # 0.4 deg + the counts' rounding


def test_default_is_the_one_eighth_filter_it_replaced():
    rng = random.Random(5)
    p = Pitch()
    ddeg = None
    for _ in range(2000):
        ax, az = rng.randrange(-16384, 16384), rng.randrange(-16384, 16384)
        raw = atan2_ddeg(az, ax)
        ddeg = raw if ddeg is None else ddeg + ((raw - ddeg) >> 3)
        assert p.update(ax, az) == ddeg


def _time_to_63_percent(sample_ms):
    p = Pitch(sample_ms=sample_ms)
    p.update(16384, 0)  # primed at 0 degrees
    t = 0
    while p.ddeg < 0.632 * 450:  # a step to 45 degrees
        p.update(11585, 11585)
        t += sample_ms
    return t


def test_time_constant_stays_about_30_ms_at_any_sample_period():
    for sample_ms in (4, 8, 16):
        t = _time_to_63_percent(sample_ms)
        assert 28 <= t <= 32 + sample_ms, (sample_ms, t)
