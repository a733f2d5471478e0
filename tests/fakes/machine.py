"""One stand-in for MicroPython's `machine` (and the board's clock), for the device modules run
on CPython. `tests/fakes/board.py` gives it to the code a fake board runs; a test of one module
may install it as `sys.modules["machine"]`.

    m = Machine({34: lambda n: 900}, imu=Mpu(accel=(16384, 0, 0)))
    m.clock.ms                  # the board's ticks_ms: sleeps, ADC reads and output move it
    m.rtc                       # what machine.RTC().datetime() reads (2000-01-01 at power-on)
    m.pwm_log, m.pin_values     # what the buzzer and the output pins were told

Analogue inputs: `levels` maps a GPIO to a callable giving its n-th `read_u16` (n from 1); an
input not listed reads 0, as a grounded pin does. `battery_mv` is the cell behind the pin map's
divider (`read_uv` on BATTERY_PIN), None for no cell switched in. The I2C bus is
`tests/fakes/i2c.py`'s register models (an IMU, a PCF8563), unplugged or fitted per test.
"""

from __future__ import annotations

import types

from dowel import pinmap

from tests.fakes.i2c import FakeI2C

POWER_ON_RTC = (2000, 1, 1, 5, 0, 0, 0, 0)  # what the ESP32's RTC reads after power-up


class Clock:
    """The board's free-running counter, in microseconds: nothing moves it but the board's own
    sleeps and the time its work is modelled to take."""

    def __init__(self, ms: int = 0):
        self.us = ms * 1000

    @property
    def ms(self) -> int:
        return self.us // 1000

    def advance_ms(self, ms: float) -> None:
        self.us += int(ms * 1000)


def time_module(clock: Clock) -> types.SimpleNamespace:
    """MicroPython's `time` on `clock`: ticks and sleeps move only the virtual counter."""

    def sleep_ms(ms):
        clock.advance_ms(max(0, ms))

    return types.SimpleNamespace(
        ticks_ms=lambda: clock.ms,
        ticks_us=lambda: clock.us,
        ticks_diff=lambda a, b: a - b,
        ticks_add=lambda a, b: a + b,
        sleep_ms=sleep_ms,
        sleep_us=lambda us: clock.advance_ms(max(0, us) / 1000),
    )


class Machine(types.ModuleType):
    def __init__(
        self,
        levels=None,
        *,
        clock: Clock | None = None,
        read_us: int = 0,
        imu=None,
        rtc_chip=None,
        battery_mv: int | None = None,
        device_id: bytes = b"\x24\x0a\xc4\xf0\x00\x01",
    ):
        super().__init__("machine")
        self.clock = clock or Clock()
        self.levels = dict(levels or {})
        self.read_us = read_us  # what one ADC conversion costs the board's clock
        self.bus = FakeI2C(*(chip for chip in (imu, rtc_chip) if chip is not None))
        self.battery_mv = battery_mv
        self.device_id = device_id
        self.rtc = POWER_ON_RTC
        self.pin_values: dict[int, int] = {}
        self.pwm_log: list[tuple[str, int]] = []
        self.feeds = 0
        self.resets = 0
        machine = self

        class Pin:
            IN, OUT, PULL_UP, PULL_DOWN = 1, 3, 1, 2

            def __init__(self, n, mode=None, pull=None, value=None):
                self.n = n
                if value is not None:
                    machine.pin_values[n] = value

            def value(self, v=None):
                if v is None:
                    return machine.pin_values.get(self.n, 0)
                machine.pin_values[self.n] = 1 if v else 0
                return None

        class ADC:
            ATTN_0DB, ATTN_2_5DB, ATTN_6DB, ATTN_11DB = 0, 1, 2, 3

            def __init__(self, pin, atten=None):
                self.gpio = pin.n
                self.count = 0

            def atten(self, _a):
                pass

            def read_u16(self):
                self.count += 1
                machine.clock.us += machine.read_us
                read = machine.levels.get(self.gpio)
                return 0 if read is None else read(self.count)

            def read_uv(self):
                if self.gpio != pinmap.BATTERY_PIN or machine.battery_mv is None:
                    return 0
                bottom, top = pinmap.BATTERY_R_BOTTOM_OHMS, pinmap.BATTERY_R_TOP_OHMS
                return machine.battery_mv * 1000 * bottom // (top + bottom)

        class PWM:
            def __init__(self, pin, freq=0, duty_u16=0):
                pass

            def freq(self, f):
                machine.pwm_log.append(("freq", f))

            def duty_u16(self, d):
                machine.pwm_log.append(("duty", d))

            def deinit(self):
                pass

        class I2C:
            def __init__(self, *_a, **_k):
                pass

            def __getattr__(self, name):  # scan, readfrom_mem(_into), writeto_mem
                return getattr(machine.bus, name)

        class RTC:
            def datetime(self, value=None):
                if value is None:
                    return machine.rtc
                machine.rtc = tuple(value)
                return None

            def init(self, value):
                machine.rtc = tuple(value)

        class WDT:
            def __init__(self, id=0, timeout=5000):
                pass

            def feed(self):
                machine.feeds += 1

        class Timer:
            PERIODIC, ONE_SHOT = 1, 0

            def __init__(self, id=-1):
                pass

            def init(self, **_kw):
                pass  # never fires: the fake board runs no background work

            def deinit(self):
                pass

        self.Pin, self.ADC, self.PWM, self.I2C = Pin, ADC, PWM, I2C
        self.RTC, self.WDT, self.Timer = RTC, WDT, Timer

    def unique_id(self) -> bytes:
        return self.device_id

    def reset(self) -> None:
        self.resets += 1

    def reset_cause(self) -> int:
        return 1  # PWRON_RESET
