"""Run code once on the real MicroPython interpreter (WebAssembly, Node), no serial port.

    out = run_micropython("import dowel.contact\\nprint(dowel.contact.LOST)")   # '1\\n'
    run_micropython("import micropython\\nmicropython.heap_lock()\\nstep()", files={...})

The interpreter gets the simulated `machine` (an idle patient: the dowel lies on a table), the
files of `device/` at the root of its filesystem (`import dowel` works, as on the board) unless
`device_dir=False`, plus `files` ({path on the board: bytes or str}). It prints bare "\\n", as
the interpreter does. One Node process per call (~0.1 s). If the code calls
`asyncio.run(main())`, the call returns when main ends.

Memory: the interpreter starts with a `heap_kb` heap but this port grows it on demand, so a
MemoryError is not a size check here; `micropython.heap_lock()` works as on a board (any
allocation raises MemoryError), and `gc.mem_alloc()` after `gc.collect()` measures live bytes.
"""

from __future__ import annotations

import base64
import json
import subprocess

from host_tools.paths import device_dir as _device_dir
from host_tools.vboard.node import node_command, vboard_js_dir


class MicroPythonError(RuntimeError):
    """The code raised on the interpreter; the message is its traceback, `.output` its stdout."""

    def __init__(self, traceback: str, output: str = ""):
        super().__init__(traceback)
        self.traceback = traceback
        self.output = output


def device_files() -> dict[str, bytes]:
    """The files of `device/` keyed by their path on the board (dowel/contact.py, main.py...)."""
    root = _device_dir()
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


def run_micropython(
    code: str,
    files: dict[str, bytes | str] | None = None,
    device_dir: bool = True,
    heap_kb: int = 128,
    timeout: float = 30,
    imu: bool = True,
) -> str:
    """Run `code` on MicroPython; return what it printed, or raise MicroPythonError."""
    board_files = device_files() if device_dir else {}
    for path, data in (files or {}).items():
        board_files[path.lstrip("/")] = data.encode() if isinstance(data, str) else data
    spec = {
        "code": code,
        "files": {p: base64.b64encode(d).decode() for p, d in board_files.items()},
        "heap_kb": heap_kb,
        "imu": imu,
    }
    try:
        proc = subprocess.run(
            [node_command(), str(vboard_js_dir() / "run.mjs")],
            input=json.dumps(spec).encode(),
            capture_output=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode(errors="replace")
        raise MicroPythonError(
            f"timed out after {timeout} s (a loop that never ends or never awaits?)", out
        ) from None
    out = proc.stdout.decode(errors="replace")
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip() or f"exit status {proc.returncode}"
        raise MicroPythonError(err, out)
    return out
