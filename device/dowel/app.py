"""The firmware's loop: reads the board every tick, runs the engine, plays cues, logs reps.

    import asyncio
    from dowel import app
    asyncio.run(app.main())       # what /main.py does

The loop is an asyncio task that awaits `asyncio.sleep_ms` every tick, so it never blocks, the
virtual board's interpreter can collect garbage and hear Ctrl-C, and other tasks could run.
`App.step` is the steady-state path: it allocates nothing (a test runs it under
`micropython.heap_lock()`). Logging happens only when a rep ends.
"""

import asyncio
import gc
import sys
import time
from array import array

from dowel import cues, hal
from dowel.drift import Drift
from dowel.engine import Engine
from dowel.logstore import Log
from dowel.rep import (
    ARMED,
    EV_ARMED,
    EV_FAULT,
    EV_RELEASE,
    EV_REP_END,
    EV_REP_START,
    IN_REP,
    NO_DDEG,
    STATE_NAMES,
)
from dowel.ticks import Clock
from dowel.version import FIRMWARE

try:
    from micropython import const
except ImportError:  # CPython: the host runs these same files

    def const(x):
        return x


TICK_MS = const(4)  # asks for 250 Hz; the measured rate stays above the 200 Hz target
# Every SLOW_TICK_MS (every 4th tick at 250 Hz, 62.5 Hz), not every tick: the IMU, the drift
# tracker and the watchdog. The IMU's own low-pass (21 Hz, `hal.Mpu6050`) leaves nothing new to
# read in between, and an I2C read is the dearest thing in a tick (~0.2 ms of bus time at
# 400 kHz on the ESP32); the pitch filter is set for that period (`Pitch(sample_ms=...)`, the
# same ~30 ms time constant) and the rep machine gets the latest pitch every tick. The drift
# tracker averages over 8 s, so a sample every 16 ms (with the time since the last one) serves
# it as well as every tick; the watchdog (5 s) needs nothing like every tick either.
SLOW_TICK_MS = const(16)
_GAP_CAP_MS = const(1 << 28)

current = None  # the running App, for `dowel.info` calls after Ctrl-C


def _none(value):
    return None if value == NO_DDEG else value


class App:
    def __init__(self, board, cfg, cfg_reason, log, device_id):
        from dowel.config import config_hash  # boot only: see `main`

        self.board = board
        # What the log's session headers need of the config; the dict itself is not kept.
        self.patient = cfg["patient"]
        self.config_hash = config_hash(cfg)
        self.log = log
        self.device_id = device_id
        self.engine = Engine(cfg, board.imu is not None)
        self.pitch = None
        if board.imu is not None:
            from dowel.pitch import Pitch

            self.pitch = Pitch(sample_ms=SLOW_TICK_MS)
        self.pitch_ddeg = 0
        self._slow_ms = SLOW_TICK_MS  # since the last slow tick: the first tick is one
        self.readings = array("H", [0, 0, 0])
        s = cfg["sensors"]
        self.drift = Drift(
            (s["head"]["level"], s["midback"]["level"], s["sacrum"]["level"]), cfg["drift_pct"]
        )
        self.drift.resume()
        # The neutral hold the calibration measured: armed, or (no IMU: reps are armed periods)
        # in a rep.
        self.hold_state = ARMED if board.imu is not None else IN_REP
        self.session_open = False
        self.idle_ms = 0
        self.gap_ms = cfg["session_gap_s"] * 1000
        if cfg_reason:
            self.engine.play(cues.CONFIG_FAULT_CUE)

    def step(self, dt_ms):
        """One tick of the steady-state loop."""
        board = self.board
        readings = self.readings
        board.read(readings)
        slow_ms = self._slow_ms + dt_ms
        if slow_ms < SLOW_TICK_MS:
            self._slow_ms = slow_ms
        else:
            self._slow_tick(slow_ms)
        engine = self.engine
        events = engine.step(readings[0], readings[1], readings[2], self.pitch_ddeg, dt_ms)
        if events:
            self._on_events(events)
        if engine.tone_changed:
            board.tone(engine.player.freq_hz)
        idle = self.idle_ms + dt_ms
        self.idle_ms = idle if idle < _GAP_CAP_MS else _GAP_CAP_MS
        return events

    def _slow_tick(self, elapsed_ms):
        """Every SLOW_TICK_MS (`elapsed_ms` since the last time), before the engine's step: the
        IMU, the drift tracker when the previous tick left the rep machine in the neutral hold,
        and the watchdog."""
        self._slow_ms = 0
        if self.pitch is not None:
            imu = self.board.imu
            imu.read()
            self.pitch_ddeg = self.pitch.update(imu.ax, imu.az)
        if self.engine.reps.state == self.hold_state:
            self.drift.update(self.readings, elapsed_ms)
        self.board.feed()

    def _on_events(self, events):
        reps = self.engine.reps
        if events & EV_REP_START and (not self.session_open or self.idle_ms >= self.gap_ms):
            self._begin_session()
        self._announce(events)
        if events & EV_RELEASE:
            self.drift.save()  # the dowel was put down: a quiet moment for a small write
        if events & EV_REP_END:
            self.idle_ms = 0
            written = self.log.add_rep(
                reps.seq,
                reps.start_ms,
                reps.duration_ms,
                reps.lost_mask,
                reps.first_lost,
                reps.loss_at_ms if reps.lost_mask else None,
                _none(reps.loss_pitch_ddeg),
                _none(reps.depth_ddeg),
                reps.lower_ms if self.pitch is not None else None,
                reps.pause_ms if self.pitch is not None else None,
                reps.rise_ms if self.pitch is not None else None,
            )
            if not written:
                self.engine.play(cues.LOG_FULL_CUE)

    def _announce(self, events):
        """One console line per event, `@dowel <event> key=value ...`: what a serial monitor
        (or `dowel demo`) shows live. Only on events, so the steady state prints nothing."""
        reps = self.engine.reps
        state = STATE_NAMES[reps.state]
        if events & EV_REP_END:
            print(
                "@dowel rep_end rep=%d lost=%d first=%d ms=%d depth_ddeg=%d state=%s"
                % (
                    reps.seq,
                    reps.lost_mask,
                    reps.first_lost,
                    reps.duration_ms,
                    reps.depth_ddeg,
                    state,
                )
            )
        if events & EV_RELEASE:
            print("@dowel release state=" + state)
        if events & EV_ARMED:
            print("@dowel armed state=" + state)
        if events & EV_REP_START:
            print("@dowel rep_start rep=%d state=%s" % (reps.seq, state))
        if events & EV_FAULT:
            print(
                "@dowel fault lost=%d rep=%d cued=%d pitch_ddeg=%d state=%s"
                % (
                    reps.new_faults,
                    reps.seq,
                    self.engine.cue_this_rep,
                    reps.loss_pitch_ddeg,
                    state,
                )
            )

    def _begin_session(self):
        self.log.begin_session(
            self.device_id,
            FIRMWARE,
            self.config_hash,
            self.patient,
            hal.rtc_datetime(),
            time.ticks_ms(),
            self.pitch is not None,
        )
        self.session_open = True
        self.engine.reps.rebase()

    async def run(self):
        clock = Clock(time.ticks_ms, time.ticks_diff)
        while True:
            await asyncio.sleep_ms(TICK_MS)
            self.step(clock.dt_ms())


# Modules that only boot needs: the config's validation and the log's decoder (the log's
# recovery). Dropped once the app is built, so the collector frees their bytecode (the names
# they interned stay); a host call that imports one later loads it afresh.
_BOOT_ONLY = ("config", "logread")


def _boot():
    """Load the config, open the board and the log, build the App. A function of its own, so
    nothing boot made stays referenced from `main`'s frame while the loop runs."""
    from dowel import config

    cfg, reason = config.load()
    board = hal.Board(watchdog_on=True)
    app = App(board, cfg, reason, Log(root="/logs"), hal.unique_id())
    print(
        "@dowel boot firmware=%s imu=%d config=%s patient=%s"
        % (FIRMWARE, board.imu is not None, "rejected" if reason else "ok", cfg["patient"])
    )
    return app


def _forget(name):
    sys.modules.pop("dowel." + name, None)
    package = sys.modules["dowel"]
    if hasattr(package, name):
        delattr(package, name)  # `from dowel import config` also bound it on the package


async def main():
    global current
    app = current = _boot()
    for name in _BOOT_ONLY:
        _forget(name)
    gc.collect()
    try:
        await app.run()
    finally:
        # Ctrl-C from the host, or a crash: silence the buzzer, close the log whole, and keep
        # the watchdog fed while the REPL serves the host.
        app.board.quiet()
        app.log.close()
        app.drift.save()
        app.board.keep_fed()
