"""The per-tick logic of the dowel: three contact debouncers, the rep machine and the choice
of cue. Pure: it gets readings, pitch and elapsed milliseconds, and drives a CuePlayer.

    engine = Engine(config.defaults(), has_imu=False)
    events = engine.step(head, midback, sacrum, pitch_ddeg, dt_ms)
    engine.lost, engine.regained   # bit masks of this tick's LOST / CONTACT events
    engine.touching                # bit mask of the points in contact now
    engine.player.freq_hz          # the tone to output now (engine.tone_changed says if it moved)

The board's loop (`dowel.app`) and `dowel replay` on the host both run this class, so a trace
replayed on a laptop takes the very path the firmware takes.
"""

from dowel import cues
from dowel.contact import CONTACT, LOST, NO_EVENT, Contact
from dowel.rep import EV_ARMED, EV_FAULT, EV_REP_END, EV_REP_START, RepMachine, first_point


class Engine:
    def __init__(self, cfg, has_imu):
        s = cfg["sensors"]
        loss_ms = cfg["loss_ms"]
        regain_ms = cfg["regain_ms"]
        self.head = Contact(s["head"]["on"], s["head"]["off"], loss_ms, regain_ms)
        self.midback = Contact(s["midback"]["on"], s["midback"]["off"], loss_ms, regain_ms)
        self.sacrum = Contact(s["sacrum"]["on"], s["sacrum"]["off"], loss_ms, regain_ms)
        self.reps = RepMachine(cfg["arm_ms"], cfg["start_deg"] * 10, cfg["end_deg"] * 10, has_imu)
        self.player = cues.CuePlayer()
        self.fader = cues.Fader(cfg["feedback"] == "faded", cfg["faded_pct"])
        self.chime = cfg["chime"]
        self.cue_this_rep = True
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
        if events:
            self._cue(events)
        return events

    def _contact_events(self, e_head, e_midback, e_sacrum):
        """Set this tick's `lost` and `regained` masks and the `touching` mask; return `lost`.
        `touching` is kept from the events alone: a point's debounced state changes only with
        a LOST or a CONTACT."""
        lost = regained = 0
        if e_head == LOST:
            lost = 1
        elif e_head == CONTACT:
            regained = 1
        if e_midback == LOST:
            lost |= 2
        elif e_midback == CONTACT:
            regained |= 2
        if e_sacrum == LOST:
            lost |= 4
        elif e_sacrum == CONTACT:
            regained |= 4
        self.lost = lost
        self.regained = regained
        self.touching = (self.touching & ~lost) | regained
        return lost

    def _firm(self):
        return self.head.firm() | (self.midback.firm() << 1) | (self.sacrum.firm() << 2)

    def _cue(self, events):
        # Faded feedback decides once per rep, when it starts, so a rep is cued all or nothing.
        if events & EV_REP_START:
            self.cue_this_rep = self.fader.next_rep()
        pattern = None
        if events & EV_FAULT and self.cue_this_rep:
            pattern = cues.LOST_CUES[first_point(self.reps.new_faults)]
        elif events & EV_REP_END and self.chime and not self.reps.lost_mask:
            pattern = cues.GOOD_REP_CUE
        elif events & EV_ARMED:
            pattern = cues.READY_CUE
        if pattern is not None:
            self.play(pattern)

    def play(self, pattern):
        self.player.play(pattern)
        self.tone_changed = True
