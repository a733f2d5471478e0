"""Fixtures for the virtual board tests: a private data dir, a fresh flash, a running board,
the real mpremote CLI, and a pseudo-terminal console to drive `mpremote repl`."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

MPREMOTE = str(Path(sys.executable).with_name("mpremote"))


@pytest.fixture(autouse=True)
def dowel_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("DOWEL_HOME", str(home))
    return home


def need_interpreter() -> None:
    from host_tools.errors import DeviceError
    from host_tools.vboard.interp import require_interpreter

    try:
        require_interpreter()
    except DeviceError as exc:
        pytest.skip(str(exc))


@pytest.fixture
def flash(tmp_path) -> Path:
    path = tmp_path / "flash"
    path.mkdir()
    return path


@pytest.fixture
def board(flash):
    need_interpreter()
    from host_tools.vboard import VirtualBoard

    b = VirtualBoard.start(flash_dir=flash)
    try:
        yield b
    finally:
        b.stop()


def flash_file(board_or_flash, path: str) -> bytes:
    """A file of the board's littlefs image, read from the host (host_tools.vboard.flashimg)."""
    from host_tools.vboard import flashimg

    where = getattr(board_or_flash, "flash_dir", board_or_flash)
    return flashimg.read(where, path)


def put(board, path: str, data: bytes | str, tmp_dir: Path) -> None:
    """Write a file on the running board with `mpremote fs cp`, as a developer would."""
    local = tmp_dir / ("put-" + path.replace("/", "_"))
    local.write_bytes(data.encode() if isinstance(data, str) else data)
    mpremote(board.port, "fs", "cp", str(local), ":" + path)


def wait_until(predicate, timeout: float = 5.0, what: str = "condition"):
    """Poll `predicate` until it returns something true (returned), or fail after `timeout`."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def calibrated_config(build: str | dict = "average", patient: str = "P-FW") -> str:
    """/dowel.json as `dowel calibrate` would set it for the simulated patient of `build` (a
    build's name, or a rendered timeline's `truth["build"]`)."""
    import json

    from dowel import config, points

    from host_tools.calibrate.rule import Stats, propose
    from host_tools.sim import render

    if isinstance(build, dict):
        levels = build
    else:
        levels = render({"build": build, "steps": [{"do": "released", "ms": 10}]}).truth["build"]
    zero = [Stats(level, 50, 0, 0, 100) for level in levels["zero_counts"]]
    contact = [Stats(level, 300, 0, 0, 100) for level in levels["contact_counts"]]
    proposal = propose(zero, contact)
    assert proposal.ok
    cfg = config.defaults()
    cfg["patient"] = patient
    for name, s in zip(points.NAMES, proposal.sensors, strict=True):
        cfg["sensors"][name].update(on=s.on, off=s.off, level=s.contact.level)
    return json.dumps(cfg)


def mpremote(port: str, *args: str, timeout: float = 30, check: bool = True):
    """Run the real mpremote CLI against `port`."""
    proc = subprocess.run(
        [MPREMOTE, "connect", port, *args], capture_output=True, text=True, timeout=timeout
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"mpremote {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


class Console:
    """A program run on a pseudo-terminal, as a person at a terminal would run it."""

    def __init__(self, *argv: str):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child
            os.execv(argv[0], list(argv))
        self.buf = b""
        self.status: int | None = None

    def expect(self, pattern: bytes, timeout: float = 10) -> bytes:
        """Read until `pattern`; return everything up to and including it."""
        end = time.monotonic() + timeout
        while pattern not in self.buf:
            left = end - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                raise AssertionError(f"{pattern!r} did not come; got {self.buf[-800:]!r}")
            try:
                chunk = os.read(self.fd, 4096)
            except OSError:
                chunk = b""
            if not chunk:
                raise AssertionError(f"{pattern!r}: the program ended; got {self.buf[-800:]!r}")
            self.buf += chunk
        i = self.buf.index(pattern) + len(pattern)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def wait_raw(self, timeout: float = 10) -> None:
        """Wait until the program has put its terminal in raw mode: before that the line
        discipline would eat Ctrl-D and turn Ctrl-C into SIGINT."""
        end = time.monotonic() + timeout
        while termios.tcgetattr(self.fd)[3] & termios.ICANON:
            if time.monotonic() > end:
                raise AssertionError("the program never put its terminal in raw mode")
            time.sleep(0.02)

    def send(self, data: bytes) -> None:
        os.write(self.fd, data)

    def close(self, timeout: float = 5) -> int | None:
        """Wait for the program to end (kill it after `timeout`); its exit status."""
        if self.pid is None:
            return self.status
        self.status = self._reap(timeout)
        self.pid = None
        return self.status

    def _reap(self, timeout: float) -> int | None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
            if select.select([self.fd], [], [], 0.05)[0]:
                try:
                    os.read(self.fd, 4096)
                except OSError:
                    pass
        os.kill(self.pid, 9)
        os.waitpid(self.pid, 0)
        os.close(self.fd)
        return None
