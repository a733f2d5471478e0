"""The rep log's record format (version 4), defined once: the firmware writes, the host reads.

    packer = RepPacker()
    packer.base(-1, 0)                       # after a session header: no rep yet, clock at 0
    n = packer.pack(0, 1200, 4100, 4, 3, 2300, 310, 720, 1500, 600, 2000)
    f.write(packer.buf[packer.start:packer.start + n])

This module holds the format and the encoder, which the firmware loop needs (at every rep's
end); the decoder is `dowel.logread` (`logread.decode(data)`), which stands on this module and
which the board needs only at boot (the log's recovery) and then drops, so its bytecode does
not stay in RAM.

A segment file is a sequence of *frames*:

    byte 0     kind << 5 | L    kind 1..6 (0 and 7 never: erased flash reads 0xFF, zeroed 0x00)
                                L < 31: payload length; L == 31: byte 1 holds it (31..255)
    payload    L bytes
    CRC        CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) of every byte before it, big-endian

Kinds: 1 segment header (first frame of every file: b"DWL", format version, store epoch, segment
number), 2 session header (number, flags, device id, firmware, config hash, patient, ticks,
[RTC], [continued base], boot, battery), 3 short rep (bit-packed, ~12 bytes), 4 long rep
(varints: anything the short form cannot hold), 5 feedback (version 4: the feedback the reps
after it were given, `dowel.feedback`: stage index, mode, faded percentage, flags with bit 0 a
probe set; 7 bytes with framing). A short rep is coded against the previous
rep of its session (seq + 1, start as the gap since the previous rep ended); a session header
sets that base, and a segment that continues a session opens with a copy of its header
carrying the base, so every segment decodes on its own (earlier ones may already be pulled
and deleted).

Short rep payload, bits LSB first: lost_mask:3 first_lost:2 imu:1 wide:1 gap:13|21 duration:14,
then when a point was lost loss_at:14, then with the IMU [loss_pitch:11s] depth:11s lower:13
pause:13; rise is implicit (duration - lower - pause, which is how the rep machine defines it;
a rep where that does not hold takes the long form). Sizes with framing: 12 bytes for a clean
IMU rep, 15 with a loss, 8/9 without an IMU (one more byte for gaps over 8.19 s). The points
are those of `dowel.points`: bit i of lost_mask is point i, first_lost is i + 1 (0: clean).

Error detection: a torn write (power cut, Ctrl-C on FAT) leaves a frame whose length runs past
the end of the file, or erased bytes; on littlefs, which commits whole writes, the same shapes
mean damage, so only the store can say a tail is unfinished (`dowel.logstore`). For corruption
inside a frame, the CRC-16 catches every error burst up to 16 bits and every 1-3 bit error
(Hamming distance 4 at these lengths), and lets through 1 in 65536 of arbitrary garbage; kind,
length, the segment magic and exact payload parsing reject most of that too. After a bad frame
the decoder resynchronises only where two whole frames follow each other (or a frame ends the
file), so random bytes pass one in ~2**32 tries; the host's decoder also corrects one flipped
bit per frame (`dowel.logread`). CRC-8 would pass 1 in 256 and CRC-32 would cost 2 more bytes
per rep (+17 %); transfers to the host are also covered by a SHA-256 of the whole segment.

Version 2 added `boot` to the session header: four random bytes the store draws
at every boot, so a session stays unique on its device even if its number were ever reused
(a state file that went back). Version 3 (this encoder) adds one byte after it, the battery
level at the session's start: 0..100 percent, 255 when unknown (no battery monitor). The bytes
are per session, not per rep, so a rep's size is unchanged. Version 1 and 2 segments still
decode (`boot` None in version 1, `battery_pct` None in both).

Version 4 adds the feedback frame. The store writes one before a rep whose feedback differs
from the last one written in its session and segment (`dowel.logstore`), so every session of
every segment states its own: a day of 3 sets with a probe set first costs 2-3 frames (~20
bytes, under half a byte per rep) and a rep's frame stays 12 or 15 bytes. Reps of earlier
versions, and of a session whose feedback frame was lost to damage, decode with no feedback
(None): what they were given is unknown, never guessed.
"""

from array import array

try:
    from micropython import const
except ImportError:  # CPython: the host runs these same files

    def const(x):
        return x


FORMAT_VERSION = const(4)
MAGIC = b"DWL"

K_SEGMENT = const(1)
K_SESSION = const(2)
K_REP = const(3)
K_REP_LONG = const(4)
K_FEEDBACK = const(5)
FEEDBACK_FRAME = const(7)  # 1 header + 4 payload + 2 CRC
F_PROBE = const(1)  # the feedback frame's flags
NO_FEEDBACK = const(-1)  # add_rep's `feedback` when the caller has none to log

MAX_PAYLOAD = const(255)
MAX_FRAME = const(259)  # 2 header bytes + 255 + CRC
MAX_REP_FRAME = const(64)  # the long rep's worst case: 2 flag bytes + 9 five-byte varints
MAX_TEXT = const(32)  # device id, firmware, config hash, patient: bytes kept in a header
BATTERY_UNKNOWN = const(255)  # the session header's battery byte when no level was measured

# Short rep field widths (bits).
GAP_BITS = const(13)
GAP_WIDE_BITS = const(21)
DUR_BITS = const(14)
LOSS_AT_BITS = const(14)
DDEG_BITS = const(11)  # signed: -102.4 .. 102.3 degrees
PHASE_BITS = const(13)
_DDEG_MIN = const(-1024)
_DDEG_MAX = const(1023)
_LONG_LIMIT = const(0x3FFFFFFF)  # long-form fields: |value| < 2**30 (12 days of ms), small ints

# Flag bits of the session header.
S_IMU = const(1)
S_RTC = const(2)
S_CONTINUED = const(4)


def _crc_table():
    t = array("H", [0] * 256)
    for i in range(256):
        c = i << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x1021) if c & 0x8000 else (c << 1)
        t[i] = c & 0xFFFF
    return t


CRC_TABLE = _crc_table()  # the decoder's repair uses it too (`dowel.logread`)


def crc16(data, start=0, end=-1, crc=0xFFFF):
    """CRC-16/CCITT-FALSE of data[start:end] (end -1: to the end). Small ints only."""
    if end < 0:
        end = len(data)
    t = CRC_TABLE
    for i in range(start, end):
        crc = ((crc << 8) & 0xFF00) ^ t[((crc >> 8) ^ data[i]) & 0xFF]
    return crc


def _frame_head(buf, pos, kind, n):
    """Write the header for an n-byte payload at buf[pos]; return the header length."""
    if n < 31:
        buf[pos] = (kind << 5) | n
        return 1
    buf[pos] = (kind << 5) | 31
    buf[pos + 1] = n
    return 2


def frame(kind, payload):
    """A whole frame around `payload` (allocates: headers, not the per-rep path)."""
    n = len(payload)
    if n > MAX_PAYLOAD:
        raise ValueError("payload too long")
    buf = bytearray(n + 4)
    h = _frame_head(buf, 0, kind, n)
    buf[h : h + n] = payload
    c = crc16(buf, 0, h + n)
    buf[h + n] = c >> 8
    buf[h + n + 1] = c & 0xFF
    return bytes(buf[: h + n + 2])


def _uvarint(out, value):
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _zigzag(value):
    return value << 1 if value >= 0 else ((-value) << 1) - 1


def _text(out, value):
    if isinstance(value, str):
        value = value.encode()
    value = bytes(value)[:MAX_TEXT]
    out.append(len(value))
    out.extend(value)


def segment_header(epoch, segment):
    """The first frame of a segment file."""
    p = bytearray(MAGIC)
    p.append(FORMAT_VERSION)
    p.extend(bytes(((epoch >> s) & 0xFF for s in (0, 8, 16, 24))))
    _uvarint(p, segment)
    return frame(K_SEGMENT, p)


def session_header(
    session,
    device_id,
    firmware,
    config_hash,
    patient,
    rtc,
    ticks_ms,
    has_imu,
    base=None,
    boot=0,
    battery_pct=None,
):
    """A session header frame. `rtc`: (year, month, day, hour, minute, second) or None.
    `base`: None for a new session, else (seq, end_ms) of its last rep in an earlier segment.
    `boot`: the store's random 32-bit number for this boot. `battery_pct`: 0..100, or None
    when unknown; a value outside 0..100 is a ValueError."""
    if battery_pct is None:
        battery = BATTERY_UNKNOWN
    elif 0 <= battery_pct <= 100:
        battery = int(battery_pct)
    else:
        raise ValueError("battery_pct 0..100 or None, not %r" % (battery_pct,))
    p = bytearray()
    _uvarint(p, session)
    flags = (S_IMU if has_imu else 0) | (S_RTC if rtc else 0) | (S_CONTINUED if base else 0)
    p.append(flags)
    _text(p, device_id)
    _text(p, firmware)
    _text(p, config_hash)
    _text(p, patient)
    _uvarint(p, ticks_ms & 0xFFFFFFFF)
    if rtc:
        year, month, day, hour, minute, second = rtc
        p.extend(bytes((year - 2000, month, day, hour, minute, second)))
    if base:
        _uvarint(p, _zigzag(base[0]))
        _uvarint(p, _zigzag(base[1]))
    p.extend(bytes(((boot >> s) & 0xFF for s in (0, 8, 16, 24))))
    p.append(battery)
    return frame(K_SESSION, p)


def feedback_state(stage, mode, pct, probe):
    """The feedback a rep was given as one small int, for the store's `add_rep`: stage index
    0..255, mode (`dowel.feedback` MODE_*) 0..255, faded percentage 0..100, probe set."""
    return stage | (mode << 8) | (pct << 16) | ((F_PROBE if probe else 0) << 24)


def pack_feedback(buf, state):
    """Write the feedback frame for `state` (feedback_state) into buf[0:FEEDBACK_FRAME].
    Allocates nothing."""
    buf[0] = (K_FEEDBACK << 5) | 4
    buf[1] = state & 0xFF
    buf[2] = (state >> 8) & 0xFF
    buf[3] = (state >> 16) & 0xFF
    buf[4] = (state >> 24) & 0xFF
    c = crc16(buf, 0, 5)
    buf[5] = c >> 8
    buf[6] = c & 0xFF
    return FEEDBACK_FRAME


class RepPacker:
    """Codes one rep into the preallocated `buf` against the previous one (`base`). The short
    form allocates nothing; `pack` returns the frame length, the frame starts at `start`."""

    def __init__(self):
        self.buf = bytearray(MAX_REP_FRAME)
        self.start = 0
        self.base_seq = -1
        self.base_end_ms = 0
        self._acc = 0
        self._nacc = 0
        self._pos = 0

    def base(self, seq, end_ms):
        self.base_seq = seq
        self.base_end_ms = end_ms

    def _bits(self, value, n):
        acc = self._acc | ((value & ((1 << n) - 1)) << self._nacc)
        nacc = self._nacc + n
        pos = self._pos
        buf = self.buf
        while nacc >= 8:
            buf[pos] = acc & 0xFF
            acc >>= 8
            nacc -= 8
            pos += 1
        self._acc = acc
        self._nacc = nacc
        self._pos = pos

    def _varint(self, value):
        z = value << 1 if value >= 0 else ((-value) << 1) - 1
        buf = self.buf
        pos = self._pos
        while z > 0x7F:
            buf[pos] = (z & 0x7F) | 0x80
            z >>= 7
            pos += 1
        buf[pos] = z
        self._pos = pos + 1

    def pack(
        self,
        seq,
        start_ms,
        duration_ms,
        lost_mask,
        first_lost,
        loss_at_ms,
        loss_pitch_ddeg,
        depth_ddeg,
        lower_ms,
        pause_ms,
        rise_ms,
    ):
        if not 0 <= lost_mask <= 7 or not 0 <= first_lost <= 3:
            raise ValueError("lost_mask 0..7, first_lost 0..3")
        lost = lost_mask != 0
        gap = start_ms - self.base_end_ms
        imu = depth_ddeg is not None
        short = (
            seq == self.base_seq + 1
            and 0 <= gap < (1 << GAP_WIDE_BITS)
            and 0 <= duration_ms < (1 << DUR_BITS)
            and (first_lost != 0) == lost
            and (loss_at_ms is not None) == lost
            and (not lost or 0 <= loss_at_ms < (1 << LOSS_AT_BITS))
        )
        if short and imu:
            short = (
                (loss_pitch_ddeg is not None) == lost
                and _DDEG_MIN <= depth_ddeg <= _DDEG_MAX
                and (not lost or _DDEG_MIN <= loss_pitch_ddeg <= _DDEG_MAX)
                and lower_ms is not None
                and pause_ms is not None
                and rise_ms is not None
                and 0 <= lower_ms < (1 << PHASE_BITS)
                and 0 <= pause_ms < (1 << PHASE_BITS)
                and rise_ms == duration_ms - lower_ms - pause_ms
            )
        elif short:
            short = loss_pitch_ddeg is None and lower_ms is None and pause_ms is None
            short = short and rise_ms is None
        self._acc = 0
        self._nacc = 0
        self._pos = 2  # payload starts after room for a two-byte header
        if short:
            wide = gap >= (1 << GAP_BITS)
            self._bits(lost_mask | (first_lost << 3) | (32 if imu else 0) | (64 if wide else 0), 7)
            self._bits(gap, GAP_WIDE_BITS if wide else GAP_BITS)
            self._bits(duration_ms, DUR_BITS)
            if lost:
                self._bits(loss_at_ms, LOSS_AT_BITS)
            if imu:
                if lost:
                    self._bits(loss_pitch_ddeg, DDEG_BITS)
                self._bits(depth_ddeg, DDEG_BITS)
                self._bits(lower_ms, PHASE_BITS)
                self._bits(pause_ms, PHASE_BITS)
            if self._nacc:
                self._bits(0, 8 - self._nacc)
            kind = K_REP
        else:
            self._long(
                seq,
                start_ms,
                duration_ms,
                lost_mask,
                first_lost,
                loss_at_ms,
                loss_pitch_ddeg,
                depth_ddeg,
                lower_ms,
                pause_ms,
                rise_ms,
            )
            kind = K_REP_LONG
        n = self._pos - 2
        start = 1 if n < 31 else 0
        _frame_head(self.buf, start, kind, n)
        c = crc16(self.buf, start, self._pos)
        self.buf[self._pos] = c >> 8
        self.buf[self._pos + 1] = c & 0xFF
        self.start = start
        self.base_seq = seq
        self.base_end_ms = start_ms + duration_ms
        return self._pos + 2 - start

    def _long(
        self,
        seq,
        start_ms,
        duration_ms,
        lost_mask,
        first_lost,
        loss_at_ms,
        loss_pitch_ddeg,
        depth_ddeg,
        lower_ms,
        pause_ms,
        rise_ms,
    ):
        # Checked and written field by field: no tuple, so this form allocates nothing either
        # (as long as values stay under 2**29, MicroPython's small ints on the ESP32).
        _check(seq)
        _check(start_ms)
        _check(duration_ms)
        _check(loss_at_ms)
        _check(loss_pitch_ddeg)
        _check(depth_ddeg)
        _check(lower_ms)
        _check(pause_ms)
        _check(rise_ms)
        buf = self.buf
        buf[2] = (
            lost_mask
            | (first_lost << 3)
            | (32 if loss_at_ms is not None else 0)
            | (64 if loss_pitch_ddeg is not None else 0)
            | (128 if depth_ddeg is not None else 0)
        )
        buf[3] = (
            (1 if lower_ms is not None else 0)
            | (2 if pause_ms is not None else 0)
            | (4 if rise_ms is not None else 0)
        )
        self._pos = 4
        self._varint(seq)
        self._varint(start_ms)
        self._varint(duration_ms)
        self._opt(loss_at_ms)
        self._opt(loss_pitch_ddeg)
        self._opt(depth_ddeg)
        self._opt(lower_ms)
        self._opt(pause_ms)
        self._opt(rise_ms)

    def _opt(self, value):
        if value is not None:
            self._varint(value)


def _check(value):
    if value is not None and not -_LONG_LIMIT <= value <= _LONG_LIMIT:
        raise ValueError("rep field out of range")
