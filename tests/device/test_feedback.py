"""Feedback that teaches, on the engine under CPython: each mode's cues rep by rep, the
schedule's advance (sessions, days, a fault-rate criterion), probe sets silent for faults,
set / day done at the right rep counts, the course's place across boots, and the config's
refusal of bad schedules. The same driver (DRIVER) runs on MicroPython in
test_feedback_micropython.py."""

import json

import pytest
from dowel import config, cues, feedback
from hypothesis import given, settings
from hypothesis import strategies as st

# Runs unchanged on CPython and MicroPython: an engine that logs every cue it plays (code and
# rep number) and every rep's feedback record into preallocated arrays, and a patient who
# hinges to 40 degrees with an IMU, optionally losing points at the bottom for `off_ms`.
DRIVER = """
from array import array
from dowel import config, cues
from dowel.engine import Engine
from dowel.rep import EV_REP_END

HI = 30000
DT = 5
CUES = (cues.HEAD_CUE, cues.MIDBACK_CUE, cues.SACRUM_CUE, cues.READY_CUE, cues.GOOD_REP_CUE,
        cues.PROBE_CUE, cues.SET_DONE_CUE, cues.DAY_DONE_CUE, cues.WARNING_TICK_CUE)
CUE_NAMES = ("head", "midback", "sacrum", "ready", "good", "probe", "set_done", "day_done",
             "tick")


class RecEngine(Engine):
    def __init__(self, cfg, size=4000):
        super().__init__(cfg, True)
        self.t = 0
        self.cue_t = array("i", [0] * size)
        self.cue_code = array("b", [0] * size)
        self.cue_rep = array("h", [0] * size)
        self.n_cues = 0
        self.rec = array("h", [0] * 4 * 400)  # per rep: stage, mode, probe, cued
        self.n_reps = 0

    def play(self, pattern):
        Engine.play(self, pattern)
        code = -1
        for i in range(len(CUES)):
            if CUES[i] is pattern:
                code = i
        n = self.n_cues
        if n < len(self.cue_code):
            self.cue_t[n] = self.t
            self.cue_code[n] = code
            self.cue_rep[n] = self.reps.seq
            self.n_cues = n + 1

    def step(self, head, midback, sacrum, pitch, dt):
        self.t += dt
        events = Engine.step(self, head, midback, sacrum, pitch, dt)
        if events & EV_REP_END:
            k = 4 * self.n_reps
            if k < len(self.rec):
                self.rec[k] = self.rep_stage
                self.rec[k + 1] = self.rep_mode
                self.rec[k + 2] = 1 if self.rep_probe else 0
                self.rec[k + 3] = self.rep_cued
                self.n_reps += 1
        return events


def run(e, ms, h, m, s, p0, p1):
    n = ms // DT
    for i in range(n):
        e.step(h, m, s, p0 + (p1 - p0) * i // n, DT)


def pick_up(e):
    run(e, 800, HI, HI, HI, 0, 0)  # three points for arm_ms: armed


def rep(e, lose=0, off_ms=0, sag=0, sag_ms=0):
    # Down to 40 degrees; at the bottom the `lose` points read 0 for off_ms (a `sag` reading
    # on the head for sag_ms first), back in contact, up, stand.
    run(e, 400, HI, HI, HI, 0, 400)
    if sag:
        run(e, sag_ms, sag, HI, HI, 400, 400)
    if lose:
        h = 0 if lose & 1 else HI
        m = 0 if lose & 2 else HI
        s = 0 if lose & 4 else HI
        run(e, off_ms, h, m, s, 400, 400)
    run(e, 300, HI, HI, HI, 400, 400)
    run(e, 400, HI, HI, HI, 400, 0)
    run(e, 300, HI, HI, HI, 0, 0)


def put_down_and_wait(e, ms):
    run(e, 50, 0, 0, 0, 0, 0)  # all three leave at once: a release, no beep
    e.step(0, 0, 0, 0, ms)  # the dowel lies on the table


def cue_list(e):
    return [(e.cue_rep[i], CUE_NAMES[e.cue_code[i]]) for i in range(e.n_cues)]


def rep_list(e):
    r = e.rec
    return [(r[4 * i], r[4 * i + 1], r[4 * i + 2], r[4 * i + 3]) for i in range(e.n_reps)]
"""

NS: dict = {}
exec(DRIVER, NS)  # noqa: S102 - the test's own driver, shared with the MicroPython run
RecEngine, rep, run, pick_up = NS["RecEngine"], NS["rep"], NS["run"], NS["pick_up"]
put_down_and_wait, cue_list, rep_list = NS["put_down_and_wait"], NS["cue_list"], NS["rep_list"]
M = feedback.MODE_NAMES.index


def engine(**cfg):
    return RecEngine(config.validate(cfg))


def faults_cued(e):
    return [(r, c) for r, c in cue_list(e) if c in ("head", "midback", "sacrum")]


# ---- modes ----


def test_loss_mode_is_the_default_and_cues_every_lost_point():
    e = engine()
    pick_up(e)
    rep(e)
    rep(e, lose=4, off_ms=300)
    rep(e, lose=1, off_ms=300)
    assert faults_cued(e) == [(1, "sacrum"), (2, "head")]
    assert rep_list(e) == [(0, M("loss"), 0, 0), (0, M("loss"), 0, 4), (0, M("loss"), 0, 1)]
    assert [c for _, c in cue_list(e)].count("ready") == 4  # each arming, as before


def test_none_mode_cues_no_fault_but_keeps_ready_and_set_cues():
    e = engine(feedback="none", reps_per_set=2)
    pick_up(e)
    for _ in range(2):
        rep(e, lose=4, off_ms=300)
    names = [c for _, c in cue_list(e)]
    assert "sacrum" not in names
    assert names == ["ready", "ready", "set_done"]
    assert [r[3] for r in rep_list(e)] == [0, 0]


def test_faded_mode_cues_its_share_of_reps():
    e = engine(feedback="faded", faded_pct=50)
    pick_up(e)
    for _ in range(10):
        rep(e, lose=2, off_ms=300)
    assert len(faults_cued(e)) == 5
    assert [r[3] for r in rep_list(e)] == [0, 2] * 5  # spread evenly


def test_bandwidth_mode_is_silent_for_a_brief_lapse_and_cues_a_long_loss_late():
    e = engine(feedback="bandwidth", bandwidth_ms=400)
    pick_up(e)
    rep(e, lose=4, off_ms=200)  # LOST at 120 ms, back in contact 280 ms later: inside
    rep(e, lose=4, off_ms=900)  # still lost 400 ms after the loss: cued then
    assert faults_cued(e) == [(1, "sacrum")]
    # The cue comes bandwidth_ms after the LOST event (loss_ms into the dip), not before.
    t_cue = [e.cue_t[i] for i in range(e.n_cues) if NS["CUE_NAMES"][e.cue_code[i]] == "sacrum"]
    dip_start = 800 + (400 + 200 + 1000) + 400  # pick-up, rep 0, rep 1's way down
    assert t_cue[0] - dip_start == pytest.approx(120 + 400, abs=2 * 5)
    assert [r[3] for r in rep_list(e)] == [0, 4]


def test_bandwidth_cues_a_loss_still_waiting_when_the_rep_ends():
    e = engine(feedback="bandwidth", bandwidth_ms=3000)
    pick_up(e)
    run(e, 400, 30000, 30000, 30000, 0, 400)
    run(e, 300, 30000, 30000, 0, 400, 0)  # sacrum lost on the way up, the rep ends first
    run(e, 100, 30000, 30000, 0, 0, 0)
    assert faults_cued(e) == [(0, "sacrum")] and rep_list(e)[0][3] == 4


def test_bandwidth_loss_is_not_cued_when_the_dowel_is_put_down():
    e = engine(feedback="bandwidth", bandwidth_ms=1000)
    pick_up(e)
    run(e, 200, 30000, 0, 30000, 0, 0)  # mid-back lost while standing: a fault, waiting
    run(e, 200, 0, 0, 0, 0, 0)  # then everything leaves: the dowel is being put down
    run(e, 1500, 0, 0, 0, 0, 0)
    assert faults_cued(e) == []


def test_warning_mode_ticks_on_a_sag_and_keeps_the_loss_beep():
    # Defaults: off 16000, on 20000, level 0, so the band is 16000..18000.
    e = engine(feedback="warning")
    pick_up(e)
    rep(e)  # full pressure: silent
    rep(e, sag=17000, sag_ms=1000)  # in the band for 1 s: ticks
    rep(e, lose=1, off_ms=300)
    by_rep = {}
    for r, c in cue_list(e):
        by_rep.setdefault(r, []).append(c)
    assert "tick" not in by_rep.get(0, [])
    assert by_rep[1].count("tick") >= 3
    assert "head" in by_rep[2]
    assert rep_list(e)[2] == (0, M("warning"), 0, 1)


def test_loss_mode_never_ticks_on_the_same_sag():
    e = engine()
    pick_up(e)
    rep(e, sag=17000, sag_ms=1000)
    assert "tick" not in [c for _, c in cue_list(e)]


# ---- sets, days, probes ----


def test_set_done_and_day_done_at_the_prescribed_rep_counts():
    e = engine(reps_per_set=3, sets_per_day=2)
    e.day = 100
    pick_up(e)
    for _ in range(8):
        rep(e)
    done = [(r, c) for r, c in cue_list(e) if c in ("set_done", "day_done")]
    assert done == [(2, "set_done"), (5, "day_done")]  # the 8th rep starts no new set
    e.day = 101
    for _ in range(6):
        rep(e)
    done = [(r, c) for r, c in cue_list(e) if c in ("set_done", "day_done")]
    # Day 101: its count starts again (the two reps left over from day 100 do not carry).
    assert done[2:] == [(10, "set_done"), (13, "day_done")]


def test_a_put_down_rep_does_not_count_toward_the_set():
    e = engine(reps_per_set=2)
    pick_up(e)
    rep(e)
    run(e, 400, 30000, 30000, 30000, 0, 200)  # a rep opens (pitch past 15 degrees) ...
    run(e, 300, 30000, 30000, 30000, 100, 100)  # back to standing, not yet under 8 ...
    run(e, 200, 0, 0, 0, 100, 100)  # ... and the dowel is put down: not a rep done
    pick_up(e)
    rep(e)
    done = [(r, c) for r, c in cue_list(e) if c == "set_done"]
    assert done == [(2, "set_done")]


def test_the_first_set_of_each_day_is_a_probe_set_silent_for_faults():
    e = engine(reps_per_set=2, sets_per_day=2, probe="first")
    e.day = 7
    pick_up(e)
    for _ in range(4):
        rep(e, lose=4, off_ms=300)
    put_down_and_wait(e, 8 * 3600 * 1000)  # overnight
    e.day = 8
    pick_up(e)
    for _ in range(2):
        rep(e, lose=4, off_ms=300)
    cued_reps = [r for r, c in faults_cued(e)]
    assert cued_reps == [2, 3]  # day 7's second set only; day 8's first set is a probe again
    assert [r[2] for r in rep_list(e)] == [1, 1, 0, 0, 1, 1]
    names = [c for _, c in cue_list(e)]
    assert names[0] == "probe"  # announced at arming instead of the ready chirp
    # Day 8's probe set is announced too (at its first arming, the day having rolled over).
    assert names.count("probe") >= 4


def test_every_nth_set_is_a_probe_and_is_announced_after_the_set_before():
    e = engine(reps_per_set=1, probe="every", probe_every=3)
    pick_up(e)
    for _ in range(7):
        rep(e, lose=1, off_ms=300)
    assert [r[2] for r in rep_list(e)] == [1, 0, 0, 1, 0, 0, 1]
    assert [r for r, _ in faults_cued(e)] == [1, 2, 4, 5]
    names = [c for _, c in cue_list(e)]
    # After the set that comes before a probe set: set done, then the probe cue.
    i = names.index("set_done", names.index("head", names.index("head") + 1))
    assert names[i : i + 2] == ["set_done", "probe"]


def test_probe_set_is_silent_in_warning_mode_too():
    e = engine(feedback="warning", reps_per_set=1, probe="first")
    e.day = 1
    pick_up(e)
    rep(e, sag=17000, sag_ms=1000)
    rep(e, sag=17000, sag_ms=1000)
    assert [r for r, c in cue_list(e) if c == "tick"] and all(
        r == 1 for r, c in cue_list(e) if c == "tick"
    )


# ---- the schedule ----


def test_schedule_advances_by_sessions_days_and_criterion():
    e = engine(
        schedule=[
            {"mode": "warning", "sessions": 2},
            {"mode": "loss", "days": 1},
            {"mode": "faded", "pct": 67, "until": {"fault_below_pct": 20, "last_reps": 5}},
            {"mode": "bandwidth"},
        ]
    )
    e.day = 1
    stages = []
    for _session in range(3):  # sessions 1 and 2 are stage 0; the third opens stage 1
        pick_up(e)
        rep(e)
        stages.append(e.rep_stage)
        put_down_and_wait(e, 700_000)  # over session_gap_s: the next rep opens a session
    assert stages == [0, 0, 1]
    pick_up(e)
    rep(e)
    assert e.rep_stage == 1  # still day 1
    e.day = 2
    rep(e)
    assert (e.rep_stage, e.rep_mode) == (2, M("faded"))
    for _ in range(4):  # 2 of 5 faulted: 40 %, not below 20 %
        rep(e, lose=4 if _ < 2 else 0, off_ms=300)
    assert e.feedback.stage == 2
    for _ in range(2):  # the last five: 1 faulted (20 %): still not below
        rep(e)
    assert e.feedback.stage == 2
    rep(e)  # the last five all clean: 0 % < 20 %, the next rep is bandwidth
    rep(e)
    assert (e.rep_stage, e.rep_mode) == (3, M("bandwidth"))
    for _ in range(20):
        rep(e)
    assert e.rep_stage == 3  # the last stage stays


def test_the_course_resumes_after_a_reboot_and_a_new_schedule_starts_over(tmp_path):
    cfg = config.validate(
        {"schedule": [{"mode": "none", "sessions": 1}, {"mode": "loss"}], "reps_per_set": 4}
    )
    e = RecEngine(cfg)
    e.day = 3
    pick_up(e)
    for _ in range(2):
        rep(e)
    path = str(tmp_path / "feedback.json")
    e.feedback.save("P-0001", path)
    assert not RecEngine(cfg).feedback.load("P-0002", path)  # another patient's course
    again = RecEngine(cfg)
    assert again.feedback.load("P-0001", path)
    again.day = 3
    pick_up(again)
    rep(again)  # boot = a new session: stage 0 had its one session
    assert again.rep_stage == 1
    rep(again)  # reps 3 and 4 of the set begun before the reboot
    assert [c for _, c in cue_list(again)].count("set_done") == 1
    other = RecEngine(config.validate({"schedule": [{"mode": "warning"}]}))
    assert not other.feedback.load("P-0001", path)
    assert not other.feedback.load("P-0001", str(tmp_path / "missing.json"))


# A random course on the Feedback object alone: whatever the reps, days and sessions, probe
# reps never cue, the stage only moves forward and stays in range, a set is done every
# reps_per_set counted reps of a day, and the day once, when its sets are met.
@settings(max_examples=200, deadline=None)
@given(
    reps=st.lists(
        st.tuples(st.integers(0, 7), st.booleans(), st.booleans(), st.booleans()), max_size=80
    ),
    per_set=st.integers(1, 4),
    sets=st.integers(0, 3),
    probe=st.sampled_from(["off", "first", "every"]),
)
def test_random_course_keeps_its_counts(reps, per_set, sets, probe):
    cfg = config.validate(
        {
            "schedule": [
                {"mode": "faded", "pct": 50, "sessions": 2},
                {"mode": "loss", "until": {"fault_below_pct": 50, "last_reps": 5}},
                {"mode": "none", "days": 1},
                {"mode": "bandwidth"},
            ],
            "reps_per_set": per_set,
            "sets_per_day": sets,
            "probe": probe,
            "probe_every": 2,
        }
    )
    fb = feedback.Feedback(cfg)
    day, stage, counted, sets_done, days_done = 0, 0, 0, 0, 0
    for lost, new_day, new_session, released in reps:
        if new_day:
            day += 1
            counted = sets_done = days_done = 0
        fb.rep_start(day, new_session)
        assert fb.rep_stage >= stage and 0 <= fb.rep_stage < 4
        stage = fb.rep_stage
        cued = fb.fault(lost) if lost else 0
        if fb.rep_probe:
            assert not fb.cue_faults and cued == 0
            assert fb.sets_today == 0 or probe == "every"
        done = fb.rep_end(lost, released)
        if fb.rep_probe:
            assert fb.late == 0
        if not released:
            counted += 1
        assert bool(done & feedback.SET_DONE) == (not released and counted % per_set == 0)
        sets_done += bool(done & feedback.SET_DONE)
        if done & feedback.DAY_DONE:
            days_done += 1
            assert sets_done == sets
        assert days_done <= 1


# ---- config ----


def test_defaults_are_todays_behaviour_and_the_old_mode_name_still_loads():
    cfg = config.defaults()
    assert (cfg["feedback"], cfg["schedule"], cfg["reps_per_set"], cfg["probe"]) == (
        "loss",
        [],
        0,
        "off",
    )
    assert config.validate({"feedback": "every"})["feedback"] == "loss"
    assert feedback.stages_of(cfg) == ((feedback.MODE_LOSS, 50, feedback.UNIT_NONE, 0, 0),)


def test_a_full_schedule_validates_and_saves_within_the_size_bound(tmp_path):
    schedule = [
        {"mode": "warning", "sessions": 3},
        {"mode": "loss", "days": 5},
        {"mode": "faded", "pct": 67, "until": {"fault_below_pct": 10, "last_reps": 30}},
        {"mode": "faded", "pct": 33, "sessions": 4},
        {"mode": "bandwidth", "days": 7},
        {"mode": "none", "sessions": 365},
        {"mode": "faded", "pct": 0, "days": 365},
        {"mode": "loss"},
    ]
    cfg = config.validate(
        {
            "patient": "P-0001",
            "schedule": schedule,
            "reps_per_set": 10,
            "sets_per_day": 3,
            "probe": "every",
            "probe_every": 20,
        }
    )
    assert cfg["schedule"] == schedule
    path = str(tmp_path / "dowel.json")
    config.save(cfg, path)
    loaded, reason = config.load(path)
    assert reason is None and loaded == cfg
    assert len(config.canonical(cfg)) < config.MAX_BYTES


def test_schedule_set_from_text():
    cfg = config.set_field(config.defaults(), "schedule", config.SCHEDULE_EXAMPLE)
    assert cfg["schedule"] == json.loads(config.SCHEDULE_EXAMPLE)
    with pytest.raises(config.ConfigError, match="schedule: must be JSON"):
        config.set_field(config.defaults(), "schedule", "warning for 3 sessions")


@pytest.mark.parametrize(
    ("obj", "field", "words"),
    [
        ({"feedback": "sometimes"}, "feedback", "loss, warning, faded, bandwidth, none"),
        ({"schedule": "loss"}, "schedule", "a list of up to 8 stages"),
        ({"schedule": [{"mode": "loss"}] * 9}, "schedule", "up to 8"),
        ({"schedule": ["loss"]}, "schedule[0]", "must be an object"),
        ({"schedule": [{"mode": "beep"}]}, "schedule[0].mode", "must be one of"),
        ({"schedule": [{"sessions": 2}, {"mode": "loss"}]}, "schedule[0].mode", "one of"),
        ({"schedule": [{"mode": "loss", "pct": 50}]}, "schedule[0].pct", "only a faded"),
        ({"schedule": [{"mode": "faded", "pct": 150}]}, "schedule[0].pct", "0 to 100"),
        ({"schedule": [{"mode": "loss", "reps": 3}, {"mode": "none"}]}, "schedule[0].reps", ""),
        ({"schedule": [{"mode": "loss"}, {"mode": "none"}]}, "schedule[0]", "needs a length"),
        ({"schedule": [{"mode": "loss", "days": 2}]}, "schedule[0]", "the last stage lasts"),
        (
            {"schedule": [{"mode": "loss", "days": 2, "sessions": 1}, {"mode": "none"}]},
            "schedule[0]",
            "not sessions and days",
        ),
        ({"schedule": [{"mode": "loss", "days": 0}, {"mode": "none"}]}, "schedule[0].days", ""),
        (
            {"schedule": [{"mode": "loss", "sessions": True}, {"mode": "none"}]},
            "schedule[0].sessions",
            "1 to 365",
        ),
        (
            {"schedule": [{"mode": "loss", "until": {"fault_below_pct": 10}}, {"mode": "none"}]},
            "schedule[0].until",
            "last_reps",
        ),
        (
            {
                "schedule": [
                    {"mode": "loss", "until": {"fault_below_pct": 10, "last_reps": 500}},
                    {"mode": "none"},
                ]
            },
            "schedule[0].until.last_reps",
            "5 to 200",
        ),
        ({"probe": "first"}, "probe", "need reps_per_set"),
        ({"probe": "sometimes", "reps_per_set": 5}, "probe", "off, first, every"),
        ({"sets_per_day": 3}, "sets_per_day", "needs reps_per_set"),
        ({"reps_per_set": -1}, "reps_per_set", "0 to 100"),
        ({"bandwidth_ms": 10}, "bandwidth_ms", "50 to 3000"),
        ({"warn_pct": 0}, "warn_pct", "10 to 100"),
    ],
)
def test_bad_feedback_config_is_refused_with_one_line_naming_the_field(obj, field, words):
    with pytest.raises(config.ConfigError) as info:
        config.validate(obj)
    errs = dict(info.value.errors)
    assert field in errs, errs
    assert words in errs[field]
    assert "\n" not in str(info.value)
    # load() never raises on such a file: defaults and the reason (the warble at boot).


def test_load_of_a_bad_schedule_gives_defaults_and_the_reason(tmp_path):
    path = tmp_path / "dowel.json"
    path.write_text(json.dumps({"schedule": [{"mode": "loss"}, {"mode": "faded", "days": 1}]}))
    cfg, reason = config.load(str(path))
    assert cfg == config.defaults()
    assert "schedule[0]: needs a length" in reason and "\n" not in reason


def test_feedback_cues_sit_in_the_band_and_borrow_no_point_pitch():
    lo, hi = cues.BAND_HZ
    points = {cues.HEAD_CUE[0], cues.MIDBACK_CUE[0], cues.SACRUM_CUE[0]}
    patterns = [getattr(cues, n) for n in cues.FEEDBACK_NAMES]
    for p in patterns:
        tones = [f for f in p[0::2] if f]
        assert all(lo <= f <= hi for f in tones), p
        assert not set(tones) & points, p
    assert len(set(patterns)) == len(patterns)
    # Rhythm: the tick is far shorter than any point beep; the others end on a held note.
    assert cues.WARNING_TICK_CUE[1] * 4 < min(cues.SACRUM_CUE[1::2])
    for p in (cues.PROBE_CUE, cues.SET_DONE_CUE, cues.DAY_DONE_CUE):
        assert p[-1] >= 2 * max(p[1:-2:2]), p


def test_the_day_starts_at_the_patients_midnight_and_is_unknown_while_the_clock_is_unset():
    from dowel.feedback import CLOCK_SET_S, NO_DAY, day_number

    assert day_number(0, 0) == NO_DAY  # power-on: the RTC at 2000-01-01
    assert day_number(CLOCK_SET_S - 1, 60) == NO_DAY
    noon_utc = 9466 * 86400 + 12 * 3600  # 2025-12-01 12:00 UTC
    assert day_number(noon_utc, 0) == 9466
    assert day_number(noon_utc, -13 * 60 + 60) == 9466  # 00:00 at UTC-12
    assert day_number(noon_utc, 12 * 60) == 9467  # 00:00 the next day at UTC+12
    assert day_number(noon_utc - 1, -12 * 60) == 9465  # 23:59:59 the day before at UTC-12
