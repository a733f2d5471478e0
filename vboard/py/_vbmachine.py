"""`machine` on the virtual board (installed as sys.modules["machine"] by _vbboot): the subset
of MicroPython's ESP32
`machine` API the firmware uses, fed by the simulated patient (see _vbhw).

    from machine import ADC, Pin
    adc = ADC(Pin(34), atten=ADC.ATTN_11DB)
    adc.read_u16()   # the head FSR of the patient now playing, 0..65535

Faithful where a firmware bug would show, each point as the esp32 port does it
(ports/esp32/machine_*.c): GPIO 34-39 are input-only, ADC only on ADC pins, readings saturate
unless the attenuation is 11 dB; the MPU6050 (WHO_AM_I 0x68) or MPU-6500 (0x70, VB_IMU=6500)
wakes up asleep and reads zeros until woken; an absent I2C device raises OSError(ENODEV), a hung
bus OSError(ETIMEDOUT) after the transfer's timeout, both on demand from a scenario; the WDT
resets the board when not fed (the daemon keeps it: it outlives a soft reset, as the ESP32's
task watchdog does); Timer callbacks are soft (scheduled) callbacks; a soft reset stops timers
and PWM (each boot is a fresh process); the RTC keeps time across soft and hard resets.

Nothing on the steady-state path allocates: pins, ADC reads and PWM changes write into buffers
made once (the firmware's loop runs under micropython.heap_lock() here).
"""

import os
import time

import _vbhw
import micropython
from micropython import const

_sample = _vbhw.sample
_event = _vbhw.event

# ESP32 (WROOM) GPIOs usable by a program: 6-11 drive the flash, 20/24/28-31 do not exist.
_GPIO = (
    0,
    1,
    2,
    3,
    4,
    5,
    12,
    13,
    14,
    15,
    16,
    17,
    18,
    19,
    21,
    22,
    23,
    25,
    26,
    27,
    32,
    33,
    34,
    35,
    36,
    37,
    38,
    39,
)
_INPUT_ONLY = (34, 35, 36, 37, 38, 39)
_ADC1 = (32, 33, 34, 35, 36, 37, 38, 39)
_ADC2 = (0, 2, 4, 12, 13, 14, 15, 25, 26, 27)

PWRON_RESET = const(1)
HARD_RESET = const(2)
WDT_RESET = const(3)
DEEPSLEEP_RESET = const(4)
SOFT_RESET = const(5)

_SENSORS = [int(p) for p in (os.getenv("VB_SENSOR_PINS") or "34,35,32").split(",")]
_BATTERY_PIN = int(os.getenv("VB_BATTERY_PIN") or -1)
_BATTERY_COUNTS = int(os.getenv("VB_BATTERY_COUNTS") or 40000)
_ENODEV = const(19)
_ETIMEDOUT = const(110)
_FAULT_ENODEV = const(1)  # the IMU's wires came loose: NACK
_FAULT_TIMEOUT = const(2)  # the bus hangs: every transfer times out
_FAULT_POWER = const(3)  # the IMU lost power: it comes back asleep, registers reset


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
            _event(_vbhw.EV_PIN, self._id, self._v)

    def value(self, x=None):
        if x is None:
            if self._mode == Pin.OUT:
                return self._v
            if self._id in _SENSORS:
                return 1 if _sample(_SENSORS.index(self._id)) > 32768 else 0
            return 1 if self._pull == Pin.PULL_UP else 0
        v = 1 if x else 0
        if v != self._v:
            self._v = v
            if self._mode != Pin.IN:
                _event(_vbhw.EV_PIN, self._id, v)

    def __call__(self, x=None):
        return self.value(x)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def toggle(self):
        self.value(1 - self._v)

    def irq(self, handler=None, trigger=3, *, wake=None, hard=False):
        self._irq = handler  # edges never happen on the simulated pins
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
        self._k = _SENSORS.index(pid) if pid in _SENSORS else -1
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
        k = self._k
        if k >= 0:
            v = _sample(k)
        elif self._id == _BATTERY_PIN:
            v = _BATTERY_COUNTS
        else:
            v = 0
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
        self._out()

    def _out(self):
        _event(_vbhw.EV_PWM, self._id, self._freq, self._duty if self._active else 0)

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
            self._out()

    def duty_u16(self, d=None):
        if d is None:
            return self._duty
        self._set_duty(d)
        if self._active:
            self._out()

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
        self._out()

    def __repr__(self):
        return "PWM(Pin(%d), freq=%d, duty_u16=%d)" % (self._id, self._freq, self._duty)


class _Mpu:
    """Register model of an MPU6050 (InvenSense register map rev 4.2) or, with
    who_am_i=0x70, an MPU-6500 (register map rev 2.1: accelerometer low-pass in
    ACCEL_CONFIG2, 0x1D; temperature 333.87 LSB/degC from 21 degC)."""

    def __init__(self, who_am_i):
        self._who = who_am_i
        self._r = bytearray(128)
        self._ptr = 0
        self.reset()

    def reset(self):
        r = self._r
        for i in range(128):
            r[i] = 0
        r[0x6B] = 0x40  # PWR_MGMT_1: SLEEP after power-up
        r[0x75] = self._who

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
        d_lsb10 = (1310, 655, 328, 164)[(r[0x1B] >> 3) & 3]  # GYRO_CONFIG FS_SEL, x10
        pitch = _sample(3)
        g = _sample(5)
        # |g| along the dowel (X) and out of the back (Z), from the pitch: integer cos/sin.
        _cos_sin(pitch)
        c = _cs[0]
        s = _cs[1]
        h = (_vbhw._noise() % 21) - 10
        self._put(0x3B, g * c // 10000 * g_lsb // 1000)
        self._put(0x3D, h * g_lsb // 1000)
        self._put(0x3F, g * s // 10000 * g_lsb // 1000)
        if self._who == 0x70:
            self._put(0x41, (2500 - 2100) * 33387 // 10000)  # 25 degC
        else:
            self._put(0x41, (2500 - 3653) * 340 // 100)  # TEMP_OUT = (T - 36.53 degC) * 340
        self._put(0x43, h * 20 * d_lsb10 // 10000)
        self._put(0x45, _sample(4) * d_lsb10 // 10000)
        self._put(0x47, h * 20 * d_lsb10 // 10000)

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


# cos and sin x 10000 of 0..90 degrees in 1-degree steps, interpolated (no float: a float
# allocates on MicroPython).
_COS = (
    10000,
    9998,
    9994,
    9986,
    9976,
    9962,
    9945,
    9925,
    9903,
    9877,
    9848,
    9816,
    9781,
    9744,
    9703,
    9659,
    9613,
    9563,
    9511,
    9455,
    9397,
    9336,
    9272,
    9205,
    9135,
    9063,
    8988,
    8910,
    8829,
    8746,
    8660,
    8572,
    8480,
    8387,
    8290,
    8192,
    8090,
    7986,
    7880,
    7771,
    7660,
    7547,
    7431,
    7314,
    7193,
    7071,
    6947,
    6820,
    6691,
    6561,
    6428,
    6293,
    6157,
    6018,
    5878,
    5736,
    5592,
    5446,
    5299,
    5150,
    5000,
    4848,
    4695,
    4540,
    4384,
    4226,
    4067,
    3907,
    3746,
    3584,
    3420,
    3256,
    3090,
    2924,
    2756,
    2588,
    2419,
    2250,
    2079,
    1908,
    1736,
    1564,
    1392,
    1219,
    1045,
    872,
    698,
    523,
    349,
    175,
    0,
)


def _cos90(cdeg):
    if cdeg < 0:
        cdeg = -cdeg
    if cdeg >= 9000:
        return 0
    i = cdeg // 100
    f = cdeg - i * 100
    return _COS[i] + (_COS[i + 1] - _COS[i]) * f // 100


_cs = [0, 0]  # _cos_sin's result: a returned tuple would allocate on every IMU read


def _cos_sin(cdeg):
    """cos and sin (x 10000) of a pitch in centidegrees, -180..180 degrees, into _cs."""
    while cdeg > 18000:
        cdeg -= 36000
    while cdeg < -18000:
        cdeg += 36000
    a = cdeg if cdeg >= 0 else -cdeg
    c = _cos90(a) if a <= 9000 else -_cos90(18000 - a)
    s = _cos90(9000 - a) if a <= 9000 else _cos90(a - 9000)
    _cs[0] = c
    _cs[1] = s if cdeg >= 0 else -s


_IMU_KIND = os.getenv("VB_IMU") or "6050"
_mpu = None if _IMU_KIND == "none" else _Mpu(0x70 if _IMU_KIND == "6500" else 0x68)
_MPU_ADDR = const(0x68)
_RTC_ADDR = const(0x51)
_fault_seen = [0]


class I2C:
    def __init__(self, id=0, *, scl=None, sda=None, freq=400000, timeout=50000):
        if id not in (0, 1):
            raise ValueError("I2C(%d) doesn't exist" % id)
        self._id = id
        self._freq = freq
        self._timeout_us = timeout

    def _dev(self, addr, nbytes):
        if addr != _MPU_ADDR or _mpu is None:
            raise OSError(_ENODEV)
        fault = _sample(6)
        if fault == _FAULT_ENODEV:
            raise OSError(_ENODEV)
        if fault == _FAULT_TIMEOUT:
            # machine_i2c.c waits up to its timeout for the bus, per transfer.
            time.sleep_us(self._timeout_us * (1 + nbytes))
            raise OSError(_ETIMEDOUT)
        if fault == _FAULT_POWER:
            if not _fault_seen[0]:
                _fault_seen[0] = 1
                _mpu.reset()
        else:
            _fault_seen[0] = 0
        return _mpu

    def scan(self):
        if _mpu is None or _sample(6) in (_FAULT_ENODEV, _FAULT_TIMEOUT):
            return []
        return [_MPU_ADDR]

    def readfrom_mem_into(self, addr, memaddr, buf, *, addrsize=8):
        self._dev(addr, len(buf)).read_into(memaddr, buf)

    def readfrom_mem(self, addr, memaddr, nbytes, *, addrsize=8):
        buf = bytearray(nbytes)
        self._dev(addr, nbytes).read_into(memaddr, buf)
        return bytes(buf)

    def writeto_mem(self, addr, memaddr, buf, *, addrsize=8):
        self._dev(addr, len(buf)).write(memaddr, buf)

    def writeto(self, addr, buf, stop=True):
        dev = self._dev(addr, len(buf))
        if len(buf):
            dev.write(buf[0], buf[1:])
        return len(buf)

    def readfrom_into(self, addr, buf, stop=True):
        dev = self._dev(addr, len(buf))
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


# Timers: the ESP32's four hardware timers (timer groups 0/1 x 2) with soft callbacks: the
# timer's ISR schedules the callback (mp_sched_schedule), which runs on the main thread at the
# next check, as machine_timer.c does. A thread of this process stands in for the hardware:
# it keeps the due times and schedules; the callbacks themselves run on the main thread.
_N_TIMERS = const(4)
_t_on = bytearray(_N_TIMERS)
_t_periodic = bytearray(_N_TIMERS)
_t_period_us = [0] * _N_TIMERS
_t_due = [0] * _N_TIMERS
_t_fire = [None] * _N_TIMERS
_t_thread = [False]


def _timer_thread():
    raw = _vbhw._raw_us
    sched = micropython.schedule
    while True:
        now = raw()
        nxt = now + 2000
        for i in range(_N_TIMERS):
            if _t_on[i]:
                due = _t_due[i]
                if due - now <= 0:
                    try:
                        sched(_t_fire[i], i)
                    except RuntimeError:
                        pass  # queue full: this tick is lost, as on a board
                    if _t_periodic[i]:
                        due += _t_period_us[i]
                        if due - now <= 0:
                            due = now + _t_period_us[i]
                        _t_due[i] = due
                    else:
                        _t_on[i] = 0
                if _t_on[i] and _t_due[i] < nxt:
                    nxt = _t_due[i]
        left = nxt - raw()
        if left > 0:
            time.sleep_us(left)


class Timer:
    ONE_SHOT = const(0)
    PERIODIC = const(1)

    def __init__(self, id, **kwargs):
        if id < 0 or id >= _N_TIMERS:
            raise ValueError("invalid Timer number")
        self._id = id
        self._cb = None
        if kwargs:
            self.init(**kwargs)

    def init(self, *, mode=PERIODIC, period=-1, freq=-1, callback=None):
        if freq > 0:
            period_us = 1000000 // freq
        elif period >= 0:
            period_us = period * 1000
        else:
            raise ValueError("period or freq needed")
        if period_us < 1:
            period_us = 1
        i = self._id
        _t_on[i] = 0
        self._cb = callback
        _t_fire[i] = self._fire
        _t_periodic[i] = 1 if mode == Timer.PERIODIC else 0
        _t_period_us[i] = period_us
        _t_due[i] = _vbhw._raw_us() + period_us
        _t_on[i] = 1
        if not _t_thread[0]:
            import _thread

            _t_thread[0] = True
            _thread.start_new_thread(_timer_thread, ())

    def _fire(self, _):
        cb = self._cb
        if cb is not None:
            cb(self)

    def deinit(self):
        _t_on[self._id] = 0

    def value(self):
        return max(0, (_t_due[self._id] - _vbhw._raw_us()) // 1000) if _t_on[self._id] else 0

    def __repr__(self):
        return "Timer(%d)" % self._id


_wdt_sent = [0]


class WDT:
    """The task watchdog (machine_wdt.c): it cannot be stopped; a new WDT reconfigures it."""

    def __init__(self, id=0, timeout=5000):
        if id != 0:
            raise ValueError("WDT(%d) doesn't exist" % id)
        if timeout < 1:
            raise ValueError("WDT timeout too short")
        _event(_vbhw.EV_WDT_START, 0, timeout)
        _wdt_sent[0] = _vbhw._raw_us()

    def feed(self):
        # The daemon keeps the watchdog; one feed message per 50 ms is enough for a timeout
        # of seconds and keeps the loop's feed to a time comparison.
        now = _vbhw._raw_us()
        if now - _wdt_sent[0] >= 50000:
            _wdt_sent[0] = now
            _event(_vbhw.EV_WDT_FEED)


class RTC:
    def __init__(self, id=0):
        pass

    def datetime(self, datetimetuple=None):
        """(year, month, day, weekday, hours, minutes, seconds, subseconds=microseconds)"""
        if datetimetuple is None:
            us = time.rtc_us()
            y, mo, d, h, mi, s, wd, _ = time.gmtime(us // 1000000)
            return (y, mo, d, wd, h, mi, s, us % 1000000)
        if len(datetimetuple) != 8:  # mp_obj_get_array_fixed_n in machine_rtc.c
            raise ValueError("requested length 8 but object has length %d" % len(datetimetuple))
        y, mo, d, _, h, mi, s, us = datetimetuple
        off = time.set_rtc_us(time.mktime((y, mo, d, h, mi, s, 0, 0)) * 1000000 + us)
        _event(_vbhw.EV_RTC_SET, 0, off & 0x7FFFFFFF, (off >> 31) & 0xFFFFFFFF)

    def init(self, datetimetuple):
        self.datetime(datetimetuple)


def _wait_for_reset():
    while True:
        try:
            time.sleep_ms(1000)
        except BaseException:  # noqa: B036 - resetting: nothing more runs here
            pass


def reset():
    if _vbhw._ev is None:
        raise SystemExit  # a one-shot run (host_tools.vboard.interp): the run ends
    _event(_vbhw.EV_HARD_RESET)
    _wait_for_reset()


def soft_reset():
    if _vbhw._ev is None:
        raise SystemExit
    _event(_vbhw.EV_SOFT_RESET)
    _wait_for_reset()


def reset_cause():
    return int(os.getenv("VB_RESET_CAUSE") or PWRON_RESET)


def unique_id():
    return bytes.fromhex(os.getenv("VB_UID") or "240ac4000000")


_cpu_hz = [160000000]


def freq(hz=None):
    if hz is None:
        return _cpu_hz[0]
    if hz not in (20000000, 40000000, 80000000, 160000000, 240000000):
        raise ValueError("frequency must be 20MHz, 40MHz, 80Mhz, 160MHz or 240MHz")
    _cpu_hz[0] = hz


def idle():
    time.sleep_ms(0)


def lightsleep(ms=None):
    time.sleep_ms(ms or 0)


def deepsleep(ms=0):
    _event(_vbhw.EV_DEEPSLEEP, 0, ms or 0)
    _wait_for_reset()


def disable_irq():
    return 0


def enable_irq(state=0):
    pass
