"""Check the firmware the way the board will see it, before the test suite runs
(`scripts/test.sh`): every file in `device/` compiles with mpy-cross for the ESP32
(`-march=xtensawin`, MicroPython's own compiler: it rejects CPython-only syntax), and pyright
type-checks `device/` against micropython-esp32-stubs (`machine`, `micropython`, MicroPython's
`time`), not CPython's stdlib.

    python -m host_tools.firmware.check     # short summary; non-zero exit on any failure
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

from host_tools.errors import DowelError
from host_tools.firmware.build import compile_file, device_sources
from host_tools.paths import device_dir


def compile_all(src: Path) -> list[str]:
    """mpy-cross every .py under `src` (main.py too); return one message per failure."""
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        for rel in device_sources(src):
            try:
                compile_file(src / rel, Path(tmp) / rel.with_suffix(".mpy"), rel.as_posix())
            except DowelError as exc:
                failures.append(str(exc))
    return failures


def pyright_command(src: Path) -> list[str]:
    # --pythonpath: the venv, where the ESP32 stubs live; --typeshedpath: its site-packages,
    # whose stdlib/ is micropython-stdlib-stubs' reduced stdlib (device/pyrightconfig.json).
    site = sysconfig.get_paths()["purelib"]
    exe = Path(sys.executable)
    pyright = exe.with_name("pyright")
    head = [str(pyright)] if pyright.exists() else [str(exe), "-m", "pyright"]
    return head + ["-p", str(src), "--pythonpath", str(exe), "-t", site, "--outputjson"]


def type_check(src: Path) -> tuple[int, list[str]]:
    """(files checked, error lines) from pyright over `src`."""
    result = subprocess.run(pyright_command(src), capture_output=True, text=True)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        return 0, [f"pyright did not run: {(result.stderr or result.stdout).strip()[:500]}"]
    errors = []
    for d in report.get("generalDiagnostics", []):
        if d.get("severity") != "error":
            continue
        where = Path(d["file"]).relative_to(src.parent) if d.get("file") else "?"
        line = d.get("range", {}).get("start", {}).get("line", -1) + 1
        errors.append(f"{where}:{line}: {d['message']} ({d.get('rule', '')})")
    return report.get("summary", {}).get("filesAnalyzed", 0), errors


def main() -> int:
    src = device_dir()
    sources = device_sources(src)
    compile_failures = compile_all(src)
    print(
        f"firmware_check: mpy-cross -march=xtensawin: {len(sources) - len(compile_failures)}"
        f"/{len(sources)} files compile"
    )
    for failure in compile_failures:
        print("  " + failure.replace("\n", "\n  "))
    analyzed, type_errors = type_check(src)
    print(
        f"firmware_check: pyright (micropython-esp32-stubs): {analyzed} files, "
        f"{len(type_errors)} errors"
    )
    for error in type_errors:
        print("  " + error)
    failed = bool(compile_failures or type_errors)
    print("firmware_check: " + ("FAILED" if failed else "ok"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
