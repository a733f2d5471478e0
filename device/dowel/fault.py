"""The last fault that stopped the dowel's loop, kept on flash for the host: one line in
FAULT_PATH, `boot <reason>` (the boot raised: the board waits at the REPL) or `loop <reason>`
(a bug or MemoryError in the loop: the board was reset), with the ticks at the time.

    fault.record("loop", exc)      # the firmware: after the safe state, before the reset
    fault.last()                   # host call: 'loop MemoryError: ... ticks_ms=1234', or None
    fault.clear()                  # host call: shown to the user, forget it

Loaded only when a fault happens or the host asks, so its bytecode is not in RAM while the
loop runs.
"""

import sys
import time

from dowel import atomic

FAULT_PATH = "/fault.txt"


def reason(exc):
    """One line: the exception and where it was raised (the innermost frame)."""
    import io

    buf = io.StringIO()
    sys.print_exception(exc, buf)  # pyright: ignore[reportArgumentType] - a stream
    where = ""
    for line in buf.getvalue().split("\n"):  # pyright: ignore[reportAttributeAccessIssue]
        line = line.strip()
        if line.startswith("File "):
            where = line
    text = "%s: %s" % (type(exc).__name__, exc)
    return (text + " (" + where + ")" if where else text)[:200]


def record(kind, exc, path=FAULT_PATH):
    """Write `kind reason ticks_ms=...` whole (`dowel.atomic`) and print it on the console;
    return the line."""
    line = kind + " " + reason(exc)
    print("@dowel fault_stop " + line)
    try:
        atomic.write(path, "%s ticks_ms=%d\n" % (line, time.ticks_ms()))
    except OSError:
        pass  # a flash that refuses: the console line is all there is
    return line


def last(path=FAULT_PATH):
    """Host call: the last boot failure or crash (one line), or None."""
    try:
        with open(path) as f:
            return f.readline().strip() or None
    except OSError:
        return None


def clear(path=FAULT_PATH):
    """Host call: the host has shown the fault; forget it."""
    atomic.remove(path)
