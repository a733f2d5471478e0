"""`dowel calibrate` and `dowel config` on the virtual board: the real firmware (dowel.stream,
dowel.config, dowel.drift) on the MicroPython interpreter, the real mpremote transport, and the
simulated patient of several builds playing the calibration scenario in real time.

Done-when checks of issue 5:
- patients of different builds (weak to strong contact, with grip and ADC noise) get thresholds
  under which a scenario's true losses all fire and its grip wobbles do not: by the board's own
  beeps after `dowel calibrate --yes` (average build), and by replaying rendered traces of the
  same build through the firmware's debounce (weak and strong builds);
- a disconnected and a shorted sensor are refused with a message naming the point;
- `dowel config set` refuses out-of-range values naming the field and the range.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from dowel import config as dconfig
from dowel import cues

from host_tools import cli
from host_tools.board.link import Link
from host_tools.calibrate import rule as cal
from host_tools.calibrate.session import CalibrationRefused, Steps, calibrate
from host_tools.firmware.build import board_files, compile_device
from host_tools.store import db
from tests.fakes.patient import replay_losses

pytestmark = [pytest.mark.vboard, pytest.mark.slow]

HEAD_HZ, MIDBACK_HZ, SACRUM_HZ = cues.HEAD_CUE[0], cues.MIDBACK_CUE[0], cues.SACRUM_CUE[0]
POINT_HZ = {"head": HEAD_HZ, "midback": MIDBACK_HZ, "sacrum": SACRUM_HZ}


@pytest.fixture(scope="module")
def firmware(tmp_path_factory) -> Path:
    build = tmp_path_factory.mktemp("build")
    compile_device(build)
    return build


@pytest.fixture
def board(tmp_path, monkeypatch, firmware, request):
    client = pytest.importorskip("host_tools.vboard.client")
    monkeypatch.setenv("DOWEL_HOME", str(tmp_path / "home"))
    from host_tools.vboard import flashimg

    flash = tmp_path / "flash.img"
    flashimg.write(
        flash, {path: Path(local).read_bytes() for path, local in board_files(firmware).items()}
    )
    name = "cal-" + request.node.name.replace("[", "-").replace("]", "")[:40]
    with client.VirtualBoard.start(flash_dir=flash, name=name) as vb:
        yield vb


def _calibration_scenario(build: str | dict, faults: list[dict] | None = None) -> dict:
    from host_tools.sim import load_scenario

    sc = load_scenario("calibration")
    sc = {k: v for k, v in sc.items() if k != "build"}
    sc["build"] = build
    sc["steps"] = list(faults or []) + list(sc["steps"])
    return {k: sc[k] for k in ("description", "seed", "build", "steps")}


def _replay(timeline, cfg: dict) -> list[cal.Loss]:
    """The rendered trace sampled every 4 ms (the loop's tick) through dowel.contact."""
    trace = [(t, timeline.at(t)[:3]) for t in range(0, timeline.duration_ms, 4)]
    sensors = [(cfg["sensors"][n]["on"], cfg["sensors"][n]["off"]) for n in cal.SENSORS]
    return replay_losses(trace, sensors, cfg["loss_ms"], cfg["regain_ms"])


def _assert_fires_on_losses_only(losses: list[cal.Loss], truth: dict, loss_ms: int) -> None:
    fired = [(x.t_ms, x.sensor) for x in losses]
    release = min((t for t, _ in truth["releases"]), default=truth["duration_ms"])
    for t, sensor in truth["losses"]:
        assert any(s == sensor and t - 40 <= ft <= t + loss_ms + 60 for ft, s in fired), (
            f"true {sensor} loss at {t} ms did not fire: {fired}"
        )
    for ft, s in fired:
        if ft >= release:
            continue  # the dowel being put down
        assert any(
            s == sensor and t - 40 <= ft <= t + loss_ms + 60 for t, sensor in truth["losses"]
        ), f"{s} fired at {ft} ms with no true loss"
    for start, end, sensor in truth["wobbles"]:
        assert not any(s == sensor and start <= ft <= end + loss_ms for ft, s in fired), (
            f"{sensor} wobble at {start}-{end} ms fired"
        )


def test_cli_calibrate_yes_then_the_board_beeps_for_true_losses_only(board, capsys):
    board.play(_calibration_scenario("average"))
    assert cli.main(["calibrate", "--patient", "P-0001", "--yes", "--port", board.port]) == 0
    out = capsys.readouterr()
    assert "Step 1/3, released" in out.out and "stored for P-0001" in out.out
    assert "warning" not in out.out  # three clean hinges: no loss fired in the check

    with Link.open(board.port) as link:
        cfg, reason = link.call("dowel.config", "read")
        uid = link.call("dowel.hal", "unique_id")
    assert reason is None and cfg["patient"] == "P-0001"
    build = board.truth()["build"]
    for i, name in enumerate(cal.SENSORS):
        s = cfg["sensors"][name]
        assert build["zero_counts"][i] < s["off"] < s["on"] < build["contact_counts"][i]
        assert abs(s["level"] - build["contact_counts"][i]) < 0.1 * build["contact_counts"][i]
    with db.connect() as conn:
        (row,) = conn.execute("SELECT patient, device_id, config_json FROM calibrations")
    assert row["patient"] == "P-0001" and row["device_id"] == uid.hex()
    assert dconfig.validate(__import__("json").loads(row["config_json"])) == cfg

    # The link's close restarted the firmware loop on the new config: play reps.
    timeline = board.play("quick")
    time.sleep(timeline.duration_ms / 1000 + 0.5)
    beeps = board.beeps()
    truth = board.truth()
    for t, sensor in truth["losses"]:
        assert any(
            hz == POINT_HZ[sensor] and t <= start <= t + cfg["loss_ms"] + 500
            for start, _, hz in beeps
        ), f"no {sensor} beep after its loss at {t}: {beeps}"
    assert not any(hz == HEAD_HZ for _, _, hz in beeps)  # the head's grip wobble


@pytest.mark.parametrize("build", ["weak", "strong"])
def test_thresholds_fit_the_build(board, build):
    board.play(_calibration_scenario(build))
    with Link.open(board.port) as link:
        result = calibrate(link, "P-" + build, steps=Steps(check_ms=4000))
        on_board, _ = link.call("dowel.config", "read")
    assert on_board == result.config
    assert result.losses == [], result.warnings()
    truth = board.truth()
    for i, name in enumerate(cal.SENSORS):
        s = on_board["sensors"][name]
        assert truth["build"]["zero_counts"][i] < s["off"] < s["on"]
        assert s["on"] < truth["build"]["contact_counts"][i]
    # Scenarios with true losses of every point and grip wobbles, this patient's build.
    from host_tools.sim import load_scenario, render

    for name in ("quick", "demo"):
        timeline = render(load_scenario(name), build=build, seed=42)
        assert timeline.truth["losses"] and timeline.truth["wobbles"]
        _assert_fires_on_losses_only(
            _replay(timeline, on_board), timeline.truth, on_board["loss_ms"]
        )


def test_disconnected_and_shorted_sensors_are_refused_by_name(board):
    faults = [
        {"do": "fault", "kind": "disconnected", "sensor": "sacrum"},
        {"do": "fault", "kind": "shorted", "sensor": "midback"},
    ]
    board.play(_calibration_scenario("average", faults))
    with Link.open(board.port) as link:
        before = link.call("dowel.config", "read")
        with pytest.raises(CalibrationRefused) as info:
            calibrate(link, "P-0002")
        after = link.call("dowel.config", "read")
    message = str(info.value)
    assert "nothing written" in message
    assert cal.SAY["sacrum"] + ": reads about zero" in message and "disconnected" in message
    assert cal.SAY["midback"] + ": reads full scale" in message and "shorted" in message
    assert cal.SAY["head"] not in message
    assert after == before
    with db.connect() as conn:
        assert conn.execute("SELECT COUNT(*) FROM calibrations").fetchone()[0] == 0


def test_config_set_and_show_on_the_board(board, capsys):
    assert (
        cli.main(
            [
                "config",
                "set",
                "loss_ms=150",
                "sensors.head.off=9000",
                "sensors.head.on=14000",
                "--port",
                board.port,
            ]
        )
        == 0
    )
    assert cli.main(["config", "set", "regain_ms=5000", "--port", board.port]) == 2
    err = capsys.readouterr().err
    assert "regain_ms: must be an integer from 20 to 2000" in err
    assert cli.main(["config", "set", "sensors.head.on=8000", "--port", board.port]) == 2
    assert "sensors.head: needs 0 < off < on" in capsys.readouterr().err
    assert cli.main(["config", "show", "--json", "--port", board.port]) == 0
    shown = __import__("json").loads(capsys.readouterr().out)
    assert shown["loss_ms"] == 150 and shown["sensors"]["head"] == {
        "on": 14000,
        "off": 9000,
        "level": 0,
    }
    assert shown["regain_ms"] == 200


def test_live_readings_stream_on_one_board_clock(board):
    from host_tools.board.livestream import stream

    timeline = board.play("calibration")
    with Link.open(board.port) as link:
        samples = stream(link, 1200, chunk_ms=400)  # three calls resuming one schedule
    # The rate is a figure (about 100 Hz here), not a test: only the shape is checked.
    times = [s.t_ms for s in samples]
    assert times == sorted(set(times)) and 800 <= times[-1] < 1200  # t runs on across calls
    assert len(samples) >= 20
    head = sorted(s.counts[0] for s in samples)
    zero = timeline.truth["build"]["zero_counts"][0]
    assert abs(head[len(head) // 2] - zero) < 300  # released: the head's zero level
    assert all(s.pitch_ddeg is not None for s in samples)  # the board has an IMU


def test_drift_saved_on_the_board_prompts_on_the_next_connect(board, capsys):
    import json

    cfg = dconfig.defaults()
    cfg["patient"] = "P-0003"
    for name, level in zip(cal.SENSORS, (20000, 30000, 40000), strict=True):
        cfg["sensors"][name] = {"on": level // 2, "off": level // 3, "level": level}
    with Link.open(board.port) as link:
        link.call("dowel.config", "write_json", json.dumps(cfg))
        # What the firmware loop does while armed, with the sacrum's pad compressed by 35 %.
        link.exec(
            "from dowel.drift import Drift\n"
            "d = Drift([20000, 30000, 40000], 25)\n"
            "for _ in range(3000):\n"
            "    d.update((20500, 29000, 26000), 5)\n"
            "d.save()\n"
        )
    # The link's close soft-reset the board: only /drift.json remembers.
    assert cli.main(["config", "show", "--port", board.port]) == 0
    out = capsys.readouterr().out
    assert "Recalibration recommended" in out and "sacrum" in out and "-35%" in out
    assert "dowel calibrate --patient P-0003" in out
    assert "head (back" not in out  # 2.5 % off: within drift_pct
    with db.connect() as conn:
        rows = [
            tuple(r)
            for r in conn.execute("SELECT patient, sensor, calibrated, current FROM drift_prompts")
        ]
    assert rows == [("P-0003", "sacrum", 40000, 26000)]
