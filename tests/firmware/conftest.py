"""Fixtures for the firmware's fault tests on the virtual board: the fixtures and the real
mpremote of tests/vboard/conftest.py, plus a board running the deployed firmware."""

from __future__ import annotations

import time

import pytest

from tests.vboard.conftest import dowel_home, flash, mpremote, need_interpreter  # noqa: F401


def board_exec(port: str, code: str, timeout: float = 30) -> str:
    """Run `code` on the board with the real mpremote (Ctrl-C, soft reset into the raw REPL)."""
    return mpremote(port, "exec", code, timeout=timeout).stdout


def deploy_firmware(board, files: dict[str, str] | None = None) -> None:
    """`dowel flash` onto the board, then write `files` ({path: text}); the link's close
    soft-resets, and a hard reset boots into main.py (friendly REPL) with them."""
    from host_tools.deploy import deploy
    from host_tools.link import Link

    link = Link.open(board.port)
    try:
        deploy(link)
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


@pytest.fixture
def board(flash):  # noqa: F811
    need_interpreter()
    from host_tools.vboard import VirtualBoard

    b = VirtualBoard.start(flash_dir=flash)
    try:
        yield b
    finally:
        b.stop()
