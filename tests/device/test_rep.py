"""The rep state machine: no beep unless armed, one fault per lost point per rep, put-downs and
drops silent, reps only from the pitch passing start_ddeg, IMU reps with depth and the
movement's phases, losses where their dip began, no-IMU reps as armed periods."""

import math

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
    PITCH_LAG_MS,
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


def smooth(t, lower_ms, pause_ms, rise_ms, stand=60, depth=450):
    """A hinge's pitch (ddeg) at t ms: half-sine speed down and up, a pause between."""
    if t < 0:
        return stand
    if t < lower_ms:
        return round(stand + (depth - stand) * (1 - math.cos(math.pi * t / lower_ms)) / 2)
    t -= lower_ms
    if t < pause_ms:
        return depth
    t -= pause_ms
    if t < rise_ms:
        return round(depth - (depth - stand) * (1 - math.cos(math.pi * t / rise_ms)) / 2)
    return stand


def hinge(m, lower_ms, pause_ms, rise_ms, lose=None, lose_at_ms=0, **levels):
    """Armed `m` stands 1 s, hinges, stands 0.5 s; return the OR of the events. With `lose`,
    that point's dip begins at `lose_at_ms` into the hinge and is LOST 120 ms later."""
    events = 0
    total = 1000 + lower_ms + pause_ms + rise_ms + 500
    for t in range(0, total, DT):
        lost = 0
        if lose and t - 1000 == lose_at_ms + 120:
            lost = lose
            m.dip_ms[lose.bit_length() - 1] = 120
        touching = ALL ^ lose if lose and t - 1000 >= lose_at_ms + 120 else ALL
        events |= m.update(
            touching, touching, lost, smooth(t - 1000, lower_ms, pause_ms, rise_ms, **levels), DT
        )
    return events


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


def test_imu_rep_clean_with_depth_and_the_movements_phases():
    m = armed_machine()
    events = hinge(m, 1200, 300, 1000)  # from 6 to 45 degrees and back
    assert events & EV_REP_START and events & EV_REP_END
    assert m.state == ARMED
    assert m.lost_mask == 0 and m.first_lost == 0
    assert m.depth_ddeg == 450
    assert m.lower_ms + m.pause_ms + m.rise_ms == m.duration_ms
    # The phases of the movement itself, not of the part past start_ddeg (the lowering would
    # read ~0.8 s) or within 3 degrees of the bottom (the pause would read ~0.6 s).
    for got, want in ((m.lower_ms, 1200), (m.pause_ms, 300), (m.rise_ms, 1000)):
        assert abs(got - want) <= 40, (m.lower_ms, m.pause_ms, m.rise_ms)
    # It started when the trunk began to lower, ~380 ms before the pitch passed 15 degrees
    # (the pitch's own delay, PITCH_LAG_MS, is the loop's: here the pitch has none).
    began = 500 + 1000 - PITCH_LAG_MS
    assert abs(m.start_ms - began) <= 40


def test_a_turn_at_the_bottom_has_no_pause():
    m = armed_machine()
    assert hinge(m, 900, 0, 900, depth=400) & EV_REP_END
    assert m.pause_ms <= 40 and abs(m.lower_ms - 900) <= 40 and abs(m.rise_ms - 900) <= 40


def test_a_loss_is_logged_where_its_dip_began():
    m = armed_machine()
    # The sacrum's dip begins 800 ms into a 1200 ms lowering (pitch ~33 degrees); the debounce
    # fires 120 ms later, by when the pitch is ~38.
    events = hinge(m, 1200, 300, 1000, lose=4, lose_at_ms=800)
    assert events & EV_FAULT and events & EV_REP_END
    assert m.first_lost == 3 and m.lost_mask == 4
    # The machine takes the loop's pitch PITCH_LAG_MS after the dip began, the loop's pitch
    # trailing the trunk by that much; this test's pitch has no lag, so both read that late.
    at_dip = smooth(800 + PITCH_LAG_MS, 1200, 300, 1000)
    assert abs(m.loss_pitch_ddeg - at_dip) <= 5, (m.loss_pitch_ddeg, at_dip)
    # The rep started when the lowering did, so the loss came ~800 ms into it.
    assert abs(m.loss_at_ms - (800 + PITCH_LAG_MS)) <= 40


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


def test_single_point_lost_while_standing_is_a_fault_without_a_rep():
    m = armed_machine()
    events = m.update(ALL ^ 1, ALL ^ 1, 1, 0, DT)
    assert events == EV_FAULT and m.new_faults == 1 and m.state == FAULT
    events = ticks(m, 200, touching=ALL ^ 1, pitch=60)  # a second standing without the head
    assert events == 0 and m.seq == -1  # no rep opened, so none is logged
    assert m.update(ALL, ALL, 0, 60, DT) == EV_ARMED
    assert m.seq == -1


def test_hinging_before_a_point_lost_standing_is_back_is_a_rep_with_it_lost():
    m = armed_machine()
    ticks(m, 60, pitch=100)
    m.dip_ms[2] = 150
    assert m.update(ALL ^ 4, ALL ^ 4, 4, 110, DT) == EV_FAULT  # at 11 degrees: standing
    events = 0
    for p in range(110, 400, 5):  # hinges on without the sacrum
        events |= m.update(ALL ^ 4, ALL ^ 4, 0, p, DT)
    assert events == EV_REP_START and m.seq == 0 and m.state == FAULT
    for p in range(400, 40, -5):
        events |= m.update(ALL ^ 4, ALL ^ 4, 0, p, DT)
    assert events & EV_REP_END and m.lost_mask == 4 and m.first_lost == 3
    assert 95 <= m.loss_pitch_ddeg <= 110  # the pitch when its dip began, 150 ms before


def test_armed_while_tilted_waits_for_the_patient_to_stand():
    m = RepMachine(arm_ms=500, start_ddeg=150, end_ddeg=80, has_imu=True)
    assert ticks(m, 101, pitch=300) & EV_ARMED  # put on the back while bent over
    assert ticks(m, 50, pitch=300) == 0 and m.state == ARMED
    assert ticks(m, 50, pitch=50) == 0  # stands up
    assert ticks(m, 10, pitch=300) == EV_REP_START  # and hinges: the pitch passes 15 degrees


def test_mid_hinge_double_loss_is_a_fault_while_a_point_still_presses():
    m = armed_machine()
    ticks(m, 20, pitch=300)
    events = m.update(ALL ^ 5, ALL ^ 5, 5, 300, DT)  # two lost, the mid-back still firm
    assert events & EV_FAULT and m.new_faults == 5


def test_a_drop_mid_hinge_is_a_release_and_no_rep():
    m = armed_machine()
    events = ticks(m, 20, pitch=300)  # the pitch passed start_ddeg: a rep is open
    assert events == EV_REP_START and m.seq == 0
    events = m.update(ALL ^ 5, 0, 5, 350, DT)  # two lost, the third dipping: falling
    assert events == EV_RELEASE and m.state == IDLE
    assert m.seq == -1  # the rep never ended: the next one is rep 0 again
    ticks(m, 101)
    assert ticks(m, 5, pitch=300) == EV_REP_START and m.seq == 0


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


# A random walk over the three points' contact and the pitch: whatever happens, faults only
# come while armed (or in a rep), never from idle, and never twice for a point within one rep;
# with an IMU a rep starts only at a pitch past start_ddeg; every rep that ends has figures
# the log can hold (phases that add up to its duration, a loss inside it, in time order).
@settings(max_examples=300, deadline=None)
@given(
    has_imu=st.booleans(),
    steps=st.lists(
        st.tuples(
            st.integers(0, 7),
            st.integers(0, 7),
            st.integers(-50, 600),
            st.integers(1, 60),
            st.integers(0, 400),
        ),
        max_size=160,
    ),
)
def test_faults_only_when_armed_and_once_per_point_per_rep(has_imu, steps):
    m = RepMachine(arm_ms=100, start_ddeg=150, end_ddeg=80, has_imu=has_imu)
    touching = 0
    faulted: dict[int, int] = {}  # per rep started (seq may be reused after a drop)
    started = 0
    last_end = None
    for target, firm_bits, pitch, dt, dip in steps:
        lost = touching & ~target
        touching = target
        state_before = m.state
        m.dip_ms[0] = m.dip_ms[1] = m.dip_ms[2] = dip
        events = m.update(touching, touching & firm_bits, lost, pitch, dt)
        if events & EV_FAULT:
            assert state_before != IDLE
            assert m.new_faults and m.new_faults & ~lost == 0
            if m.rep_active:
                rep = started + (0 if events & EV_REP_START else -1)
                seen = faulted.get(rep, 0)
                assert seen & m.new_faults == 0
                faulted[rep] = seen | m.new_faults
        if events & EV_REP_START:
            assert not has_imu or pitch >= 150
            started += 1
        if events & EV_REP_END:
            assert m.duration_ms >= 0
            assert m.lower_ms >= 0 and m.pause_ms >= 0 and m.rise_ms >= 0
            if has_imu:
                assert m.lower_ms + m.pause_ms + m.rise_ms == m.duration_ms
            if m.lost_mask:
                assert 0 <= m.loss_at_ms <= m.duration_ms
            assert last_end is None or m.start_ms >= last_end
            last_end = m.start_ms + m.duration_ms


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
    m = armed_machine(has_imu=False)  # a rep from arming: its start is known at once
    ticks(m, 500)
    assert m.update(ALL ^ 4, ALL ^ 4, 4, 0, DT) == EV_FAULT
    assert m.update(ALL, ALL, 0, 0, DT) & EV_REP_END
    assert m.update(ALL, ALL, 0, 0, DT) == EV_REP_START and m.seq == 1 and m.start_ms > 0
    m.seq = 7  # as if reps of an earlier session came before
    m.rebase()
    assert (m.seq, m.start_ms, m.clock_ms) == (0, 0, 0)
    ticks(m, 20)
    m.update(ALL ^ 4, ALL ^ 4, 4, 0, DT)
    assert m.update(ALL, ALL, 0, 0, DT) & EV_REP_END
    assert m.duration_ms == 22 * DT and m.loss_at_ms == 21 * DT


def test_rebase_with_an_imu_starts_the_session_when_its_first_rep_began():
    m = armed_machine()
    ticks(m, 200, pitch=60)
    seen = 0
    for t in range(0, 1000, DT):
        if m.update(ALL, ALL, 0, smooth(t, 1200, 300, 1000), DT) & EV_REP_START:
            seen = t
            break
    m.rebase()  # where the pitch passed start_ddeg, ~380 ms into the lowering
    assert (m.seq, m.start_ms, m.clock_ms) == (0, 0, 0)
    events = 0
    for t in range(seen + DT, 3000, DT):
        events |= m.update(ALL, ALL, 0, smooth(t, 1200, 300, 1000), DT)
        if events & EV_REP_END:
            break
    # Once the rep is measured, the session clock is moved to make its start 0.
    assert events & EV_REP_END and m.start_ms == 0
    assert abs(m.clock_ms - (t + PITCH_LAG_MS)) <= 40


def test_engine_cues_a_standing_loss_only_in_the_modes_that_cue_every_loss():
    """A point lost while standing armed is no rep's: `loss` and `warning` cue it; `none`,
    `faded`, `bandwidth` and a probe set do not (they decide per rep)."""
    from dowel import cues

    def standing_loss(**cfg):
        e = Engine(config.validate(cfg), True)
        for _ in range(200):  # armed, standing at 6 degrees
            e.step(30000, 30000, 30000, 60, DT)
        for _ in range(40):
            e.step(30000, 30000, 0, 60, DT)  # the sacrum comes off
            if e.reps.new_faults:
                assert not e.reps.rep_active
                return e.player.pattern is cues.SACRUM_CUE
        raise AssertionError("no fault")

    assert standing_loss(feedback="loss") and standing_loss(feedback="warning")
    assert not standing_loss(feedback="none")
    assert not standing_loss(feedback="faded", faded_pct=100)
    assert not standing_loss(feedback="bandwidth")
    assert not standing_loss(feedback="loss", probe="first", reps_per_set=5)
