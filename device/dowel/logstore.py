"""The rep log on flash: append-only segment files under /logs, never overwritten, freed whole.

    log = Log(root="/logs")                    # at boot: recovers a torn tail, finds its place
    n = log.begin_session(machine.unique_id(), "0.1.0", cfg_hash, "P-0001",
                          machine.RTC().datetime(), time.ticks_ms(), True, battery_pct=87)
    log.add_rep(0, 0, 4100, 0, 0, None, None, 720, 1500, 600, 2000, feedback)  # False: not written
    log.full                                   # logging stopped: flash nearly full
    log.close()

The host's calls (list, read and delete segments; the clock, session numbers, dropped reps)
are in `dowel.loghost`, which the loop never loads. Both stand on `dowel.logfiles`: the segment
files (here at most SEGMENT_BYTES each) and the store's state, kept in two alternating copies.
Every session header also carries `boot`, a random number drawn at each boot, so a session is
unique on its device even if its number ever went back.

Power safety: a record is written whole with one `write` and flushed at once; on littlefs a
power cut loses at most the record being written. A segment that does not end cleanly (a torn
tail, from FAT or an interrupted write) is never appended to again: the next record starts a
new segment, and the decoder drops the torn bytes. Session numbers are persisted before use, so
a number is never reused (at boot the store also takes the last segment's session + 1).

A failed state save is a fault: a session or segment number that is not on flash is never
used. Logging stops (`full`: `add_rep` returns False, the app plays the log-full cue) until a
later `begin_session` manages to save again. When a record's write fails, the store notes the
segment and the offset where that write began (`unfinished`): only such a tail, reported by
the store, is one the host may delete without importing (littlefs commits whole writes, so
any other undecodable tail is damage).

The current segment: the Log appends to the last segment across boots until it is full. When the
host pulls, the loop is stopped (Ctrl-C runs the app's `log.close()`), every host call first
detaches the running Log, and after a pull the board soft-resets: a new Log starts a new
segment when the host deleted the last one. So the host may pull and delete every segment,
including the last, while nothing writes.

Full flash: before writing into a new 4 KB block the free space is checked; under
`margin_bytes` logging stops (`full`), `add_rep` returns False and counts the rep as dropped.
Un-pulled records are never overwritten: only the host's `delete` frees space.
"""

import os
import sys

from dowel import logfiles, logfmt, running

try:
    from micropython import const
except ImportError:  # CPython: the host runs these same files

    def const(x):
        return x


SEGMENT_BYTES = const(32768)
_BLOCK = const(4096)  # littlefs block on the ESP32: free space only shrinks at these steps
_DROP_SAVE_EVERY = const(16)
_BOOT_MASK = const(0x7FFFFFFF)
_MP = sys.implementation.name == "micropython"


def _new_boot():
    # Never 0 (version 1 sessions have none); under 2**31 so it stays a small int on the board.
    return (logfiles.random32() & _BOOT_MASK) or 1


class Log:
    def __init__(
        self,
        root=None,
        segment_bytes=SEGMENT_BYTES,
        margin_bytes=logfiles.MARGIN_BYTES,
        free_fn=None,
        boot=None,
    ):
        self.root = root or logfiles.ROOT
        self.boot = boot or _new_boot()  # in every session header of this boot
        self.fault = False  # the last state save failed: no new number is used until one works
        self.segment_bytes = segment_bytes
        self.margin_bytes = margin_bytes
        self._free = free_fn or logfiles.free_bytes
        self.full = False
        self.dropped = 0  # reps not written in this boot
        self.torn_bytes = 0  # dropped from the last segment's tail at boot
        self._f = None
        self._seg = None  # number of the segment being appended to; None: next write opens one
        self._size = 0
        self._session = None  # the open session's header arguments
        self._battery = None  # and its battery level (restated in a continuation header)
        self._packer = logfmt.RepPacker()
        self._fb_buf = bytearray(logfmt.FEEDBACK_FRAME)
        self._fb_said = logfmt.NO_FEEDBACK  # the feedback frame in force in this session here
        self._dirty = False
        logfiles.mkdir(self.root)
        self._recover()
        self._check_space()
        running.log = self  # the Log that writes: every host call on the store closes it first

    # ---- boot ----

    def _recover(self):
        # The decoder is only needed here, at boot: imported here, so the firmware can drop it
        # once booted (`dowel.logread`).
        from dowel import logread

        root = self.root
        names = logfiles.names(root)
        last_session = 0
        last_seg = 0
        while names:
            name = names[-1]
            path = logfiles.path(root, name)
            data = logfiles.read_all(path)
            d = logread.decode(data, False)
            if d.good_bytes == 0 and (d.torn or not data) and len(data) <= logfmt.MAX_FRAME:
                # Died while creating it: at most a torn segment header, no record.
                os.remove(path)
                names.pop()
                continue
            last_seg = int(name[:8])
            if d.last_session is not None:
                last_session = d.last_session.number
            same_format = d.segment is not None and d.segment.version == logfmt.FORMAT_VERSION
            if d.error is None and len(data) < self.segment_bytes and same_format:
                self._seg = last_seg  # whole: keep appending to it
                self._size = len(data)
            else:
                # Sealed: the next record opens a new segment (also after a firmware update
                # that changed the format: a segment holds records of its header's version).
                self.torn_bytes = d.tail_bytes
            break
        st = logfiles.load_state(root)
        if st is None:
            st = logfiles.rebuilt_state(root)
            self._dirty = True
        for key, floor in (("session", last_session + 1), ("segment", last_seg + 1)):
            if not isinstance(st.get(key), int) or st[key] < floor:
                st[key] = floor
                self._dirty = True
        st.setdefault("rtc", None)
        st.setdefault("dropped", 0)
        if self._seg is not None:
            name = logfiles.seg_name(self._seg)
            if logfiles.unfinished(st, name) >= 0:
                # That write failed before it wrote anything: the segment ends whole and is
                # appended to again, so the mark would point into good records.
                logfiles.forget_unfinished(st, (name,))
                self._dirty = True
        self._st = st
        if self._dirty:
            self._save()

    def _save(self):
        """Save the state; False (and `fault`) when the flash refused. Callers that were
        saving a new session or segment number then do not use it: after a reboot the state on
        flash would hand it out again."""
        try:
            logfiles.save_state(self.root, self._st)
        except OSError:
            self._dirty = True
            self.fault = True
            return False
        self._dirty = False
        self.fault = False
        return True

    # ---- space and segments ----

    def _check_space(self):
        try:
            self.full = self._free(self.root) < self.margin_bytes
        except OSError:
            self.full = True
        return not self.full

    def _room(self, n):
        """Make the open segment able to take n more bytes; False when the flash is full."""
        if self._seg is not None and self._size + n > self.segment_bytes:
            self._close_file()
            self._seg = None
        if self._seg is None:
            if not self._check_space():
                return False
            return self._new_segment()
        if self._f is None or (self._size + n) // _BLOCK != self._size // _BLOCK:
            if not self._check_space():
                return False
        if self._f is None:
            self._f = self._open(logfiles.seg_name(self._seg), "ab")
        return self._f is not None

    def _new_segment(self):
        number = self._st["segment"]
        self._st["segment"] = number + 1
        if not self._save():  # before the file exists: a name is never used twice
            self.full = True
            return False
        self._f = self._open(logfiles.seg_name(number), "wb")
        if self._f is None:
            return False
        self._seg = number
        self._size = 0
        self._fb_said = logfmt.NO_FEEDBACK  # every segment states its sessions' feedback
        ok = self._write(logfmt.segment_header(self._st["epoch"], number))
        if ok and self._session is not None:
            p = self._packer
            ok = self._write(
                logfmt.session_header(
                    *self._session,
                    base=(p.base_seq, p.base_end_ms),
                    boot=self.boot,
                    battery_pct=self._battery,
                )
            )
        return ok

    def _open(self, name, mode):
        try:
            return open(logfiles.path(self.root, name), mode)
        except OSError:  # no space for a new file, or no file system: stop logging
            self._seg = None
            self.full = True
            return None

    def _write(self, data, start=0, n=-1):
        if n < 0:
            n = len(data)
        f = self._f
        if f is None:
            return False
        try:
            if _MP:
                f.write(data, start, n)  # type: ignore[call-arg]  # MicroPython: no slice copy
            else:
                f.write(bytes(data[start : start + n]))
            f.flush()
        except OSError:
            # Out of space or a failing flash: stop logging; the segment may now end torn, so
            # it is sealed and never appended to, and the store says where (`unfinished`).
            self._close_file()
            self._note_unfinished(self._seg, self._size)
            self._seg = None
            self.full = True
            return False
        self._size += n
        return True

    def _note_unfinished(self, seg, offset):
        if seg is None:
            return
        marks = self._st.get("unfinished") or []
        marks.append([logfiles.seg_name(seg), offset])
        self._st["unfinished"] = marks
        self._save()  # may fail too (a full flash): then the host treats the tail as damage

    def _close_file(self):
        f = self._f
        self._f = None
        if f is not None:
            try:
                f.close()
            except OSError:
                pass

    # ---- the firmware loop's calls ----

    def begin_session(
        self, device_id, firmware, config_hash, patient, rtc, ticks_ms, has_imu, battery_pct=None
    ):
        """Open a session; return its number (per device, never reused). `rtc`: the RTC's
        datetime tuple; kept only when the host has set the clock since it last lost power.
        `battery_pct`: the cell's charge, 0..100 (a reading past either end is clamped), or
        None when unknown; anything else is logged as unknown rather than stopping the loop."""
        if battery_pct is not None:
            if isinstance(battery_pct, (int, float)):
                battery_pct = min(100, max(0, int(battery_pct)))
            else:
                battery_pct = None
        running.session_boot = self.boot
        number = self._st["session"]
        self._st["session"] = number + 1
        self._session = None
        self._packer.base(-1, 0)
        self._fb_said = logfmt.NO_FEEDBACK
        if not self._save():
            # The number is not on flash: after a reboot it could be handed out again. Do not
            # use it; the session's reps are dropped (and cued) until a save works again.
            self.full = True
            return number
        args = (
            number,
            device_id,
            firmware,
            config_hash,
            patient,
            self._rtc(rtc),
            ticks_ms,
            has_imu,
        )
        self._battery = battery_pct
        if self.full:
            self._check_space()
        header = logfmt.session_header(*args, boot=self.boot, battery_pct=battery_pct)
        if not self.full and self._room(len(header)) and self._write(header):
            self._session = args
        return number

    def add_rep(
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
        feedback=logfmt.NO_FEEDBACK,
    ):
        """Write one rep record whole and flush it, after a feedback frame when `feedback`
        (`logfmt.feedback_state`) is not the one in force. False: not written (full, or no
        session)."""
        if self._session is None or self.full:
            self._drop()
            return False
        p = self._packer
        base_seq = p.base_seq
        base_end = p.base_end_ms
        n = p.pack(
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
        say = feedback != logfmt.NO_FEEDBACK
        extra = logfmt.FEEDBACK_FRAME if say and feedback != self._fb_said else 0
        if self._seg is None or self._size + extra + n > self.segment_bytes:
            # A new segment restates the session with the base this rep was coded against
            # (and the feedback in force); then the rep is packed again (same bytes: the base
            # is the same).
            p.base(base_seq, base_end)
            ok = self._room(n + (logfmt.FEEDBACK_FRAME if say else 0))
            if ok:
                n = p.pack(
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
        else:
            ok = self._room(extra + n)  # checks free space when this record starts a new block
        if ok and say and feedback != self._fb_said:
            ok = self._write(self._fb_buf, 0, logfmt.pack_feedback(self._fb_buf, feedback))
            if ok:
                self._fb_said = feedback
        if not ok or not self._write(p.buf, p.start, n):
            p.base(base_seq, base_end)  # not on flash: the next rep is coded against the last
            self._drop()
            return False
        return True

    def _drop(self):
        self.dropped += 1
        self._st["dropped"] = self._st.get("dropped", 0) + 1
        self._dirty = True
        if self.dropped % _DROP_SAVE_EVERY == 1:
            self._save()

    def _rtc(self, rtc):
        mark = self._st.get("rtc")
        if not rtc or not mark:
            return None
        if len(rtc) >= 8:  # machine.RTC().datetime(): (y, m, d, weekday, h, m, s, subseconds)
            rtc = (rtc[0], rtc[1], rtc[2], rtc[4], rtc[5], rtc[6])
        rtc = tuple(rtc[:6])
        # The ESP32 RTC restarts at 2000-01-01 after a power loss: a time before the one the
        # host set means the clock was lost, so the session gets ticks only.
        if list(rtc) < list(mark) or not 2000 <= rtc[0] <= 2255:
            return None
        return rtc

    def close(self):
        self._close_file()
        self._seg = None
        self._session = None
        if self._dirty:
            self._save()
        if running.log is self:
            running.log = None
