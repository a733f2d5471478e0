"""`dowel selftest` on the virtual board: the device half runs on MicroPython with the
simulated `machine`, the simulated patient plays the shipped `selftest` scenario (each pad
pressed in turn, then a tilt), with and without wiring faults. Each run plays in real time
(~6-9 s)."""

from __future__ import annotations

from pathlib import Path

import pytest

from host_tools.board.link import Link
from host_tools.firmware.build import board_files, compile_device
from host_tools.selftest import session as stt

pytestmark = [pytest.mark.vboard, pytest.mark.slow]


@pytest.fixture(scope="module")
def firmware(tmp_path_factory):
    build = tmp_path_factory.mktemp("build")
    compile_device(build)
    return build


@pytest.fixture
def vb(tmp_path, firmware, request):
    client = pytest.importorskip("host_tools.vboard.client")
    from host_tools.vboard import flashimg

    flash = tmp_path / "flash"
    # The firmware as `dowel flash` leaves it (deploying is the subject of
    # tests/firmware/test_deploy_vboard.py), written into the board's littlefs image.
    flashimg.write(
        flash, {path: Path(local).read_bytes() for path, local in board_files(firmware).items()}
    )
    with client.VirtualBoard.start(flash_dir=flash, name="st-" + request.node.name[:40]) as b:
        yield b


def scenario(*faults: dict) -> dict:
    """The shipped self-test scenario with `faults` from its start."""
    from host_tools.sim import load_scenario

    sc = dict(load_scenario("selftest"))
    # A second tilt at the end: slack for a slow machine, never waited for on a fast one (the
    # tilt check returns at the first 20 degrees).
    again = [
        {"do": "tilt", "to_deg": 45, "ms": 1000},
        {"do": "wait", "ms": 500},
        {"do": "tilt", "to_deg": 0, "ms": 800},
    ]
    sc["steps"] = [*faults, *sc["steps"], *again]
    return sc


class QuietUi:
    def __init__(self):
        self.lines: list[str] = []

    def say(self, text):
        self.lines.append(text)

    def confirm(self, question):
        raise AssertionError("--yes: nothing is asked")


def selftest(vb, sc, timeout_s=4.0):
    with Link.open(vb.port) as link:
        vb.play(sc)  # the patient starts now: the rest window falls in its first 0.5 s
        return stt.run_selftest(link, QuietUi(), yes=True, timeout_s=timeout_s)


def statuses(checks):
    return {c.item: c.status for c in checks}


def test_dowel_selftest_passes_on_a_healthy_board(vb, capsys, monkeypatch):
    from host_tools.cli import main

    monkeypatch.setenv("COLUMNS", "240")
    original_open = Link.open

    def open_and_play(port, **kw):
        link = original_open(port, **kw)
        vb.play(scenario())
        return link

    monkeypatch.setattr(Link, "open", staticmethod(open_and_play))
    assert main(["selftest", "--port", vb.port, "--yes"]) == 0
    out = capsys.readouterr().out
    assert "Self-test passed" in out and "FAIL" not in out
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") > 3}
    for item in (
        "head FSR (GPIO34) pressed",
        "midback FSR (GPIO35) pressed",
        "sacrum FSR (GPIO32) pressed",
        "IMU (I2C 0x68)",
        "tilt",
    ):
        assert "PASS" in rows[item], rows
    # the board really sounded the buzzer and lit the LED, and switched both off again
    tones = [v for _t, _k, v in vb.outputs(("tone",))]
    assert stt.BEEP_HZ in tones and tones[-1] == 0
    leds = [v for _t, _k, v in vb.outputs(("led",))]
    assert 1 in leds and leds[-1] == 0


def test_disconnected_and_shorted_sensors_are_named(vb):
    checks = selftest(
        vb,
        scenario(
            {"do": "fault", "kind": "disconnected", "sensor": "head"},
            {"do": "fault", "kind": "shorted", "sensor": "midback"},
        ),
        timeout_s=2.5,
    )
    by_item = {c.item: c for c in checks}
    head = by_item["head FSR (GPIO34) pressed"]
    assert head.status == stt.FAIL and "disconnected" in head.fix
    assert by_item["head FSR (GPIO34) at rest"].status == stt.PASS
    assert by_item["midback FSR (GPIO35) at rest"].status == stt.FAIL  # pinned at 65535
    assert by_item["midback FSR (GPIO35) pressed"].status == stt.FAIL
    assert by_item["sacrum FSR (GPIO32) at rest"].status == stt.PASS
    assert by_item["sacrum FSR (GPIO32) pressed"].status == stt.PASS


def test_swapped_sensors_are_named(vb):
    checks = selftest(
        vb, scenario({"do": "fault", "kind": "swapped", "sensors": ["head", "sacrum"]})
    )
    by_item = {c.item: c for c in checks}
    assert by_item["head FSR (GPIO34) pressed"].status == stt.FAIL
    assert by_item["sacrum FSR (GPIO32) pressed"].status == stt.FAIL
    assert "head and sacrum are swapped" in by_item["head FSR (GPIO34) pressed"].fix
    assert by_item["midback FSR (GPIO35) pressed"].status == stt.PASS
