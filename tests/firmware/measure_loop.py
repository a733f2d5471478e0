"""Loop cost on the native MicroPython interpreter (the unix port, x64): `App.step` on the real
`hal.Board` against a bare loop of the same three ADC reads and an LED pin write, best of a few
rounds, and the allocation of each under heap_lock. Not a test: run it and read the figures.

    .venv/bin/python -m tests.firmware.measure_loop [--plain]   # --plain: no @micropython.native
"""

from __future__ import annotations

import json

CODE = r"""
import gc, json, time, micropython, machine
from array import array
from dowel import config, hal, pinmap
from dowel.app import App

class NoLog:
    full = False
    def begin_session(self, *args, **kw):
        return 0
    def add_rep(self, *args):
        return True

board = hal.Board()
app = App(board, config.defaults(), None, NoLog(), b"\x00" * 6)
a0, a1, a2 = board._adc0, board._adc1, board._adc2
led = machine.Pin(pinmap.LED_PIN, machine.Pin.OUT)
out = array("H", [0, 0, 0])
N = 5000

def bare(n):
    for _ in range(n):
        out[0] = a0.read_u16()
        out[1] = a1.read_u16()
        out[2] = a2.read_u16()
        led.value(out[2] > 20000)

def step(n):
    for _ in range(n):
        app.step(5)

def empty(n):
    for _ in range(n):
        pass

def timed(fn):
    t0 = time.ticks_us()
    fn(N)
    return time.ticks_diff(time.ticks_us(), t0)

def locked(fn):
    gc.collect()
    micropython.heap_lock()
    try:
        fn(N)
        return "ok"
    except MemoryError:
        return "MemoryError"
    finally:
        micropython.heap_unlock()

for fn in (bare, step, empty):
    fn(2000)
best = {"bare": 1 << 30, "step": 1 << 30, "empty": 1 << 30}
for _ in range(7):
    for name, fn in (("bare", bare), ("step", step), ("empty", empty)):
        best[name] = min(best[name], timed(fn))
print(json.dumps({"us_per": {k: v / N for k, v in best.items()},
                  "locked": {"bare": locked(bare), "step": locked(step)}}))
"""


def _plain() -> dict[str, str]:
    """app.py and hal.py with their @micropython.native decorators taken out."""
    from host_tools.paths import device_dir

    files = {}
    for name in ("dowel/app.py", "dowel/hal.py"):
        text = (device_dir() / name).read_text()
        files[name] = "\n".join(
            line for line in text.split("\n") if line.strip() != "@micropython.native"
        )
    return files


def main() -> None:
    import sys

    from host_tools.vboard.interp import run_micropython

    files = _plain() if "--plain" in sys.argv else None
    out = run_micropython(CODE, files=files, imu=False, timeout=300)
    out = json.loads(out.strip().splitlines()[-1])
    us = out["us_per"]
    loop = us["empty"]
    step, bare = us["step"] - loop, us["bare"] - loop
    print(
        f"App.step {step:.2f} us, bare {bare:.2f} us (loop overhead {loop:.2f} us taken off "
        f"both): {step / bare:.2f}x; heap_lock: {out['locked']}"
    )


if __name__ == "__main__":
    main()
