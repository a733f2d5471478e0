"""Feedback on the real MicroPython interpreter: a whole course (every mode through a
schedule, sessions, days, probe sets, set / day done, warning ticks, bandwidth waits) gives the
same cues and per-rep records as on CPython, and runs under micropython.heap_lock(): the
steady state and every feedback event allocate nothing."""

import ast

import pytest

from tests.device.test_feedback import DRIVER, NS

pytestmark = pytest.mark.vboard

COURSE = """
CFG = config.validate({
    "schedule": [
        {"mode": "warning", "sessions": 1},
        {"mode": "loss", "days": 1},
        {"mode": "faded", "pct": 50, "until": {"fault_below_pct": 40, "last_reps": 5}},
        {"mode": "bandwidth", "sessions": 2},
        {"mode": "none"},
    ],
    "reps_per_set": 3, "sets_per_day": 2, "probe": "first",
})


def course(e):
    e.day = 1
    pick_up(e)
    for i in range(6):  # warning stage, day 1: probe set, then a fed-back set
        rep(e, lose=4 if i % 2 else 0, off_ms=300, sag=17000, sag_ms=600)
    put_down_and_wait(e, 700000)
    pick_up(e)  # session 2: loss stage
    for i in range(4):
        rep(e, lose=1, off_ms=300)
    e.day = 2
    put_down_and_wait(e, 700000)
    pick_up(e)  # day 2: faded stage (first set a probe), until 5 reps under 40 % faults
    for i in range(9):
        rep(e, lose=2 if i in (3, 4) else 0, off_ms=300)
    put_down_and_wait(e, 700000)
    pick_up(e)  # bandwidth, then none
    for i in range(6):
        rep(e, lose=4, off_ms=200 if i % 2 else 900)
    put_down_and_wait(e, 700000)
    pick_up(e)
    for i in range(3):
        rep(e, lose=4, off_ms=300)
"""

LOCKED = """
import gc, micropython
def measure():
    warm = RecEngine(CFG)
    course(warm)
    gc.collect()  # the warm run's garbage first: the new engine's arrays need whole blocks
    e = RecEngine(CFG)
    gc.collect()
    micropython.heap_lock()
    try:
        course(e)
    finally:
        micropython.heap_unlock()
    print("cues", cue_list(e))
    print("reps", rep_list(e))
    print("same", cue_list(e) == cue_list(warm) and rep_list(e) == rep_list(warm))
measure()
"""


@pytest.fixture(scope="module")
def run_mp():
    interp = pytest.importorskip("host_tools.vboard.interp")
    return interp.run_micropython


def cpython_course():
    ns = dict(NS)
    exec(COURSE, ns)  # noqa: S102 - the test's own course, also run on MicroPython
    e = ns["RecEngine"](ns["CFG"])
    ns["course"](e)
    return ns["cue_list"](e), ns["rep_list"](e)


def test_course_matches_cpython_and_allocates_nothing_under_heap_lock(run_mp):
    # Two recording engines and their cue buffers (~100 KB while being built from lists): a
    # roomier heap than the one-shot default, which is about allocation here, not heap size.
    out = run_mp(DRIVER + COURSE + LOCKED, timeout=120, heap_kb=512).splitlines()
    rows = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in out if " " in line}
    assert rows["same"] == "True"
    cues_mp = [tuple(c) for c in ast.literal_eval(rows["cues"])]
    reps_mp = [tuple(r) for r in ast.literal_eval(rows["reps"])]
    cues_cp, reps_cp = cpython_course()
    assert cues_mp == cues_cp
    assert reps_mp == reps_cp
    # The course went through every stage and mode, with probe sets and set / day done.
    assert sorted({r[0] for r in reps_cp}) == [0, 1, 2, 3, 4]
    assert {r[1] for r in reps_cp} == {0, 1, 2, 3, 4}
    assert any(r[2] for r in reps_cp) and not all(r[2] for r in reps_cp)
    names = {c for _, c in cues_cp}
    assert {"tick", "probe", "set_done", "day_done", "sacrum", "head", "midback"} <= names
    # No fault is cued in a probe rep or in a `none` stage rep.
    for _stage, mode, probe, cued in reps_cp:
        if probe or mode == 4:
            assert cued == 0
