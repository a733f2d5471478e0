"""Item 2 of issue 12: an exception in the loop has a defined end. An IMU that stops answering
(NACK: ENODEV; a hung bus: ETIMEDOUT; a power cycle: it wakes asleep and reads zeros) leaves
the dowel working without pitch, retried about once a second and said on the console; a bug or
MemoryError in the loop writes its reason to flash and resets the board, which starts again."""

from __future__ import annotations

import time

import pytest

from tests.device_on_vboard.conftest import (
    ConsoleReader,
    calibrated_config,
    deploy_firmware,
    device_source,
    mpremote,
    wait_mode,
)

pytestmark = pytest.mark.vboard


def _imu_fault_scenario(kind: str) -> dict:
    return {
        "name": f"imu-{kind}",
        "seed": 3,
        "steps": [
            {"do": "released", "ms": 300},
            {"do": "pickup", "ms": 1000},
            {"do": "hold", "ms": 500},
            {"do": "fault", "kind": kind},
            {"do": "hinge", "depth_deg": 40, "lose": "sacrum", "lose_at_deg": 25},
            {"do": "fault", "kind": "clear"},
            {"do": "hold", "ms": 2500},
            {"do": "hinge", "depth_deg": 40, "lose": "midback", "lose_at_deg": 25},
            {"do": "put_down", "ms": 800},
        ],
    }


@pytest.mark.parametrize("kind", ["i2c_nodev", "imu_power"])
def test_imu_lost_mid_session_carries_on_and_comes_back(board, kind):
    deploy_firmware(board, {"/dowel.json": calibrated_config()})
    console = ConsoleReader(board.port)
    try:
        played = board.play(_imu_fault_scenario(kind))
        text = console.read_for(played.duration_ms / 1000 + 0.5).decode(errors="replace")
    finally:
        console.close()
    assert "@dowel imu lost" in text and "@dowel imu back MPU6050" in text, text[-1500:]
    assert text.index("@dowel imu lost") < text.index("@dowel imu back")
    assert board.status()["mode"] == "main"  # the loop still runs: no crash, no reset
    assert not [r for r in board.status()["resets"] if r[0] >= 0]
    # Both losses were cued: the first without pitch (a rep is an armed period), the second
    # with the IMU back.
    assert [p for _, p in board.cues()] == ["sacrum", "midback"]
    out = mpremote(
        board.port,
        "resume",
        "exec",
        "import dowel.running as r; c = r.app\nprint(c.imu_ok, c.engine.reps.has_imu)",
    ).stdout.split()
    assert out == ["True", "True"]


def test_a_hung_bus_does_not_starve_the_loop(board):
    """ETIMEDOUT costs (1 + bytes) x the bus timeout per transfer: after the first failure the
    retries wait for the dowel to be put down, so the loop keeps its rate while armed."""
    deploy_firmware(board)
    scenario = _imu_fault_scenario("i2c_timeout")
    scenario["steps"][5:6] = [{"do": "hold", "ms": 3000}, {"do": "fault", "kind": "clear"}]
    board.play(scenario)
    time.sleep(2.4 + 3.0)  # the fault starts at 1.8 s: let it hang for ~3.5 s
    code = (
        "import time, dowel.running as r; c = r.app\n"
        "print(c.ticks, time.ticks_diff(c.stop_ms, c.run_ms), c.imu_ok)"
    )
    ticks, ms, ok = mpremote(board.port, "resume", "exec", code).stdout.split()
    assert ok == "False"
    assert int(ticks) * 1000 / int(ms) >= 180  # one stalled read, not one per second


def test_a_crash_in_the_loop_is_written_down_and_the_board_resets(board):
    # A bug planted in the loop's once-a-second battery check; it fires once (a marker file).
    bug = device_source("dowel/battery.py") + (
        "\n_update = Monitor.update\n\n\n"
        "def _crash_once(self, mv):\n"
        "    import os\n"
        "    try:\n"
        "        os.stat('/crashed')\n"
        "    except OSError:\n"
        "        open('/crashed', 'w').close()\n"
        "        raise MemoryError('test: planted')\n"
        "    return _update(self, mv)\n\n\n"
        "Monitor.update = _crash_once\n"
    )
    deploy_firmware(board, {"/dowel/battery.py": bug})
    board.idle()
    end = time.monotonic() + 10
    while not [r for r in board.status()["resets"] if r[0] >= 0]:
        assert time.monotonic() < end, "no reset after the crash"
        time.sleep(0.1)
    assert [why for t, why in board.status()["resets"] if t >= 0] == ["hard"]
    wait_mode(board, "main")  # back in its loop
    assert board.outputs(("tone",))[-1][2] == 0
    out = mpremote(board.port, "exec", "from dowel import fault; print(fault.last())").stdout
    assert out.startswith("loop MemoryError: test: planted"), out
    assert "battery.py" in out  # where it was raised
