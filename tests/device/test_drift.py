"""The device's drift tracker: averages armed readings, reports a move past drift_pct."""

import pytest
from dowel import drift as ddrift
from dowel import running
from hypothesis import given
from hypothesis import strategies as st


@pytest.fixture(autouse=True)
def _no_live_tracker():
    running.drift = None
    yield
    running.drift = None


def _feed(d, readings, ms, dt=5):
    for _ in range(ms // dt):
        d.update(readings, dt)


def test_steady_level_is_not_drift():
    d = ddrift.Drift([20000, 30000, 40000], 25)
    _feed(d, (21000, 29000, 41000), 30000)
    assert d.moved() == 0
    assert abs(d.current(0) - 21000) < 50


def test_moves_past_drift_pct_are_reported_per_sensor():
    d = ddrift.Drift([20000, 30000, 40000], 25)
    _feed(d, (14000, 30000, 52000), 60000)  # head -30 %, sacrum +30 %
    assert d.moved() == 0b101


def test_nothing_reported_before_enough_armed_time():
    d = ddrift.Drift([20000, 30000, 40000], 25)
    _feed(d, (5000, 5000, 5000), ddrift.MIN_ARMED_MS - 100)
    assert d.moved() == 0
    _feed(d, (5000, 5000, 5000), 200)
    assert d.moved() == 0b111


def test_uncalibrated_level_is_never_reported():
    d = ddrift.Drift([0, 30000, 40000], 25)
    _feed(d, (60000, 30000, 40000), 60000)
    assert d.moved() == 0


def test_average_spans_armed_periods():
    # One short armed period at a new level barely moves the average; several do.
    d = ddrift.Drift([20000, 20000, 20000], 25)
    _feed(d, (20000, 20000, 20000), 20000)
    _feed(d, (10000, 10000, 10000), 1000)
    assert d.moved() == 0
    for _ in range(15):
        _feed(d, (10000, 10000, 10000), 2000)
    assert d.moved() == 0b111


@given(
    st.lists(
        st.tuples(
            st.integers(0, 65535),
            st.integers(0, 65535),
            st.integers(0, 65535),
            st.integers(0, 5000),
        ),
        max_size=200,
    )
)
def test_average_stays_within_the_readings_and_in_small_ints(samples):
    d = ddrift.Drift([20000, 30000, 40000], 25)
    lo, hi = [65535] * 3, [0] * 3
    for a, b, c, dt in samples:
        d.update((a, b, c), dt)
        for i, v in enumerate((a, b, c)):
            lo[i], hi[i] = min(lo[i], v), max(hi[i], v)
        for i in range(3):
            assert lo[i] - 1 <= d.current(i) <= hi[i]
            assert abs(d.acc[i]) < 1 << 30  # a MicroPython small int: no allocation


def test_save_report_resume_and_reset(tmp_path):
    path = str(tmp_path / "drift.json")
    assert ddrift.report(path) is None
    d = ddrift.Drift([20000, 30000, 40000], 25)
    _feed(d, (14000, 30000, 40000), 30000)
    d.save(path)
    running.drift = None  # a later boot: only the file is left
    saved = ddrift.report(path)
    assert saved["moved"] == 0b001 and saved["levels"] == [20000, 30000, 40000]
    again = ddrift.Drift([20000, 30000, 40000], 25)
    assert again.resume(path)
    assert again.moved() == 0b001
    other = ddrift.Drift([21000, 30000, 40000], 25)  # recalibrated: old state is stale
    assert not other.resume(path)
    ddrift.reset(path)
    assert ddrift.report(path) is None


def test_report_prefers_the_live_tracker(tmp_path):
    path = str(tmp_path / "drift.json")
    d = ddrift.Drift([20000, 30000, 40000], 25)
    _feed(d, (20000, 30000, 40000), 1000)
    assert ddrift.report(path)["armed_ms"] == 1000
