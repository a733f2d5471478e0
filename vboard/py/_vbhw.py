"""The wire between the board process and its daemon (host_tools/vboard/daemon.py).

    import _vbhw
    _vbhw.sample(0)        # the head FSR of the playing scenario now (read_u16 counts)
    _vbhw.event(_vbhw.EV_PWM, 25, 2000, 32768)   # the buzzer plays 2 kHz

- The patient: the daemon renders a scenario (host_tools.sim) into `timeline.bin` in the
  board's directory (opened here once: the host's file system is gone once the flash is
  mounted), 16 bytes per sample (3 x u16 counts, i16 pitch in centidegrees, i32 gyro in
  millidegrees/s, u16 |g| in milli-g, u8 I2C fault, u8 pad), and keeps a 64-byte header in
  `patient.ctl` (see `_HDR_*`): which timeline plays, from which CLOCK_MONOTONIC microsecond,
  where the patient holds until the host catches up, and an armed power cut. Readings are
  looked up by elapsed time, so host and board share one clock.
- Outputs and requests: 16-byte records on the `events` FIFO (`EV_*`), written from a buffer
  made once, so reading a sensor or setting a pin allocates nothing (the firmware's loop runs
  under `micropython.heap_lock()` here as on an ESP32).
- Without a daemon (VB_DIR unset: `host_tools.vboard.interp`), the patient is idle (the dowel
  lies on a table) and outputs go nowhere.
"""

import os
import time

from micropython import const

_raw_us = time.ticks_us  # the unix port's: CLOCK_MONOTONIC microseconds, the daemon's clock

EV_PIN = const(1)  # a = pin, b = level
EV_PWM = const(2)  # a = pin, b = freq Hz, c = duty_u16 (0 when stopped)
EV_WDT_START = const(3)  # b = timeout ms
EV_WDT_FEED = const(4)
EV_SOFT_RESET = const(5)
EV_HARD_RESET = const(6)
EV_RTC_SET = const(7)  # b, c = low, high 31 bits of the RTC offset (us)
EV_POWER_CUT = const(8)  # the armed power cut is reached: kill me now
EV_DEEPSLEEP = const(9)  # b = ms (0 = forever)
EV_HEAP = const(10)  # b = free, c = used bytes after boot
EV_FLASH = const(11)  # b = 1: a flash write or erase starts, 0: it ended

_HDR_SEQ = const(0)
_HDR_GEN = const(4)
_HDR_T0 = const(8)  # i64
_HDR_HOLD = const(16)  # i32, -1 = no hold
_HDR_N = const(20)
_HDR_DT = const(24)
_HDR_CUT_OPS = const(28)  # i32, -1 = none
_HDR_CUT_SEQ = const(32)
_HDR_CUT_TORN = const(36)
_HDR_SIZE = const(64)
_REC = const(16)
_CHECK_US = const(5000)  # how often the header is looked at (a new scenario, a hold released)

_dir = os.getenv("VB_DIR")
_ev = None
_ctl = None
_tl = None
_hdr = bytearray(_HDR_SIZE)
_rec = bytearray(_REC)
_evbuf = bytearray(16)
_state = [0, 0, 0, -1, 0, 0, -1, 0, 0, -1, 12345]
# _state: 0 gen, 1 t0_us, 2 n, 3 hold_ms, 4 dt_ms, 5 last check us, 6 loaded index,
#         7 cut_seq seen, 8 cut torn, 9 ops left before the cut (-1 none), 10 noise LCG

if _dir:
    _ev = open(_dir + "/events", "wb")
    _ctl = open(_dir + "/patient.ctl", "rb")
    _tlf = open(_dir + "/timeline.bin", "rb")

IDLE_COUNTS = const(300)


def _i32(b, o):
    v = b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)
    return v - 0x100000000 if v & 0x80000000 else v


def _u16(b, o):
    return b[o] | (b[o + 1] << 8)


def _read_header():
    """Take a consistent copy of the daemon's header (it writes it in one pwrite with a
    sequence number at both ends); switch timelines when its generation changed."""
    if _ctl is None:
        return
    st = _state
    for _ in range(5):
        _ctl.seek(0)
        _ctl.readinto(_hdr)
        h = _hdr
        if _i32(h, 0) == _i32(h, 60) and not h[0] & 1:
            break
    else:
        return
    gen = _i32(h, _HDR_GEN)
    st[1] = (_i32(h, _HDR_T0) & 0xFFFFFFFF) | (_i32(h, _HDR_T0 + 4) << 32)
    st[3] = _i32(h, _HDR_HOLD)
    if gen != st[0]:
        _open_timeline(gen, _i32(h, _HDR_N), _i32(h, _HDR_DT))
    cut_seq = _i32(h, _HDR_CUT_SEQ)
    if cut_seq != st[7]:
        st[7] = cut_seq
        st[9] = _i32(h, _HDR_CUT_OPS)
        st[8] = _i32(h, _HDR_CUT_TORN)


def _open_timeline(gen, n, dt_ms):
    global _tl
    st = _state
    st[0] = gen
    st[6] = -1
    _tl = _tlf if gen else None
    st[2] = n
    st[4] = dt_ms if dt_ms > 0 else 1


def _index(now):
    st = _state
    if now - st[5] >= _CHECK_US or now < st[5]:
        st[5] = now
        _read_header()
    if _tl is None:
        return -1
    t_ms = (now - st[1]) // 1000
    hold = st[3]
    if hold >= 0 and t_ms > hold:
        t_ms = hold
    i = t_ms // st[4]
    if i < 0:
        i = 0
    elif i >= st[2]:
        i = st[2] - 1
    if i != st[6]:
        _tl.seek(i * _REC)
        _tl.readinto(_rec)
        st[6] = i
    return i


def _noise():
    st = _state
    st[10] = (st[10] * 1103515245 + 12345) & 0x7FFFFFFF
    return st[10]


def sample(k):
    """The patient now. k: 0-2 sensor counts (head, mid-back, sacrum), 3 pitch (centideg from
    vertical), 4 gyro (mdeg/s), 5 |g| (milli-g), 6 I2C fault code."""
    if _index(_raw_us()) < 0:
        if k < 3:
            return IDLE_COUNTS + _noise() % 121 - 60
        if k == 3:
            return 9000  # lying on the table
        if k == 5:
            return 1000
        return 0
    r = _rec
    if k < 3:
        return _u16(r, 2 * k)
    if k == 3:
        v = _u16(r, 6)
        return v - 0x10000 if v & 0x8000 else v
    if k == 4:
        return _i32(r, 8)
    if k == 5:
        return _u16(r, 12)
    return r[14]


def event(kind, a=0, b=0, c=0):
    """One record to the daemon, timestamped with the shared clock."""
    if _ev is None:
        return
    e = _evbuf
    t = _raw_us()
    e[0] = kind
    e[1] = a & 0xFF
    e[2] = b & 0xFF
    e[3] = (b >> 8) & 0xFF
    e[4] = (b >> 16) & 0xFF
    e[5] = (b >> 24) & 0xFF
    e[6] = c & 0xFF
    e[7] = (c >> 8) & 0xFF
    e[8] = (c >> 16) & 0xFF
    e[9] = (c >> 24) & 0xFF
    for i in range(6):
        e[10 + i] = (t >> (8 * i)) & 0xFF
    _ev.write(e)


def flash_op():
    """Called before every flash write or erase: True when the armed power cut is reached."""
    st = _state
    _read_header()
    left = st[9]
    if left < 0:
        return False
    if left == 0:
        return True
    st[9] = left - 1
    return False


def cut_torn():
    return _state[8] == 1


def halt():
    """The power is gone: tell the daemon, which kills this process; nothing runs after."""
    event(EV_POWER_CUT)
    while True:
        try:
            time.sleep_ms(1000)
        except BaseException:  # noqa: B036 - a dead board hears no Ctrl-C
            pass


if _ctl is not None:
    _ctl.readinto(_hdr)
    _state[7] = _i32(_hdr, _HDR_CUT_SEQ)  # a cut armed before this boot was for the last one
