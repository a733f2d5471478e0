"""The threshold rule: thresholds always fit the config's and the README's constraints, or the
sensor is refused with a message naming the point."""

import math

from dowel import config as dconfig
from hypothesis import given
from hypothesis import strategies as st

from host_tools.calibrate import rule as cal
from tests.fakes.patient import replay_losses

counts = st.integers(0, 65535)
noise = st.integers(0, 8000)
sensor = st.sampled_from(cal.SENSORS)


def _stats(level, sigma):
    return cal.Stats(level=level, noise=sigma, low=level, high=level, n=100)


@given(counts, noise, counts, noise, sensor)
def test_thresholds_fit_the_rules_or_the_sensor_is_refused(z, nz, c, nc, name):
    r = cal.thresholds(_stats(z, nz), _stats(c, nc), name)
    if r.problem is not None:
        assert r.problem.startswith(cal.SAY[name] + ":")
        assert (r.on, r.off) == (0, 0)
        return
    span = c - z
    assert 0 < r.off < r.on <= 65535
    assert span >= cal.MIN_RANGE_COUNTS
    assert r.on - r.off >= math.ceil(span * cal.MIN_HYSTERESIS_PCT / 100)
    assert z < r.off and r.on < c  # both strictly between the two measured levels
    # Still readings stay on their side: released under off, held over on, by 3 sigma.
    assert z + cal.NOISE_SIGMAS * nz < r.off
    assert c - cal.NOISE_SIGMAS * nc >= r.on
    # And the config the firmware validates takes them.
    cfg = dconfig.defaults()
    cfg["sensors"][name] = {"on": r.on, "off": r.off, "level": c}
    dconfig.validate(cfg)


def test_rule_fractions_keep_the_promised_hysteresis():
    assert cal.ON_PCT - cal.OFF_PCT >= 2 * cal.MIN_HYSTERESIS_PCT
    assert 0 < cal.OFF_PCT < cal.ON_PCT < 100


def test_typical_sensor_gets_the_stated_fractions():
    r = cal.thresholds(_stats(1000, 100), _stats(21000, 300), "sacrum")
    assert r.problem is None
    assert (r.off, r.on) == (1000 + 6000, 1000 + 10000)
    assert r.level == 21000


@given(st.integers(0, 500), st.integers(0, 500), sensor)
def test_disconnected_sensor_is_refused_and_named(z, c, name):
    r = cal.thresholds(_stats(z, 20), _stats(c, 20), name)
    assert r.problem is not None
    assert cal.SAY[name] in r.problem
    assert "disconnected" in r.problem


@given(st.integers(cal.SATURATED_COUNTS, 65535), counts, sensor)
def test_shorted_sensor_is_refused_and_named(z, c, name):
    r = cal.thresholds(_stats(z, 0), _stats(c, 0), name)
    assert r.problem is not None and cal.SAY[name] in r.problem
    assert "shorted" in r.problem


def test_saturated_contact_is_refused():
    r = cal.thresholds(_stats(1000, 50), _stats(65535, 0), "head")
    assert r.problem and "full scale" in r.problem


def test_weak_contact_is_refused_with_the_gap():
    r = cal.thresholds(_stats(2000, 50), _stats(4000, 50), "midback")
    assert r.problem and "not clearly above" in r.problem and "2000" in r.problem


def test_noisy_contact_is_refused():
    r = cal.thresholds(_stats(1000, 50), _stats(21000, 4000), "sacrum")
    assert r.problem and "too noisy in contact" in r.problem


def test_noisy_release_is_refused():
    r = cal.thresholds(_stats(1000, 2500), _stats(21000, 100), "sacrum")
    assert r.problem and "too noisy released" in r.problem


def test_stats_are_robust_to_a_few_spikes():
    values = [10000] * 95 + [65535] * 5
    s = cal.stats(values)
    assert s.level == 10000 and s.noise == 0


@given(st.lists(counts, min_size=1, max_size=300))
def test_stats_order(values):
    s = cal.stats(values)
    assert min(values) <= s.low <= s.level <= s.high <= max(values)
    assert s.noise >= 0 and s.n == len(values)


def test_apply_writes_levels_and_patient_and_refuses_a_refused_proposal():
    zero = [_stats(1000, 50)] * 3
    contact = [_stats(21000, 100), _stats(30000, 100), _stats(41000, 100)]
    p = cal.propose(zero, contact)
    cfg = cal.apply(dconfig.defaults(), p, "P-7")
    assert cfg["patient"] == "P-7"
    assert cfg["sensors"]["midback"] == {"on": 15500, "off": 9700, "level": 30000}
    bad = cal.propose(zero, [_stats(1200, 10)] + contact[1:])
    assert not bad.ok and len(bad.problems) == 1
    try:
        cal.apply(dconfig.defaults(), bad, "P-7")
    except ValueError:
        pass
    else:
        raise AssertionError("a refused proposal was applied")


def test_check_losses_fires_on_a_real_loss_and_not_on_a_short_dip():
    # on 11000 / off 7000, loss after 120 ms below off.
    sensors = [(11000, 7000)] * 3
    trace = [(t, (20000, 20000, 20000)) for t in range(0, 1000, 10)]
    trace += [(t, (20000, 5000, 20000)) for t in range(1000, 1100, 10)]  # 100 ms dip
    trace += [(t, (20000, 20000, 20000)) for t in range(1100, 2000, 10)]
    trace += [(t, (20000, 20000, 1000)) for t in range(2000, 2500, 10)]  # sacrum lost
    losses = replay_losses(trace, sensors, loss_ms=120, regain_ms=200)
    assert [(loss.sensor, loss.t_ms) for loss in losses] == [("sacrum", 2120)]


def _fine():
    zero = [_stats(1000, 100)] * 3
    contact = [_stats(30000, 300)] * 3
    return zero, contact


def test_a_neutral_hold_taken_standing_is_accepted():
    zero, contact = _fine()
    assert cal.propose(zero, contact, [20, -10, 35, 40], start_deg=15).ok
    assert cal.propose(zero, contact, [], start_deg=15).ok  # no IMU: nothing to check


def test_a_neutral_hold_taken_bent_over_is_refused_saying_why():
    zero, contact = _fine()
    proposal = cal.propose(zero, contact, [445, 450, 455], start_deg=15)
    assert not proposal.ok
    (problem,) = proposal.problems
    assert "45 degrees from upright" in problem and "stand tall" in problem
    # The sensors themselves were fine: the refusal is the posture alone.
    assert all(s.problem is None for s in proposal.sensors)


def test_apply_sets_the_patients_day_to_this_computers_zone(monkeypatch):
    import time

    p = cal.propose([_stats(1000, 50)] * 3, [_stats(30000, 100)] * 3)
    assert cal.apply(dconfig.defaults(), p, "P-7", utc_offset_min=-300)["utc_offset_min"] == -300
    monkeypatch.setenv("TZ", "IST-5:30")  # POSIX form (no tz database needed): UTC+05:30
    time.tzset()
    try:
        assert cal.apply(dconfig.defaults(), p, "P-7")["utc_offset_min"] == 330
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
