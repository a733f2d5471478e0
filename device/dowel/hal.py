"""The one module that touches hardware: FSR inputs, LED, buzzer, watchdog, optional IMU.

    board = Board()
    readings = array("H", (0, 0, 0))
    board.read(readings)            # raw read_u16 counts: head, mid-back, sacrum
    board.tone(1760)                # 0 = silent; the LED follows the buzzer
    if board.imu:
        board.imu.read()            # updates board.imu.ax and board.imu.az

Pins come from `dowel.pinmap`. Every call in the per-tick path writes into buffers made here,
once, so the loop allocates nothing.
"""

import machine
from micropython import const

from dowel import pinmap

_PWR_MGMT_1 = const(0x6B)
_ACCEL_CONFIG = const(0x1C)
_CONFIG = const(0x1A)
_ACCEL_XOUT_H = const(0x3B)
_WHO_AM_I = const(0x75)
_BUZZER_DUTY = const(32768)  # 50 %: loudest square wave on a passive piezo


class Mpu6050:
    """Accelerometer of an MPU6050 at +-2 g (16384 counts per g), 21 Hz digital low-pass.

    The loop reads it every 16 ms (62.5 Hz, `dowel.app.SLOW_TICK_MS`): the low-pass keeps what
    it reads under that rate's Nyquist frequency (31 Hz), so little aliases, and a hinge (under
    2 Hz) passes whole; its 8.5 ms delay is small beside the pitch filter's 30 ms."""

    def __init__(self, i2c, addr=pinmap.MPU6050_ADDR):
        self.i2c = i2c
        self.addr = addr
        self._buf = bytearray(6)
        self.ax = 0
        self.az = 0
        if i2c.readfrom_mem(addr, _WHO_AM_I, 1)[0] not in (0x68, 0x98):
            raise OSError("no MPU6050 at 0x%02x" % addr)
        i2c.writeto_mem(addr, _PWR_MGMT_1, b"\x00")  # wake, internal oscillator
        i2c.writeto_mem(addr, _ACCEL_CONFIG, b"\x00")  # +-2 g
        i2c.writeto_mem(addr, _CONFIG, b"\x04")  # DLPF_CFG 4: 21 Hz

    def read(self):
        """Update `ax` and `az`: signed counts along the dowel (X) and out of the back (Z).
        Attributes, not a returned tuple: a tuple per tick would allocate."""
        buf = self._buf
        self.i2c.readfrom_mem_into(self.addr, _ACCEL_XOUT_H, buf)
        ax = (buf[0] << 8) | buf[1]
        az = (buf[4] << 8) | buf[5]
        if ax & 0x8000:
            ax -= 0x10000
        if az & 0x8000:
            az -= 0x10000
        self.ax = ax
        self.az = az


def find_imu():
    """An Mpu6050 if one answers on the pin map's I2C bus, else None (the dowel works without)."""
    try:
        i2c = machine.I2C(
            pinmap.I2C_ID,
            scl=machine.Pin(pinmap.I2C_SCL_PIN),
            sda=machine.Pin(pinmap.I2C_SDA_PIN),
            freq=pinmap.I2C_FREQ_HZ,
        )
        if pinmap.MPU6050_ADDR not in i2c.scan():
            return None
        return Mpu6050(i2c)
    except OSError:
        return None


WDT_MS = const(5000)  # the loop feeds it every slow tick (16 ms); a hang resets the board
_FEED_TIMER_ID = const(0)


def watchdog():
    """The watchdog: started, or after a soft reset taken up again (the ESP32's cannot be
    stopped, and it outlives a soft reset)."""
    return machine.WDT(timeout=WDT_MS)


def feed_in_background(wdt):
    """Feed `wdt` from a timer while no firmware loop runs: the REPL, mpremote, the host tools.
    A soft reset stops timers but not the watchdog, so `/boot.py` calls this on every boot;
    the loop stops the timer when it takes over, and restarts it when it ends."""
    machine.Timer(_FEED_TIMER_ID).init(
        period=WDT_MS // 2, mode=machine.Timer.PERIODIC, callback=lambda _t: wdt.feed()
    )


def stop_background_feed():
    machine.Timer(_FEED_TIMER_ID).deinit()


class Board:
    def __init__(self, watchdog_on=False):
        adcs = []
        for pin in pinmap.SENSOR_PINS:
            adc = machine.ADC(machine.Pin(pin))
            adc.atten(machine.ADC.ATTN_11DB)  # full 0-3.3 V range; linear ~150-2450 mV
            adcs.append(adc)
        self._adc0, self._adc1, self._adc2 = adcs
        self._led = machine.Pin(pinmap.LED_PIN, machine.Pin.OUT, value=0)
        self._pwm = machine.PWM(machine.Pin(pinmap.BUZZER_PIN), freq=1000, duty_u16=0)
        self.imu = find_imu()
        self._wdt = None
        if watchdog_on:
            self._wdt = watchdog()
            stop_background_feed()  # from here on the loop feeds it, so a hung loop resets

    def read(self, out):
        out[0] = self._adc0.read_u16()
        out[1] = self._adc1.read_u16()
        out[2] = self._adc2.read_u16()

    def tone(self, freq_hz):
        if freq_hz:
            self._pwm.freq(freq_hz)
            self._pwm.duty_u16(_BUZZER_DUTY)
            self._led.value(1)
        else:
            self._pwm.duty_u16(0)
            self._led.value(0)

    def led(self, on):
        self._led.value(1 if on else 0)

    def feed(self):
        if self._wdt:
            self._wdt.feed()

    def keep_fed(self):
        """The loop has stopped (Ctrl-C from the host, or a crash): a timer feeds the watchdog,
        so a log pull is not cut by a reset."""
        if self._wdt:
            feed_in_background(self._wdt)

    def quiet(self):
        self.tone(0)


def unique_id():
    """The board's unique id (the MAC on an ESP32): names the device in log headers."""
    return machine.unique_id()


def rtc_datetime():
    return machine.RTC().datetime()
