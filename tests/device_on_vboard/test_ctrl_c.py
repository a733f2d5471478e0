"""Item 1 of issue 12: the host's Ctrl-C lands in asyncio's wait, where the loop task's own
`finally` never runs; /main.py's `finally` (`dowel.app.stop`) must still leave the safe state:
the buzzer silent and the watchdog fed by boot.py's timer while the host uses the REPL."""

from __future__ import annotations

import time

import pytest

from tests.device_on_vboard.conftest import deploy_firmware, mpremote

pytestmark = pytest.mark.vboard


def test_ctrl_c_mid_cue_leaves_the_board_silent_and_fed(board):
    # A rejected config: the warble plays for its first second after boot.
    deploy_firmware(board, {"/dowel.json": '{"version": 1, "loss_ms": 5}'})
    board.idle()  # outputs recorded from here
    end = time.monotonic() + 5
    while not any(hz for _, _, hz in board.outputs(("tone",))):
        assert time.monotonic() < end, "the warble never started"
        time.sleep(0.02)
    # `resume`: Ctrl-C and the raw REPL without a soft reset, which would stop the PWM itself.
    mpremote(board.port, "resume", "exec", "print('hello')")
    tones = board.outputs(("tone",))
    assert any(hz for _, _, hz in tones), "the Ctrl-C came after the warble: no test"
    assert tones[-1][2] == 0, f"the buzzer still sounds after Ctrl-C: {tones[-4:]}"
    time.sleep(7.0)  # idle at the REPL for longer than the 5 s watchdog (hal.WDT_MS)
    resets = [r for r in board.status()["resets"] if r[0] >= 0]  # since idle()
    assert resets == [], f"the board reset under the host: {resets}"
    assert board.outputs(("tone",))[-1][2] == 0
    out = mpremote(board.port, "resume", "exec", "import dowel.running as r; print(r.app.ticks)")
    assert int(out.stdout.split()[-1]) > 0  # the loop had run, and its App is still there
