"""`dowel.battery`: counts and pin millivolts to cell millivolts through the pin map's divider,
charge from the discharge curve, and a low-battery alarm that fires once and does not chatter
on a sagging, noisy cell."""

from __future__ import annotations

import random

import pytest
from dowel import battery, pinmap
from hypothesis import given
from hypothesis import strategies as st


def test_divider_doubles_and_keeps_a_full_cell_in_the_adc_linear_range():
    assert pinmap.BATTERY_R_TOP_OHMS == pinmap.BATTERY_R_BOTTOM_OHMS  # 1:2
    assert battery.cell_mv_from_pin_mv(2100) == 4200
    assert battery.cell_mv_from_pin_mv(1500) == 3000
    pin_full = (
        4200
        * pinmap.BATTERY_R_BOTTOM_OHMS
        // (pinmap.BATTERY_R_TOP_OHMS + pinmap.BATTERY_R_BOTTOM_OHMS)
    )
    assert 150 <= pin_full <= 2450  # ESP32 ADC at 11 dB, linear window (hardware/divider.py)


def test_counts_use_the_11db_full_scale():
    assert battery.cell_mv_from_counts(65535) == 6200  # 3.1 V at the pin
    assert battery.cell_mv_from_counts(0) == 0
    counts = 2100 * 65535 // 3100 + 1
    assert abs(battery.cell_mv_from_counts(counts) - 4200) <= 2


def test_percent_on_the_curve():
    assert battery.percent(4250) == 100
    assert battery.percent(4200) == 100
    assert battery.percent(3820) == 50
    assert battery.percent(3000) == 0
    assert battery.percent(2000) == 0
    assert 50 < battery.percent(3850) < 60


@given(st.integers(0, 5000), st.integers(0, 5000))
def test_percent_is_monotonic_and_bounded(a, b):
    lo, hi = min(a, b), max(a, b)
    assert 0 <= battery.percent(lo) <= battery.percent(hi) <= 100


def test_low_fires_once_then_recovers_only_well_above():
    mon = battery.Monitor()
    assert mon.update(3900) is False and not mon.low
    fired = [mon.update(3400) for _ in range(40)]
    assert fired.count(True) == 1 and mon.low
    for _ in range(40):  # a little over the threshold: still low (hysteresis)
        assert mon.update(battery.LOW_MV + 50) is False
    assert mon.low
    for _ in range(40):  # charged
        mon.update(4100)
    assert not mon.low
    assert [mon.update(3400) for _ in range(40)].count(True) == 1  # next discharge: once more


def test_no_chatter_on_a_noisy_sagging_cell_near_the_threshold():
    rng = random.Random(3)
    mon = battery.Monitor()
    fired = 0
    mv = 3700.0
    for _ in range(5000):  # a slow discharge through LOW_MV with beeps (100 mV sag) and noise
        mv -= 0.05
        sag = 100 if rng.random() < 0.2 else 0
        fired += mon.update(int(mv) - sag + rng.randint(-40, 40))
    assert fired == 1


def test_no_cell_switched_in_is_not_low():
    mon = battery.Monitor()
    mon.update(3300)
    assert mon.low
    assert mon.update(30) is False  # on USB, switch off: divider reads ~0
    assert not mon.low and not mon.present() and mon.mv == 0
    assert mon.update(4000) is False and mon.present() and mon.mv == 4000


@pytest.fixture(scope="module")
def run_mp():
    interp = pytest.importorskip("host_tools.vboard.interp")
    return interp.run_micropython


@pytest.mark.vboard
def test_on_micropython_update_allocates_nothing(run_mp):
    code = """
import gc, micropython
from dowel import battery
def discharge(mon):
    fired = 0
    for i in range(400):
        if mon.update(battery.cell_mv_from_counts(45000 - i * 30)):
            fired += 1
    return fired
discharge(battery.Monitor())  # warm up
mon = battery.Monitor()
fired = 0
gc.collect()
micropython.heap_lock()
fired = discharge(mon)
micropython.heap_unlock()
print(fired, mon.low, battery.percent(3820), battery.cell_mv_from_pin_mv(2100))
"""
    assert run_mp(code).split() == ["1", "True", "50", "4200"]
