"""Item 3 of issue 12: a boot that raises (here: the log's decoder is broken, so the log's
recovery fails) leaves the board at the REPL, reachable by the host, with boot.py's timer
feeding the watchdog and the reason kept on flash for `dowel selftest` / `config show`."""

from __future__ import annotations

import time

import pytest

from tests.firmware.conftest import deploy_firmware, mpremote, wait_mode

pytestmark = pytest.mark.vboard


def test_boot_that_raises_leaves_the_board_reachable_and_says_why(board):
    broken = 'raise RuntimeError("test: broken decoder")\n'
    deploy_firmware(board, {"/dowel/logread.py": broken})  # .py before .mpy on import
    board.idle()
    wait_mode(board, "repl", timeout=5)  # main.py ended: the REPL
    time.sleep(7.0)  # longer than the 5 s watchdog
    resets = [r for r in board.status()["resets"] if r[0] >= 0]
    assert resets == [], f"the board reset: {resets}"
    code = "from dowel import fault; print(repr(fault.last()))"
    out = mpremote(board.port, "exec", code).stdout.strip()
    assert out.startswith("'boot RuntimeError: test: broken decoder"), out
