"""The board's clocks, set by the host at every connection (`host_tools.board.link.Link.open`).

    link.call("dowel.clock", "sync", (2025, 3, 4, 1, 9, 30, 0, 0))
    # -> {"ticks_ms": 73412, "boot": 1184530211, "rtc": (...), "pcf8563": True}

`sync` sets the ESP32's RTC (UTC, `machine.RTC().datetime()` order) through the log store, so
the store knows it was set (`dowel.loghost.set_rtc`: sessions carry dates only while the RTC
has run since a host set it), and, when a PCF8563 answers at `pinmap.RTC_ADDR`, that chip too:
it keeps the time on its coin cell while the dowel is off (`dowel.rtc8563`), and the firmware
restores the ESP32's RTC from it at boot.

It also tells the host what the host needs to place undated sessions on the calendar
(`host_tools.store.dates`): `ticks_ms`, read before the clock is touched, counts from the
chip's last reset (MicroPython's esp32 port, ports/esp32/mphalport.c: `mp_hal_ticks_ms()` is
`esp_timer_get_time() / 1000`, the IDF's microseconds since the chip started, which a soft
reset does not restart), and `boot` is the log store's random number of the last session begun
since this interpreter started (`dowel.running.session_boot`), None when none was. The host's
Ctrl-C keeps the interpreter, a soft or hard reset does not: when `boot` is that of the log's
last session, that session and this moment share one count of ticks.
"""

try:
    import time

    _ticks_ms = time.ticks_ms  # type: ignore[attr-defined]
except AttributeError:  # CPython (host tests): a monotonic count in ms, like the board's
    _ticks_ms = None


def _now_ms():
    if _ticks_ms is not None:
        return _ticks_ms()
    t = time.monotonic()  # pyright: ignore[reportAttributeAccessIssue] - CPython only
    return int(t * 1000) & 0x3FFFFFFF


def sync(datetime):
    """Set the ESP32's RTC (and a fitted PCF8563) to `datetime` (UTC, RTC order). Returns a
    dict: ticks_ms before setting, boot (see above), the RTC's reading before (`rtc_before`:
    the dowel's own time, which the host records as a coincident time stamp) and after, and
    pcf8563: True set, False found but not set (`pcf8563_error` says why), None not fitted."""
    import machine

    from dowel import loghost, running

    ticks = _now_ms()
    before = machine.RTC().datetime()  # what the dowel's clock said: the host's provenance
    boot = running.session_boot
    now = loghost.set_rtc(datetime)
    out = {
        "ticks_ms": ticks,
        "boot": boot,
        "rtc_before": tuple(before),
        "rtc": tuple(now),
        "pcf8563": None,
    }
    chip = _pcf8563()
    if chip is not None:
        try:
            chip.set_datetime(now)
            out["pcf8563"] = True
        except (OSError, ValueError) as exc:  # a bus error; a year the chip cannot hold
            out["pcf8563"] = False
            out["pcf8563_error"] = str(exc)
    return out


def _pcf8563():
    """The PCF8563 if one answers on the pin map's I2C bus, else None."""
    import machine  # as in `dowel.hal.find_imu`: the bus of the pin map

    from dowel import pinmap
    from dowel.rtc8563 import Pcf8563

    if not hasattr(machine, "I2C"):  # a test double of `machine` with a clock only
        return None
    try:
        i2c = machine.I2C(
            pinmap.I2C_ID,
            scl=machine.Pin(pinmap.I2C_SCL_PIN),
            sda=machine.Pin(pinmap.I2C_SDA_PIN),
            freq=pinmap.I2C_FREQ_HZ,
        )
        if pinmap.RTC_ADDR not in i2c.scan():
            return None
        return Pcf8563(i2c, pinmap.RTC_ADDR)
    except OSError:
        return None
