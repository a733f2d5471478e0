"""Finding Node.js and the MicroPython WebAssembly package the virtual board runs on."""

from __future__ import annotations

import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from host_tools.errors import DeviceError
from host_tools.paths import repo_root

PACKAGE = "@micropython/micropython-webassembly-pyscript"
MIN_NODE = 18


def vboard_js_dir() -> Path:
    return repo_root() / "vboard"


@lru_cache(maxsize=1)
def node_command() -> str:
    """The `node` executable, checked once: >= 18 and the interpreter package installed."""
    node = shutil.which("node")
    if node is None:
        raise DeviceError(
            f"the virtual board needs Node.js >= {MIN_NODE}, and `node` is not on PATH: "
            "install Node.js (https://nodejs.org), then run `make setup`."
        )
    try:
        version = subprocess.run(
            [node, "--version"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
        major = int(version.lstrip("v").split(".")[0])
    except (OSError, ValueError, subprocess.TimeoutExpired):
        major = 0
        version = "unknown"
    if major < MIN_NODE:
        raise DeviceError(
            f"the virtual board needs Node.js >= {MIN_NODE}, found {version}: upgrade Node.js."
        )
    if not (repo_root() / "node_modules" / PACKAGE / "micropython.mjs").exists():
        raise DeviceError(
            f"the MicroPython interpreter package ({PACKAGE}) is not installed: run "
            "`make setup` (or `npm ci` in the checkout)."
        )
    return node
