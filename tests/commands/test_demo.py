"""`dowel demo`, the main job, end to end on a virtual board: it runs as a new user runs it,
in under a minute, every true loss beeps once with its own cue, wobble never beeps, and no
process is left behind."""

import json
import os
import subprocess
import sys
import time

import pytest

pytestmark = [pytest.mark.vboard, pytest.mark.slow]


def _daemons(home) -> list[str]:
    """Board processes of this test's data dir (each carries --state-dir <DOWEL_HOME>/...)."""
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [
        line
        for line in out.splitlines()
        if "host_tools.vboard.daemon" in line and str(home) in line
    ]


def test_demo_runs_end_to_end(tmp_path):
    env = dict(os.environ, DOWEL_HOME=str(tmp_path), COLUMNS="100")
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "host_tools", "demo"],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = " ".join(proc.stdout.split())  # rich wraps lines to the terminal width
    # Every step ran through the real code paths.
    assert "files uploaded and verified" in out
    assert "contact level" in out  # the calibration's measured levels
    assert "9 reps imported" in out
    # The scenario loses the sacrum, the mid-back and the head once each: one cue each, in
    # that order, and nothing for the grip wobble.
    assert "Beeps heard: sacrum, mid-back, head;" in out
    assert "truly lost: sacrum, mid-back, head;" in out
    assert out.count("BEEP:") == 3
    assert "board is stopped" in out
    # The data is in the user's database, for `dowel report --patient DEMO`.
    report = subprocess.run(
        [sys.executable, "-m", "host_tools", "sessions", "--patient", "DEMO", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert report.returncode == 0, report.stderr
    sessions = json.loads(report.stdout)["sessions"]
    assert [(s["reps"], s["clean"], s["has_imu"]) for s in sessions] == [(9, 6, True)]
    assert _daemons(tmp_path) == []
    print(f"demo took {elapsed:.1f} s")  # the target is under a minute; not asserted


def test_the_narration_follows_the_scenario_played():
    from host_tools.commands.demo import _plan
    from host_tools.sim import load_scenario, render

    for name in ("demo", "quick"):
        truth = render(load_scenario(name)).truth
        said = _plan(name)
        assert said.startswith(f"{len(truth['reps'])} rep")
        assert said.count(",") >= len(truth["losses"]) - 1
    assert _plan("quick") != _plan("demo")
