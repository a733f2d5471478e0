"""The per-tick logic of the dowel: three contact debouncers, the rep machine and the choice
of cue. Pure: it gets readings, pitch and elapsed milliseconds, and drives a CuePlayer.

    engine = Engine(config.defaults(), has_imu=False)
    engine = Engine(cfg, True, pitch_lag_ms=0)   # a pitch with no filter delay (a replayed trace)
    events = engine.step(head, midback, sacrum, pitch_ddeg, dt_ms)
    engine.lost, engine.regained   # bit masks of this tick's LOST / CONTACT events
    engine.touching                # bit mask of the points in contact now
    engine.player.freq_hz          # the tone to output now (engine.tone_changed says if it moved)
    engine.day = 20466             # optional: today's day number, for sets, days and probes
    engine.rep_stage, engine.rep_mode, engine.rep_probe, engine.rep_cued   # per rep, for the log
    log.add_rep(*engine.rep_record())   # at EV_REP_END: the rep's log record, its feedback too

Which faults are cued, the warning ticks, probe sets and set / day done are decided by
`dowel.feedback` (the config's `feedback` mode or the PT's `schedule`); the engine plays them.

The board's loop (`dowel.app`) and `dowel replay` on the host both run this class, so a trace
replayed on a laptop takes the very path the firmware takes.
"""

from dowel import cues
from dowel.contact import CONTACT, LOST, NO_EVENT, Contact
from dowel.feedback import (
    DAY_DONE,
    MODE_FADED,
    MODE_LOSS,
    MODE_WARNING,
    NO_DAY,
    Feedback,
    Warner,
)
from dowel.logfmt import feedback_state
from dowel.points import first_lost
from dowel.rep import (
    EV_ARMED,
    EV_FAULT,
    EV_RELEASE,
    EV_REP_END,
    EV_REP_START,
    IDLE,
    NO_DDEG,
    PITCH_LAG_MS,
    RepMachine,
)


def _none(value):
    return None if value == NO_DDEG else value


class Engine:
    def __init__(self, cfg, has_imu, pitch_lag_ms=PITCH_LAG_MS):
        s = cfg["sensors"]
        loss_ms = cfg["loss_ms"]
        regain_ms = cfg["regain_ms"]
        self.head = Contact(s["head"]["on"], s["head"]["off"], loss_ms, regain_ms)
        self.midback = Contact(s["midback"]["on"], s["midback"]["off"], loss_ms, regain_ms)
        self.sacrum = Contact(s["sacrum"]["on"], s["sacrum"]["off"], loss_ms, regain_ms)
        self.reps = RepMachine(
            cfg["arm_ms"], cfg["start_deg"] * 10, cfg["end_deg"] * 10, has_imu, pitch_lag_ms
        )
        self.player = cues.CuePlayer()
        self.feedback = Feedback(cfg)
        self.warner = Warner(cfg)
        self.warn_live = False  # warning ticks are on now (mode, probe, armed or in a rep)
        self.queued = None  # a pattern to play once the current one ends
        self.chime = cfg["chime"]
        self.cue_this_rep = True  # this rep's faults may be cued (mode, faded share, probe)
        # Set by the shell: today's day number (any integer that changes at midnight, e.g. days
        # since 2000 from the RTC). NO_DAY: no date known, the day never rolls over.
        self.day = NO_DAY
        # The current (or just ended) rep, for the log: stage index, MODE_*, probe set, and
        # the points whose loss was cued (bit mask).
        self.rep_stage = 0
        self.rep_mode = self.feedback.mode
        self.rep_probe = False
        self.rep_cued = 0
        self.new_session = False  # the rep that just started opened a log session
        self.session_gap_ms = cfg["session_gap_s"] * 1000
        self._last_end_ms = -1  # rep clock at the last rep's end; -1: none yet (boot)
        self.lost = 0
        self.regained = 0
        self.touching = 0  # bit mask of the points in contact (all start out of contact)
        self.tone_changed = False

    def step(self, head, midback, sacrum, pitch_ddeg, dt_ms):
        """One tick: feed the three readings; return the rep machine's EV_* bits."""
        # Most ticks, every reading is inside its contact's quiet band, where `update` would
        # return NO_EVENT at once (`Contact._settle`): tested here, two attribute loads, before
        # paying for the call. Each point's event is looked at only when one happened.
        c = self.head
        e_head = NO_EVENT if c.quiet_lo <= head < c.quiet_hi else c.update(head, dt_ms)
        c = self.midback
        e_midback = NO_EVENT if c.quiet_lo <= midback < c.quiet_hi else c.update(midback, dt_ms)
        c = self.sacrum
        e_sacrum = NO_EVENT if c.quiet_lo <= sacrum < c.quiet_hi else c.update(sacrum, dt_ms)
        if e_head or e_midback or e_sacrum:
            lost = self._contact_events(e_head, e_midback, e_sacrum)
            # `firm` matters to the rep machine only on a tick with a loss.
            firm = self._firm() if lost else 0
        else:
            lost = firm = self.lost = self.regained = 0
        events = self.reps.update(self.touching, firm, lost, pitch_ddeg, dt_ms)
        player = self.player
        self.tone_changed = player.pattern is not None and player.update(dt_ms)
        if player.pattern is None and self.queued is not None:
            self.play(self.queued)
            self.queued = None
        fb = self.feedback
        if fb.pending:  # bandwidth: losses waiting out the tolerance (before this tick's fault)
            due = fb.bandwidth_tick(self.regained, dt_ms)
            if due:
                self._cue_loss(due)
        if events:
            self._cue(events)
        if self.warn_live:
            tick = self.warner.update(head, midback, sacrum, self.touching, dt_ms)
            if tick and player.pattern is None:
                self.play(cues.WARNING_TICK_CUE)
        return events

    def _contact_events(self, e_head, e_midback, e_sacrum):
        """Set this tick's `lost` and `regained` masks and the `touching` mask; return `lost`.
        `touching` is kept from the events alone: a point's debounced state changes only with
        a LOST or a CONTACT. A LOST comes `loss_ms` or more after its dip began (the debounce
        waits that long): the rep machine gets each dip's age, so the loss is logged where it
        happened (`RepMachine.dip_ms`)."""
        lost = regained = 0
        dips = self.reps.dip_ms  # how old each lost point's dip is: the loss happened then
        if e_head == LOST:
            lost = 1
            dips[0] = self.head.age_ms
        elif e_head == CONTACT:
            regained = 1
        if e_midback == LOST:
            lost |= 2
            dips[1] = self.midback.age_ms
        elif e_midback == CONTACT:
            regained |= 2
        if e_sacrum == LOST:
            lost |= 4
            dips[2] = self.sacrum.age_ms
        elif e_sacrum == CONTACT:
            regained |= 4
        self.lost = lost
        self.regained = regained
        self.touching = (self.touching & ~lost) | regained
        return lost

    def _firm(self):
        return self.head.firm() | (self.midback.firm() << 1) | (self.sacrum.firm() << 2)

    def _cue(self, events):
        """The cue of a tick with events. At most one plays now (a loss first, then day or
        set done, the chime, the ready or probe cue); a probe cue due after a set-done waits
        in `queued`."""
        fb = self.feedback
        reps = self.reps
        if events & EV_REP_START:
            # Feedback decides once per rep, when it starts, so a rep is cued all or nothing.
            self._rep_start(fb, reps)
        pattern = None
        if events & EV_FAULT:
            if reps.rep_active:
                points = fb.fault(reps.new_faults)
                self.rep_cued |= points
            else:
                points = self._standing_fault(fb, reps.new_faults)
            if points:
                pattern = cues.LOST_CUES[first_lost(points)]
        if events & EV_REP_END:
            self._last_end_ms = reps.clock_ms
            done = fb.rep_end(reps.lost_mask, events & EV_RELEASE)
            if fb.late:
                self.rep_cued |= fb.late
                pattern = cues.LOST_CUES[first_lost(fb.late)]
            if done:
                done_cue = cues.DAY_DONE_CUE if done & DAY_DONE else cues.SET_DONE_CUE
                if pattern is None:
                    pattern = done_cue
                else:
                    self.queued = done_cue
                if fb.probe_now and self.queued is None:
                    self.queued = cues.PROBE_CUE  # the next set is a probe set: say so now
            elif pattern is None and self.chime and not reps.lost_mask and self.cue_this_rep:
                pattern = cues.GOOD_REP_CUE
        elif events & EV_RELEASE:
            fb.cancel()
        if events & EV_ARMED:
            probe = fb.arming(self.day)
            if pattern is None:
                pattern = cues.PROBE_CUE if probe else cues.READY_CUE
        if pattern is not None:
            self.play(pattern)
        self.warn_live = fb.mode == MODE_WARNING and not fb.probe_now and reps.state != IDLE
        if not self.warn_live:
            self.warner.reset()

    def _standing_fault(self, fb, points):
        """A point lost while standing armed, no rep open (`dowel.rep`): feedback decides per
        rep, and this is no rep's, so it is cued only in the modes that cue every loss (loss,
        warning) and never in a probe set; faded, bandwidth and none stay silent."""
        if fb.probe_now or (fb.mode != MODE_LOSS and fb.mode != MODE_WARNING):
            return 0
        return points

    def _rep_start(self, fb, reps):
        # The session rule the shell's log uses (`dowel.app`): the first rep, or one that
        # starts session_gap_s or more after the last rep's end. No rebase comes between a
        # rep's end and the next start, so both clock readings are on the same clock.
        last = self._last_end_ms
        self.new_session = last < 0 or reps.start_ms - last >= self.session_gap_ms
        fb.rep_start(self.day, self.new_session)
        self.cue_this_rep = fb.cue_faults
        self.rep_stage = fb.rep_stage
        self.rep_mode = fb.rep_mode
        self.rep_probe = fb.rep_probe
        self.rep_cued = 0

    def _cue_loss(self, points):
        self.rep_cued |= points
        self.play(cues.LOST_CUES[first_lost(points)])

    def play(self, pattern):
        self.player.play(pattern)
        self.tone_changed = True

    def rep_record(self):
        """The rep that just ended as `dowel.logstore.Log.add_rep` takes it, with the feedback
        it was given (`logfmt.feedback_state`). A tuple: at a rep's end, not every tick."""
        reps = self.reps
        pitch = reps.has_imu
        pct = self.feedback.stages[self.rep_stage][1] if self.rep_mode == MODE_FADED else 0
        return (
            reps.seq,
            reps.start_ms,
            reps.duration_ms,
            reps.lost_mask,
            reps.first_lost,
            reps.loss_at_ms if reps.lost_mask else None,
            _none(reps.loss_pitch_ddeg),
            _none(reps.depth_ddeg),
            reps.lower_ms if pitch else None,
            reps.pause_ms if pitch else None,
            reps.rise_ms if pitch else None,
            feedback_state(self.rep_stage, self.rep_mode, pct, self.rep_probe),
        )
