"""Fixtures for the firmware's fault tests on the virtual board: the fixtures and the real
mpremote of tests/vboard/conftest.py, plus a board running the deployed firmware."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.vboard.conftest import (  # noqa: F401
    calibrated_config,
    dowel_home,
    flash,
    mpremote,
    need_interpreter,
)


def board_exec(port: str, code: str, timeout: float = 30) -> str:
    """Run `code` on the board with the real mpremote (Ctrl-C, soft reset into the raw REPL)."""
    return mpremote(port, "exec", code, timeout=timeout).stdout


def deploy_firmware(board, files: dict[str, str] | None = None) -> None:
    """`dowel flash` onto the board, then write `files` ({path: text}); the link's close
    soft-resets, and a hard reset boots into main.py (friendly REPL) with them.
    `$FIRMWARE_TEST_SRC` deploys another firmware tree (an older one: do the tests fail?)."""
    import tempfile

    from host_tools.board.link import Link
    from host_tools.firmware.deploy import deploy

    src = os.environ.get("FIRMWARE_TEST_SRC")
    # A build folder of its own: the shared build/device is emptied by every other deploy.
    build = Path(tempfile.mkdtemp(prefix="dowel-fw-build-"))
    link = Link.open(board.port)
    try:
        deploy(link, build, src=Path(src) if src else None)
        for path, text in (files or {}).items():
            link.exec(f"with open({path!r}, 'w') as f:\n    f.write({text!r})\n")
    finally:
        link.close()
    board.reset()
    wait_mode(board, "main")


def wait_mode(board, mode: str, timeout: float = 15) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        st = board.status()
        if st.get("board_pid") and st.get("mode") == mode:
            return st
        time.sleep(0.05)
    raise AssertionError(f"the board never reached {mode!r}: {board.status()}")


# Some of these tests replace a firmware module with Python source (a slowed decoder, a
# planted fault), which the board compiles in its heap: more room than the .mpy firmware
# needs. The ESP32's own heap (the default) is exercised by tests/vboard/test_firmware_loop.py
# and measured by `make bench`.
HEAP_KB = 160


@pytest.fixture
def board(flash):  # noqa: F811
    need_interpreter()
    from host_tools.vboard import VirtualBoard

    b = VirtualBoard.start(flash_dir=flash, heap_kb=HEAP_KB)
    try:
        yield b
    finally:
        b.stop()


class ConsoleReader:
    """The board's console, read from its serial port while the loop runs (the daemon drops
    output while nobody has the port open, as a USB-serial bridge does)."""

    def __init__(self, port: str):
        import tty

        self.fd = os.open(port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self.fd)
        self.buf = b""

    def read_for(self, seconds: float) -> bytes:
        import select

        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            if select.select([self.fd], [], [], left)[0]:
                try:
                    self.buf += os.read(self.fd, 65536)
                except BlockingIOError:
                    pass
        return self.buf

    def close(self) -> None:
        os.close(self.fd)


def device_source(path: str) -> str:
    return (Path(__file__).resolve().parents[2] / "device" / path).read_text()
