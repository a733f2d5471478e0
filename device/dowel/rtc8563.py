"""PCF8563 real-time clock: keeps the date while the dowel is off, on its own coin cell.

    rtc = Pcf8563(i2c)                    # at I2C 0x51 (`dowel.pinmap.RTC_ADDR`)
    dt = rtc.datetime()                   # the MicroPython RTC tuple, or None: time not valid
    if dt is not None:
        machine.RTC().datetime(dt)        # the ESP32's clock, lost at every power-off
    rtc.set_datetime(machine.RTC().datetime())   # after the host has set the board's clock

Takes any object with MicroPython's `I2C` memory calls, so it runs under CPython with a fake
bus. The tuple is the one `machine.RTC().datetime()` uses on the esp32 port
(ports/esp32/machine_rtc.c): (year, month, day, weekday, hours, minutes, seconds, subseconds),
weekday 0 = Monday (the port's `timeutils`), subseconds in microseconds. The PCF8563 counts
whole seconds, so subseconds read 0; its weekday is whatever was written (the datasheet leaves
the assignment to the user), so it carries MicroPython's.

Registers from NXP's "PCF8563 Real-time clock/calendar" product data sheet (Rev. 11, 2015),
its register overview and time-register descriptions: 0x02 VL_seconds .. 0x08 years, packed
BCD. Bit 7 of
VL_seconds, VL ("voltage low"), is set when the supply fell too low to keep time (the coin
cell ran down, or it was never fitted): "the integrity of the clock information is not
guaranteed". It clears only when the seconds are written, so a clock that has not been set
since reads as not valid. The century bit (bit 7 of Century_months) is written 0 and the years
are read as 2000-2099.
"""

try:
    from micropython import const
except ImportError:  # CPython: the host runs these same files

    def const(x):
        return x


ADDR = const(0x51)

_CONTROL_STATUS_1 = const(0x00)  # bit 5 STOP: the clock is stopped while set
_VL_SECONDS = const(0x02)
_CLKOUT_CONTROL = const(0x0D)  # bit 7 FE: 32.768 kHz square wave on CLKOUT, on at power-up
_VL = const(0x80)
_STOP = const(0x20)


def _bcd(b):
    """A packed-BCD byte's value, or -1 if a nibble is not a decimal digit."""
    hi = b >> 4
    lo = b & 0x0F
    if hi > 9 or lo > 9:
        return -1
    return hi * 10 + lo


def _to_bcd(v):
    return ((v // 10) << 4) | (v % 10)


def _days_in_month(year, month):
    if month == 2:
        return 29 if year % 4 == 0 else 28  # 2000-2099: every fourth year is a leap year
    return 30 if month in (4, 6, 9, 11) else 31


class Pcf8563:
    def __init__(self, i2c, addr=ADDR):
        self.i2c = i2c
        self.addr = addr
        self._regs = bytearray(7)  # VL_seconds .. years
        self._one = bytearray(1)
        # CLKOUT is on at power-up and nothing here uses it: off, so it draws nothing.
        self._one[0] = 0x00
        i2c.writeto_mem(addr, _CLKOUT_CONTROL, self._one)

    def datetime(self):
        """The clock's time as the MicroPython RTC tuple, or None when it is not valid (VL
        set: it lost power, or was never set; or a register out of range)."""
        r = self._regs
        self.i2c.readfrom_mem_into(self.addr, _VL_SECONDS, r)
        if r[0] & _VL:
            return None
        seconds = _bcd(r[0] & 0x7F)
        minutes = _bcd(r[1] & 0x7F)
        hours = _bcd(r[2] & 0x3F)
        day = _bcd(r[3] & 0x3F)
        weekday = r[4] & 0x07
        month = _bcd(r[5] & 0x1F)
        year = _bcd(r[6])
        if (
            not 0 <= seconds <= 59
            or not 0 <= minutes <= 59
            or not 0 <= hours <= 23
            or not 1 <= month <= 12
            or year < 0
            or weekday > 6
        ):
            return None
        year += 2000
        if not 1 <= day <= _days_in_month(year, month):
            return None
        return (year, month, day, weekday, hours, minutes, seconds, 0)

    def valid(self):
        """True when the clock has kept time since it was last set (VL clear)."""
        self.i2c.readfrom_mem_into(self.addr, _VL_SECONDS, self._one)
        return not self._one[0] & _VL

    def set_datetime(self, dt):
        """Set the clock from a MicroPython RTC tuple (subseconds are dropped). Clears VL.
        Raises ValueError for a date the chip cannot hold (years 2000-2099)."""
        year, month, day, weekday, hours, minutes, seconds = dt[:7]
        if not 2000 <= year <= 2099:
            raise ValueError("the PCF8563 holds years 2000-2099, not %d" % year)
        if (
            not 1 <= month <= 12
            or not 1 <= day <= _days_in_month(year, month)
            or not 0 <= weekday <= 6
            or not 0 <= hours <= 23
            or not 0 <= minutes <= 59
            or not 0 <= seconds <= 59
        ):
            raise ValueError("not a valid date and time: %r" % (dt,))
        r = self._regs
        r[0] = _to_bcd(seconds)  # VL (bit 7) written 0
        r[1] = _to_bcd(minutes)
        r[2] = _to_bcd(hours)
        r[3] = _to_bcd(day)
        r[4] = weekday
        r[5] = _to_bcd(month)  # century bit 0
        r[6] = _to_bcd(year - 2000)
        # Stop the clock while it is written, so no carry lands between the registers; the
        # prescaler restarts from zero when STOP is released (the data sheet's STOP bit function).
        one = self._one
        one[0] = _STOP
        self.i2c.writeto_mem(self.addr, _CONTROL_STATUS_1, one)
        self.i2c.writeto_mem(self.addr, _VL_SECONDS, r)
        one[0] = 0x00
        self.i2c.writeto_mem(self.addr, _CONTROL_STATUS_1, one)
