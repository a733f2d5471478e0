"""The firmware on a running virtual board (issue 11): boot time, loop rate, heap, log appends.

    rows = run(quick=False)    # [(figure, value, compared against, target)], printed by -m bench

A real `VirtualBoard` (host_tools.vboard: the MicroPython unix port with the ESP32's 10 ms
FreeRTOS tick, its littlefs flash image and its heap) gets the firmware as `dowel flash` puts
it there (`host_tools.firmware.deploy`), plus a probe: `/bench_probe.py`, imported by
`/main.py` before
the firmware's own two lines, wraps `dowel.app._boot` and `App.step` to note the time (the
board's `time.ticks_us`, CLOCK_MONOTONIC as the daemon's clock) of the end of boot, of the first
and of every tick, and prints one `@bench probe {...}` console line once the window is over:
- boot time: from power-on (the daemon starting the board's interpreter after a power cycle,
  its "boot" output) to the first App.step, and to the `@dowel boot` console line;
- loop rate: App.step calls per second over the window, on the board's 10 ms tick;
- heap: `gc.mem_free()`/`gc.mem_alloc()` after a collection, the loop running, against what
  the board itself used before boot.py and against the ESP32_GENERIC's heap;
then, with the loop stopped by the host's Ctrl-C (mpremote's raw REPL), `appends` calls of the
real `dowel.logstore.Log.add_rep` (what a rep end writes, flushed) on the board's littlefs,
each timed on the board.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from host_tools.paths import device_dir

ESP32_HEAP_BYTES = 111936  # 56 KiB area grown once (PR #13219; docs/esp32-facts.md section 3)
ESP32_BOOT_USED_BYTES = 1536  # "~1.5 KB used after boot" (docs/esp32-facts.md section 3)
TARGET_RATE_HZ = 200  # issue 12: sampling at >= 200 Hz with the 100 Hz tick
TARGET_FIRMWARE_HEAP_BYTES = 24 * 1024  # bench/run.py TARGET_HEAP_BYTES
TICK_MS = 10  # the board's FreeRTOS tick (host_tools/vboard/launch.py TICK_S)

PROBE = r'''"""bench/board.py's probe: the times of boot's end and of every App.step."""
import gc
import time

from dowel import app as _app

_WINDOW_US = %(window_us)d
_t = [0, 0, 0, 0, 0]  # boot done, first tick, last tick (us), ticks, reported
_step = _app.App.step
_boot = _app._boot


def _boot_probe():
    a = _boot()
    _t[0] = time.ticks_us()
    return a


def _step_probe(self, dt_ms):
    now = time.ticks_us()
    n = _t[3]
    if n == 0:
        _t[1] = now
    elif not _t[4] and time.ticks_diff(now, _t[1]) >= _WINDOW_US:
        _t[4] = 1
        gc.collect()
        print("@bench probe " + repr([_t[0], _t[1], _t[2], n, gc.mem_free(), gc.mem_alloc()]))
    if not _t[4]:
        _t[2] = now
        _t[3] = n + 1
    return _step(self, dt_ms)


_app._boot = _boot_probe
_app.App.step = _step_probe
'''

# Run in the raw REPL with the loop stopped. The watchdog the firmware took over is fed by a
# timer meanwhile, as boot.py does (appends on littlefs can take longer than its 5 s in all).
APPENDS = r"""
import gc, json, os, time
from dowel import hal, logstore
hal.feed_in_background(hal.watchdog())
_root = "/bench_logs"
_log = logstore.Log(root=_root)
_log.begin_session(b"\x01" * 6, "0.1.0", b"\x01" * 8, "P-0001", None, 0, True)
_us = []
_t = 0
for _i in range(%(appends)d):
    _lost = _i %% 4 == 0
    _t0 = time.ticks_us()
    _ok = _log.add_rep(_i, _t, 4500, 4 if _lost else 0, 3 if _lost else 0,
                       2000 if _lost else None, 300 if _lost else None, 650, 1800, 700, 2000)
    _us.append(time.ticks_diff(time.ticks_us(), _t0))
    _t += 7000
_log.close()
_size = sum(os.stat(_root + "/" + n)[6] for n in os.listdir(_root) if n.endswith(".dwl"))
for _n in os.listdir(_root):
    os.remove(_root + "/" + _n)
os.rmdir(_root)
_us.sort()
print(json.dumps({"n": len(_us), "median_us": _us[len(_us) // 2], "worst_us": _us[-1],
                  "p99_us": _us[len(_us) * 99 // 100], "bytes": _size, "ok": _ok}))
"""


class BoardBenchError(RuntimeError):
    pass


class NoLoop(BoardBenchError):
    """The board started and was flashed, but the firmware's loop never ticked."""


def _read_until(ser, marker: bytes, timeout: float) -> tuple[bytes, dict[bytes, float]]:
    """Console bytes until `marker` arrives; the host's monotonic time (s) each line came."""
    seen: dict[bytes, float] = {}
    buf = b""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        chunk = ser.read(4096)
        if not chunk:
            continue
        now = time.monotonic()
        start = len(buf)
        buf += chunk
        for line in buf[max(0, buf.rfind(b"\n", 0, start) + 1) :].split(b"\n"):
            key = line.split(b" ", 2)[0:2]
            if line.startswith(b"@") and len(key) == 2:
                seen.setdefault(b" ".join(key), now)
        if marker in buf and buf.endswith(b"\n"):
            return buf, seen
    tail = [x for x in buf.decode(errors="replace").splitlines() if x.strip()][-4:]
    raise NoLoop(
        f"no {marker.decode()!r} on the console within {timeout:.0f} s"
        + (f"; its last lines: {' / '.join(x.strip() for x in tail)[:300]}" if tail else "")
    )


def measure(window_s: float = 5.0, appends: int = 1000) -> dict:
    """Start a board, flash the firmware and the probe, power-cycle it, and measure."""
    import serial

    from host_tools.board.link import Link
    from host_tools.firmware.deploy import deploy
    from host_tools.vboard.client import VirtualBoard, request

    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="dowel-bench-board-") as tmp:
        with VirtualBoard.start(flash_dir=Path(tmp) / "flash.img", name="bench-board") as board:
            with Link.open(board.port) as link:
                deploy(link, Path(tmp) / "build")
                probe = PROBE % {"window_us": int(window_s * 1e6)}
                link.transport.fs_writefile("/bench_probe.py", probe.encode())
                main = b"import bench_probe\n" + (device_dir() / "main.py").read_bytes()
                link.transport.fs_writefile("/main.py", main)
                # The board's clock against the host's (both CLOCK_MONOTONIC here).
                h0 = time.monotonic_ns() // 1000
                board_us = int(link.exec("import time\nprint(time.ticks_us())").strip())
                h1 = time.monotonic_ns() // 1000
            # One clock when the board's reading falls inside the host's bracket.
            skew = board_us - (h0 + h1) // 2
            out["clock_skew_us"] = 0 if abs(skew) <= (h1 - h0) // 2 + 1000 else skew
            out["clock_bracket_us"] = h1 - h0
            out["boot_heap"] = board.status().get("heap")
            with serial.Serial(board.port, 115200, timeout=0.05) as ser:
                board.idle()  # the dowel on a table; outputs' times from now
                board.power_cycle()
                text, seen = _read_until(ser, b"@bench probe", window_s + 30)
            rows = request(board.control, {"op": "outputs"})
            boots = [t for t, kind, _ in rows["outputs"] if kind == "boot"]
            if not boots:
                raise BoardBenchError("the board recorded no power-on")
            power_on_us = rows["t0_us"] + boots[-1] * 1000
            line = next(x for x in text.splitlines() if x.startswith(b"@bench probe"))
            boot_done, first, last, ticks, free, alloc = json.loads(line.split(b" ", 2)[2])
            skew = out["clock_skew_us"]
            out["boot_to_first_tick_ms"] = (first - skew - power_on_us) / 1000
            out["boot_to_boot_done_ms"] = (boot_done - skew - power_on_us) / 1000
            if b"@dowel boot" in seen:
                out["boot_to_console_ms"] = seen[b"@dowel boot"] * 1000 - power_on_us / 1000
            out["ticks"] = ticks
            out["window_ms"] = (last - first) / 1000
            out["rate_hz"] = (ticks - 1) / ((last - first) / 1e6) if last > first else 0.0
            out["heap_free"] = free
            out["heap_alloc"] = alloc
            if appends:
                with Link.open(board.port) as link:
                    res = link.exec(APPENDS % {"appends": appends}, timeout=appends * 2 + 30)
                out["appends"] = json.loads(res.decode().strip().splitlines()[-1])
    return out


def run(quick: bool = False) -> list[tuple[str, str, str, str]]:
    from dowel import config

    from bench.run import met

    window_s, appends = (2.0, 200) if quick else (5.0, 1000)
    try:
        m = measure(window_s=window_s, appends=appends)
    except NoLoop as exc:  # a result, not a benchmark that could not run: the dowel is dead
        return [("boot: power-on to the loop's first tick", "never", str(exc), met(False))]
    loss_ms = config.defaults()["loss_ms"]
    rows = []
    console = m.get("boot_to_console_ms")
    rows.append(
        (
            "boot: power-on to the loop's first tick",
            f"{m['boot_to_first_tick_ms']:.0f} ms",
            f"end of _boot() {m['boot_to_boot_done_ms']:.0f} ms"
            + (f"; `@dowel boot` on the console {console:.0f} ms" if console else "")
            + "; power-on = the board's interpreter started",
            "-",
        )
    )
    rate = m["rate_hz"]
    rows.append(
        (
            f"loop rate, {TICK_MS} ms tick",
            f"{rate:.1f} Hz",
            f"{m['ticks']} App.step calls in {m['window_ms']:.0f} ms; the tick alone allows "
            f"{1000 // TICK_MS} Hz to a sleeping loop",
            # The 5 ms timer gives 200 Hz nominal; a window's count is within a step of it.
            f">= {TARGET_RATE_HZ} Hz (within 1%): {met(rate >= TARGET_RATE_HZ * 0.99)}",
        )
    )
    pre = m.get("boot_heap") or {}
    used0 = pre.get("used")
    share = m["heap_alloc"] - used0 if used0 is not None else None
    from host_tools.vboard.daemon import WORD_SCALE

    # The share in an ESP32's 32-bit bytes: this port's objects are bigger (daemon.WORD_SCALE).
    esp_share = round(share / WORD_SCALE) if share is not None else None
    esp_free = ESP32_HEAP_BYTES - ESP32_BOOT_USED_BYTES - esp_share if share is not None else None
    rows.append(
        (
            "heap free after boot, loop running",
            f"{m['heap_free']} B free, {m['heap_alloc']} B in use",
            (
                f"the board before boot.py: {pre.get('free')} B free, {used0} B in use (its "
                f"simulated machine); the firmware's share {share} B"
                if share is not None
                else "the board's own figure before boot.py is not reported"
            ),
            "-",
        )
    )
    if esp_free is not None:
        rows.append(
            (
                "  the same firmware on an ESP32_GENERIC",
                f"~{esp_free} B free",
                f"ESP32 heap {ESP32_HEAP_BYTES} B (56 KiB grown once, PR #13219) - "
                f"~{ESP32_BOOT_USED_BYTES} B MicroPython's own - the firmware's ~{esp_share} B "
                f"({share} B here / {WORD_SCALE}, docs/esp32-facts.md section 3)",
                f"firmware share <= {TARGET_FIRMWARE_HEAP_BYTES // 1024} KB: "
                f"{met(esp_share <= TARGET_FIRMWARE_HEAP_BYTES)}",
            )
        )
    a = m.get("appends")
    if a:
        worst_ms = a["worst_us"] / 1000
        budget = loss_ms + TICK_MS
        rows.append(
            (
                f"log append at a rep end, littlefs ({a['n']})",
                f"median {a['median_us'] / 1000:.1f} ms, p99 {a['p99_us'] / 1000:.1f} ms, "
                f"worst {worst_ms:.1f} ms",
                f"Log.add_rep + flush, {a['bytes']} B written; the loss window loss_ms "
                f"{loss_ms} + one tick = {budget} ms",
                f"worst <= {budget} ms: {met(worst_ms <= budget)}",
            )
        )
        rows.append(
            (
                "  a loss at a rep end, if the rep were written then",
                f"<= {loss_ms + worst_ms + TICK_MS:.0f} ms",
                f"loss_ms {loss_ms} + the worst append + one tick: why the firmware keeps reps "
                f"in RAM until the dowel is put down (app.PENDING_MAX), so no append ever "
                "meets a dip; measured loss-to-buzzer: "
                "tests/device_on_vboard/test_cue_latency.py",
                "-",
            )
        )
    return rows
