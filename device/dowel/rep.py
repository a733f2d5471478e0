"""The rep state machine: idle -> armed -> in rep -> fault -> armed, and what each rep measured.

    reps = RepMachine(arm_ms=500, start_ddeg=150, end_ddeg=80, has_imu=True)
    reps.dip_ms[2] = 130                # on a tick with a loss: how old each lost point's dip is
    events = reps.update(touching, firm, lost, pitch_ddeg, dt_ms)
    if events & EV_FAULT:
        beep_for(reps.new_faults)       # bit mask of the points that just caused a fault
    if events & EV_REP_END:
        log(reps.seq, reps.lost_mask, reps.depth_ddeg, ...)   # the finished rep's figures

Inputs are bit masks over the points (bit 0 head, 1 mid-back, 2 sacrum): `touching`, the
debounced contact; `firm`, touching and not dipping right now (read only on a tick with a loss,
so a caller may pass 0 on the others); `lost`, the LOST events of this tick, with `dip_ms[i]`
the age of point i's dip when its LOST fired (`Contact.age_ms`; 0 if the caller does not
know). Nothing here reads a clock: `dt_ms` is the time since the previous tick.

- IDLE: the dowel is being picked up or is away. Never beeps. All three points touching for
  `arm_ms` arms it (EV_ARMED: the ready cue).
- ARMED: standing tall in three-point contact. With an IMU a rep starts when the pitch passes
  `start_ddeg` from below (armed while already tilted, it waits for the patient to stand up
  first). Without one a rep starts as soon as the dowel is armed: reps are armed periods.
- IN_REP: a rep is open. With an IMU it ends when the pitch returns under `end_ddeg` after
  having passed `start_ddeg`; without one, when the patient is back in contact after a fault.
- FAULT: a point was lost while armed or in a rep. Each point faults at most once per rep, so a
  sacrum chattering in and out beeps once. Back to three-point contact returns to IN_REP (the
  rep goes on) or, once the rep has ended, to ARMED. A loss while armed and standing beeps but
  opens no rep; if the pitch then passes `start_ddeg` before the point is back, the rep starts
  with that point already lost (at its pitch and time).

A loss is not a fault when the dowel is leaving the back: when no point still presses firmly
(put down, or dropped, at any pitch: the three points leave together, and three beeps for one
drop would tell the patient nothing), and, while standing (pitch under `start_ddeg`, or no
IMU), at the first loss of a rep when at most one point still presses firmly. The dowel goes
back to IDLE without a beep. A rep the dowel leaves mid-hinge is not logged: it never ended.

What a rep measured, where it happened. A loss's time and pitch are those of its dip's first
sample (`dip_ms` before the LOST event, which the debounce holds back by `loss_ms`). With an
IMU the rep's start, duration and phases are the movement's, from a pitch history kept while
armed and in the rep (`_RING_LEN` samples, one every `_RING_STEP_MS`): the rep runs from the
moment the patient began to lower to the moment they were back at standing, so it starts
before the pitch reaches `start_ddeg` and ends after it is back under `end_ddeg` (by a few
hundred ms each). Its lowering, pause at the bottom and rising are cut where the movement
leaves or reaches a rest (the standing level, the bottom's level): each boundary is found from
where the pitch crosses 15 % and 45 % of the way between the two, as for a smooth movement that
starts and ends at rest with a half-sine speed (`_phases`). The patient's own sway of about a
degree hides a slow movement's ends: for a 2 s lowering expect boundaries within ~0.1-0.2 s.
"""

from array import array

from dowel.points import first_lost

try:
    from micropython import const
except ImportError:  # CPython: the host runs these same files

    def const(x):
        return x


IDLE = const(0)
ARMED = const(1)
IN_REP = const(2)
FAULT = const(3)
STATE_NAMES = ("idle", "armed", "in_rep", "fault")

EV_ARMED = const(1)
EV_REP_START = const(2)
EV_FAULT = const(4)
EV_REP_END = const(8)
EV_RELEASE = const(16)

# Every point's bit (`dowel.points`: bit i is point i). A const here rather than a name taken
# from there: the idle tick compares against it, and an imported name is a global lookup.
ALL_POINTS = const(7)
NO_DDEG = const(-32768)  # "no IMU figure": rep fields hold ints only

_CLOCK_CAP_MS = const(1 << 29)
# The pitch history: 512 samples of 32 ms, 16 s (1 KB), while armed and in a rep. The loop's
# pitch moves every 16 ms (`dowel.app.SLOW_TICK_MS`) and a hinge takes seconds: 32 ms loses
# nothing the phase boundaries need, and a rep of up to ~14 s fits with its lead-in.
_RING_LEN = const(512)
_RING_MASK = const(511)
_RING_STEP_MS = const(32)
_RING_SPAN_MS = const(16384)  # _RING_LEN x _RING_STEP_MS
_RING_N_CAP = const(1 << 22)  # the history restarts past this many samples (37 hours armed)
# The loop's pitch trails the trunk: `dowel.pitch` low-passes each reading (weight 0.41 fed
# every 16 ms, a group delay of 1.41 readings, 23 ms) and a reading is up to 16 ms old (8 ms
# on average). Pitch times are moved back by this much (`pitch_lag_ms`: 0 for a pitch with no
# delay, such as a replayed trace's), so a loss's pitch is the trunk's at the dip's first sample
# and a rep starts when the trunk did.
PITCH_LAG_MS = const(30)
# Phase boundaries (`_phases`). Near a rest the pitch creeps (a smooth movement leaves and
# reaches it with zero speed) and the patient's own sway of a degree hides where it starts; a
# crossing at 15 % and one at 45 % of the way from the rest are quick and clear. For a movement
# whose speed follows a half sine (the smooth hinge host_tools.sim renders), those crossings
# come 0.2532 and 0.4681 of its duration after it left the rest, so it left 0.2532 / (0.4681 -
# 0.2532) = 1.178 times their gap before the first: 53/45. The factor is the model's: read with
# it, a minimum-jerk movement (crossings at 0.29 and 0.47) looks ~15 % shorter, each end ~7 % of
# its duration inside.
_NEAR_PCT = const(15)
_FAR_PCT = const(45)
_EXTRAPOLATE_NUM = const(53)
_EXTRAPOLATE_DEN = const(45)
# Without the crossing 15 % from a rest (a history that began after the lowering did, or a rise
# the rep's end cut short of it): from the crossings 15 % from the other rest and 45 % from this
# one, 1 - 0.2532 - 0.4681 = 0.2787 of the movement apart, the rest is 0.4681 / 0.2787 = 1.68
# times their gap beyond the latter.
_FALLBACK_NUM = const(42)
_FALLBACK_DEN = const(25)
_PRE_MS = const(1024)  # the first guess of the standing level: the mean over this long before
_EDGE_MS = const(320)  # then the rest levels are refined: the mean over this long beside each


def popcount3(mask):
    return (mask & 1) + ((mask >> 1) & 1) + ((mask >> 2) & 1)


class RepMachine:
    def __init__(self, arm_ms, start_ddeg, end_ddeg, has_imu, pitch_lag_ms=PITCH_LAG_MS):
        self.arm_ms = arm_ms
        self.start_ddeg = start_ddeg
        self.end_ddeg = end_ddeg
        self.has_imu = has_imu
        self.pitch_lag_ms = pitch_lag_ms
        self.state = IDLE
        self.arm_age_ms = -1  # how long all three have touched; -1 while they do not
        self.clock_ms = 0  # since `rebase`: the log session's clock
        self.new_faults = 0  # points that faulted this tick
        self.rep_active = False
        self.seq = -1  # sequence number of the current or last rep
        self.dip_ms = array("i", [0, 0, 0])  # set by the caller on a tick with a loss
        # The current (or just finished) rep's figures.
        self.start_ms = 0
        self.duration_ms = 0
        self.lost_mask = 0
        self.first_lost = 0
        self.loss_at_ms = 0
        self.loss_pitch_ddeg = NO_DDEG
        self.depth_ddeg = NO_DDEG
        self.lower_ms = 0
        self.pause_ms = 0
        self.rise_ms = 0
        self._loss_ms = 0  # the clock at the first loss's dip start
        self._floor_ms = 0  # a rep starts no earlier: the session's start or the last rep's end
        self._rezero = False  # the open rep opened a session: its start is the clock's 0
        self._pending = False  # the figures are a standing loss's, no rep open yet
        self._tilted = False  # armed with the pitch past start_ddeg: no rep until it is under
        # The pitch history: sample k (0, 1, ... since `_forget`) sits at k & _RING_MASK and
        # was taken at k * _RING_STEP_MS on the history's clock, which reads `_now()`.
        self._ring = array("h", bytes(2 * _RING_LEN))  # zeros, without a list of 512 first
        self._n = 0
        self._due_ms = 0  # until the next sample
        self._win0 = 0  # the first sample the next rep may use (after the last rep's end)
        self._det_n = 0  # the first sample after the open rep's start
        self._top = 0  # the open rep's deepest sample
        self._k = 0  # where the last crossing scan stopped (`_back`, `_ahead`)
        self._arrive = 0  # set by `_leave`: when the lowering reached the bottom
        self._return = 0  # set by `_depart`: when the rising was back at standing

    def rebase(self):
        """Start a new log session: the clock restarts at 0, and the rep now open (the one
        whose start opened the session) becomes the session's rep 0. With an IMU its start
        is known only when it ends (the patient began to lower before the pitch reached
        start_ddeg): the clock then moves to make that moment 0 (`_end_rep`)."""
        self.start_ms -= self.clock_ms
        self._loss_ms -= self.clock_ms
        self.clock_ms = 0
        self._floor_ms = 0
        self._rezero = self.rep_active and self.has_imu
        self.seq = 0 if self.rep_active else -1

    def update(self, touching, firm, lost, pitch_ddeg, dt_ms):
        """Advance one tick; return the EV_* bits of what happened."""
        clock = self.clock_ms + dt_ms
        # Saturate rather than grow past a small int (which would allocate every tick): a
        # session this long (6 days with no 10-minute break) cannot happen, a powered-on
        # dowel left idle can, and the next rep then opens a new session (`rebase`).
        self.clock_ms = clock if clock < _CLOCK_CAP_MS else _CLOCK_CAP_MS
        self.new_faults = 0
        state = self.state
        if state == IDLE:  # no rep is open while idle: nothing to track
            if touching != ALL_POINTS:
                self.arm_age_ms = -1
                return 0
            # The tick that completes the three-point contact is its time zero, and that of
            # the pitch history: the first rep may begin as soon as it is armed.
            if self.arm_age_ms < 0:
                self.arm_age_ms = 0
                self._forget()
            else:
                self.arm_age_ms += dt_ms
            if self.has_imu:
                due = self._due_ms - dt_ms
                self._due_ms = due
                if due <= 0:
                    self._record(pitch_ddeg)
            if self.arm_age_ms < self.arm_ms:
                return 0
            return self._arm(pitch_ddeg)
        if self.has_imu:  # the depth, and the pitch history every _RING_STEP_MS
            if self.rep_active and pitch_ddeg > self.depth_ddeg:
                self.depth_ddeg = pitch_ddeg
            due = self._due_ms - dt_ms
            self._due_ms = due
            if due <= 0:
                self._record(pitch_ddeg)
        elif self._n:
            self._forget()  # no pitch now: the history would have a hole
        if lost:
            return self._loss(firm, lost, pitch_ddeg)
        if state == ARMED:
            if not self.has_imu:
                self.state = IN_REP
                return self._start_rep(pitch_ddeg)
            if pitch_ddeg < self.start_ddeg:
                if self._tilted:
                    self._tilted = False
                return 0
            if self._tilted:
                return 0
            self.state = IN_REP
            return self._start_rep(pitch_ddeg)
        # IN_REP or FAULT
        if self.has_imu:
            if self.rep_active:
                if pitch_ddeg < self.end_ddeg and self.depth_ddeg >= self.start_ddeg:
                    events = self._end_rep()
                    if touching == ALL_POINTS:
                        self.state = ARMED
                        self._tilted = False
                        events |= EV_ARMED
                    return events
            elif self._pending and pitch_ddeg >= self.start_ddeg:
                # Hinging before the point lost while standing is back: a rep, with it lost.
                return self._start_rep(pitch_ddeg)
        if state == FAULT and touching == ALL_POINTS:
            if self.has_imu:
                if self.rep_active:
                    self.state = IN_REP
                    return 0
                self.state = ARMED
                self._pending = False
                self._tilted = pitch_ddeg >= self.start_ddeg
                return EV_ARMED
            # Without an IMU the armed period was the rep: it ends here, and the next one
            # starts on the next tick, once the caller has taken this one's figures.
            self.state = ARMED
            return self._end_rep() | EV_ARMED
        return 0

    def lost_mask_open(self):
        """Points already lost in the open rep, or while standing armed (0 when none)."""
        return self.lost_mask if self.rep_active or self._pending else 0

    def _loss(self, firm, lost, pitch_ddeg):
        """A tick with LOST events (not idle): a release, or a fault."""
        firm_left = popcount3(firm)
        standing = not self.has_imu or pitch_ddeg < self.start_ddeg
        if firm_left == 0 or (standing and firm_left == 1 and not self.lost_mask_open()):
            events = EV_RELEASE
            if self.rep_active:
                if standing:
                    events |= self._end_rep()
                else:  # dropped mid-hinge: the rep never ended, so it is no rep
                    self.rep_active = False
                    self.seq -= 1
            self._pending = False
            self.state = IDLE
            self.arm_age_ms = -1
            return events
        events = 0
        if not self.rep_active:
            if not self.has_imu:
                events = self._start_rep(pitch_ddeg)
            elif self.state == ARMED:  # standing: a fault, no rep (yet)
                self._clear_figures()
                self._pending = True
        newly = lost & ~self.lost_mask
        if newly:
            self._fault(newly, pitch_ddeg)
            events |= EV_FAULT
        self.state = FAULT
        return events

    def _arm(self, pitch_ddeg):
        self.arm_age_ms = -1
        if self.has_imu:
            self.state = ARMED
            self._tilted = pitch_ddeg >= self.start_ddeg
            return EV_ARMED
        self.state = IN_REP
        return EV_ARMED | self._start_rep(pitch_ddeg)

    def _clear_figures(self):
        self.lost_mask = 0
        self.first_lost = 0
        self.loss_at_ms = 0
        self.loss_pitch_ddeg = NO_DDEG
        self._loss_ms = 0

    def _start_rep(self, pitch_ddeg):
        if not self._pending:
            self._clear_figures()
        self._pending = False
        self.rep_active = True
        self.seq += 1
        self.start_ms = self.clock_ms
        self.duration_ms = 0
        self.depth_ddeg = pitch_ddeg if self.has_imu else NO_DDEG
        self.lower_ms = self.pause_ms = self.rise_ms = 0
        self._det_n = self._n
        self._top = self._n - 1 if self._n else 0
        return EV_REP_START

    def _fault(self, newly, pitch_ddeg):
        self.new_faults = newly
        if not self.lost_mask:
            point = first_lost(newly)
            self.first_lost = point
            age = self.dip_ms[point - 1]
            self._loss_ms = self.clock_ms - age
            if self.has_imu:
                # The loop's pitch pitch_lag_ms after the dip began is the trunk's when it did.
                now = self._now()
                t = now - age + self.pitch_lag_ms
                if t > now:
                    t = now
                self.loss_pitch_ddeg = self._pitch_at(t, pitch_ddeg)
        self.lost_mask |= newly

    def _end_rep(self):
        self.rep_active = False
        self._pending = False
        if not (self.has_imu and self._phases()):
            self.duration_ms = self.clock_ms - self.start_ms
        if self._rezero:
            self._rezero = False
            zero = self.start_ms
            self.clock_ms -= zero
            self.start_ms = 0
            self._loss_ms -= zero
        if self.lost_mask:
            at = self._loss_ms - self.start_ms
            self.loss_at_ms = 0 if at < 0 else at if at < self.duration_ms else self.duration_ms
        self._floor_ms = self.start_ms + self.duration_ms
        return EV_REP_END

    # ---- the pitch history ----

    def _forget(self):
        self._n = 0
        self._due_ms = 0
        self._win0 = 0
        self._det_n = 0

    def _record(self, pitch_ddeg):
        """A sample is due (`_due_ms` run out): take it, and any a late tick skipped."""
        due = self._due_ms
        n = self._n
        if due <= -_RING_SPAN_MS or (n >= _RING_N_CAP and not self.rep_active):
            self._forget()  # a stall longer than the history, or a very long stand
            due = n = 0
        ring = self._ring
        if self.rep_active and pitch_ddeg > ring[self._top & _RING_MASK]:
            self._top = n
        while due <= 0:  # the samples a late tick skipped hold this pitch
            ring[n & _RING_MASK] = pitch_ddeg
            n += 1
            due += _RING_STEP_MS
        self._n = n
        self._due_ms = due

    def _now(self):
        """The history's clock: the newest sample's time plus the time since it."""
        return self._n * _RING_STEP_MS - self._due_ms

    def _oldest(self):
        """The first sample the open rep may use: kept, and after the last rep's end."""
        lo = self._n - _RING_LEN
        return self._win0 if self._win0 > lo else lo if lo > 0 else 0

    def _clock_at(self, t_ms):
        """The rep clock at history time `t_ms` (pitch time: pitch_lag_ms is taken off)."""
        return self.clock_ms - (self._now() - t_ms) - self.pitch_lag_ms

    def _pitch_at(self, t_ms, pitch_ddeg):
        """The loop's pitch at history time `t_ms` (linear between samples; after the newest
        sample, between it and `pitch_ddeg`, the pitch now)."""
        n = self._n
        ring = self._ring
        last = n - 1
        if last < 0:
            return pitch_ddeg
        k = t_ms // _RING_STEP_MS
        if k >= last:
            v = ring[last & _RING_MASK]
            span = _RING_STEP_MS - self._due_ms  # since the newest sample
            if span <= 0:
                return pitch_ddeg
            return v + (pitch_ddeg - v) * (t_ms - last * _RING_STEP_MS) // span
        lo = n - _RING_LEN if n > _RING_LEN else 0  # any sample kept
        if k < lo:
            return ring[lo & _RING_MASK]
        v = ring[k & _RING_MASK]
        return v + (ring[(k + 1) & _RING_MASK] - v) * (t_ms - k * _RING_STEP_MS) // _RING_STEP_MS

    def _mean(self, a, b, lo):
        """The mean of samples a..b-1 (those from `lo` on); of sample `lo` when none."""
        if a < lo:
            a = lo
        if b <= a:
            return self._ring[lo & _RING_MASK]
        ring = self._ring
        total = 0
        k = a
        while k < b:
            total += ring[k & _RING_MASK]
            k += 1
        return total // (b - a)

    # ---- phases ----

    def _back(self, k, level, lo):
        """From sample k (at or above `level`) back to the first sample under it, not past
        `lo`: the history time the pitch crossed `level` there (between the two samples), or
        -1 if it did not. `_k` is left at the last sample at or above `level`."""
        ring = self._ring
        v1 = ring[k & _RING_MASK]
        while k > lo:
            v0 = ring[(k - 1) & _RING_MASK]
            if v0 < level:
                self._k = k
                return (k - 1) * _RING_STEP_MS + _RING_STEP_MS * (level - v0) // (v1 - v0)
            k -= 1
            v1 = v0
        self._k = k
        return -1

    def _ahead(self, k, level, hi):
        """From sample k (at or above `level`) on to the first sample under it, not past `hi`:
        the history time the pitch crossed `level`, or -1. `_k` as for `_back`."""
        ring = self._ring
        v0 = ring[k & _RING_MASK]
        while k < hi:
            v1 = ring[(k + 1) & _RING_MASK]
            if v1 < level:
                self._k = k
                return k * _RING_STEP_MS + _RING_STEP_MS * (v0 - level) // (v0 - v1)
            k += 1
            v0 = v1
        self._k = k
        return -1

    def _phases(self):
        """The rep's start, duration and phases from the pitch history; False when there is
        too little of it. Two passes: the first with the standing level from before the rep and
        the deepest sample as the bottom, the second with both measured beside the boundaries
        the first found (the mean over _EDGE_MS before the start, after reaching the bottom and
        before leaving it), since the patient sways by a degree about either rest."""
        lo = self._oldest()
        hi = self._n - 1
        if hi - lo < 4:
            return False
        ring = self._ring
        top = self._top
        if top < lo or top > hi:  # a rep longer than the history: the deepest of what is left
            top = k = lo
            while k <= hi:
                if ring[k & _RING_MASK] > ring[top & _RING_MASK]:
                    top = k
                k += 1
        base = self._mean(self._det_n - _PRE_MS // _RING_STEP_MS, self._det_n, lo)
        bottom_in = bottom_out = ring[top & _RING_MASK]
        edge = _EDGE_MS // _RING_STEP_MS
        t0 = t1 = t2 = t3 = 0
        rounds = 0
        while rounds < 2:
            if bottom_in - base < 20 or bottom_out - base < 20:  # under 2 degrees of movement
                return False
            t0 = self._leave(top, lo, base, bottom_in)
            t1 = self._arrive
            t2 = self._depart(top, hi, base, bottom_out)
            t3 = self._return
            rounds += 1
            if rounds == 2:
                break
            k0 = t0 // _RING_STEP_MS
            base = self._mean(k0 - edge, k0, lo)
            k1 = t1 // _RING_STEP_MS + 1
            k2 = t2 // _RING_STEP_MS
            if k2 - k1 >= 2:
                mid = (k1 + k2) // 2
                bottom_in = self._mean(k1, mid if mid < k1 + edge else k1 + edge, lo)
                bottom_out = self._mean(mid if mid > k2 - edge else k2 - edge, k2, lo)
        first = lo * _RING_STEP_MS
        if t0 < first:
            t0 = first
        if not self._rezero:  # not before the last rep's end (or the session's start)
            floor = self._floor_ms - self._clock_at(0)
            if t0 < floor:
                t0 = floor
        if t1 < t0:
            t1 = t0
        if t2 < t1:  # no pause: a turn at the bottom
            t1 = t2 = (t1 + t2) // 2
            if t1 < t0:
                t1 = t2 = t0
        if t3 < t2:
            t3 = t2
        self.start_ms = self._clock_at(t0)
        self.duration_ms = t3 - t0
        self.lower_ms = t1 - t0
        self.pause_ms = t2 - t1
        self.rise_ms = t3 - t2
        # The next rep's history starts after this one's end (its last samples are this rise).
        self._win0 = t3 // _RING_STEP_MS + 1
        return True

    def _leave(self, top, lo, base, bottom):
        """The lowering, from the deepest sample `top` back: return when it left `base`, and
        set `_arrive`, when it reached `bottom` (history times)."""
        span = bottom - base
        near = span * _NEAR_PCT // 100
        far = span * _FAR_PCT // 100
        top_near = self._back(top, bottom - near, lo)
        top_far = self._back(self._k, bottom - far, lo)
        if top_near < 0 or top_far < 0:
            top_near = top_far = top * _RING_STEP_MS
        self._arrive = top_near + (top_near - top_far) * _EXTRAPOLATE_NUM // _EXTRAPOLATE_DEN
        k = self._k
        rest_far = self._back(k, base + far, lo)
        rest_near = self._back(self._k, base + near, lo) if rest_far >= 0 else -1
        if rest_near >= 0:
            return rest_near - (rest_far - rest_near) * _EXTRAPOLATE_NUM // _EXTRAPOLATE_DEN
        if rest_far >= 0:  # the history began after the lowering did
            return rest_far - (top_near - rest_far) * _FALLBACK_NUM // _FALLBACK_DEN
        return lo * _RING_STEP_MS

    def _depart(self, top, hi, base, bottom):
        """The rising, from the newest sample `hi` back to the deepest `top`: return when it
        left `bottom`, and set `_return`, when it was back at `base` (history times)."""
        span = bottom - base
        near = span * _NEAR_PCT // 100
        far = span * _FAR_PCT // 100
        ring = self._ring
        k = hi
        level = bottom - near
        while k > top and ring[k & _RING_MASK] < level:
            k -= 1
        top_near = self._ahead(k, level, hi)
        top_far = self._ahead(self._k, bottom - far, hi) if top_near >= 0 else -1
        if top_far < 0:  # the rep ended before the rise was well under way
            top_near = top * _RING_STEP_MS
            self._return = hi * _RING_STEP_MS
            return top_near
        left = top_near - (top_far - top_near) * _EXTRAPOLATE_NUM // _EXTRAPOLATE_DEN
        rest_far = self._ahead(self._k, base + far, hi)
        rest_near = self._ahead(self._k, base + near, hi) if rest_far >= 0 else -1
        if rest_near >= 0:
            gap = rest_near - rest_far
            self._return = rest_near + gap * _EXTRAPOLATE_NUM // _EXTRAPOLATE_DEN
        elif rest_far >= 0:  # the rep ended before the rise was 15 % from standing
            self._return = rest_far + (rest_far - top_near) * _FALLBACK_NUM // _FALLBACK_DEN
        else:
            self._return = hi * _RING_STEP_MS
        return left
