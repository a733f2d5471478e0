"""`dowel.rtc8563`: the PCF8563 read and set as MicroPython's RTC tuple, BCD both ways, the VL
bit read as "time not valid", on CPython with tests/fakes/i2c.py's register model and on
MicroPython."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from dowel import rtc8563
from hypothesis import given
from hypothesis import strategies as st

from tests.fakes.i2c import FakeI2C, Pcf8563Chip

FAKE = (Path(__file__).parents[1] / "fakes" / "i2c.py").read_text()


def make():
    chip = Pcf8563Chip()
    return chip, rtc8563.Pcf8563(FakeI2C(chip))


def test_fresh_chip_has_no_valid_time_and_clkout_is_switched_off():
    chip, rtc = make()
    assert rtc.datetime() is None and not rtc.valid()
    assert chip.regs[0x0D] == 0x00


def test_set_writes_bcd_clears_vl_with_the_clock_stopped_and_reads_back():
    chip, rtc = make()
    rtc.set_datetime((2025, 12, 31, 2, 23, 59, 58, 123456))
    assert bytes(chip.regs[0x02:0x09]) == bytes([0x58, 0x59, 0x23, 0x31, 0x02, 0x12, 0x25])
    assert chip.stopped_writes == 7 and chip.regs[0x00] == 0x00  # running again
    assert rtc.valid()
    assert rtc.datetime() == (2025, 12, 31, 2, 23, 59, 58, 0)


def test_vl_set_by_a_flat_coin_cell_means_not_valid():
    chip, rtc = make()
    rtc.set_datetime((2026, 3, 1, 6, 8, 0, 0, 0))
    chip.battery_lost()
    assert rtc.datetime() is None and not rtc.valid()


@pytest.mark.parametrize(
    "regs",
    [
        [0x5A, 0x00, 0x00, 0x01, 0x00, 0x01, 0x25],  # seconds nibble not a digit
        [0x00, 0x60, 0x00, 0x01, 0x00, 0x01, 0x25],  # minute 60
        [0x00, 0x00, 0x24, 0x01, 0x00, 0x01, 0x25],  # hour 24
        [0x00, 0x00, 0x00, 0x30, 0x00, 0x02, 0x25],  # 30 February
        [0x00, 0x00, 0x00, 0x01, 0x00, 0x13, 0x25],  # month 13
        [0x00, 0x00, 0x00, 0x01, 0x07, 0x01, 0x25],  # weekday 7
    ],
)
def test_garbage_registers_are_not_a_time(regs):
    chip, rtc = make()
    chip.regs[0x02:0x09] = bytes(regs)
    assert rtc.datetime() is None


def test_unused_bits_are_masked():
    chip, rtc = make()
    # bit 7 of minutes, bits 7:6 of hours/days, 7:3 of weekdays, the century bit: all ignored
    chip.regs[0x02:0x09] = bytes(
        [0x07, 0x80 | 0x30, 0xC0 | 0x12, 0xC0 | 0x29, 0xF8 | 3, 0x80 | 0x02, 0x24]
    )
    assert rtc.datetime() == (2024, 2, 29, 3, 12, 30, 7, 0)


@pytest.mark.parametrize(
    "bad",
    [
        (1999, 1, 1, 0, 0, 0, 0, 0),
        (2100, 1, 1, 0, 0, 0, 0, 0),
        (2025, 2, 29, 0, 0, 0, 0, 0),
        (2025, 1, 1, 0, 24, 0, 0, 0),
    ],
)
def test_set_refuses_what_the_chip_cannot_hold(bad):
    chip, rtc = make()
    with pytest.raises(ValueError):
        rtc.set_datetime(bad)
    assert chip.regs[0x02] & 0x80  # nothing written: still not valid


@given(st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2099, 12, 31)))
def test_any_date_round_trips(when):
    _chip, rtc = make()
    t = (
        when.year,
        when.month,
        when.day,
        when.weekday(),
        when.hour,
        when.minute,
        when.second,
        when.microsecond,
    )
    rtc.set_datetime(t)
    assert rtc.datetime() == t[:7] + (0,)


@pytest.fixture(scope="module")
def run_mp():
    interp = pytest.importorskip("host_tools.vboard.interp")
    return interp.run_micropython


@pytest.mark.vboard
def test_on_micropython(run_mp):
    code = """
from fake_i2c import FakeI2C, Pcf8563Chip
from dowel.rtc8563 import Pcf8563
chip = Pcf8563Chip()
rtc = Pcf8563(FakeI2C(chip))
print(rtc.datetime())
rtc.set_datetime((2026, 1, 5, 0, 7, 30, 15, 999))
print(rtc.datetime())
try:
    rtc.set_datetime((2101, 1, 1, 0, 0, 0, 0, 0))
except ValueError as e:
    print("refused", e)
"""
    out = run_mp(code, files={"fake_i2c.py": FAKE}).splitlines()
    assert out == [
        "None",
        "(2026, 1, 5, 0, 7, 30, 15, 0)",
        "refused the PCF8563 holds years 2000-2099, not 2101",
    ]
