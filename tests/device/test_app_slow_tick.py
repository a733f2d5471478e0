"""The loop serves the IMU, the drift tracker and the watchdog every SLOW_TICK_MS, not every tick
(`dowel.app`), on the real MicroPython interpreter: the first tick included, then by elapsed
time, whatever the tick length."""

import pytest

pytestmark = pytest.mark.vboard

SLOW_TICKS = """
from dowel import config
from dowel.app import App, SLOW_TICK_MS

class Imu:
    def __init__(self):
        self.ax, self.az, self.reads = 16384, 0, 0
    def read(self):
        self.reads += 1

class Board:
    def __init__(self, imu):
        self.imu = imu
        self.feeds = 0
    def read(self, out):
        out[0] = out[1] = out[2] = 30000
    def tone(self, hz):
        pass
    def feed(self):
        self.feeds += 1

class NoLog:
    full = False
    def begin_session(self, *args):
        return 0
    def add_rep(self, *args):
        return True

for dt, with_imu in ((4, True), (5, True), (3, False)):
    board = Board(Imu() if with_imu else None)
    app = App(board, config.defaults(), None, NoLog(), b"\\x00" * 6)
    app.step(dt)
    first_reads, first_feeds = board.imu.reads if with_imu else -1, board.feeds
    for _ in range(399):
        app.step(dt)
    if with_imu:
        board.imu.az = 16384  # the trunk at 45 degrees: read within one slow tick
        for _ in range(SLOW_TICK_MS // dt + 1):
            app.step(dt)
    print("slow", dt, int(with_imu), first_reads, first_feeds, board.imu.reads if with_imu else -1,
          board.feeds, app.pitch_ddeg, app.engine.reps.state, app.drift.armed_ms)
"""


def test_imu_drift_and_watchdog_are_served_every_slow_tick():
    interp = pytest.importorskip("host_tools.vboard.interp")
    out = interp.run_micropython(SLOW_TICKS, timeout=60)
    rows = {}
    for line in out.splitlines():
        if line.startswith("slow"):
            dt, imu, *figures = (int(x) for x in line.split()[1:])
            rows[(dt, bool(imu))] = figures

    # Each: reads and feeds after the first tick, reads and feeds in all, pitch, rep state,
    # armed time the drift tracker counted. The first tick is served, then every ceil(16 / dt)
    # ticks: 4 ms ticks every 4th, 5 ms every 4th (20 ms), 3 ms every 6th (18 ms).
    def served(ticks, every):
        return 1 + (ticks - 1) // every

    first_reads, first_feeds, reads, feeds, pitch, _, _ = rows[(4, True)]
    assert (first_reads, first_feeds) == (1, 1) and pitch > 0
    assert reads == feeds == served(400 + 5, 4)
    first_reads, first_feeds, reads, feeds, pitch, _, _ = rows[(5, True)]
    assert (first_reads, first_feeds) == (1, 1) and pitch > 0
    assert reads == feeds == served(400 + 4, 4)
    first_reads, first_feeds, reads, feeds, pitch, state, armed = rows[(3, False)]
    assert (first_reads, first_feeds, pitch) == (-1, 1, 0) and feeds == served(400, 6)
    # No IMU: the hold is a rep (state 2) from 200 + 500 ms of contact on (regain, then arm);
    # the drift tracker counted the time held, to within a slow tick at each end.
    assert state == 2 and abs(armed - (1200 - 200 - 500)) <= 2 * 18
