"""Item 12 of issue 12: a host killed mid-command leaves the board in the raw REPL with the loop
stopped; with no host call for `/host_idle.txt` seconds the feed timer hard-resets it and the
dowel boots into its loop again by itself."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from tests.device_on_vboard.conftest import deploy_firmware, wait_mode
from tests.vboard.conftest import MPREMOTE

pytestmark = pytest.mark.vboard

IDLE_S = 3


def test_board_returns_to_its_loop_after_the_host_is_killed(board):
    deploy_firmware(board, {"/host_idle.txt": str(IDLE_S)})
    board.idle()
    host = subprocess.Popen(
        [MPREMOTE, "connect", board.port, "exec", "import time\nwhile True: time.sleep_ms(50)"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(2.0)  # in the raw REPL, running the host's command
    assert board.status()["mode"] == "repl"
    host.send_signal(signal.SIGKILL)
    host.wait()
    killed = board.elapsed_ms()
    st = wait_mode(board, "main", timeout=IDLE_S + 2 * 2.5 + 5)  # + the feed timer's period
    hard = [t for t, why in st["resets"] if why == "hard" and t >= killed - 2000]
    assert hard, f"no hard reset after the host went away: {st['resets']}"
    assert hard[0] - killed <= (IDLE_S + 2.5) * 1000 + 500
