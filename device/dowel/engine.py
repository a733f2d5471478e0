"""The per-tick logic of the dowel: three contact debouncers, the rep machine and the choice
of cue. Pure: it gets readings, pitch and elapsed milliseconds, and drives a CuePlayer.

    engine = Engine(config.defaults(), has_imu=False)
    events = engine.step(head, midback, sacrum, pitch_ddeg, dt_ms)
    engine.lost, engine.regained   # bit masks of this tick's LOST / CONTACT events
    engine.player.freq_hz          # the tone to output now (engine.tone_changed says if it moved)

The board's loop (`dowel.app`) and `dowel replay` on the host both run this class, so a trace
replayed on a laptop takes the very path the firmware takes.
"""

from dowel import cues
from dowel.contact import CONTACT, LOST, Contact
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
        self.tone_changed = False

    def step(self, head, midback, sacrum, pitch_ddeg, dt_ms):
        """One tick: feed the three readings; return the rep machine's EV_* bits."""
        lost = regained = 0
        event = self.head.update(head, dt_ms)
        if event == LOST:
            lost = 1
        elif event == CONTACT:
            regained = 1
        event = self.midback.update(midback, dt_ms)
        if event == LOST:
            lost |= 2
        elif event == CONTACT:
            regained |= 2
        event = self.sacrum.update(sacrum, dt_ms)
        if event == LOST:
            lost |= 4
        elif event == CONTACT:
            regained |= 4
        self.lost = lost
        self.regained = regained
        touching = self.head.touching | (self.midback.touching << 1) | (self.sacrum.touching << 2)
        firm = self.head.firm() | (self.midback.firm() << 1) | (self.sacrum.firm() << 2)
        events = self.reps.update(touching, firm, lost, pitch_ddeg, dt_ms)
        self.tone_changed = self.player.update(dt_ms)
        if events:
            self._cue(events)
        return events

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
