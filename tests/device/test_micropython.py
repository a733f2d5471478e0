"""The device core on the real MicroPython interpreter (the unix port, as the virtual board):
the same test vectors as the CPython tests, and proof that the loop step allocates nothing."""

import json

import pytest

from tests.device.vectors import MICROPYTHON_RUNNER, make_vectors

pytestmark = pytest.mark.vboard


@pytest.fixture(scope="module")
def run_mp():
    interp = pytest.importorskip("host_tools.vboard.interp")
    return interp.run_micropython


def test_debounce_vectors_on_micropython(run_mp):
    vectors = make_vectors()
    keys = ("on", "off", "loss_ms", "regain_ms", "samples")
    payload = [{k: v[k] for k in keys} for v in vectors]
    code = "VECTORS_JSON = " + repr(json.dumps(payload)) + "\n" + MICROPYTHON_RUNNER
    # Megabytes of vectors in one script: a test harness's heap, not the board's.
    out = json.loads(run_mp(code, timeout=120, heap_kb=64 * 1024).strip().splitlines()[-1])
    assert len(out) == len(vectors)
    for v, got in zip(vectors, out, strict=True):
        assert [tuple(e) for e in got] == v["expected"], v["name"]


# Drives the Engine through arming, a rep with a fault, a put-down, a loss while standing, a
# rep begun without that point and a drop mid-hinge, and the cues, first once to warm up (first
# calls may intern names), then again under heap_lock: any allocation raises MemoryError.
# Events are included: the engine allocates nothing even when things happen (a rep's end
# measures its phases from the pitch history).
ENGINE_HEAP_LOCK = """
import gc, micropython
from dowel import config
from dowel.engine import Engine
cfg = config.defaults()
def script(e):
    n = 0
    for _ in range(200):
        n |= e.step(30000, 30000, 30000, 0, 5)
    for i in range(100):
        n |= e.step(30000, 30000, 30000, i * 4, 5)
    for _ in range(60):
        n |= e.step(30000, 30000, 100, 400, 5)
    for i in range(100):
        n |= e.step(30000, 30000, 30000, 400 - i * 4, 5)
    for _ in range(60):
        n |= e.step(0, 0, 0, 0, 5)
    for _ in range(200):
        n |= e.step(30000, 30000, 30000, 0, 5)
    for _ in range(60):
        n |= e.step(30000, 30000, 100, 0, 5)
    for i in range(100):
        n |= e.step(30000, 30000, 100, i * 4, 5)
    for _ in range(60):
        n |= e.step(0, 0, 0, 400, 5)
    return n
def measure(has_imu):
    # Locals only: a new global stored under heap_lock could grow the globals dict.
    warm = Engine(cfg, has_imu)
    script(warm)
    e = Engine(cfg, has_imu)
    gc.collect()
    before = gc.mem_alloc()
    micropython.heap_lock()
    try:
        n = script(e)
    finally:
        micropython.heap_unlock()
    after = gc.mem_alloc()
    print("engine", has_imu, n, e.reps.seq, e.reps.lost_mask, after - before)
measure(True)
measure(False)
"""


def test_engine_step_allocates_nothing_under_heap_lock(run_mp):
    out = run_mp(ENGINE_HEAP_LOCK).strip().splitlines()
    rows = [line.split() for line in out if line.startswith("engine")]
    assert len(rows) == 2
    for _, _has_imu, events, _seq, _lost_mask, grown in rows:
        # The script really drove every event: armed, rep start, fault, rep end, release.
        assert int(events) == 31
        assert int(grown) == 0


# The App's steady-state step with the real hal on the simulated machine: three ADC reads, the
# IMU over I2C, the engine, the tone and the watchdog, under heap_lock.
APP_HEAP_LOCK = """
import gc, micropython
from dowel import config, hal
from dowel.app import App

class NoLog:
    full = False
    def begin_session(self, *args):
        return 0
    def add_rep(self, *args):
        return True

board = hal.Board(watchdog_on=True)
app = App(board, config.defaults(), None, NoLog(), b"\\x00" * 6)
def measure():
    for _ in range(50):
        app.step(5)
    gc.collect()
    micropython.heap_lock()
    try:
        for _ in range(500):
            app.step(5)
    finally:
        micropython.heap_unlock()
    print("app", board.imu is not None, "ok")
measure()
"""


def test_app_step_allocates_nothing_with_real_hal(run_mp):
    out = run_mp(APP_HEAP_LOCK)
    assert "app True ok" in out


TICKS_WRAP = """
import time
from dowel.ticks import Clock
# A counter that starts 10 ms before MicroPython's wrap and steps 5 ms per call.
start = time.ticks_add(0, -10)
state = [start]
def ticks():
    v = state[0]
    state[0] = time.ticks_add(v, 5)
    return v
clock = Clock(ticks, time.ticks_diff)
print("dts", [clock.dt_ms() for _ in range(6)], time.ticks_diff(state[0], start))
"""


def test_clock_across_the_real_ticks_wrap(run_mp):
    out = run_mp(TICKS_WRAP)
    assert "dts [5, 5, 5, 5, 5, 5] 35" in out


# The loop feeds the drift tracker during the neutral hold: a board whose contact levels sit
# 50 % above the calibrated ones reports every point moved; one within drift_pct reports none.
APP_DRIFT = """
from dowel import config
from dowel.app import App

class Board:
    imu = None
    def __init__(self, level):
        self.level = level
    def read(self, out):
        out[0] = out[1] = out[2] = self.level
    def tone(self, hz):
        pass
    def feed(self):
        pass

class NoLog:
    full = False
    def begin_session(self, *args):
        return 0
    def add_rep(self, *args):
        return True

cfg = config.defaults()
for name in ("head", "midback", "sacrum"):
    cfg["sensors"][name]["level"] = 20000
for level in (30000, 21000):
    app = App(Board(level), cfg, None, NoLog(), b"\\x00" * 6)
    for _ in range(3000):  # 15 s of three-point contact
        app.step(5)
    print("drift", level, app.engine.reps.state, app.drift.moved())
"""


def test_app_feeds_drift_tracker_during_the_hold(run_mp):
    rows = [line.split() for line in run_mp(APP_DRIFT).splitlines() if line.startswith("drift")]
    assert rows == [["drift", "30000", "2", "7"], ["drift", "21000", "2", "0"]]
