"""Feedback that teaches: which faults to cue, the early-warning ticks, the PT's schedule of
feedback stages, probe sets, and set / day done. Pure: it counts the engine's events (rep
starts and ends, faults, regains) and the day number the shell passes in; it reads no clock.

    fb = Feedback(cfg)                  # cfg from dowel.config: feedback, schedule, probe, ...
    fb.rep_start(day, new_session)      # at EV_REP_START: fb.rep_stage, rep_mode, rep_probe
    cue = fb.fault(reps.new_faults)     # at EV_FAULT: the points to cue now (0: stay silent)
    cue = fb.bandwidth_tick(regained, dt_ms)   # each tick while fb.pending: points due now
    done = fb.rep_end(lost_mask, released)     # at EV_REP_END: SET_DONE | DAY_DONE bits
    probe = fb.arming(day)              # at EV_ARMED: True when the coming rep is a probe rep
    warner = Warner(cfg); warner.update(head, midback, sacrum, touching, dt_ms)  # tick due?

Modes (MODE_NAMES), each a stage of the schedule or, without one, the config's `feedback`:
- loss: every lost point is cued (the dowel's behaviour before schedules; the default).
- warning: as loss, plus a soft tick while armed or in a rep when a point's pressure sinks into
  the warning band above its `off` threshold, faster as it nears `off` (see Warner).
- faded: `pct` percent of reps are cued, spread evenly (cues.Fader).
- bandwidth: a loss is cued only when the point is still out of contact `bandwidth_ms` after it
  was lost (or when the rep ends first): a brief lapse the patient corrects at once is inside
  the bandwidth and stays silent. This is bandwidth knowledge of results (Sherwood 1988,
  "Effect of bandwidth knowledge of results on movement consistency", Percept Mot Skills 66;
  Lee & Carnahan 1990, "Bandwidth knowledge of results and motor learning: more than just a
  relative frequency effect", Q J Exp Psychol 42A): feedback only when the error is outside a
  tolerance, so it fades as the learner improves and silence itself says "good enough". The
  error's size here is how long the spine stayed off the dowel, so the tolerance is a time; the
  other reading ("the same point on two reps in a row") measures consistency, not size.
- none: no fault cue at all; the ready, probe and set / day cues stay.

A schedule is a list of stages; each lasts `sessions` log sessions, `days` practice days (days
with at least one rep: a week off does not use up a stage), or `until` a criterion (a fault
rate below `fault_below_pct` over the stage's last `last_reps` reps); the last stage has no
length and lasts until the schedule is changed. Stages advance between reps, never within one.

Sets: `reps_per_set` counted reps make a set (a rep ended by putting the dowel down does not
count); `sets_per_day` sets make the day (DAY_DONE, once per day). Probe sets (`probe` "first":
the first set of each day; "every": sets 1, 1 + probe_every, ... of each day) get no fault
feedback of any kind, whatever the stage: they measure what the patient does alone.

Everything is small ints and preallocated buffers: nothing here allocates per tick or per
event, on MicroPython either. `progress()` / `resume()` carry the schedule's place across
boots (`save` / `load` write it to /feedback.json, off the tick path).
"""

from dowel import atomic
from dowel.cues import Fader

try:
    from micropython import const
except ImportError:  # CPython: the host runs these same files

    def const(x):
        return x


MODE_LOSS = const(0)
MODE_WARNING = const(1)
MODE_FADED = const(2)
MODE_BANDWIDTH = const(3)
MODE_NONE = const(4)
MODE_NAMES = ("loss", "warning", "faded", "bandwidth", "none")  # index = MODE_*

UNIT_NONE = const(0)  # the last stage: no end
UNIT_SESSIONS = const(1)
UNIT_DAYS = const(2)
UNIT_UNTIL = const(3)

PROBE_OFF = const(0)
PROBE_FIRST = const(1)
PROBE_EVERY = const(2)
PROBE_NAMES = ("off", "first", "every")

SET_DONE = const(1)
DAY_DONE = const(2)

NO_DAY = const(-1)  # the shell knows no date: the day never rolls over
# The RTC counts seconds from 2000-01-01 and starts there at power-on (docs/esp32-facts.md 8);
# a reading before 2024-01-01 means the host has not set the clock since: no date is known.
CLOCK_SET_S = const(757382400)
MAX_STAGES = const(8)
MAX_WINDOW = const(200)  # largest `last_reps` of a criterion

# Warning ticks (parking-sensor cue): one tick every WARN_SLOW_MS at the band's top, every
# WARN_FAST_MS at `off` and below; linear in pressure between. 1.7 to 8 ticks a second: slow
# enough at the top to be told from the fast end by ear, the fast end still separate ticks.
WARN_SLOW_MS = const(600)
WARN_FAST_MS = const(120)
_FRAC_ONE = const(256)  # fixed point for the place in the band: 0 at off, 256 at the top
_AGE_CAP_MS = const(1 << 20)


def day_number(seconds, utc_offset_min):
    """The patient's day (days since 2000-01-01, local midnight) from the RTC's seconds, which
    the host sets in UTC; NO_DAY while the clock is unset. Small ints only: no allocation."""
    if seconds < CLOCK_SET_S:
        return NO_DAY
    return (seconds + utc_offset_min * 60) // 86400


class Warner:
    """The early-warning tick. Each point's band runs from its `off` threshold up to
    off + warn_pct % of the gap to its calibrated contact `level` (to `on` while uncalibrated,
    level 0). A point counts once its reading has stayed under the band's top for `loss_ms`,
    the very dips the debounce ignores (shorter than loss_ms) so a grip wobble never ticks; the
    lowest such point sets the rate."""

    def __init__(self, cfg):
        s = cfg["sensors"]
        pct = cfg["warn_pct"]
        self.hold_ms = cfg["loss_ms"]
        self.off0, self.top0 = _band(s["head"], pct)
        self.off1, self.top1 = _band(s["midback"], pct)
        self.off2, self.top2 = _band(s["sacrum"], pct)
        self.reset()

    def reset(self):
        self.age0 = self.age1 = self.age2 = -1  # ms under the band's top; -1: not under it
        self.since_ms = _AGE_CAP_MS  # since the last tick: the first one comes at once
        self.interval_ms = 0  # the interval in force (0: no point in the band)

    def update(self, head, midback, sacrum, touching, dt_ms):
        """One tick: return True when a warning tick is due now. Only points in contact
        (`touching` bit mask) count: a lost point has had its loss cue."""
        frac = _FRAC_ONE + 1
        hold = self.hold_ms
        if touching & 1 and head < self.top0:
            a = 0 if self.age0 < 0 else self.age0 + dt_ms
            if a > _AGE_CAP_MS:
                a = _AGE_CAP_MS
            self.age0 = a
            if a >= hold:
                frac = _frac(head, self.off0, self.top0)
        else:
            self.age0 = -1
        if touching & 2 and midback < self.top1:
            a = 0 if self.age1 < 0 else self.age1 + dt_ms
            if a > _AGE_CAP_MS:
                a = _AGE_CAP_MS
            self.age1 = a
            if a >= hold:
                f = _frac(midback, self.off1, self.top1)
                if f < frac:
                    frac = f
        else:
            self.age1 = -1
        if touching & 4 and sacrum < self.top2:
            a = 0 if self.age2 < 0 else self.age2 + dt_ms
            if a > _AGE_CAP_MS:
                a = _AGE_CAP_MS
            self.age2 = a
            if a >= hold:
                f = _frac(sacrum, self.off2, self.top2)
                if f < frac:
                    frac = f
        else:
            self.age2 = -1
        if frac > _FRAC_ONE:
            self.since_ms = _AGE_CAP_MS
            self.interval_ms = 0
            return False
        interval = interval_ms(frac)
        self.interval_ms = interval
        since = self.since_ms + dt_ms
        if since >= interval:
            self.since_ms = 0
            return True
        self.since_ms = since if since < _AGE_CAP_MS else _AGE_CAP_MS
        return False


def _band(sensor, pct):
    """(off, top) of a sensor's warning band."""
    off = sensor["off"]
    level = sensor["level"]
    high = level if level > sensor["on"] else sensor["on"]
    return off, off + (high - off) * pct // 100


def _frac(reading, off, top):
    """Place of a reading in the band, 0 (at or under off) .. 256 (the top)."""
    if reading <= off:
        return 0
    return (reading - off) * _FRAC_ONE // (top - off)


def interval_ms(frac):
    """The tick interval at a place `frac` (0..256) in the band."""
    return WARN_FAST_MS + (WARN_SLOW_MS - WARN_FAST_MS) * frac // _FRAC_ONE


def stages_of(cfg):
    """The schedule as a tuple of (mode, pct, unit, length, fault_below_pct) tuples; without a
    schedule, one endless stage of the config's `feedback` mode."""
    schedule = cfg["schedule"]
    if not schedule:
        return ((MODE_NAMES.index(cfg["feedback"]), cfg["faded_pct"], UNIT_NONE, 0, 0),)
    out = []
    for st in schedule:
        mode = MODE_NAMES.index(st["mode"])
        pct = st.get("pct", cfg["faded_pct"])
        if "sessions" in st:
            out.append((mode, pct, UNIT_SESSIONS, st["sessions"], 0))
        elif "days" in st:
            out.append((mode, pct, UNIT_DAYS, st["days"], 0))
        elif "until" in st:
            u = st["until"]
            out.append((mode, pct, UNIT_UNTIL, u["last_reps"], u["fault_below_pct"]))
        else:
            out.append((mode, pct, UNIT_NONE, 0, 0))
    return tuple(out)


class Feedback:
    def __init__(self, cfg):
        self.stages = stages_of(cfg)
        self.bandwidth_ms = cfg["bandwidth_ms"]
        self.reps_per_set = cfg["reps_per_set"]
        self.sets_per_day = cfg["sets_per_day"]
        self.probe_rule = PROBE_NAMES.index(cfg["probe"])
        self.probe_every = cfg["probe_every"]
        self.fader = Fader(False, 0)
        self._window = bytearray(MAX_WINDOW)  # 1 = a faulted rep, in the criterion's ring
        # Where the course is: carried across boots by progress() / resume().
        self.day = NO_DAY  # the last day seen
        self.sets_today = 0
        self.reps_in_set = 0
        self._enter(0)
        self.stage_sessions = 0  # the first session is counted when its first rep starts
        self.stage_days = 0
        self.probe_now = self._set_is_probe()
        # The rep now open (or just ended), for the log.
        self.rep_stage = 0
        self.rep_mode = self.mode
        self.rep_probe = False
        self.cue_faults = True
        # Bandwidth: lost points waiting out the tolerance, and how long each has waited.
        self.pending = 0
        self.wait0 = self.wait1 = self.wait2 = 0
        self.late = 0  # points cued at the rep's end by rep_end

    # ---- the schedule ----

    def _enter(self, i):
        """Start stage i: the session and day now going count as its first."""
        self.stage = i
        mode, pct, unit, length, below = self.stages[i]
        self.mode = mode
        self.unit = unit
        self.length = length
        self.below_pct = below
        self.stage_sessions = 1
        self.stage_days = 1
        self.fader.faded = mode == MODE_FADED
        self.fader.pct = pct
        self.fader.acc = 0
        self._win_n = 0  # reps in the window (up to `length` for a criterion)
        self._win_i = 0
        self._win_faults = 0

    def _advance(self):
        if self.stage + 1 < len(self.stages):
            self._enter(self.stage + 1)

    def _roll_day(self, day):
        """A new practice day when `day` differs from the last one seen (NO_DAY never rolls)."""
        if day == self.day or day == NO_DAY:
            return
        first = self.day == NO_DAY and self.stage_days == 0
        self.day = day
        self.sets_today = 0
        self.reps_in_set = 0
        if first:
            self.stage_days = 1
        elif self.unit == UNIT_DAYS and self.stage_days >= self.length:
            self._advance()
        else:
            self.stage_days += 1
        self.probe_now = self._set_is_probe()

    def _new_session(self):
        if self.unit == UNIT_SESSIONS and self.stage_sessions >= self.length:
            self._advance()
        else:
            self.stage_sessions += 1

    def _set_is_probe(self):
        rule = self.probe_rule
        if rule == PROBE_OFF:
            return False
        if rule == PROBE_FIRST:
            return self.sets_today == 0
        return self.sets_today % self.probe_every == 0

    # ---- events ----

    def arming(self, day):
        """EV_ARMED: return True when the coming rep is a probe rep (the probe cue)."""
        self._roll_day(day)
        return self.probe_now

    def rep_start(self, day, new_session):
        """EV_REP_START: advance the schedule if due, then decide this rep's feedback."""
        self._roll_day(day)
        if new_session:
            self._new_session()
        self.pending = 0
        self.late = 0
        probe = self.probe_now
        self.rep_stage = self.stage
        self.rep_mode = mode = self.mode
        self.rep_probe = probe
        if probe or mode == MODE_NONE:
            self.cue_faults = False
        elif mode == MODE_FADED:
            self.cue_faults = self.fader.next_rep()
        else:
            self.cue_faults = True

    def fault(self, points):
        """EV_FAULT for `points` (bit mask): return the points to cue now."""
        if not self.cue_faults:
            return 0
        if self.rep_mode != MODE_BANDWIDTH:
            return points
        if points & 1:
            self.wait0 = 0
        if points & 2:
            self.wait1 = 0
        if points & 4:
            self.wait2 = 0
        self.pending |= points
        return 0

    def bandwidth_tick(self, regained, dt_ms):
        """Each tick while `pending`: a regained point leaves the bandwidth silent; return the
        points still out of contact `bandwidth_ms` after their loss, to cue now."""
        pending = self.pending & ~regained
        due = 0
        limit = self.bandwidth_ms
        if pending & 1:
            self.wait0 += dt_ms
            if self.wait0 >= limit:
                due = 1
        if pending & 2:
            self.wait1 += dt_ms
            if self.wait1 >= limit:
                due |= 2
        if pending & 4:
            self.wait2 += dt_ms
            if self.wait2 >= limit:
                due |= 4
        self.pending = pending & ~due
        return due

    def cancel(self):
        """The dowel was put down: a loss still waiting was a put-down, not a fault."""
        self.pending = 0

    def rep_end(self, lost_mask, released):
        """EV_REP_END: count the rep; return SET_DONE | DAY_DONE bits. A loss still waiting
        out the bandwidth lasted to the rep's end: it is outside the tolerance, and `late`
        says which points to cue now (none if the dowel was put down)."""
        self.late = 0 if released else self.pending
        self.pending = 0
        if released:
            return 0
        if self.unit == UNIT_UNTIL:
            self._count(1 if lost_mask else 0)
        if self.reps_per_set == 0:
            return 0
        self.reps_in_set += 1
        if self.reps_in_set < self.reps_per_set:
            return 0
        self.reps_in_set = 0
        self.sets_today += 1
        self.probe_now = self._set_is_probe()
        if self.sets_today == self.sets_per_day:
            return SET_DONE | DAY_DONE
        return SET_DONE

    def _count(self, faulted):
        """One rep into the criterion's window; advance when it is full and the fault rate is
        below the stage's percentage."""
        n = self.length
        w = self._window
        i = self._win_i
        if self._win_n == n:
            self._win_faults -= w[i]
        else:
            self._win_n += 1
        w[i] = faulted
        self._win_faults += faulted
        self._win_i = i + 1 if i + 1 < n else 0
        if self._win_n == n and self._win_faults * 100 < self.below_pct * n:
            self._advance()

    # ---- across boots ----

    def progress(self):
        """The course's place, plain ints and a list (allocates: at a quiet moment only)."""
        n = self._win_n
        start = self._win_i if n == self.length else 0  # the oldest rep
        window = [self._window[(start + k) % n] for k in range(n)]
        return {
            "stages": [list(s) for s in self.stages],
            "stage": self.stage,
            "stage_sessions": self.stage_sessions,
            "stage_days": self.stage_days,
            "day": self.day,
            "sets_today": self.sets_today,
            "reps_in_set": self.reps_in_set,
            "window": window,
        }

    def resume(self, saved):
        """Carry on from `progress()` of an earlier boot with the same schedule; a saved place
        in another schedule is stale and ignored. Returns True when resumed."""
        try:
            if [tuple(s) for s in saved["stages"]] != list(self.stages):
                return False
            stage = saved["stage"]
            if not 0 <= stage < len(self.stages):
                return False
            self._enter(stage)
            self.stage_sessions = int(saved["stage_sessions"])
            self.stage_days = int(saved["stage_days"])
            self.day = int(saved["day"])
            self.sets_today = int(saved["sets_today"])
            self.reps_in_set = int(saved["reps_in_set"])
            if self.unit == UNIT_UNTIL:
                for f in saved["window"][-self.length :]:
                    self._count(1 if f else 0)
        except (KeyError, TypeError, ValueError, IndexError):
            return False
        self.probe_now = self._set_is_probe()
        return True

    def keeps_state(self):
        """Whether there is a place to carry across boots: a schedule, or sets to count."""
        return len(self.stages) > 1 or self.reps_per_set > 0

    def save(self, patient, path="/feedback.json"):
        """Write progress() whole, for `patient` (`dowel.atomic`). Allocates, touches flash."""
        import json

        saved = self.progress()
        saved["patient"] = patient
        atomic.write(path, json.dumps(saved))

    def load(self, patient, path="/feedback.json"):
        """Resume from the file `save` wrote; False when there is none, or it is another
        patient's course (the dowel was calibrated for someone else), or it does not fit."""
        import json

        try:
            with open(path) as f:
                saved = json.loads(f.read())
        except (OSError, ValueError):
            return False
        return isinstance(saved, dict) and saved.get("patient") == patient and self.resume(saved)
