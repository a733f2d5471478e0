"""The rep log's decoder (format: `dowel.logfmt`): the host reads pulled segments with it, and
the board at boot, to recover the log's tail (`dowel.logstore`). Apart from the encoder so that
the board can drop it once booted (`dowel.app`): the firmware loop only writes.

    seg = decode(open("/logs/00000001.dwl", "rb").read())
    seg.reps, seg.sessions, seg.good_bytes, seg.error, seg.torn, seg.skipped
    quick = decode(data, reps=False)     # the boot scan: rep frames checked and counted only
    host = decode(data, repair=True)     # the host: also corrects a frame's single flipped bit

Damage does not stop the decoder: after a frame that fails it looks for the next place where a
whole frame with a good CRC starts *and* is followed by another one (or by the end of the
data), so random bytes would have to pass two CRC-16s in a row (1 in 2**32) to make a record.
The bytes in between are reported in `skipped`. A short rep is coded against the rep before
it, so after skipped bytes the reps of that session cannot be placed (their seq and start are
unknown) until the next session header restarts the context: they are counted in `unplaced`,
never guessed.

With `repair` (the host), a frame that fails is first tried with each of its bits flipped: the
CRC-16 has Hamming distance 4 at these lengths, so a single flipped bit has exactly one
correction, and two flipped bits have none. A correction is taken only when it is the only one
found, it parses, and a whole frame (or the end of the data) follows it; each is listed in
`repaired` (three or more flipped bits in one frame could be miscorrected: callers treat a
repaired segment as damaged, see `host_tools.logs.pull`).
"""

from dowel.logfmt import (
    BATTERY_UNKNOWN,
    CRC_TABLE,
    DDEG_BITS,
    DUR_BITS,
    F_PROBE,
    GAP_BITS,
    GAP_WIDE_BITS,
    K_FEEDBACK,
    K_REP,
    K_SEGMENT,
    K_SESSION,
    LOSS_AT_BITS,
    MAGIC,
    MAX_TEXT,
    PHASE_BITS,
    S_CONTINUED,
    S_IMU,
    S_RTC,
    crc16,
)

# 1: no boot nonce in session headers; 1 and 2: no battery byte; 1 to 3: no feedback frames
READ_VERSIONS = (1, 2, 3, 4)


def _unzigzag(z):
    return z >> 1 if not z & 1 else -((z + 1) >> 1)


class Segment:
    def __init__(self, version, epoch, number):
        self.version = version
        self.epoch = epoch
        self.number = number


class Session:
    def __init__(
        self,
        number,
        flags,
        device_id,
        firmware,
        config_hash,
        patient,
        ticks_ms,
        rtc,
        base,
        boot=None,
        battery_pct=None,
    ):
        self.number = number
        self.has_imu = bool(flags & S_IMU)
        self.continued = bool(flags & S_CONTINUED)
        self.device_id = device_id  # bytes
        self.firmware = firmware  # str
        self.config_hash = config_hash  # bytes
        self.patient = patient  # str
        self.ticks_ms = ticks_ms
        self.rtc = rtc  # (year, month, day, hour, minute, second) or None
        self.base = base  # (seq, end_ms) or None
        self.boot = boot  # the store's random number for the boot that wrote it (None: v1)
        self.battery_pct = battery_pct  # 0..100 at the session's start; None: unknown (or v1/v2)


class Rep:
    def __init__(
        self,
        session,
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
        self.session = session  # the Session it belongs to
        self.seq = seq
        self.start_ms = start_ms
        self.duration_ms = duration_ms
        self.lost_mask = lost_mask
        self.first_lost = first_lost
        self.loss_at_ms = loss_at_ms
        self.loss_pitch_ddeg = loss_pitch_ddeg
        self.depth_ddeg = depth_ddeg
        self.lower_ms = lower_ms
        self.pause_ms = pause_ms
        self.rise_ms = rise_ms
        self.frame_bytes = 0  # its size in the log, header and CRC included
        # (stage, mode, faded pct, probe) from the feedback frame in force; None: not logged
        # (a version 1-3 log) or lost to damage.
        self.feedback = None

    def fields(self):
        """The add_rep arguments this record was made from."""
        return (
            self.seq,
            self.start_ms,
            self.duration_ms,
            self.lost_mask,
            self.first_lost,
            self.loss_at_ms,
            self.loss_pitch_ddeg,
            self.depth_ddeg,
            self.lower_ms,
            self.pause_ms,
            self.rise_ms,
        )


class Decoded:
    """What `decode` found. `good_bytes`: length of the prefix of whole, valid frames.
    `error`: the first problem (None: every byte decoded, nothing repaired). `skipped`:
    [(start, end)] byte ranges that decoded to nothing. `torn`: the only such range is the
    tail and it has the shape of one interrupted write (a frame running past the end, or
    erased bytes); whether it *is* one only the store can say (littlefs commits whole writes).
    `unplaced`: whole rep frames after skipped bytes, whose base was lost. `repaired`:
    [(byte, bit)] corrected single-bit errors. `unsupported`: another format version."""

    def __init__(self):
        self.segment = None  # type: Segment | None
        self.sessions = []
        self.reps = []
        self.rep_count = 0
        self.good_bytes = 0
        self.tail_bytes = 0
        self.error = None  # type: str | None
        self.torn = False
        self.unsupported = False
        self.skipped = []  # type: list[tuple[int, int]]
        self.skipped_bytes = 0
        self.unplaced = 0
        self.unplaced_bytes = 0
        self.repaired = []  # type: list[tuple[int, int]]
        self.last_session = None  # type: Session | None
        self.base_seq = -1
        self.base_end_ms = 0
        self.known = True  # False after skipped bytes, until a session header
        self.feedback = None  # the feedback frame in force: (stage, mode, pct, probe)

    def damaged(self):
        """True when some bytes were not decoded as they are (skipped, unplaced, repaired)."""
        return bool(self.skipped or self.unplaced or self.repaired)


class _Bad(Exception):
    pass


class _Reader:
    def __init__(self, data, pos, end):
        self.data = data
        self.pos = pos
        self.end = end

    def byte(self):
        if self.pos >= self.end:
            raise _Bad("short payload")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def take(self, n):
        if self.pos + n > self.end:
            raise _Bad("short payload")
        b = bytes(self.data[self.pos : self.pos + n])
        self.pos += n
        return b

    def uvarint(self):
        value = 0
        shift = 0
        while True:
            b = self.byte()
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                return value
            shift += 7
            if shift > 35:
                raise _Bad("varint too long")

    def svarint(self):
        return _unzigzag(self.uvarint())

    def u32(self):
        e = self.take(4)
        return e[0] | (e[1] << 8) | (e[2] << 16) | (e[3] << 24)

    def text(self):
        n = self.byte()
        if n > MAX_TEXT:
            raise _Bad("text too long")
        return self.take(n)

    def done(self):
        if self.pos != self.end:
            raise _Bad("payload longer than its fields")


class _Bits:
    def __init__(self, data, pos, end):
        self.data = data
        self.pos = pos
        self.end = end
        self.acc = 0
        self.nacc = 0

    def get(self, n):
        while self.nacc < n:
            if self.pos >= self.end:
                raise _Bad("short payload")
            self.acc |= self.data[self.pos] << self.nacc
            self.pos += 1
            self.nacc += 8
        v = self.acc & ((1 << n) - 1)
        self.acc >>= n
        self.nacc -= n
        return v

    def signed(self, n):
        v = self.get(n)
        return v - (1 << n) if v & (1 << (n - 1)) else v

    def done(self):
        if self.pos != self.end or self.acc:
            raise _Bad("payload longer than its fields")


def _parse_segment(r):
    if r.take(3) != MAGIC:
        raise _Bad("not a dowel log segment")
    version = r.byte()
    epoch = r.u32()
    number = r.uvarint()
    r.done()
    return Segment(version, epoch, number)


def _parse_session(r, version):
    number = r.uvarint()
    flags = r.byte()
    if flags & ~(S_IMU | S_RTC | S_CONTINUED):
        raise _Bad("unknown session flags")
    device_id = r.text()
    firmware = r.text().decode()
    config_hash = r.text()
    patient = r.text().decode()
    ticks_ms = r.uvarint()
    rtc = None
    if flags & S_RTC:
        t = r.take(6)
        rtc = (2000 + t[0], t[1], t[2], t[3], t[4], t[5])
        if not (
            1 <= rtc[1] <= 12 and 1 <= rtc[2] <= 31 and rtc[3] < 24 and rtc[4] < 60 and rtc[5] < 60
        ):
            raise _Bad("bad date")
    base = None
    if flags & S_CONTINUED:
        base = (r.svarint(), r.svarint())
    boot = r.u32() if version >= 2 else None
    battery = None
    if version >= 3:
        battery = r.byte()
        if battery == BATTERY_UNKNOWN:
            battery = None
        elif battery > 100:
            raise _Bad("bad battery level")
    r.done()
    return Session(
        number,
        flags,
        device_id,
        firmware,
        config_hash,
        patient,
        ticks_ms,
        rtc,
        base,
        boot,
        battery,
    )


def _parse_short(b, session, base_seq, base_end_ms):
    flags = b.get(7)
    lost_mask = flags & 7
    first_lost = (flags >> 3) & 3
    imu = flags & 32
    lost = lost_mask != 0
    if (first_lost != 0) != lost:
        raise _Bad("inconsistent loss")
    gap = b.get(GAP_WIDE_BITS if flags & 64 else GAP_BITS)
    duration_ms = b.get(DUR_BITS)
    loss_at_ms = b.get(LOSS_AT_BITS) if lost else None
    loss_pitch = depth = lower = pause = rise = None
    if imu:
        if lost:
            loss_pitch = b.signed(DDEG_BITS)
        depth = b.signed(DDEG_BITS)
        lower = b.get(PHASE_BITS)
        pause = b.get(PHASE_BITS)
        rise = duration_ms - lower - pause
    b.done()
    start_ms = base_end_ms + gap
    return Rep(
        session,
        base_seq + 1,
        start_ms,
        duration_ms,
        lost_mask,
        first_lost,
        loss_at_ms,
        loss_pitch,
        depth,
        lower,
        pause,
        rise,
    )


def _parse_long(r, session):
    a = r.byte()
    c = r.byte()
    if c & ~7:
        raise _Bad("unknown rep flags")
    seq = r.svarint()
    start_ms = r.svarint()
    duration_ms = r.svarint()
    opt = []
    for present in (a & 32, a & 64, a & 128, c & 1, c & 2, c & 4):
        opt.append(r.svarint() if present else None)
    r.done()
    return Rep(
        session,
        seq,
        start_ms,
        duration_ms,
        a & 7,
        (a >> 3) & 3,
        opt[0],
        opt[1],
        opt[2],
        opt[3],
        opt[4],
        opt[5],
    )


def _parse_feedback(data, p0, p1, version):
    if version < 4:
        raise _Bad("feedback record in a version %d log" % version)
    if p1 - p0 != 4:
        raise _Bad("bad feedback record")
    pct = data[p0 + 2]
    flags = data[p0 + 3]
    if pct > 100 or flags & ~F_PROBE:
        raise _Bad("bad feedback record")
    return (data[p0], data[p0 + 1], pct, bool(flags & F_PROBE))


def _blank(data, pos, end):
    first = data[pos]
    if first not in (0, 0xFF):
        return False
    for i in range(pos, end):
        if data[i] != first:
            return False
    return True


def _extent(data, pos, n):
    """(kind, header bytes, frame end) from the frame header at pos; raises _Bad(why, end)."""
    b0 = data[pos]
    kind = b0 >> 5
    length = b0 & 31
    head = 1
    if kind < K_SEGMENT or kind > K_FEEDBACK:
        raise _Bad("no record here (kind %d)" % kind, -1)
    if length == 31:
        if pos + 1 >= n:
            raise _Bad("record cut short", n + 1)
        length = data[pos + 1]
        head = 2
        if length < 31:
            raise _Bad("bad length", -1)
    end = pos + head + length + 2
    if end > n:
        raise _Bad("record cut short", end)
    return kind, head, end


def _crc_ok(data, pos, end):
    return (data[end - 2] << 8) | data[end - 1] == crc16(data, pos, end - 2)


def _sound(data, pos, n):
    """End of a whole frame with a good CRC (not a segment header) at pos, else -1."""
    try:
        kind, _head, end = _extent(data, pos, n)
    except _Bad:
        return -1
    if kind == K_SEGMENT or not _crc_ok(data, pos, end):
        return -1
    return end


def _parse(out, data, pos, n, reps):
    """(kind, record or None, end) of the frame at pos in the decoder's current context. No
    side effect: raises _Bad(why, end) when the frame is not whole and valid."""
    kind, head, end = _extent(data, pos, n)
    if not _crc_ok(data, pos, end):
        raise _Bad("CRC mismatch", -1)
    p0 = pos + head
    p1 = end - 2
    if out.segment is None:
        if kind != K_SEGMENT:
            raise _Bad("no segment header", -1)
        seg = _parse_segment(_Reader(data, p0, p1))
        if seg.version not in READ_VERSIONS:
            out.unsupported = True
            raise _Bad(
                "log format version %d (this reader: %s)"
                % (seg.version, "/".join(str(v) for v in READ_VERSIONS)),
                -1,
            )
        return kind, seg, end
    if kind == K_SEGMENT:
        raise _Bad("second segment header", -1)
    if kind == K_SESSION:
        return kind, _parse_session(_Reader(data, p0, p1), out.segment.version), end
    session = out.last_session
    if session is None and out.known:
        raise _Bad("rep before any session header", -1)
    if kind == K_FEEDBACK:
        return kind, _parse_feedback(data, p0, p1, out.segment.version), end
    if not reps:
        return kind, None, end
    if kind == K_REP:
        rep = _parse_short(_Bits(data, p0, p1), session, out.base_seq, out.base_end_ms)
    else:
        rep = _parse_long(_Reader(data, p0, p1), session)
    return kind, rep, end


def _commit(out, kind, record, size):
    if kind == K_SEGMENT:
        out.segment = record
    elif kind == K_SESSION:
        out.sessions.append(record)
        out.last_session = record
        out.known = True
        out.feedback = None  # each session states its own (`dowel.logstore`)
        if record.base:
            out.base_seq, out.base_end_ms = record.base
        else:
            out.base_seq, out.base_end_ms = -1, 0
    elif kind == K_FEEDBACK:
        out.feedback = record
    elif not out.known:
        out.unplaced += 1  # whole and valid, but its base was in the skipped bytes
        out.unplaced_bytes += size
    else:
        out.rep_count += 1
        if record is not None:
            record.frame_bytes = size
            record.feedback = out.feedback
            out.base_seq = record.seq
            out.base_end_ms = record.start_ms + record.duration_ms
            out.reps.append(record)


def _followed(data, end, n):
    """A frame ending at `end` is confirmed by what follows: the end, erased bytes, a frame."""
    return end >= n or _blank(data, end, n) or _sound(data, end, n) > 0


def _resync(out, data, pos, n):
    """The next position after pos where a confirmed frame starts, or n."""
    for q in range(pos + 1, n):
        end = _sound(data, q, n)
        if end > 0 and _followed(data, end, n):
            return q
    return n


def _candidate(out, buf, pos, n, reps, i, bit, found):
    for f in found:
        if f[0] == i and f[1] == bit:
            return
    buf[i] ^= 1 << bit
    try:
        kind, record, end = _parse(out, buf, pos, n, reps)
        if _followed(buf, end, n):
            found.append((i, bit, kind, record, end))
    except (_Bad, UnicodeError):
        pass
    buf[i] ^= 1 << bit


def _repair(out, data, pos, n, reps):
    """Correct one flipped bit in the frame at pos: (byte, bit, kind, record, end) or None."""
    buf = bytearray(data)
    found = []
    # Header bytes: a flip there moves the frame's end, so each is tried whole.
    for i in range(pos, min(pos + 2, n)):
        for bit in range(8):
            _candidate(out, buf, pos, n, reps, i, bit, found)
    try:
        kind, head, end = _extent(buf, pos, n)
    except _Bad:
        end = -1
    if end > 0:
        # The header holds: the CRC's syndrome points at the flipped bit (CRC linearity).
        syn = crc16(buf, pos, end - 2) ^ ((buf[end - 2] << 8) | buf[end - 1])
        if syn and not syn & (syn - 1):
            s = 0
            while not syn >> s & 1:
                s += 1
            _candidate(out, buf, pos, n, reps, end - 2 if s >= 8 else end - 1, s & 7, found)
        for bit in range(8):
            c = CRC_TABLE[1 << bit]
            for i in range(end - 3, pos + 1, -1):
                if c == syn:
                    _candidate(out, buf, pos, n, reps, i, bit, found)
                c = ((c << 8) & 0xFF00) ^ CRC_TABLE[(c >> 8) & 0xFF]
    return found[0] if len(found) == 1 else None


def decode(data, reps=True, repair=False):
    """Decode one segment file's bytes. Never raises on bad input: a frame that is not whole
    and valid is skipped to the next confirmed frame (see above), and the first problem is
    described in `error`. `reps=False` is the device's boot scan: rep frames are checked
    (kind, length, CRC) and counted but not parsed, four times faster; only the host's full
    decode also checks each rep's payload. `repair`: correct single flipped bits (host)."""
    out = Decoded()
    n = len(data)
    pos = 0
    while pos < n:
        try:
            kind, record, end = _parse(out, data, pos, n, reps)
        except (_Bad, UnicodeError) as exc:
            why = exc.args[0] if exc.args else "bad record"
            far = exc.args[1] if len(exc.args) > 1 else -1
            fix = None
            if repair and not out.unsupported:
                fix = _repair(out, data, pos, n, reps)
            if out.error is None:
                out.error = "%s at byte %d" % (why, pos)
                out.tail_bytes = n - pos
            if fix is not None:
                out.repaired.append((fix[0], fix[1]))
                kind, record, end = fix[2], fix[3], fix[4]
            else:
                if out.segment is None:
                    # No segment header: neither the format version nor the epoch is known.
                    out.torn = far >= n or _blank(data, pos, n)
                    out.skipped.append((pos, n))
                    out.skipped_bytes += n - pos
                    return out
                q = _resync(out, data, pos, n)
                out.skipped.append((pos, q))
                out.skipped_bytes += q - pos
                out.known = False
                out.feedback = None  # a feedback frame may have been in the skipped bytes
                if q >= n:
                    out.torn = (
                        len(out.skipped) == 1
                        and not out.repaired
                        and (far >= n or _blank(data, pos, n))
                    )
                pos = q
                continue
        _commit(out, kind, record, end - pos)
        pos = end
        if out.error is None:
            out.good_bytes = pos
    return out
