"""The rep state machine: no beep unless armed, one fault per lost point per rep, put-downs
silent, IMU reps with depth and phases, no-IMU reps as armed periods."""

from dowel import config
from dowel.engine import Engine
from dowel.rep import (
    ARMED,
    EV_ARMED,
    EV_FAULT,
    EV_RELEASE,
    EV_REP_END,
    EV_REP_START,
    FAULT,
    IDLE,
    IN_REP,
    RepMachine,
)
from hypothesis import given, settings
from hypothesis import strategies as st

ALL = 7
DT = 5


def ticks(machine, n, touching=ALL, firm=None, lost=0, pitch=0):
    """Run n ticks with the same inputs; return the OR of the events."""
    firm = touching if firm is None else firm
    out = 0
    for i in range(n):
        out |= machine.update(touching, firm, lost if i == 0 else 0, pitch, DT)
    return out


def armed_machine(has_imu=True):
    m = RepMachine(arm_ms=500, start_ddeg=150, end_ddeg=80, has_imu=has_imu)
    assert ticks(m, 101) & EV_ARMED  # the first tick is time zero
    return m


def test_arming_needs_arm_ms_of_three_point_contact():
    m = RepMachine(arm_ms=500, start_ddeg=150, end_ddeg=80, has_imu=True)
    assert ticks(m, 99, touching=0b011) == 0  # two points for a long time: still idle
    assert ticks(m, 100) == 0  # 495 ms of three points
    assert m.state == IDLE
    assert m.update(ALL, ALL, 0, 0, DT) == EV_ARMED  # 500 ms
    assert m.state == ARMED


def test_losses_while_idle_never_fault():
    m = RepMachine(arm_ms=500, start_ddeg=150, end_ddeg=80, has_imu=False)
    for mask in (1, 2, 4, 3, 7):
        assert m.update(ALL ^ mask, ALL ^ mask, mask, 0, DT) & EV_FAULT == 0
    assert m.state == IDLE


def test_imu_rep_clean_with_depth_and_phases():
    m = armed_machine()
    events = 0
    for i in range(80):  # lower to 40 degrees over 400 ms
        events |= m.update(ALL, ALL, 0, i * 5, DT)
    assert events & EV_REP_START and m.state == IN_REP
    events |= ticks(m, 60, pitch=400)  # pause 300 ms
    for i in range(80):  # rise
        events |= m.update(ALL, ALL, 0, 400 - i * 5, DT)
    assert events & EV_REP_END
    assert m.state == ARMED
    assert m.lost_mask == 0 and m.first_lost == 0
    assert m.depth_ddeg == 400
    assert m.lower_ms + m.pause_ms + m.rise_ms == m.duration_ms
    assert 260 <= m.pause_ms <= 420  # 300 ms at the bottom (+ band), 20 ms resolution
    assert m.lower_ms > 100 and m.rise_ms > 100


def test_one_fault_per_point_per_rep_even_when_it_chatters():
    m = armed_machine()
    ticks(m, 40, pitch=200)  # in rep
    faults = []
    for _ in range(3):  # sacrum lost, regained, lost again in the same rep
        if m.update(ALL ^ 4, ALL ^ 4, 4, 250, DT) & EV_FAULT:
            faults.append(m.new_faults)
        ticks(m, 10, pitch=250)
    assert faults == [4]
    assert m.state == IN_REP
    # A different point in the same rep faults once too.
    assert m.update(ALL ^ 1, ALL ^ 1, 1, 250, DT) & EV_FAULT and m.new_faults == 1
    assert m.lost_mask == 5 and m.first_lost == 3
    events = ticks(m, 5, pitch=0)
    assert events & EV_REP_END


def test_next_rep_can_fault_on_the_same_point_again():
    m = armed_machine()
    for _ in range(2):
        ticks(m, 20, pitch=200)
        assert m.update(ALL ^ 4, ALL ^ 4, 4, 200, DT) & EV_FAULT
        ticks(m, 5, touching=ALL ^ 4, pitch=0)  # stands up still without the sacrum
        assert m.state == FAULT
        assert ticks(m, 1, pitch=0) & EV_ARMED  # back to three points
    assert m.seq == 1


def test_put_down_is_a_release_not_a_fault():
    m = armed_machine()
    # Head lost while the other two are already dipping: the dowel is leaving the back.
    events = m.update(ALL ^ 1, 0, 1, 0, DT)
    assert events == EV_RELEASE and m.state == IDLE


def test_single_point_lost_while_standing_is_a_fault():
    m = armed_machine()
    events = m.update(ALL ^ 1, ALL ^ 1, 1, 0, DT)
    assert events & EV_FAULT and m.new_faults == 1 and m.state == FAULT


def test_mid_hinge_double_loss_is_a_fault_not_a_release():
    m = armed_machine()
    ticks(m, 20, pitch=300)
    events = m.update(ALL ^ 5, ALL ^ 5 ^ 2, 5, 300, DT)  # two lost, the third dipping
    assert events & EV_FAULT and m.new_faults == 5


def test_no_imu_reps_are_armed_periods():
    m = RepMachine(arm_ms=500, start_ddeg=150, end_ddeg=80, has_imu=False)
    assert ticks(m, 101) == EV_ARMED | EV_REP_START
    assert m.state == IN_REP and m.seq == 0
    assert m.update(ALL ^ 4, ALL ^ 4, 4, 0, DT) == EV_FAULT
    ticks(m, 20, touching=ALL ^ 4)
    events = m.update(ALL, ALL, 0, 0, DT)  # back to three points: rep 0 ends...
    assert events == EV_REP_END | EV_ARMED
    assert m.seq == 0 and m.lost_mask == 4 and m.duration_ms > 0  # ...its figures intact
    assert m.update(ALL, ALL, 0, 0, DT) == EV_REP_START  # ...and rep 1 begins
    assert m.seq == 1 and m.depth_ddeg == -32768


# A random walk over the three points' contact: whatever happens, faults only come while
# armed (or in a rep), never from idle, and never twice for a point within one rep.
@settings(max_examples=300, deadline=None)
@given(
    has_imu=st.booleans(),
    steps=st.lists(
        st.tuples(st.integers(0, 7), st.integers(0, 7), st.integers(-50, 600), st.integers(1, 60)),
        max_size=120,
    ),
)
def test_faults_only_when_armed_and_once_per_point_per_rep(has_imu, steps):
    m = RepMachine(arm_ms=100, start_ddeg=150, end_ddeg=80, has_imu=has_imu)
    touching = 0
    faulted: dict[int, int] = {}
    for target, firm_bits, pitch, dt in steps:
        lost = touching & ~target
        touching = target
        state_before = m.state
        events = m.update(touching, touching & firm_bits, lost, pitch, dt)
        if events & EV_FAULT:
            assert state_before != IDLE
            assert m.new_faults and m.new_faults & ~lost == 0
            seen = faulted.get(m.seq, 0)
            assert seen & m.new_faults == 0
            faulted[m.seq] = seen | m.new_faults
        if events & EV_REP_START:
            assert m.seq not in faulted or events & EV_FAULT


def engine_trace(has_pitch):
    cfg = config.defaults()
    return Engine(cfg, has_pitch)


def test_engine_cues_each_point_with_its_own_pattern():
    from dowel import cues

    played = {}
    for point, bit in ((1, 1), (2, 2), (3, 4)):
        e = engine_trace(False)
        for _ in range(200):
            e.step(30000, 30000, 30000, 0, DT)
        readings = [30000 if not (bit >> i) & 1 else 0 for i in range(3)]
        for _ in range(40):
            e.step(*readings, 0, DT)
            if e.reps.new_faults:
                played[point] = e.player.pattern
    assert played == {1: cues.HEAD_CUE, 2: cues.MIDBACK_CUE, 3: cues.SACRUM_CUE}
    assert len({p for p in played.values()}) == 3


def test_faded_feedback_cues_the_set_share_of_reps():
    from dowel import cues

    cfg = config.validate({"feedback": "faded", "faded_pct": 50})
    e = Engine(cfg, False)
    cued = []
    for _ in range(10):
        for _ in range(200):  # three-point contact: arm, rep starts
            e.step(30000, 30000, 30000, 0, DT)
        for _ in range(40):  # sacrum lost
            e.step(30000, 30000, 0, 0, DT)
            if e.reps.new_faults:
                sounding = e.player.freq_hz == cues.SACRUM_CUE[0]
                cued.append(e.player.pattern is not None and sounding)
    assert len(cued) == 10 and sum(cued) == 5


def test_clock_saturates_instead_of_growing_past_a_small_int():
    m = RepMachine(arm_ms=500, start_ddeg=150, end_ddeg=80, has_imu=True)
    for _ in range(3):
        m.update(0, 0, 0, 0, 1 << 28)  # a dowel left on, idle, for weeks
    assert m.clock_ms == 1 << 29
    m.rebase()
    assert m.clock_ms == 0 and m.seq == -1  # no rep open: the next one is rep 0


def test_rebase_makes_the_open_rep_the_sessions_rep_0_at_time_0():
    m = armed_machine()
    ticks(m, 500, pitch=0)  # a long stand, then a rep starts
    assert m.update(ALL, ALL, 0, 200, DT) & EV_REP_START
    assert m.seq == 0 and m.start_ms > 0
    m.seq = 7  # as if reps of an earlier session came before
    m.rebase()
    assert (m.seq, m.start_ms, m.clock_ms) == (0, 0, 0)
    ticks(m, 20, pitch=200)
    assert m.update(ALL, ALL, 0, 0, DT) & EV_REP_END
    assert m.duration_ms == 21 * DT
