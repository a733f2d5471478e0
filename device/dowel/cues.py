"""Sounds and LED patterns, played without blocking: the loop calls `update(dt_ms)` each tick.

    player = CuePlayer()
    changed = player.update(dt_ms)    # True when the tone changed this tick
    if sacrum_lost:
        player.play(LOST_CUES[3])     # starts now: its first tone is to be output
        changed = True
    if changed:
        board.tone(player.freq_hz)    # 0 = silent; the LED follows the tone

A pattern is a flat tuple (freq_hz, ms, freq_hz, ms, ...); 0 Hz is a gap. Each lost point has
its own pitch *and* rhythm, so a PT can name it by ear without seeing the dowel: the higher the
point on the back, the higher the note, and one, two or three beeps, top to bottom.
"""

try:
    from micropython import const
except ImportError:  # CPython: the host runs these same files

    def const(x):
        return x


# The transducer is a CUI Devices CEP-1126 (29.5 mm piezo audio transducer, external drive):
# its datasheet rates 92 dB min at 10 cm at 2.8 kHz, 10 Vp-p square wave, and its "Typical
# Frequency Response Curve" (page 2) is the curve the cues are placed on: every tone sits in
# BAND_HZ, around that 2.8 kHz rating point, where a housed piezo of this size is loud, and
# below 4 kHz, where the hearing of older patients falls off first. (The small Murata
# PKM13EPYH4000-A0 listed before resonates at 4 kHz and is much quieter at 1-2.6 kHz, where the
# cues used to be.) The three points stay apart by pitch and by count: head one high beep,
# mid-back two middle, sacrum three low, a major third or a fourth apart.
BAND_HZ = (2000, 4000)

HEAD_CUE = (3520, 220)  # A7, one beep
MIDBACK_CUE = (2637, 110, 0, 80, 2637, 110)  # E7, two beeps
SACRUM_CUE = (2093, 90, 0, 70, 2093, 90, 0, 70, 2093, 90)  # C7, three beeps
LOST_CUES = (None, HEAD_CUE, MIDBACK_CUE, SACRUM_CUE)  # by first_lost code 1..3 (dowel.points)
READY_CUE = (2349, 60, 3136, 60)  # rising chirp: three points in contact, go
GOOD_REP_CUE = (2794, 50, 0, 30, 3951, 70)  # optional chime after a clean rep
# Config rejected at boot: a two-tone warble the patient will not mistake for a lost point.
CONFIG_FAULT_CUE = (3136, 150, 0, 100, 2217, 150, 0, 100, 3136, 150, 0, 100, 2217, 150)
LOG_FULL_CUE = (2000, 600)  # long low tone at the end of a rep that could not be logged
# The cell is low (`dowel.battery`): three slow falling steps, once per discharge.
LOW_BATTERY_CUE = (2960, 250, 0, 150, 2489, 250, 0, 150, 2217, 500)

# Feedback that teaches (`dowel.feedback`): told from the point cues by rhythm, and none borrows
# a point's pitch. A warning tick is one 16 ms click (the loop's 4 ms tick rounds it up to a
# multiple), short enough to sound soft next to the 90-220 ms point beeps and to stay separate
# ticks at 8 a second. The probe cue, two quick pips and a long low note, replaces the ready
# chirp throughout a probe set: "go, and this set you are on your own". Set done is three
# rising notes, the last held; day done four rising notes, the last held long.
WARNING_TICK_CUE = (2489, 16)
PROBE_CUE = (3136, 50, 0, 60, 3136, 50, 0, 60, 2349, 250)
SET_DONE_CUE = (2349, 100, 0, 50, 2794, 100, 0, 50, 3136, 260)
DAY_DONE_CUE = (2349, 100, 0, 40, 2794, 100, 0, 40, 3136, 100, 0, 40, 3729, 500)
FEEDBACK_NAMES = ("WARNING_TICK_CUE", "PROBE_CUE", "SET_DONE_CUE", "DAY_DONE_CUE")

# Every cue by name, in the order `dowel selftest` plays them (the lost points first).
NAMES = (
    "HEAD_CUE",
    "MIDBACK_CUE",
    "SACRUM_CUE",
    "READY_CUE",
    "GOOD_REP_CUE",
    "CONFIG_FAULT_CUE",
    "LOG_FULL_CUE",
    "LOW_BATTERY_CUE",
)


class CuePlayer:
    def __init__(self):
        self.pattern = None
        self.index = 0
        self.left_ms = 0
        self.freq_hz = 0

    def play(self, pattern):
        """Start a pattern now, cutting off any pattern still playing; the caller outputs
        `freq_hz` right away."""
        self.pattern = pattern
        self.index = 0
        self.left_ms = pattern[1]
        self.freq_hz = pattern[0]

    def update(self, dt_ms):
        """Advance by dt_ms; return True when the tone to output changed (including at start)."""
        pattern = self.pattern
        if pattern is None:
            return False
        before = self.freq_hz
        left = self.left_ms - dt_ms
        i = self.index
        while left <= 0:
            i += 2
            if i >= len(pattern):
                self.pattern = None
                self.freq_hz = 0
                self.left_ms = 0
                return before != 0
            left += pattern[i + 1]
            self.freq_hz = pattern[i]
        self.index = i
        self.left_ms = left
        return self.freq_hz != before


class Fader:
    """Faded feedback: cue a set percentage of reps, spread evenly (a Bresenham accumulator),
    so 50 % cues every other rep rather than a random half. Mode "every" cues all reps."""

    def __init__(self, faded, pct):
        self.faded = faded
        self.pct = pct
        self.acc = 0

    def next_rep(self):
        """Call once per rep: True when this rep's faults should be cued."""
        if not self.faded:
            return True
        self.acc += self.pct
        if self.acc >= 100:
            self.acc -= 100
            return True
        return False
