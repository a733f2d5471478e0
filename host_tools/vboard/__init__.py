"""The virtual dowel board: the real firmware on MicroPython's own unix port, booted and wired
as an ESP32_GENERIC (littlefs flash, the 100 Hz tick, Ctrl-C as a pending exception, the ESP32's
heap), with a simulated `machine` fed by a simulated patient, on a serial port the real
`mpremote` uses unchanged (vboard/README.md).

    from host_tools.vboard import VirtualBoard, running_port
    with VirtualBoard.start() as board:
        print(board.port)             # mpremote connect PORT ...

    from host_tools.vboard.interp import run_micropython
    run_micropython("import dowel.contact; print('ok')")   # one-shot, no serial port

Modules: `client` (VirtualBoard), `daemon` (the serial port, the board process and the hardware
around it), `launch` (the interpreter with the FreeRTOS tick), `interp` (one-shot runner),
`flashimg` (a flash image's files, from the host), `state` (state directories and locks). The
board's own side (its `machine`, boot, flash) lives in `vboard/py/` at the top of the checkout.
"""

from host_tools.vboard.client import VirtualBoard, running_port

__all__ = ["VirtualBoard", "running_port"]
