"""Item 8 wiring of issue 12: at boot the PCF8563 (I2C 0x51) sets the ESP32's clock when it
kept time while the dowel was off, and is left alone when its VL flag says it did not. On the
MicroPython interpreter with a register model of the chip on the board's shared I2C bus."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.vboard

CODE = r"""
import machine
from dowel import hal

class Pcf8563Bus:
    def __init__(self, vl):
        # VL_seconds .. years at 0x02..0x08: 2026-03-04 05:06:07, weekday 2 (BCD)
        self.regs = bytearray(16)
        self.regs[2:9] = bytes((0x07 | vl, 0x06, 0x05, 0x04, 0x02, 0x03, 0x26))
    def readfrom_mem_into(self, addr, reg, buf):
        if addr != 0x51:
            raise OSError(19)
        for i in range(len(buf)):
            buf[i] = self.regs[reg + i]
    def writeto_mem(self, addr, reg, buf):
        if addr != 0x51:
            raise OSError(19)

for vl in (0, 0x80):
    hal._i2c[0] = Pcf8563Bus(vl)
    dt = hal.find_rtc()
    if dt is not None:
        hal.set_rtc(dt)
    print("rtc", vl, dt, machine.RTC().datetime()[:7])
hal._i2c[0] = None
print("absent", hal.find_rtc())  # the board's own bus: no chip at 0x51 (ENODEV)
"""


def test_pcf8563_sets_the_clock_only_when_it_kept_time():
    from host_tools.vboard.interp import run_micropython

    lines = run_micropython(CODE, imu=False).splitlines()
    assert "rtc 0 (2026, 3, 4, 2, 5, 6, 7, 0) (2026, 3, 4, 2, 5, 6, 7)" in lines
    after_vl = next(line for line in lines if line.startswith("rtc 128"))
    assert after_vl.startswith("rtc 128 None (2026, 3, 4, 2, 5, 6,")  # kept, not overwritten
    assert "absent None" in lines
