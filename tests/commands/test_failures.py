"""Every way a PT can make `dowel` fail ends in one line on stderr that names the fix, exit
status 2 for bad input and 1 for a failure elsewhere, and never a traceback. Each case runs
`cli.main` as the `dowel` script does, with a private DOWEL_HOME."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time

import pytest
from dowel import config as dconfig
from dowel import running
from dowel.version import FIRMWARE, PROTOCOL

from host_tools import cli
from host_tools.board.link import Link
from tests.fakes.board import FakeBoard


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    path = tmp_path / "home"
    monkeypatch.setenv("DOWEL_HOME", str(path))
    return path


def fails(capsys, argv: list[str], status: int, *fix: str) -> str:
    """Run `dowel ARGV`; check the exit status and that stderr is one line holding `fix`."""
    try:
        rc = cli.main(argv)
    except SystemExit as exc:  # argparse's own refusals
        rc = exc.code
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert rc == status, captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    for text in fix:
        assert text in lines[0], lines[0]
    return lines[0]


# ---- 1. no arguments, --version -------------------------------------------------------------


def test_no_arguments_prints_the_help(capsys):
    assert cli.main([]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert "usage: dowel" in captured.out
    for name in cli.COMMANDS:
        assert name in captured.out


def test_version_names_the_firmware_it_installs(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert f"firmware {FIRMWARE}" in out and f"protocol {PROTOCOL}" in out


def test_bad_arguments_are_one_line(capsys):
    fails(capsys, ["replay"], 2, "trace", "dowel replay --help")


# ---- 2. the database and its folder ---------------------------------------------------------


def test_corrupt_database_names_the_file_and_the_fix(home, capsys):
    home.mkdir()
    (home / "dowel.sqlite3").write_bytes(b"this is not SQLite " * 300)
    line = fails(capsys, ["patients"], 1, str(home / "dowel.sqlite3"), "move it aside", "backup")
    assert "damaged" in line


def _read_only(home, monkeypatch):
    """Make `home` read-only; root ignores the mode bits, so also answer os.access as a
    read-only folder would."""
    home.chmod(0o555)
    if os.geteuid() == 0:
        real = os.access
        monkeypatch.setattr(
            os, "access", lambda p, mode, **kw: False if mode & os.W_OK else real(p, mode, **kw)
        )


def test_read_only_home_still_reads_and_refuses_writes(home, monkeypatch, capsys):
    assert cli.main(["patient", "set", "P-1", "--prescription", "3x10/day"]) == 0
    capsys.readouterr()
    _read_only(home, monkeypatch)
    try:
        assert cli.main(["patients", "--json"]) == 0
        captured = capsys.readouterr()
        assert [p["patient"] for p in json.loads(captured.out)] == ["P-1"]
        assert captured.err == ""
        fails(
            capsys,
            ["patient", "set", "P-2", "--prescription", "3x10/day"],
            1,
            "read-only",
            "DOWEL_HOME",
        )
    finally:
        home.chmod(0o755)


def test_read_only_home_without_a_database(home, monkeypatch, capsys):
    home.mkdir()
    _read_only(home, monkeypatch)
    try:
        fails(capsys, ["patients"], 1, "cannot create the database", "writable")
    finally:
        home.chmod(0o755)


def test_home_that_is_a_file(home, capsys):
    home.write_text("not a folder")
    fails(capsys, ["patients"], 2, str(home), "is a file", "DOWEL_HOME")


# ---- 3. replay ------------------------------------------------------------------------------


def test_replay_of_a_binary_file(tmp_path, capsys):
    trace = tmp_path / "trace.csv"
    trace.write_bytes(b"t_ms,head,midback,sacrum\n" + bytes(range(256)) * 40)
    fails(capsys, ["replay", str(trace)], 2, f"{trace}:", "not a CSV text file")


@pytest.mark.parametrize("pitch", ["inf", "-inf", "nan"])
def test_replay_of_a_pitch_that_is_no_angle(tmp_path, capsys, pitch):
    trace = tmp_path / "trace.csv"
    trace.write_text(f"t_ms,head,midback,sacrum,pitch_deg\n0,1,2,3,90\n5,1,2,3,{pitch}\n")
    fails(capsys, ["replay", str(trace)], 2, f"{trace}:3:", "pitch_deg", "finite number")


def test_replay_says_when_the_thresholds_do_not_fit(tmp_path, capsys):
    trace = tmp_path / "trace.csv"
    rows = [f"{t * 5},12000,30000,30000" for t in range(400)]
    trace.write_text("t_ms,head,midback,sacrum\n" + "\n".join(rows) + "\n")
    assert cli.main(["replay", str(trace)]) == 0
    out = capsys.readouterr().out
    assert "summary: 0 reps" in out
    assert "head peaks at 12000 < on 20000" in out and "--config" in out


def test_readme_replay_example_gets_the_hint_then_reps_with_a_config(tmp_path, capsys):
    """README: `python -m host_tools.sim render demo --out demo.csv; dowel replay demo.csv`."""
    from host_tools.sim.__main__ import main as sim_main

    trace = tmp_path / "demo.csv"
    assert sim_main(["render", "demo", "--out", str(trace)]) == 0
    capsys.readouterr()
    assert cli.main(["replay", str(trace)]) == 0
    out = capsys.readouterr().out
    assert "no rep seen" in out and "--config" in out
    # The hint is right: thresholds under the trace's head level make the reps appear.
    cfg = dconfig.defaults()
    for sensor in cfg["sensors"].values():
        sensor.update(on=12000, off=9000)
    fitted = tmp_path / "dowel.json"
    fitted.write_text(json.dumps(cfg))
    assert cli.main(["replay", str(trace), "--config", str(fitted)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("summary: ") and not last.startswith("summary: 0 reps")


# ---- 4. export --out, Ctrl-D at prompts ------------------------------------------------------


@pytest.mark.parametrize("where", ["missing", "folder"])
def test_export_out_that_cannot_be_a_file(tmp_path, capsys, where):
    out = tmp_path / "nosuch" / "reps.csv" if where == "missing" else tmp_path
    argv = ["logs", "export", "--patient", "P-1", "--format", "csv", "--out", str(out)]
    fails(capsys, argv, 2, "--out", "does not exist" if where == "missing" else "is a folder")


class _ctx:
    def __init__(self, link):
        self.link = link

    def __enter__(self):
        return self.link

    def __exit__(self, *exc):
        return None


@pytest.fixture
def fake_board(tmp_path, monkeypatch):
    running.drift = None
    link = Link(FakeBoard(tmp_path), "fake")
    monkeypatch.setattr(Link, "open", classmethod(lambda cls, port, **_kw: _ctx(link)))
    return link


class _ClosedTerminal(io.StringIO):
    """A terminal whose user pressed Ctrl-D: input() meets end of file."""

    def isatty(self) -> bool:
        return True


def test_ctrl_d_at_a_calibrate_prompt(fake_board, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", _ClosedTerminal(""))
    fails(
        capsys,
        ["calibrate", "--patient", "P-1", "--port", "x"],
        1,
        "stopped",
        "no calibration written",
    )
    writes = fake_board.transport.calls.count(("dowel.config", "write_json"))
    assert writes == 0


def test_ctrl_d_at_a_selftest_prompt(fake_board, monkeypatch, capsys):
    from host_tools.selftest import session

    def ask_first(link, ui, **_kw):
        ui.confirm("Did the dowel beep?")  # the real prompt: rich's Confirm on stdin
        raise AssertionError("the prompt should have met end of input")

    monkeypatch.setattr(sys, "stdin", _ClosedTerminal(""))
    monkeypatch.setattr(session, "run_selftest", ask_first)
    fails(capsys, ["selftest", "--port", "x"], 1, "stopped", "nothing written", "--yes")


# ---- 5. arguments checked before any work ---------------------------------------------------


def test_demo_with_an_unknown_scenario_fails_at_once(capsys):
    started = time.monotonic()
    fails(capsys, ["demo", "--scenario", "nosuch"], 2, "no scenario 'nosuch'", "demo", "quick")
    assert time.monotonic() - started < 2


# ---- 6. a rejected vboard start leaves no board ---------------------------------------------


def _daemons(home) -> list[str]:
    # -ww: whole command lines (pytest's temporary paths are long).
    out = subprocess.run(["ps", "-wweo", "pid,args"], capture_output=True, text=True).stdout
    return [ln for ln in out.splitlines() if "host_tools.vboard.daemon" in ln and str(home) in ln]


def test_vboard_start_with_bad_arguments_starts_nothing(home, capsys):
    fails(capsys, ["vboard", "start", "--heap-kb", "10"], 2, "--heap-kb", "at least 64")
    fails(capsys, ["vboard", "start", "--scenario", "nosuch"], 2, "no scenario 'nosuch'")
    assert _daemons(home) == []


@pytest.mark.vboard
def test_vboard_start_that_fails_after_the_board_began_stops_it(home, monkeypatch, capsys):
    from tests.vboard.conftest import need_interpreter

    need_interpreter()
    from host_tools.errors import DeviceError
    from host_tools.vboard import VirtualBoard, state

    pids = []

    def refuse(self, scenario, **_kw):
        pids.extend(p for p in (self.pid, self.board_pid) if p)
        assert _daemons(home), "the board should be running when play is refused"
        raise DeviceError("the virtual board refused: a test's refusal")

    monkeypatch.setattr(VirtualBoard, "play", refuse)
    fails(capsys, ["vboard", "start", "--scenario", "quick"], 1, "refused")
    assert pids and not [p for p in pids if state.pid_alive(p)]
    assert _daemons(home) == []
    assert VirtualBoard.running() is None
