"""The rep state machine: idle -> armed -> in rep -> fault -> armed, and what each rep measured.

    reps = RepMachine(arm_ms=500, start_ddeg=150, end_ddeg=80, has_imu=True)
    events = reps.update(touching, firm, lost, pitch_ddeg, dt_ms)
    if events & EV_FAULT:
        beep_for(reps.new_faults)       # bit mask of the points that just caused a fault
    if events & EV_REP_END:
        log(reps.seq, reps.lost_mask, reps.depth_ddeg, ...)   # the finished rep's figures

Inputs are bit masks over the points (bit 0 head, 1 mid-back, 2 sacrum): `touching`, the
debounced contact; `firm`, touching and not dipping right now (read only on a tick with a loss,
so a caller may pass 0 on the others); `lost`, the LOST events of this tick. Nothing here reads
a clock: `dt_ms` is the time since the previous tick.

- IDLE: the dowel is being picked up or is away. Never beeps. All three points touching for
  `arm_ms` arms it (EV_ARMED: the ready cue).
- ARMED: standing tall in three-point contact. Pitch past `start_ddeg` starts a rep. Without an
  IMU a rep starts as soon as the dowel is armed: reps are armed periods.
- IN_REP: a rep is open. With an IMU it ends when the pitch returns under `end_ddeg` after
  having passed `start_ddeg`; without one, when the patient is back in contact after a fault.
- FAULT: a point was lost while armed or in a rep. Each point faults at most once per rep, so a
  sacrum chattering in and out beeps once. Back to three-point contact returns to IN_REP (the
  rep goes on) or, once the rep has ended, to ARMED.

A loss is not a fault when the dowel is leaving the back (being put down): at the first loss
of a rep, when at most one point still presses firmly; after a fault, when none does. With an
IMU this applies only while standing (pitch under `start_ddeg`): nobody puts the dowel down
mid-hinge, so every loss there is a fault. The dowel goes back to IDLE without a beep.
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
PAUSE_BAND_DDEG = const(30)  # within 3 degrees of the deepest pitch counts as the bottom
_TRACE_LEN = const(256)
_TRACE_STEP_MS = const(20)


def popcount3(mask):
    return (mask & 1) + ((mask >> 1) & 1) + ((mask >> 2) & 1)


class RepMachine:
    def __init__(self, arm_ms, start_ddeg, end_ddeg, has_imu):
        self.arm_ms = arm_ms
        self.start_ddeg = start_ddeg
        self.end_ddeg = end_ddeg
        self.has_imu = has_imu
        self.state = IDLE
        self.arm_age_ms = -1  # how long all three have touched; -1 while they do not
        self.clock_ms = 0  # since `rebase`: the log session's clock
        self.new_faults = 0  # points that faulted this tick
        self.rep_active = False
        self.seq = -1  # sequence number of the current or last rep
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
        # Pitch over the rep, decimated: phase times are found on it when the rep ends.
        self._trace = array("h", [0] * _TRACE_LEN)
        self._trace_n = 0
        self._trace_step_ms = _TRACE_STEP_MS
        self._trace_age_ms = 0

    def rebase(self):
        """Start a new log session: the clock restarts at 0, and the rep now open (the one
        whose start opened the session) becomes the session's rep 0."""
        self.start_ms -= self.clock_ms
        self.clock_ms = 0
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
            # The tick that completes the three-point contact is its time zero.
            self.arm_age_ms = 0 if self.arm_age_ms < 0 else self.arm_age_ms + dt_ms
            if self.arm_age_ms < self.arm_ms:
                return 0
            return self._arm(pitch_ddeg)
        if self.rep_active and self.has_imu:
            self._track(pitch_ddeg, dt_ms)
        events = 0
        if lost:
            standing = not self.has_imu or pitch_ddeg < self.start_ddeg
            firm_left = popcount3(firm)
            if standing and (firm_left == 0 or (firm_left <= 1 and not self.lost_mask_open())):
                events = EV_RELEASE
                if self.rep_active:
                    events |= self._end_rep()
                self.state = IDLE
                self.arm_age_ms = -1
                return events
            if not self.rep_active:
                events |= self._start_rep(pitch_ddeg)
            newly = lost & ~self.lost_mask
            if newly:
                self._fault(newly, pitch_ddeg)
                events |= EV_FAULT
            self.state = FAULT
            return events
        if state == ARMED:
            if not self.has_imu or pitch_ddeg >= self.start_ddeg:
                self.state = IN_REP
                return self._start_rep(pitch_ddeg)
            return 0
        # IN_REP or FAULT
        if self.has_imu and self.rep_active:
            if pitch_ddeg < self.end_ddeg and self.depth_ddeg >= self.start_ddeg:
                events = self._end_rep()
                if touching == ALL_POINTS:
                    self.state = ARMED
                    events |= EV_ARMED
                return events
        if state == FAULT and touching == ALL_POINTS:
            if self.has_imu:
                if self.rep_active:
                    self.state = IN_REP
                    return 0
                self.state = ARMED
                return EV_ARMED
            # Without an IMU the armed period was the rep: it ends here, and the next one
            # starts on the next tick, once the caller has taken this one's figures.
            self.state = ARMED
            return self._end_rep() | EV_ARMED
        return 0

    def lost_mask_open(self):
        """Points already lost in the open rep (0 when no rep is open)."""
        return self.lost_mask if self.rep_active else 0

    def _arm(self, pitch_ddeg):
        self.arm_age_ms = -1
        if self.has_imu:
            self.state = ARMED
            return EV_ARMED
        self.state = IN_REP
        return EV_ARMED | self._start_rep(pitch_ddeg)

    def _start_rep(self, pitch_ddeg):
        self.rep_active = True
        self.seq += 1
        self.start_ms = self.clock_ms
        self.duration_ms = 0
        self.lost_mask = 0
        self.first_lost = 0
        self.loss_at_ms = 0
        self.loss_pitch_ddeg = NO_DDEG
        self.depth_ddeg = pitch_ddeg if self.has_imu else NO_DDEG
        self.lower_ms = self.pause_ms = self.rise_ms = 0
        self._trace_n = 0
        self._trace_step_ms = _TRACE_STEP_MS
        self._trace_age_ms = _TRACE_STEP_MS  # record the first sample at once
        return EV_REP_START

    def _fault(self, newly, pitch_ddeg):
        self.new_faults = newly
        if not self.lost_mask:
            self.first_lost = first_lost(newly)
            self.loss_at_ms = self.clock_ms - self.start_ms
            if self.has_imu:
                self.loss_pitch_ddeg = pitch_ddeg
        self.lost_mask |= newly

    def _end_rep(self):
        self.rep_active = False
        self.duration_ms = self.clock_ms - self.start_ms
        if self.has_imu:
            self._phases()
        return EV_REP_END

    def _track(self, pitch_ddeg, dt_ms):
        if pitch_ddeg > self.depth_ddeg:
            self.depth_ddeg = pitch_ddeg
        age = self._trace_age_ms + dt_ms
        if age < self._trace_step_ms:
            self._trace_age_ms = age
            return
        self._trace_age_ms = age - self._trace_step_ms
        trace = self._trace
        if self._trace_n == _TRACE_LEN:
            # Full: keep every other sample and halve the rate, in place, so a long rep still
            # fits and nothing is allocated.
            for i in range(_TRACE_LEN // 2):
                trace[i] = trace[2 * i]
            self._trace_n = _TRACE_LEN // 2
            self._trace_step_ms *= 2
        trace[self._trace_n] = pitch_ddeg
        self._trace_n += 1

    def _phases(self):
        """Lowering, pause and rising times: the bottom is the span from the first to the last
        sample within PAUSE_BAND_DDEG of the deepest pitch."""
        n = self._trace_n
        if n == 0:
            return
        trace = self._trace
        floor = self.depth_ddeg - PAUSE_BAND_DDEG
        first = 0
        while first < n and trace[first] < floor:
            first += 1
        last = n - 1
        while last > first and trace[last] < floor:
            last -= 1
        step = self._trace_step_ms
        self.lower_ms = min(first * step, self.duration_ms)
        self.pause_ms = min((last - first) * step, self.duration_ms - self.lower_ms)
        self.rise_ms = self.duration_ms - self.lower_ms - self.pause_ms
