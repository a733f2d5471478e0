"""The debounce rule, checked against a reference written from the README's words."""

from dowel.contact import CONTACT, LOST, NO_EVENT, Contact
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.device.vectors import make_vectors, reference_debounce

NAMES = {LOST: "lost", CONTACT: "contact"}


def run_contact(samples, on, off, loss_ms, regain_ms):
    c = Contact(on, off, loss_ms, regain_ms)
    got, last = [], None
    for t, reading in samples:
        event = c.update(reading, 0 if last is None else t - last)
        last = t
        if event != NO_EVENT:
            got.append((t, NAMES[event]))
    return got


def test_vectors_match_reference():
    for v in make_vectors():
        got = run_contact(v["samples"], v["on"], v["off"], v["loss_ms"], v["regain_ms"])
        assert got == v["expected"], v["name"]


def test_vectors_exercise_both_events_and_suppression():
    # The corpus must contain losses, contacts, and dips that are too short to fire.
    vectors = make_vectors()
    kinds = {e for v in vectors for _, e in v["expected"]}
    assert kinds == {"lost", "contact"}
    assert sum(len(v["expected"]) for v in vectors) > 300


def test_short_dip_does_not_fire_and_long_dip_fires_at_window():
    hold = [(t, 30000) for t in range(0, 400, 5)]  # contact at 200
    short = hold + [(t, 1000) for t in range(400, 515, 5)] + [(515, 30000)]
    assert run_contact(short, 20000, 16000, 120, 200) == [(200, "contact")]
    long = hold + [(t, 1000) for t in range(400, 600, 5)]
    assert run_contact(long, 20000, 16000, 120, 200) == [(200, "contact"), (520, "lost")]


def test_band_readings_neither_start_nor_end():
    # In contact, a dip starts at 400; band readings (between off and on) keep it going.
    trace = [(0, 30000), (200, 30000), (400, 100), (450, 18000), (500, 18000), (520, 18000)]
    assert run_contact(trace, 20000, 16000, 120, 200) == [(200, "contact"), (520, "lost")]
    # A run that only reaches the band never makes contact.
    assert run_contact([(t, 19999) for t in range(0, 5000, 10)], 20000, 16000, 120, 200) == []


def test_irregular_spacing_fires_at_first_sample_past_window():
    trace = [(0, 30000), (150, 30000), (260, 30000), (300, 0), (301, 0), (500, 0)]
    assert run_contact(trace, 20000, 16000, 120, 200) == [(260, "contact"), (500, "lost")]


def test_ages_saturate_without_changing_the_rule():
    # Hours of contact, then a dip: the age cap must not matter.
    trace = [(0, 30000), (200, 30000), (10_000_000, 30000), (10_000_001, 0), (10_000_121, 0)]
    assert run_contact(trace, 20000, 16000, 120, 200) == [(200, "contact"), (10_000_121, "lost")]


thresholds = st.integers(1, 65534).flatmap(
    lambda off: st.tuples(st.just(off), st.integers(off + 1, 65535))
)


@settings(max_examples=400, deadline=None)
@given(
    th=thresholds,
    loss_ms=st.integers(20, 1000),
    regain_ms=st.integers(20, 2000),
    steps=st.lists(
        st.tuples(st.integers(1, 400), st.integers(0, 65535) | st.sampled_from([0, 65535])),
        max_size=200,
    ),
)
def test_any_trace_matches_reference(th, loss_ms, regain_ms, steps):
    off, on = th
    t, samples = 0, []
    for gap, reading in steps:
        t += gap
        samples.append((t, reading))
    assert run_contact(samples, on, off, loss_ms, regain_ms) == reference_debounce(
        samples, on, off, loss_ms, regain_ms
    )


@settings(max_examples=200, deadline=None)
@given(
    th=thresholds,
    steps=st.lists(st.tuples(st.integers(1, 50), st.integers(0, 65535)), max_size=300),
)
def test_events_alternate_starting_with_contact(th, steps):
    off, on = th
    t, samples = 0, []
    for gap, reading in steps:
        t += gap
        samples.append((t, reading))
    kinds = [e for _, e in run_contact(samples, on, off, 20, 20)]
    assert kinds == ["contact", "lost"] * (len(kinds) // 2) + ["contact"] * (len(kinds) % 2)
