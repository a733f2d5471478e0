"""The simulated `machine` module of the virtual dowel board: the subset of MicroPython's ESP32
`machine` API the firmware uses, fed by the simulated patient.

    from machine import ADC, Pin
    adc = ADC(Pin(34), atten=ADC.ATTN_11DB)
    adc.read_u16()   # the head FSR of the patient now playing, 0..65535

It runs on the WebAssembly interpreter; every reading and output goes through the JS module
`_vb` (vboard/lib/hardware.mjs), which samples the scenario timeline by elapsed time and records
outputs with timestamps. The JS functions are looked up once here: calling a cached JS function
with small ints allocates nothing, so the firmware's steady-state loop stays allocation-free on
the virtual board as on an ESP32 (tests run it under `micropython.heap_lock()`).

Faithful where a firmware bug would show: GPIO 34-39 are input-only, ADC only on ADC pins, the
ADC reads saturate unless attenuation is 11 dB, the MPU6050 wakes up asleep (PWR_MGMT_1 = 0x40)
and reads zeros until woken, an absent I2C device raises OSError(ENODEV), the WDT resets the
board when not fed, a soft reset stops timers and PWM.
"""

import _vb
from micropython import const

_adc = _vb.adc
_imu = _vb.imu
_out = _vb.out
_pin_in = _vb.pin_in
_timer_start = _vb.timer_start
_timer_stop = _vb.timer_stop
_wdt_start = _vb.wdt_start
_wdt_feed = _vb.wdt_feed
_rtc_s = _vb.rtc_s
_rtc_us = _vb.rtc_us
_rtc_set = _vb.rtc_set

# _vb.out kinds
_OUT_PIN = const(0)
_OUT_PWM_FREQ = const(1)
_OUT_PWM_DUTY = const(2)
_OUT_PWM_DEINIT = const(3)

# ESP32 (WROOM) GPIOs usable by a program: 6-11 drive the flash, 20/24/28-31 do not exist.
_GPIO = (0, 1, 2, 3, 4, 5, 12, 13, 14, 15, 16, 17, 18, 19, 21, 22, 23, 25, 26, 27,
         32, 33, 34, 35, 36, 37, 38, 39)
_INPUT_ONLY = (34, 35, 36, 37, 38, 39)
_ADC1 = (32, 33, 34, 35, 36, 37, 38, 39)
_ADC2 = (0, 2, 4, 12, 13, 14, 15, 25, 26, 27)

PWRON_RESET = const(1)
HARD_RESET = const(2)
WDT_RESET = const(3)
DEEPSLEEP_RESET = const(4)
SOFT_RESET = const(5)


def _pin_id(pin):
    return pin._id if isinstance(pin, Pin) else pin


class Pin:
    IN = const(1)
    OUT = const(3)
    OPEN_DRAIN = const(7)
    PULL_UP = const(2)
    PULL_DOWN = const(1)
    PULL_HOLD = const(4)
    IRQ_RISING = const(1)
    IRQ_FALLING = const(2)
    WAKE_LOW = const(4)
    WAKE_HIGH = const(5)
    DRIVE_0 = const(0)
    DRIVE_1 = const(1)
    DRIVE_2 = const(2)
    DRIVE_3 = const(3)

    def __init__(self, id, mode=-1, pull=-1, *, value=None, drive=None, hold=None):
        if id not in _GPIO:
            raise ValueError("invalid pin")
        self._id = id
        self._mode = Pin.IN
        self._pull = None
        self._v = 0
        self._irq = None
        self.init(mode, pull, value=value)

    def init(self, mode=-1, pull=-1, *, value=None, drive=None, hold=None):
        if value is not None:
            self._v = 1 if value else 0
        if mode != -1 and mode is not None:
            if mode in (Pin.OUT, Pin.OPEN_DRAIN) and self._id in _INPUT_ONLY:
                raise ValueError("pin can only be input")
            self._mode = mode
        if pull != -1:
            self._pull = pull
        if self._mode != Pin.IN:
            _out(_OUT_PIN, self._id, self._v)

    def value(self, x=None):
        if x is None:
            if self._mode == Pin.OUT:
                return self._v
            return _pin_in(self._id, -1 if self._pull is None else self._pull)
        self._v = 1 if x else 0
        if self._mode != Pin.IN:
            _out(_OUT_PIN, self._id, self._v)

    def __call__(self, x=None):
        return self.value(x)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def toggle(self):
        self.value(1 - self._v)

    def irq(self, handler=None, trigger=3, *, wake=None, hard=False):
        # Edges never happen on the simulated pins; keep the handler like a board would.
        self._irq = handler
        return None

    def __repr__(self):
        return "Pin(%d)" % self._id


class ADC:
    ATTN_0DB = const(0)
    ATTN_2_5DB = const(1)
    ATTN_6DB = const(2)
    ATTN_11DB = const(3)
    WIDTH_9BIT = const(9)
    WIDTH_10BIT = const(10)
    WIDTH_11BIT = const(11)
    WIDTH_12BIT = const(12)

    # Full scale of each attenuation relative to 11 dB (x1000): 1.0 V, 1.34 V, 2.0 V, 3.1 V.
    _GAIN = (3100, 2313, 1550, 1000)

    def __init__(self, pin, *, atten=None):
        pid = _pin_id(pin)
        if pid not in _ADC1 and pid not in _ADC2:
            raise ValueError("invalid pin for ADC")
        self._id = pid
        self._atten = ADC.ATTN_0DB  # the ESP32 default: full scale about 1 V
        if atten is not None:
            self.atten(atten)

    def atten(self, atten):
        if atten < 0 or atten > 3:
            raise ValueError("invalid attenuation")
        self._atten = atten

    def width(self, bits):
        if bits < 9 or bits > 12:
            raise ValueError("invalid width")

    def read_u16(self):
        v = _adc(self._id)
        a = self._atten
        if a != 3:
            v = v * ADC._GAIN[a] // 1000
            if v > 65535:
                v = 65535
        return v

    def read(self):
        return self.read_u16() >> 4

    def read_uv(self):
        return self.read_u16() * 3100 // 65535 * 1000

    def __repr__(self):
        return "ADC(Pin(%d))" % self._id


class PWM:
    def __init__(self, pin, freq=None, duty=None, *, duty_u16=None, duty_ns=None, invert=False):
        self._id = _pin_id(pin)
        if self._id not in _GPIO or self._id in _INPUT_ONLY:
            raise ValueError("invalid pin for PWM")
        self._freq = 5000
        self._duty = 32768
        self._active = True
        self.init(freq=freq, duty=duty, duty_u16=duty_u16, duty_ns=duty_ns)

    def init(self, *, freq=None, duty=None, duty_u16=None, duty_ns=None, invert=False):
        self._active = True
        if freq is not None:
            self._set_freq(freq)
        if duty is not None:
            self._set_duty(duty << 6 if duty < 1024 else 65535)
        if duty_u16 is not None:
            self._set_duty(duty_u16)
        if duty_ns is not None:
            self._set_duty(duty_ns * self._freq * 65535 // 1000000000)
        _out(_OUT_PWM_FREQ, self._id, self._freq)
        _out(_OUT_PWM_DUTY, self._id, self._duty)

    def _set_freq(self, f):
        if f < 1 or f > 40000000:
            raise ValueError("frequency must be from 1Hz to 40MHz")
        self._freq = f

    def _set_duty(self, d):
        if d < 0 or d > 65535:
            raise ValueError("duty_u16 must be from 0 to 65535")
        self._duty = d

    def freq(self, f=None):
        if f is None:
            return self._freq
        self._set_freq(f)
        if self._active:
            _out(_OUT_PWM_FREQ, self._id, f)

    def duty_u16(self, d=None):
        if d is None:
            return self._duty
        self._set_duty(d)
        if self._active:
            _out(_OUT_PWM_DUTY, self._id, d)

    def duty(self, d=None):
        if d is None:
            return self._duty >> 6
        self.duty_u16(d << 6 if d < 1024 else 65535)

    def duty_ns(self, ns=None):
        if ns is None:
            return self._duty * 1000000000 // (self._freq * 65535)
        self.duty_u16(ns * self._freq * 65535 // 1000000000)

    def deinit(self):
        self._active = False
        _out(_OUT_PWM_DEINIT, self._id, 0)

    def __repr__(self):
        return "PWM(Pin(%d), freq=%d, duty_u16=%d)" % (self._id, self._freq, self._duty)


class _MPU6050:
    """Register model of an MPU6050 (datasheet register map rev 4.2)."""

    def __init__(self):
        self._r = bytearray(128)
        self._ptr = 0
        self.reset()

    def reset(self):
        r = self._r
        for i in range(128):
            r[i] = 0
        r[0x6B] = 0x40  # PWR_MGMT_1: SLEEP after power-up
        r[0x75] = 0x68  # WHO_AM_I

    def _put(self, reg, v):
        if v > 32767:
            v = 32767
        elif v < -32768:
            v = -32768
        self._r[reg] = (v >> 8) & 0xFF
        self._r[reg + 1] = v & 0xFF

    def _sample(self):
        r = self._r
        if r[0x6B] & 0x40:
            return  # asleep: the data registers keep their last values (zeros after power-up)
        g_lsb = 16384 >> ((r[0x1C] >> 3) & 3)  # ACCEL_CONFIG AFS_SEL: LSB per g
        # GYRO_CONFIG FS_SEL: LSB per deg/s, x10
        d_lsb10 = (1310, 655, 328, 164)[(r[0x1B] >> 3) & 3]
        self._put(0x3B, _imu(0) * g_lsb // 1000)
        self._put(0x3D, _imu(1) * g_lsb // 1000)
        self._put(0x3F, _imu(2) * g_lsb // 1000)
        self._put(0x41, (_imu(6) - 3653) * 340 // 100)  # TEMP_OUT = (T - 36.53 degC) * 340
        self._put(0x43, _imu(3) * d_lsb10 // 10000)
        self._put(0x45, _imu(4) * d_lsb10 // 10000)
        self._put(0x47, _imu(5) * d_lsb10 // 10000)

    def read_into(self, reg, buf):
        n = len(buf)
        if reg <= 0x48 and reg + n > 0x3B:
            self._sample()
        r = self._r
        for i in range(n):
            buf[i] = r[(reg + i) & 0x7F]
        self._ptr = (reg + n) & 0x7F

    def write(self, reg, buf):
        r = self._r
        for i in range(len(buf)):
            a = (reg + i) & 0x7F
            b = buf[i]
            if a == 0x6B and b & 0x80:
                self.reset()  # DEVICE_RESET; the bit clears itself
                continue
            if a == 0x75 or 0x3B <= a <= 0x60:
                continue  # read-only
            r[a] = b
        self._ptr = (reg + len(buf)) & 0x7F


_mpu = _MPU6050() if _vb.has_imu() else None
_MPU_ADDR = const(0x68)
_ENODEV = const(19)


class I2C:
    def __init__(self, id=0, *, scl=None, sda=None, freq=400000, timeout=50000):
        if id not in (0, 1):
            raise ValueError("I2C(%d) doesn't exist" % id)
        self._id = id
        self._freq = freq

    def _dev(self, addr):
        if addr != _MPU_ADDR or _mpu is None:
            raise OSError(_ENODEV)
        return _mpu

    def scan(self):
        return [] if _mpu is None else [_MPU_ADDR]

    def readfrom_mem_into(self, addr, memaddr, buf, *, addrsize=8):
        self._dev(addr).read_into(memaddr, buf)

    def readfrom_mem(self, addr, memaddr, nbytes, *, addrsize=8):
        buf = bytearray(nbytes)
        self._dev(addr).read_into(memaddr, buf)
        return bytes(buf)

    def writeto_mem(self, addr, memaddr, buf, *, addrsize=8):
        self._dev(addr).write(memaddr, buf)

    def writeto(self, addr, buf, stop=True):
        dev = self._dev(addr)
        if len(buf):
            dev.write(buf[0], buf[1:]) if len(buf) > 1 else dev.write(buf[0], b"")
        return len(buf)

    def readfrom_into(self, addr, buf, stop=True):
        dev = self._dev(addr)
        dev.read_into(dev._ptr, buf)

    def readfrom(self, addr, nbytes, stop=True):
        buf = bytearray(nbytes)
        self.readfrom_into(addr, buf)
        return bytes(buf)

    def __repr__(self):
        return "I2C(%d, freq=%d)" % (self._id, self._freq)


class SoftI2C(I2C):
    def __init__(self, scl, sda, *, freq=400000, timeout=50000):
        I2C.__init__(self, 0, scl=scl, sda=sda, freq=freq, timeout=timeout)


class Timer:
    ONE_SHOT = const(0)
    PERIODIC = const(1)

    def __init__(self, id, **kwargs):
        if id < 0 or id > 3:
            raise ValueError("invalid Timer number")
        self._id = id
        self._cb = None
        self._on = False
        if kwargs:
            self.init(**kwargs)

    def init(self, *, mode=PERIODIC, period=-1, freq=-1, callback=None):
        if freq > 0:
            period = max(1, 1000 // freq)
        if period < 0:
            raise ValueError("period or freq needed")
        self._cb = callback
        self._on = True
        _timer_start(self._id, period, 1 if mode == Timer.PERIODIC else 0, self._fire)

    def _fire(self):
        if not self._on:
            return
        cb = self._cb
        if cb is not None:
            try:
                cb(self)
            except Exception as e:
                import sys

                print("Unhandled exception in IRQ callback handler")
                sys.print_exception(e)

    def deinit(self):
        self._on = False
        _timer_stop(self._id)

    def __repr__(self):
        return "Timer(%d)" % self._id


class WDT:
    def __init__(self, id=0, timeout=5000):
        if id != 0:
            raise ValueError("WDT(%d) doesn't exist" % id)
        if timeout < 1:
            raise ValueError("WDT timeout too short")
        _wdt_start(timeout)

    def feed(self):
        _wdt_feed()


class RTC:
    def __init__(self, id=0):
        pass

    def datetime(self, datetimetuple=None):
        """(year, month, day, weekday, hours, minutes, seconds, subseconds=microseconds)"""
        import time

        if datetimetuple is None:
            us = _rtc_us()
            y, mo, d, h, mi, s, wd, _ = time.gmtime(_rtc_s())
            return (y, mo, d, wd, h, mi, s, us)
        y, mo, d, _, h, mi, s, us = datetimetuple
        _rtc_set(time.mktime((y, mo, d, h, mi, s, 0, 0)), us)

    def init(self, datetimetuple):
        self.datetime(datetimetuple)


def reset():
    _vb.reset()
    raise SystemExit


def soft_reset():
    _vb.soft_reset()
    raise SystemExit


def reset_cause():
    return _vb.reset_cause()


def unique_id():
    return bytes.fromhex(_vb.unique_id())


def freq(hz=None):
    if hz is None:
        return _vb.cpu_freq(0)
    if hz not in (20000000, 40000000, 80000000, 160000000, 240000000):
        raise ValueError("frequency must be 20MHz, 40MHz, 80Mhz, 160MHz or 240MHz")
    _vb.cpu_freq(hz)


def idle():
    pass


def lightsleep(ms=None):
    import time

    time.sleep_ms(ms or 0)


def deepsleep(ms=None):
    _vb.reset()
    raise SystemExit


def disable_irq():
    return 0


def enable_irq(state=0):
    pass
