"""The garbage collector and the timer thread (the `machine.Timer` hardware): the 10 ms tick
must not cut short the GC's wait for that thread to scan its stack (host_tools/vboard/launch.py
says why). With the tick interrupting that wait, this churn crashed the interpreter within a
second, every run; on CI a qstr of a loaded module read back as garbage."""

from __future__ import annotations

import pytest

from host_tools.vboard.interp import run_micropython

from .conftest import need_interpreter

pytestmark = pytest.mark.vboard

CHURN = """
import gc, machine, time
NAMES = ("loss", "warning", "faded", "bandwidth")
fired = [0]
def cb(t):
    fired[0] += 1
machine.Timer(0).init(period=1, mode=machine.Timer.PERIODIC, callback=cb)
junk = []
t0 = time.ticks_ms()
for i in range(60000):
    if i % 10 == 0:
        exec("q_%d_z = 1" % i, {})  # a new qstr: the kind the CI run lost
    junk.append(bytearray(64 + i % 200))
    if len(junk) > 300:
        junk = []
    if i % 20 == 0:
        gc.collect()
    if NAMES != ("loss", "warning", "faded", "bandwidth"):
        print("corrupt at", i, repr(NAMES))
        break
else:
    print("intact", fired[0] > 0, time.ticks_diff(time.ticks_ms(), t0) > 50)
"""


def test_collections_while_the_timer_thread_runs_keep_the_heap_intact():
    need_interpreter()
    out = run_micropython(CHURN, device_dir=False, heap_kb=2048, timeout=120)
    assert out == "intact True True\n"
