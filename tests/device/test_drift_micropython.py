"""`Drift.update` allocates nothing on MicroPython: run under `micropython.heap_lock()` on the
native MicroPython interpreter (the virtual board's)."""

import pytest

PROGRAM = """
import gc, micropython
from array import array
from dowel.drift import Drift

def main():
    d = Drift([20000, 30000, 40000], 25)
    r = array("H", [21000, 29000, 65535])
    d.update(r, 0)
    gc.collect()
    micropython.heap_lock()
    try:
        for k in range(5000):
            r[0] = 14000 + k % 7
            d.update(r, 1 + k % 60)
        m = d.moved()
    finally:
        micropython.heap_unlock()
    print("RESULT", d.current(0), d.current(1), d.current(2), m, d.armed_ms)

main()
"""


@pytest.mark.vboard
def test_update_allocates_nothing_on_micropython():
    interp = pytest.importorskip("host_tools.vboard.interp")
    try:
        out = interp.run_micropython(PROGRAM)
    except interp.MicroPythonError as exc:  # a MemoryError (an allocation under heap_lock)
        raise AssertionError(exc.traceback) from None
    result = [line for line in out.splitlines() if line.startswith("RESULT")]
    assert result, out[-500:]
    head, midback, sacrum, moved, armed_ms = (int(x) for x in result[0].split()[1:])
    assert 14000 <= head <= 14006 and midback == 29000 and sacrum == 65535
    assert moved == 0b101  # head -30 %, sacrum +64 %
    assert armed_ms > 100000
