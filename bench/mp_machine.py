"""A minimal `machine` for the benchmark's own interpreter runs (MicroPython side): the "double"
harness of bench/mpbench.py, beside the virtual board's simulated `machine`.

    import machine
    machine.LEVELS[34] = 30000          # what ADC(Pin(34)).read_u16() returns

Just what `dowel.hal.Board` touches, each call as cheap as a Python method can be: the bare
loop and the firmware step read the same ADC objects, so their costs compare.
"""

LEVELS = {}


class Pin:
    IN = 1
    OUT = 3
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_RISING = 1
    IRQ_FALLING = 2

    def __init__(self, pin_id, mode=-1, pull=-1, value=None):
        self.id = pin_id
        self._value = value or 0

    def value(self, v=None):
        if v is None:
            return self._value
        self._value = v


class ADC:
    ATTN_0DB = 0
    ATTN_11DB = 3

    def __init__(self, pin):
        self.id = pin.id

    def atten(self, a):
        pass

    def read_u16(self):
        return LEVELS.get(self.id, 0)


class PWM:
    def __init__(self, pin, freq=1000, duty_u16=0):
        self._freq = freq
        self._duty = duty_u16

    def freq(self, f=None):
        if f is None:
            return self._freq
        self._freq = f

    def duty_u16(self, d=None):
        if d is None:
            return self._duty
        self._duty = d


class I2C:
    def __init__(self, bus_id, scl=None, sda=None, freq=400000):
        pass

    def scan(self):
        return []


class WDT:
    def __init__(self, timeout=5000):
        pass

    def feed(self):
        pass


class Timer:
    PERIODIC = 1

    def __init__(self, timer_id):
        pass

    def init(self, period=0, mode=1, callback=None):
        pass

    def deinit(self):
        pass


class RTC:
    def datetime(self):
        return (2026, 1, 1, 3, 0, 0, 0, 0)


def unique_id():
    return b"\x24\x0a\xc4\x00\x00\x01"
