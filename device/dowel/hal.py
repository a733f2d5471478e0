"""The one module that touches hardware: FSR inputs, LED, buzzer, cell voltage, watchdog, the
I2C bus (IMU, real-time clock) and the timers.

    board = Board()
    readings = array("H", (0, 0, 0))
    board.read(readings)            # raw read_u16 counts: head, mid-back, sacrum
    board.tone(1760)                # 0 = silent; the LED follows the buzzer
    board.battery_mv()              # the cell, mV (0: no cell switched in)
    if board.imu:
        board.imu.read()            # updates board.imu.ax, .ay and .az (dowel.imu)

Pins come from `dowel.pinmap`. Every call in the per-tick path writes into buffers made here,
once, so the loop allocates nothing.

Timers (ESP32: hardware timers 0-3, soft callbacks only, all stopped by a soft reset;
ports/esp32/machine_timer.c): 0 feeds the watchdog while no loop runs and resets a board the
host left alone (`feed_in_background`); 1 wakes the loop every tick (`tick_timer`).
"""

import time

import machine
from micropython import const

from dowel import pinmap
from dowel.battery import cell_mv_from_pin_mv
from dowel.imu import Imu

_BUZZER_DUTY = const(32768)  # 50 %: loudest square wave on a passive piezo

_i2c = [None]


def i2c():
    """The pin map's I2C bus, made once (the IMU and the real-time clock share it)."""
    if _i2c[0] is None:
        _i2c[0] = machine.I2C(  # pyright: ignore[reportArgumentType, reportCallIssue]
            pinmap.I2C_ID,
            scl=machine.Pin(pinmap.I2C_SCL_PIN),
            sda=machine.Pin(pinmap.I2C_SDA_PIN),
            freq=pinmap.I2C_FREQ_HZ,
        )
    return _i2c[0]


def find_imu():
    """An `imu.Imu` (MPU6050 or MPU-6500) if one answers on the pin map's I2C bus, else None
    (the dowel works without)."""
    try:
        bus = i2c()
        if pinmap.MPU6050_ADDR not in bus.scan():
            return None
        return Imu(bus, pinmap.MPU6050_ADDR)
    except OSError:
        return None


def find_rtc():
    """The PCF8563's time as a `machine.RTC().datetime()` tuple if one answers and kept time
    while the dowel was off (its VL flag clear), else None."""
    from dowel.rtc8563 import Pcf8563

    try:
        return Pcf8563(i2c(), pinmap.RTC_ADDR).datetime()
    except OSError:  # ENODEV: no clock fitted
        return None


def set_rtc(dt):
    machine.RTC().datetime(dt)


WDT_MS = const(5000)  # the loop feeds it every slow tick (16 ms); a hang resets the board
_FEED_TIMER_ID = const(0)
_TICK_TIMER_ID = const(1)
# With the loop stopped (the host's Ctrl-C, a failed boot, a soft reset into the raw REPL) and
# no host call for this long, the feed timer hard-resets the board, which boots into the loop
# again: a host that vanished mid-command (killed, unplugged on battery) does not leave the
# dowel silent. A soft reset cannot be raised from a timer callback (it is `sys.exit`, an
# exception in the callback: extmod/modmachine.c), so it is `machine.reset()`. Override, in
# seconds, with `/host_idle.txt` (0: never); host calls push it back with `keepalive()`.
HOST_IDLE_MS = const(300000)
HOST_IDLE_PATH = "/host_idle.txt"
_host = [0, HOST_IDLE_MS]  # the deadline (ticks_ms), the idle time allowed (0: never)


def watchdog():
    """The watchdog: started, or after a soft reset taken up again (the ESP32's cannot be
    stopped, and it outlives a soft reset)."""
    return machine.WDT(timeout=WDT_MS)


def _host_idle_ms():
    try:
        with open(HOST_IDLE_PATH) as f:
            return int(f.read().strip()) * 1000
    except (OSError, ValueError):
        return HOST_IDLE_MS


def keepalive(idle_ms=None):
    """A host call touches this: the board resets only after `idle_ms` (default: as set at
    boot) without one. `keepalive(0)`: never, until the next boot (a developer at the REPL)."""
    if idle_ms is not None:
        _host[1] = idle_ms
    _host[0] = time.ticks_add(time.ticks_ms(), _host[1])
    return _host[1]


def feed_in_background(wdt):
    """Feed `wdt` from a timer while no firmware loop runs: the REPL, mpremote, the host tools.
    A soft reset stops timers but not the watchdog, so `/boot.py` calls this on every boot;
    the loop stops the timer when it takes over, and restarts it when it ends. The same timer
    resets a board left with no host call for `/host_idle.txt` seconds (HOST_IDLE_MS)."""
    _host[1] = _host_idle_ms()
    keepalive()

    def feed(_t):
        wdt.feed()
        if _host[1] and time.ticks_diff(time.ticks_ms(), _host[0]) > 0:
            print("@dowel host_idle reset after %d s without a host call" % (_host[1] // 1000))
            machine.reset()

    machine.Timer(_FEED_TIMER_ID).init(
        period=WDT_MS // 2, mode=machine.Timer.PERIODIC, callback=feed
    )


def stop_background_feed():
    machine.Timer(_FEED_TIMER_ID).deinit()


def tick_timer(period_ms, callback):
    """A periodic timer calling `callback(timer)` every `period_ms`: it wakes the loop on time,
    where an asyncio sleep would wait for the 100 Hz FreeRTOS tick."""
    t = machine.Timer(_TICK_TIMER_ID)
    t.init(period=period_ms, mode=machine.Timer.PERIODIC, callback=callback)
    return t


class Board:
    def __init__(self, watchdog_on=False):
        adcs = []
        for pin in pinmap.SENSOR_PINS:
            adc = machine.ADC(machine.Pin(pin))
            adc.atten(machine.ADC.ATTN_11DB)  # full 0-3.3 V range; linear ~150-2450 mV
            adcs.append(adc)
        self._adc0, self._adc1, self._adc2 = adcs
        # The cell through its divider: 11 dB, read_uv (IDF-calibrated, ports/esp32/adc.c).
        self._battery = machine.ADC(machine.Pin(pinmap.BATTERY_PIN))
        self._battery.atten(machine.ADC.ATTN_11DB)
        self._led = machine.Pin(pinmap.LED_PIN, machine.Pin.OUT, value=0)
        self._pwm = machine.PWM(machine.Pin(pinmap.BUZZER_PIN), freq=1000, duty_u16=0)
        self.imu = find_imu()
        # The watchdog stays with boot.py's timer until the loop takes it (`take_watchdog`):
        # a boot that fails after this leaves it fed.
        self._wdt = watchdog() if watchdog_on else None

    def read(self, out):
        out[0] = self._adc0.read_u16()
        out[1] = self._adc1.read_u16()
        out[2] = self._adc2.read_u16()

    def battery_mv(self):
        """The cell's voltage, mV, from the divider on BATTERY_PIN (0: no cell switched in)."""
        return cell_mv_from_pin_mv(self._battery.read_uv() // 1000)

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

    def retry_imu(self):
        """After the IMU failed: set it up again (`Imu.restore`), or look for it again when it
        was never set up. True when it answers now. A NACK fails at once; a hung bus blocks up
        to (1 + bytes) x 100 ms per transfer (ports/esp32/machine_i2c.c) before ETIMEDOUT."""
        if self.imu is None:
            self.imu = find_imu()
            return self.imu is not None
        self.imu.restore()  # raises OSError when it does not answer
        return True

    def take_watchdog(self):
        """The loop starts: from here on it feeds the watchdog, so a hung loop resets."""
        if self._wdt:
            stop_background_feed()

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


def reset():
    machine.reset()
