"""The rep log's decoder (format: `dowel.logfmt`): the host reads pulled segments with it, and
the board at boot, to recover the log's tail (`dowel.logstore`). Apart from the encoder so that
the board can drop it once booted (`dowel.app`): the firmware loop only writes.

    seg = decode(open("/logs/00000001.dwl", "rb").read())
    seg.reps, seg.sessions, seg.good_bytes, seg.error, seg.torn
    quick = decode(data, reps=False)     # the boot scan: rep frames checked and counted only
"""

from dowel.logfmt import (
    DDEG_BITS,
    DUR_BITS,
    FORMAT_VERSION,
    GAP_BITS,
    GAP_WIDE_BITS,
    K_REP,
    K_REP_LONG,
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


def _unzigzag(z):
    return z >> 1 if not z & 1 else -((z + 1) >> 1)


class Segment:
    def __init__(self, version, epoch, number):
        self.version = version
        self.epoch = epoch
        self.number = number


class Session:
    def __init__(self, number, flags, device_id, firmware, config_hash, patient, ticks_ms, rtc,
                 base):
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


class Rep:
    def __init__(self, session, seq, start_ms, duration_ms, lost_mask, first_lost, loss_at_ms,
                 loss_pitch_ddeg, depth_ddeg, lower_ms, pause_ms, rise_ms):
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

    def fields(self):
        """The add_rep arguments this record was made from."""
        return (self.seq, self.start_ms, self.duration_ms, self.lost_mask, self.first_lost,
                self.loss_at_ms, self.loss_pitch_ddeg, self.depth_ddeg, self.lower_ms,
                self.pause_ms, self.rise_ms)


class Decoded:
    """What `decode` found. `good_bytes`: length of the prefix of whole, valid frames.
    `error`: why decoding stopped early (None: every byte decoded). `torn`: the undecodable
    tail is one interrupted write (a frame running past the end, or erased bytes), not damage.
    `unsupported`: the segment was written in another format version."""

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
        self.last_session = None  # type: Session | None
        self.base_seq = -1
        self.base_end_ms = 0


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
    e = r.take(4)
    epoch = e[0] | (e[1] << 8) | (e[2] << 16) | (e[3] << 24)
    number = r.uvarint()
    r.done()
    return Segment(version, epoch, number)


def _parse_session(r):
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
        if not (1 <= rtc[1] <= 12 and 1 <= rtc[2] <= 31 and rtc[3] < 24 and rtc[4] < 60
                and rtc[5] < 60):
            raise _Bad("bad date")
    base = None
    if flags & S_CONTINUED:
        base = (r.svarint(), r.svarint())
    r.done()
    return Session(number, flags, device_id, firmware, config_hash, patient, ticks_ms, rtc, base)


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
    return Rep(session, base_seq + 1, start_ms, duration_ms, lost_mask, first_lost, loss_at_ms,
               loss_pitch, depth, lower, pause, rise)


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
    return Rep(session, seq, start_ms, duration_ms, a & 7, (a >> 3) & 3, opt[0], opt[1], opt[2],
               opt[3], opt[4], opt[5])


def _blank(data, pos, end):
    first = data[pos]
    if first not in (0, 0xFF):
        return False
    for i in range(pos, end):
        if data[i] != first:
            return False
    return True


def decode(data, reps=True):
    """Decode one segment file's bytes. Never raises on bad input: it stops at the first frame
    that is not whole and valid and says why in `error`. `reps=False` is the device's boot
    scan: rep frames are checked (kind, length, CRC) and counted but not parsed, four times
    faster; only the host's full decode also checks each rep's payload."""
    out = Decoded()
    n = len(data)
    pos = 0
    session = None
    while pos < n:
        b0 = data[pos]
        kind = b0 >> 5
        length = b0 & 31
        head = 1
        end = -1
        try:
            if kind < K_SEGMENT or kind > K_REP_LONG:
                raise _Bad("no record here (kind %d)" % kind)
            if length == 31:
                if pos + 1 >= n:
                    end = n + 1
                    raise _Bad("record cut short")
                length = data[pos + 1]
                head = 2
                if length < 31:
                    raise _Bad("bad length")
            end = pos + head + length + 2
            if end > n:
                raise _Bad("record cut short")
            c = crc16(data, pos, end - 2)
            if (data[end - 2] << 8) | data[end - 1] != c:
                raise _Bad("CRC mismatch")
            p0 = pos + head
            p1 = end - 2
            if out.segment is None:
                if kind != K_SEGMENT:
                    raise _Bad("no segment header")
                seg = _parse_segment(_Reader(data, p0, p1))
                if seg.version != FORMAT_VERSION:
                    out.unsupported = True
                    raise _Bad("log format version %d (this reader: %d)"
                               % (seg.version, FORMAT_VERSION))
                out.segment = seg
            elif kind == K_SEGMENT:
                raise _Bad("second segment header")
            elif kind == K_SESSION:
                s = _parse_session(_Reader(data, p0, p1))
                session = s
                out.sessions.append(s)
                out.last_session = s
                if s.base:
                    out.base_seq, out.base_end_ms = s.base
                else:
                    out.base_seq, out.base_end_ms = -1, 0
            elif session is None:
                raise _Bad("rep before any session header")
            elif not reps:
                out.rep_count += 1
            else:
                if kind == K_REP:
                    rep = _parse_short(_Bits(data, p0, p1), session, out.base_seq,
                                       out.base_end_ms)
                else:
                    rep = _parse_long(_Reader(data, p0, p1), session)
                rep.frame_bytes = end - pos
                out.base_seq = rep.seq
                out.base_end_ms = rep.start_ms + rep.duration_ms
                out.rep_count += 1
                out.reps.append(rep)
        except (_Bad, UnicodeError) as exc:
            out.error = "%s at byte %d" % (exc.args[0] if exc.args else "bad record", pos)
            out.tail_bytes = n - pos
            # Torn: nothing after the bad frame (it runs to or past the end, or only erased
            # bytes follow); anything else is damage with data possibly behind it.
            out.torn = end >= n or _blank(data, pos, n)
            return out
        pos = end
        out.good_bytes = pos
    return out
