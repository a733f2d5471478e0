"""Item 8 wiring of issue 12 on the MicroPython interpreter with the virtual board's `machine`:
the loop reads the cell once a second through `hal.Board.battery_mv` (the divider on
pinmap.BATTERY_PIN, ADC at 11 dB, read_uv), plays LOW_BATTERY_CUE once when it runs low and
never over a cue already playing, and gives each new log session the battery percent."""

from __future__ import annotations

import pytest
from dowel import battery, cues

pytestmark = pytest.mark.vboard

CODE = r"""
from dowel import config, cues, hal
from dowel.app import App
from dowel.battery import Monitor

class Log:
    full = False
    def __init__(self):
        self.sessions = []
    def begin_session(self, *args, battery_pct=None):
        self.sessions.append(battery_pct)
        return 1
    def add_rep(self, *args):
        return True

log = Log()
cfg = config.defaults()
app = App(hal.Board(), cfg, "rejected for the test", log, b"\x00" * 6, Monitor())
played = []
t = 0
for _ in range(800):  # 4 s at 5 ms
    app.step(5)
    t += 5
    p = app.engine.player.pattern
    if p is not None and (not played or played[-1][1] is not p):
        played.append((t, p))
names = {id(getattr(cues, n)): n for n in cues.NAMES}
print("mv", hal.Board().battery_mv(), app.battery.mv, app.battery.low)
print("played", [(t, names.get(id(p), "?")) for t, p in played])
app._begin_session()
app.flush()
print("sessions", log.sessions)
"""


def _run(counts: int) -> dict[str, str]:
    import os

    from dowel import pinmap

    from host_tools.vboard.interp import run_micropython

    os.environ["VB_BATTERY_PIN"] = str(pinmap.BATTERY_PIN)
    os.environ["VB_BATTERY_COUNTS"] = str(counts)
    try:
        out = run_micropython(CODE, imu=False, timeout=60)
    finally:
        del os.environ["VB_BATTERY_PIN"], os.environ["VB_BATTERY_COUNTS"]
    return {line.split()[0]: line.split(" ", 1)[1] for line in out.splitlines() if " " in line}


def test_low_battery_cue_plays_once_after_the_cue_that_was_playing():
    out = _run(35000)  # 1655 mV at the pin: a 3.31 V cell, under battery.LOW_MV
    mv, avg, low = out["mv"].split()
    assert 3200 < int(mv) < 3400 and low == "True"
    played = eval(out["played"])  # noqa: S307 - our own repr of (int, str) pairs
    assert [n for _, n in played] == ["CONFIG_FAULT_CUE", "LOW_BATTERY_CUE"]
    assert played[1][0] >= sum(cues.CONFIG_FAULT_CUE[1::2])  # after the warble ended
    assert out["sessions"] == f"[{battery.percent(int(avg))}]"  # in the session header


def test_a_full_cell_plays_nothing_and_logs_its_percent():
    out = _run(44000)  # 2081 mV at the pin: a 4.16 V cell
    assert eval(out["played"]) == [(5, "CONFIG_FAULT_CUE")] or [  # noqa: S307
        n
        for _, n in eval(out["played"])  # noqa: S307
    ] == ["CONFIG_FAULT_CUE"]
    pct = int(out["sessions"].strip("[]"))
    assert 90 <= pct <= 100
