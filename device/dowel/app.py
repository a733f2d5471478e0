"""The firmware's loop: reads the board every tick, runs the engine, plays cues, logs reps.

    import asyncio
    from dowel import app
    try:
        asyncio.run(app.main())   # what /main.py does
    except Exception as exc:
        app.crash(exc)            # a bug or MemoryError: the reason to flash, then a reset
    finally:
        app.stop()                # the host's Ctrl-C too: silent, log closed, watchdog fed

The loop is an asyncio task woken every TICK_MS by a timer (through a ThreadSafeFlag), so it
never blocks, Ctrl-C is heard, and other tasks could run. `App.step` is the steady-state path:
it allocates nothing (a test runs it under `micropython.heap_lock()`). Reps wait in RAM until
the dowel is put down (`PENDING_MAX`), so a flash write never delays a cue. Faults and what
the dowel does: an IMU that stops answering (carry on without pitch, retry, `@dowel imu
lost|back`), a boot that raises (stay at the REPL, reason in `dowel.fault`), a crash in the loop
(reason in `dowel.fault`, reset), a host gone quiet with the loop stopped (`hal.HOST_IDLE_MS`).
"""

import asyncio
import gc
import sys
import time
from array import array

try:
    from micropython import const
except ImportError:  # CPython: the host runs these same files

    def const(x):
        return x


from dowel import cues, hal, points, running
from dowel.battery import percent
from dowel.drift import Drift
from dowel.engine import Engine
from dowel.feedback import day_number
from dowel.logstore import Log
from dowel.rep import (
    ARMED,
    EV_ARMED,
    EV_FAULT,
    EV_RELEASE,
    EV_REP_END,
    EV_REP_START,
    IDLE,
    IN_REP,
    STATE_NAMES,
)
from dowel.ticks import Clock
from dowel.version import FIRMWARE

# The loop's tick: a machine.Timer (hal.tick_timer) every TICK_MS, 200 Hz, whose soft callback
# runs one step. An `await asyncio.sleep_ms(4)` would end on the ESP32's 100 Hz FreeRTOS tick
# instead (CONFIG_FREERTOS_HZ 100, the IDF default; extmod/modselect.c waits in
# MICROPY_EVENT_POLL_HOOK, ports/esp32/mpconfigport.h, until the next tick interrupt), so a
# 4 ms sleep runs at 100 Hz; the Timer's ISR wakes the waiting task at once
# (mp_hal_wake_main_task_from_isr, ports/esp32/machine_timer.c) and the scheduler runs the
# callback. The step runs in the callback rather than after a ThreadSafeFlag wakes a task:
# each asyncio wake allocates (IOQueue.queue_read makes a list and registers the flag with the
# poller, ~190 B measured), a collection every second or so; the callback allocates nothing.
# Measured on the virtual board with its 10 ms tick: 200 Hz
# (tests/device_on_vboard/test_loop_rate.py);
# elapsed time comes from ticks_diff, so a late tick is a longer dt, never lost time.
TICK_MS = const(5)
# Every SLOW_TICK_MS (every 3rd or 4th tick at 200 Hz, 62.5 Hz), not every tick: the IMU, the
# drift tracker and the watchdog. The IMU's own low-pass (~20 Hz, `dowel.imu`) leaves nothing
# new to read in between, and an I2C read is the dearest thing in a tick (~0.2 ms of bus time
# at 400 kHz on the ESP32: 1 address + 1 register + 1 address + 6 data bytes, 9 bits each); the
# pitch filter is set for that period (`Pitch(sample_ms=...)`, the same ~30 ms time constant)
# and the rep machine gets the latest pitch every tick. The drift tracker averages over 8 s, so
# a sample every 16 ms (with the time since the last one) serves it as well as every tick; the
# watchdog (5 s) needs nothing like every tick either.
SLOW_TICK_MS = const(16)
# Once a second: the battery and a lost IMU's retry.
SECOND_MS = const(1000)
_GAP_CAP_MS = const(1 << 28)
# A lost IMU is retried every second while it fails fast (a NACK: ENODEV); a hung bus blocks up
# to (1 + bytes) x 100 ms per transfer before ETIMEDOUT (ports/esp32/machine_i2c.c), so after a
# timeout the wait doubles up to _IMU_RETRY_MAX_MS and the retry waits for the dowel to be put
# down (no cue can be due then).
_IMU_RETRY_MAX_MS = const(32000)
_ETIMEDOUT = const(110)
# Reps are kept in RAM and written once the dowel is put down, one per slow tick (the rep
# machine idle: no loss can be cued until it is armed again, which takes regain_ms + arm_ms of
# contact), so a flash erase (45 ms typical, 400 ms max on a W25Q32JV; the CPU stalls
# meanwhile: docs/esp32-facts.md 5) never delays a cue. A power cut loses at most the reps not
# yet written: those since the dowel was last put down (plus any still draining, ~60 ms each),
# never more than PENDING_MAX: a longer set is written at the rep end that fills the buffer.
PENDING_MAX = const(32)


class App:
    def __init__(self, board, cfg, cfg_reason, log, device_id, battery=None, cfg_hash=None):
        if cfg_hash is None:
            from dowel.config import config_hash  # boot only: see `_boot`

            cfg_hash = config_hash(cfg)
        self.board = board
        # What the log's session headers need of the config; the dict itself is not kept.
        self.patient = cfg["patient"]
        self.config_hash = cfg_hash
        self.log = log
        self.device_id = device_id
        self.battery = battery  # a `battery.Monitor`, or None (no cell to watch)
        self.engine = Engine(cfg, board.imu is not None)
        # The feedback course goes on where the last boot left it (saved when the dowel is put
        # down); the day comes from the RTC, which the host sets in UTC at every connect.
        self.engine.feedback.load(self.patient)
        self.utc_offset_min = cfg["utc_offset_min"]
        # The RTC is read once, here (every host command that sets it ends in a soft reset),
        # then carried on by the loop's elapsed time: time.time() is a float on some ports,
        # and the steady state allocates nothing.
        self._rtc_s = int(time.time())
        self._rtc_ms = 0
        self.engine.day = day_number(self._rtc_s, self.utc_offset_min)
        self.pitch = None
        if board.imu is not None:
            from dowel.pitch import Pitch

            self.pitch = Pitch(sample_ms=SLOW_TICK_MS)
        self.pitch_ddeg = 0
        self.imu_ok = board.imu is not None  # False while a lost IMU is retried
        self._imu_wait_ms = 0
        self._imu_backoff_ms = SECOND_MS
        self._slow_ms = SLOW_TICK_MS  # since the last slow tick: the first tick is one
        self._second_ms = 0
        self._low_battery_due = False
        self.readings = array("H", [0, 0, 0])
        s = cfg["sensors"]
        self.drift = Drift([s[name]["level"] for name in points.NAMES], cfg["drift_pct"])
        self.drift.resume()
        # The neutral hold the calibration measured: armed, or (no IMU: reps are armed periods)
        # in a rep.
        self.hold_state = ARMED if board.imu is not None else IN_REP
        self.session_open = False
        self.idle_ms = 0
        self.gap_ms = cfg["session_gap_s"] * 1000
        self.pending = []  # ("s", session args) and ("r", rep args) not yet on flash, in order
        self.pending_reps = 0
        self.ticks = 0  # loop iterations, between run_ms and stop_ms: the host's rate check
        self.run_ms = self.stop_ms = 0
        self._timer = None
        self._fault = None
        self._failed = None
        self._clock = None
        self._stopped = False
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
        second_ms = self._second_ms + dt_ms
        if second_ms < SECOND_MS:
            self._second_ms = second_ms
        else:
            self._second_tick(second_ms)
        return events

    def _slow_tick(self, elapsed_ms):
        """Every SLOW_TICK_MS (`elapsed_ms` since the last time), before the engine's step: the
        IMU, the drift tracker when the previous tick left the rep machine in the neutral hold,
        and the watchdog."""
        self._slow_ms = 0
        if self.imu_ok:
            imu = self.board.imu
            try:
                imu.read()
            except OSError as exc:
                self._imu_lost("errno=%d" % (exc.args[0] if exc.args else 0))
            else:
                if imu.ax == 0 and imu.az == 0:
                    # No gravity at all: it power-cycled and woke asleep (registers read 0).
                    self._imu_lost("asleep")
                else:
                    pitch = self.pitch
                    if pitch is not None:  # imu_ok implies it; said for the type checker
                        self.pitch_ddeg = pitch.update(imu.ax, imu.az)
        state = self.engine.reps.state
        if state == self.hold_state:
            self.drift.update(self.readings, elapsed_ms)
        elif state == IDLE and self.pending:
            # Put down: no loss can be cued until it is armed again (regain_ms + arm_ms of
            # contact), so one item per slow tick is written; the loop samples in between.
            self.flush(1)
        self.board.feed()

    def _second_tick(self, elapsed_ms):
        """About once a second: the day, the battery and a lost IMU's retry."""
        self._second_ms = 0
        ms = self._rtc_ms + elapsed_ms
        self._rtc_s += ms // 1000
        self._rtc_ms = ms % 1000
        self.engine.day = day_number(self._rtc_s, self.utc_offset_min)
        mon = self.battery
        if mon is not None:
            if mon.update(self.board.battery_mv()):
                self._low_battery_due = True
                print("@dowel battery low mv=%d" % mon.mv)
            if self._low_battery_due and self.engine.player.pattern is None:
                self._low_battery_due = False  # never over a cue: after it ends
                self._play(cues.LOW_BATTERY_CUE)
        reps = self.engine.reps
        if self.pitch is not None:
            if not self.imu_ok:
                self._retry_imu(elapsed_ms, reps.state == IDLE)
            elif not reps.has_imu and not reps.rep_active:
                self._use_imu(True)

    # ---- the IMU lost and found ----

    def _imu_lost(self, why):
        self.imu_ok = False
        self.pitch_ddeg = 0
        self._use_imu(False)  # carry on as a dowel without an IMU: a rep is an armed period
        self._imu_wait_ms = self._imu_backoff_ms = SECOND_MS
        print("@dowel imu lost " + why + " (no pitch until it answers again)")

    def _retry_imu(self, elapsed_ms, put_down):
        self._imu_wait_ms -= elapsed_ms
        if self._imu_wait_ms > 0 or (self._imu_backoff_ms > SECOND_MS and not put_down):
            return
        try:
            self.board.retry_imu()
        except OSError as exc:
            errno = exc.args[0] if exc.args else 0
            if errno == _ETIMEDOUT:
                backoff = self._imu_backoff_ms * 2
                self._imu_backoff_ms = (
                    backoff if backoff < _IMU_RETRY_MAX_MS else (_IMU_RETRY_MAX_MS)
                )
            self._imu_wait_ms = self._imu_backoff_ms
            return
        self.imu_ok = True
        self._imu_backoff_ms = SECOND_MS
        print("@dowel imu back " + self.board.imu.name)

    def _use_imu(self, on):
        self.engine.reps.has_imu = on
        self.hold_state = ARMED if on else IN_REP

    def _play(self, pattern):
        self.engine.play(pattern)
        self.board.tone(self.engine.player.freq_hz)

    # ---- events ----

    def _on_events(self, events):
        if events & EV_REP_START and (not self.session_open or self.idle_ms >= self.gap_ms):
            self._begin_session()
        self._announce(events)
        if events & EV_RELEASE:
            # The dowel was put down: a quiet moment for small writes.
            self.drift.save()
            self._save_course()
        if events & EV_REP_END:
            self.idle_ms = 0
            self.pending.append(("r", self.engine.rep_record()))
            self.pending_reps += 1
            if self.log.full:
                self._play(cues.LOG_FULL_CUE)  # known now: said at the rep's end, as before
            if self.pending_reps >= PENDING_MAX:
                self.flush()  # a set this long: written now, the one time a write may delay

    def _save_course(self):
        """The feedback schedule's place, for the next boot (a flash write: quiet moments)."""
        fb = self.engine.feedback
        if fb.keeps_state():
            fb.save(self.patient)

    def flush(self, n=PENDING_MAX + 1):
        """Write up to `n` of the items waiting in RAM (session headers and reps, in order),
        feeding the watchdog between them: each rep's append and flush costs a 4 KB erase or
        more on littlefs (measured on the virtual board's NOR model: median 54 ms, max 118 ms).
        A rep the log could not take (full) plays the log-full cue, once."""
        pending = self.pending
        refused = False
        while pending and n > 0:
            n -= 1
            kind, args = pending.pop(0)
            if kind == "s":
                self._open_session(args)
            else:
                self.pending_reps -= 1
                if not self.log.add_rep(*args):
                    refused = True
            self.board.feed()
        if refused and self.engine.player.pattern is None:
            self._play(cues.LOG_FULL_CUE)

    def _begin_session(self):
        """A new session from this rep on; its header is written with the rep (`flush`)."""
        battery_pct = None
        if self.battery is not None and self.battery.present():
            battery_pct = percent(self.battery.mv)
        self.pending.append(
            ("s", (hal.rtc_datetime(), time.ticks_ms(), self.engine.reps.has_imu, battery_pct))
        )
        self.session_open = True
        self.engine.reps.rebase()

    def _open_session(self, args):
        rtc, ticks_ms, has_imu, battery_pct = args
        self.log.begin_session(
            self.device_id,
            FIRMWARE,
            self.config_hash,
            self.patient,
            rtc,
            ticks_ms,
            has_imu,
            battery_pct=battery_pct,
        )

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

    # ---- the loop ----

    async def run(self):
        """Step on every tick until a step raises; then raise that (main.py: `crash`). The
        task itself only waits, so the host's Ctrl-C lands in asyncio's wait, as before."""
        self._failed = asyncio.ThreadSafeFlag()
        self._clock = Clock(time.ticks_ms, time.ticks_diff)
        self.board.take_watchdog()
        self.board.tone(self.engine.player.freq_hz)  # a cue played at boot (the warble)
        self.run_ms = time.ticks_ms()
        self._timer = hal.tick_timer(TICK_MS, self._on_tick)
        await self._failed.wait()
        fault = self._fault
        if fault is not None:
            raise fault

    def _on_tick(self, _timer):
        """The timer's soft callback: one step. An exception here would be printed and
        dropped by the scheduler (mp_sched_run_pending calls it protected), so it is kept and
        handed to `run`, which raises it: a bug or MemoryError goes to main.py's `crash`, and
        a Ctrl-C that the VM raised inside the callback still stops the loop."""
        clock, timer, failed = self._clock, self._timer, self._failed
        if self._fault is not None or clock is None or timer is None or failed is None:
            return
        try:
            self.step(clock.dt_ms())
            self.ticks += 1
        except BaseException as exc:  # noqa: BLE001 - KeyboardInterrupt too
            self._fault = exc
            timer.deinit()
            failed.set()

    def stop(self):
        """The safe state once the loop has stopped (the host's Ctrl-C, a crash): silent, the
        watchdog back with the feed timer, every rep on flash, the log closed, drift saved."""
        if self._stopped:
            return
        self._stopped = True
        self.stop_ms = time.ticks_ms()
        if self._timer is not None:
            self._timer.deinit()
        self.board.quiet()
        self.board.keep_fed()  # first: the writes below may take a while
        self.flush()
        self.log.close()
        self.drift.save()
        self._save_course()  # the set's reps so far count after a boot


# Modules that only boot needs: the config's validation, the log's decoder (the log's
# recovery) and the clock chip's driver. Dropped once the app is built, so the collector frees
# their bytecode (the names they interned stay); a host call that imports one later loads it
# afresh.
_BOOT_ONLY = ("config", "logread", "rtc8563")


def _boot():
    """Load the config, set the clock, open the board and the log, build the App. A function
    of its own, so nothing boot made stays referenced from `main`'s frame while the loop runs.
    Each boot-only module is dropped as soon as it has served (`_BOOT_ONLY`), so boot's peak
    heap holds one of them at a time. The watchdog stays with boot.py's timer until the loop
    starts (`App.run`), so a boot that raises, or a long log recovery, does not reset the
    board."""
    from dowel import config
    from dowel.battery import Monitor

    gc.collect()  # the imports' garbage: the config's read and parse need a few KB whole
    cfg, reason = config.load()
    if reason:
        print("@dowel config_rejected " + reason)
    cfg_hash = config.config_hash(cfg)
    config = None
    _forget("config")
    board = hal.Board(watchdog_on=True)
    dt = hal.find_rtc()
    if dt is not None:
        hal.set_rtc(dt)  # the PCF8563 kept the date while the dowel was off
    _forget("rtc8563")
    gc.collect()
    log = Log(root="/logs")
    _forget("logread")
    gc.collect()
    app = App(board, cfg, reason, log, hal.unique_id(), Monitor(), cfg_hash)
    imu = board.imu
    print(
        "@dowel boot firmware=%s imu=%s who_am_i=0x%02x rtc=%d config=%s patient=%s"
        % (
            FIRMWARE,
            imu.name if imu is not None else "none",
            imu.who_am_i if imu is not None else 0,
            dt is not None,
            "rejected" if reason else "ok",
            cfg["patient"],
        )
    )
    return app


def _forget(name):
    sys.modules.pop("dowel." + name, None)
    package = sys.modules["dowel"]
    if hasattr(package, name):
        delattr(package, name)  # `from dowel import config` also bound it on the package


async def main():
    """Boot and run the loop. A boot that raises leaves the board at the REPL with the reason
    on flash (`dowel.fault`) and boot.py's timer feeding the watchdog. /main.py runs this
    inside `try`: `stop` and `crash` below give every way out its safe state. The App is kept
    as `running.app`, where the host's calls find it after their Ctrl-C."""
    try:
        app = _boot()
    except Exception as exc:  # noqa: BLE001 - any boot failure: stay reachable, say why
        from dowel import fault

        fault.record("boot", exc)
        return
    running.app = app
    for name in _BOOT_ONLY:
        _forget(name)
    gc.collect()
    await app.run()


def stop():
    """/main.py's `finally`: the loop stopped, by the host's Ctrl-C (a KeyboardInterrupt
    leaves `asyncio.run` at once and the task's own `finally` never runs:
    extmod/asyncio/core.py catches only Exception) or by a crash."""
    app = running.app
    if app is not None:
        app.stop()


def crash(exc):
    """A MemoryError or a bug in the loop: the safe state, the reason on flash, a reset (the
    dowel starts again by itself; the host shows the reason, `dowel.fault.last`)."""
    stop()
    gc.collect()  # the loop's frames are gone: room to format the reason
    from dowel import fault

    fault.record("loop", exc)
    hal.reset()
