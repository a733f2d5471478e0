"""Item 3 of issue 12: a boot that raises (here: the log's decoder is broken, so the log's
recovery fails) leaves the board at the REPL, reachable by the host, with boot.py's timer
feeding the watchdog and the reason kept on flash for `dowel selftest` / `config show`."""

from __future__ import annotations

import time

import pytest

from tests.device_on_vboard.conftest import deploy_firmware, device_source, mpremote, wait_mode

pytestmark = pytest.mark.vboard


def _write(path, text):
    path.write_text(text)
    return path


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


def test_a_log_recovery_longer_than_the_watchdog_does_not_reset_the_board(board, tmp_path):
    """With both state files lost every segment is decoded at boot, in pure Python: on an
    ESP32 that can take longer than the 5 s watchdog. boot.py's feed timer keeps feeding
    until the loop starts, so a slow recovery (here: a decoder slowed to 6 s) finishes."""
    slow = device_source("dowel/logread.py") + (
        "\n_decode = decode\n_slow = [True]\n\n\n"
        "def decode(*args, **kwargs):\n"
        "    import time\n"
        "    t0 = time.ticks_ms()\n"
        "    while _slow[0] and time.ticks_diff(time.ticks_ms(), t0) < 6000:\n"
        "        pass\n"
        "    _slow[0] = False\n"
        "    return _decode(*args, **kwargs)\n"
    )
    # A segment for the recovery to decode, and no state files.
    seed = (
        "from dowel.logstore import Log\n"
        "log = Log(root='/logs')\n"
        "log.begin_session(b'\\x00' * 6, '0', 'h', 'P-1', None, 0, False)\n"
        "log.add_rep(0, 0, 4000, 0, 0, None, None, None, None, None, None)\n"
        "log.close()\n"
        "import os\n"
        "for n in ('state0.json', 'state1.json'):\n"
        "    try:\n"
        "        os.remove('/logs/' + n)\n"
        "    except OSError:\n"
        "        pass\n"
    )
    deploy_firmware(board, {"/seed.py": seed})
    mpremote(board.port, "exec", "exec(open('/seed.py').read())")
    mpremote(
        board.port, "fs", "cp", str(_write(tmp_path / "logread.py", slow)), ":/dowel/logread.py"
    )
    board.idle()
    board.reset()
    wait_mode(board, "main")
    time.sleep(9.0)  # the 6 s recovery, then the loop
    resets = [r for r in board.status()["resets"] if r[0] >= 0]
    assert [why for _, why in resets] == ["hard"], f"the board reset during boot: {resets}"
    assert board.status()["mode"] == "main"
    out = mpremote(board.port, "resume", "exec", "import dowel.running as r; print(r.app.ticks)")
    assert int(out.stdout.split()[-1]) > 0
