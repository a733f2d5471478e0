"""Where a virtual board keeps its state, and how to tell whether it runs.

    sd = state_dir("default")        # <data dir>/vboard/default
    info = read_state("default")     # {"pid", "node_pid", "port", "control", ...} or None

One directory per board name holds: `flash/` (the default flash), `tty` (a symlink to the
board's pseudo-terminal: the port), `state.json` (written once the board is up, removed when it
stops), `lock` (held by the running daemon with flock, so a second board on the same name, or on
the same flash directory, is refused), `board.log` (daemon and interpreter log).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
from pathlib import Path

from host_tools.paths import data_dir

DEFAULT_NAME = "default"


def vboard_root() -> Path:
    return data_dir() / "vboard"


def state_dir(name: str = DEFAULT_NAME) -> Path:
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"bad virtual board name {name!r}")
    path = vboard_root() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_flash_dir(name: str = DEFAULT_NAME) -> Path:
    return state_dir(name) / "flash"


def control_path(sdir: Path) -> str:
    """The control socket's path; AF_UNIX paths are limited to 107 bytes."""
    path = str(sdir / "control.sock")
    if len(path.encode()) < 100:
        return path
    digest = hashlib.sha1(str(sdir).encode()).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), f"dowel-vb-{os.getuid()}-{digest}.sock")


def unique_id(flash_dir: Path) -> str:
    """Six bytes fixed per flash directory, with Espressif's OUI as an ESP32 MAC has."""
    digest = hashlib.sha256(str(Path(flash_dir).resolve()).encode()).hexdigest()
    return "240ac4" + digest[:6]


def try_lock(path: Path) -> int | None:
    """flock `path` (a file or a directory) exclusively; the fd, or None if someone holds it."""
    if path.is_dir():
        fd = os.open(path, os.O_RDONLY)
    else:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def is_locked(path: Path) -> bool:
    if not path.exists():
        return False
    fd = try_lock(path)
    if fd is None:
        return True
    os.close(fd)
    return False


def pid_alive(pid: int | None) -> bool:
    """True for a live process; False for none or a zombie (exited, not yet reaped)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] != "Z"


def read_state(name: str = DEFAULT_NAME) -> dict | None:
    """The running board's state, or None when no board of that name runs."""
    sdir = vboard_root() / name
    try:
        info = json.loads((sdir / "state.json").read_text())
    except (OSError, ValueError):
        return None
    if not is_locked(sdir / "lock") or not pid_alive(info.get("pid")):
        return None
    return info


def write_state(sdir: Path, info: dict) -> None:
    tmp = sdir / "state.json.tmp"
    tmp.write_text(json.dumps(info, indent=2))
    os.replace(tmp, sdir / "state.json")
