"""The firmware's faults and their safe states on a real dowel (issue 12), the same ones
tests/device_on_vboard/ checks on the virtual board: `pytest -m hardware --port /dev/ttyUSB0`.

They flash the firmware (`deploy`, only changed files) and leave the board's config and logs
as they were; the host-vanishes test shortens the idle reset for itself and puts it back."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.hardware

MPREMOTE = str(Path(sys.executable).with_name("mpremote"))


def mpremote(port: str, *args: str, timeout: float = 30) -> str:
    proc = subprocess.run(
        [MPREMOTE, "connect", port, *args], capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.fixture
def dowel(hardware_port, tmp_path):
    from host_tools.board.link import Link
    from host_tools.firmware.deploy import deploy

    with Link.open(hardware_port) as link:
        deploy(link, tmp_path / "build")
    time.sleep(3)  # the link's close soft-reset the board: the loop runs again
    return hardware_port


def uptime_ms(port: str) -> int:
    return int(mpremote(port, "resume", "exec", "import time; print(time.ticks_ms())").split()[-1])


def test_host_ctrl_c_leaves_the_watchdog_fed(dowel):
    """Item 1: after the host's Ctrl-C the loop's own `finally` never runs; main.py's must
    hand the watchdog back to boot.py's timer, or the board resets 5 s later."""
    before = uptime_ms(dowel)  # this Ctrl-C stopped the loop
    time.sleep(8.0)
    after = uptime_ms(dowel)
    assert after - before >= 8000, "the board reset under the host (ticks_ms started again)"


def test_loop_rate_is_200_hz(dowel):
    """Item 5: a 5 ms machine.Timer steps the loop; asyncio sleeps would end on the 100 Hz tick."""
    time.sleep(4.0)
    code = (
        "import time, dowel.running as r; c = r.app\n"
        "print(c.ticks, time.ticks_diff(c.stop_ms, c.run_ms))"
    )
    ticks, ms = (int(x) for x in mpremote(dowel, "resume", "exec", code).split()[-2:])
    assert ticks * 1000 / ms >= 196


def test_a_rejected_config_keeps_the_loop_and_says_why(dowel, tmp_path):
    """Item 10: a config the board refuses means defaults and the warble, never a dead loop."""
    saved = tmp_path / "dowel.json"
    have = (
        subprocess.run(
            [MPREMOTE, "connect", dowel, "fs", "cp", ":/dowel.json", str(saved)],
            capture_output=True,
            timeout=30,
        ).returncode
        == 0
    )
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"\xff\xfe binary")
    try:
        mpremote(dowel, "fs", "cp", str(bad), ":/dowel.json")
        mpremote(dowel, "soft-reset")
        time.sleep(3)
        code = "import dowel.running as r; print(r.app is not None, r.app.ticks > 0)"
        assert mpremote(dowel, "resume", "exec", code).split()[-2:] == ["True", "True"]
        from host_tools import cli

        assert cli.main(["config", "show", "--port", dowel]) == 0
    finally:
        if have:
            mpremote(dowel, "fs", "cp", str(saved), ":/dowel.json")
        else:
            mpremote(dowel, "fs", "rm", ":/dowel.json")


def test_a_host_that_vanishes_leaves_a_board_that_returns_to_work(dowel):
    """Item 12: a host killed while the loop is stopped; the board resets itself back into the
    loop after /host_idle.txt seconds without a host call (here 3)."""
    mpremote(dowel, "exec", "open('/host_idle.txt', 'w').write('3')")
    try:
        sleeper = "import time\ntime.sleep(60)"
        proc = subprocess.Popen([MPREMOTE, "connect", dowel, "exec", sleeper])
        time.sleep(2.0)
        proc.kill()  # the host vanishes mid-command, the loop stopped
        proc.wait()
        time.sleep(10.0)
        code = "import dowel.running as r; print(r.app is not None and r.app.ticks > 0)"
        assert mpremote(dowel, "resume", "exec", code).split()[-1] == "True"
    finally:
        mpremote(dowel, "exec", "import os\nos.remove('/host_idle.txt')")
