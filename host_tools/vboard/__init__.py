"""The virtual dowel board: the real firmware on the real MicroPython interpreter (WebAssembly,
run by Node), with a simulated `machine` fed by a simulated patient, on a serial port the real
`mpremote` uses unchanged.

    from host_tools.vboard import VirtualBoard, running_port
    with VirtualBoard.start() as board:
        print(board.port)             # mpremote connect PORT ...

    from host_tools.vboard.interp import run_micropython
    run_micropython("import dowel.contact; print('ok')")   # one-shot, no serial port

Modules: `client` (VirtualBoard), `daemon` (the pty bridge and board process supervisor),
`interp` (one-shot runner), `state` (state directories and locks), `node` (finding Node.js).
The JavaScript side lives in `vboard/` at the top of the checkout.
"""

from host_tools.vboard.client import VirtualBoard, running_port

__all__ = ["VirtualBoard", "running_port"]
