"""`dowel logs pull` over the real mpremote transport, against the virtual board running the
real firmware (the device side is the MicroPython code, not CPython).

- Logs written into the board's flash, pulled through pulls that lose the cable at chosen calls
  (before the board acts, or while it is answering), then a whole pull: the database ends with
  exactly the written reps, never a duplicate, and at every point each rep is on the device or
  in the database.
- The end-to-end path: a scenario of reps played to the firmware loop, `dowel logs pull`, and
  the rows match the scenario's reps one for one (needs `host_tools.sim`).
"""

from __future__ import annotations

import random
import shutil
import time
from pathlib import Path

import pytest
from dowel import logread
from mpremote.transport import TransportError

from host_tools import cli
from host_tools.board import link
from host_tools.firmware.build import board_files, compile_device
from host_tools.store import db
from tests.fakes.logs import random_sessions, write_scenario

pytestmark = pytest.mark.vboard


def install_firmware(flash: Path, build: Path) -> None:
    """The built firmware into the folder `flash`, which to_image() writes to the board's."""
    compile_device(build)
    for board_path, local in board_files(build).items():
        dst = flash / board_path.lstrip("/")
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(local, dst)


def to_image(flash: Path) -> Path:
    """The board's littlefs image holding the files of the folder `flash` (board stopped)."""
    from host_tools.vboard import flashimg

    image = flash.with_suffix(".img")
    flashimg.write(
        image,
        {
            "/" + p.relative_to(flash).as_posix(): p.read_bytes()
            for p in flash.rglob("*")
            if p.is_file()
        },
    )
    return image


def image_segments(image: Path) -> dict[str, bytes]:
    """The log segments on the board's flash now (a snapshot of the image)."""
    from host_tools.vboard import flashimg

    return {
        k: v
        for k, v in flashimg.files(image).items()
        if k.startswith("/logs/") and k.endswith(".dwl")
    }


@pytest.fixture
def vboard(tmp_path, monkeypatch):
    client = pytest.importorskip("host_tools.vboard.client")
    monkeypatch.setenv("DOWEL_HOME", str(tmp_path / "home"))
    flash = tmp_path / "flash"
    install_firmware(flash, tmp_path / "build")
    return client.VirtualBoard, flash


class CutCable:
    """mpremote's transport, with the cable pulled at call number `at`: before the command is
    sent, or once the board has run it and started answering."""

    def __init__(self, real, at: int, mode: str):
        self.real, self.at, self.mode, self.n = real, at, mode, 0

    def exec_raw(self, code, timeout=10, data_consumer=None):
        self.n += 1
        if self.n == self.at:
            if self.mode == "while-answering":
                self.real.exec_raw_no_follow(code)
                self.real.read_until(1, b"\x04", timeout=timeout)  # the board ran it
            raise TransportError("device disconnected")
        return self.real.exec_raw(code, timeout=timeout)

    def __getattr__(self, name):
        return getattr(self.real, name)


def db_reps(conn) -> list[tuple]:
    return [
        tuple(r)
        for r in conn.execute(
            "SELECT session, seq, start_ms, duration_ms, lost_mask, loss_at_ms, depth_deg, "
            "rise_ms FROM reps ORDER BY session, seq"
        )
    ]


def want(sessions) -> list[tuple]:
    return [
        (i + 1, r[0], r[1], r[2], r[3], r[5], None if r[7] is None else r[7] / 10, r[10])
        for i, reps in enumerate(sessions)
        for r in reps
    ]


def on_device(image: Path) -> set[tuple]:
    out = set()
    for _, data in sorted(image_segments(image).items()):
        out |= {(r.session.number, r.seq) for r in logread.decode(data).reps}
    return out


def test_interrupted_pulls_then_a_whole_one(vboard, monkeypatch):
    VirtualBoard, flash = vboard
    sessions = random_sessions(random.Random(41), 4, 15)
    write_scenario(flash / "logs", sessions, segment_bytes=200)
    assert len(list((flash / "logs").glob("*.dwl"))) >= 8
    image = to_image(flash)
    real_open = link.Link.open
    # Calls on a connection: 1 the clock, 2 the firmware's version, 3 its config, 4 its last
    # fault (advisory: a cut there is only a note), then the pull's: 5 status, 6 the segment
    # list, 7 on reads and deletes.
    cuts = [
        (5, "before"),
        (7, "while-answering"),
        (6, "while-answering"),
        (9, "before"),
        (11, "while-answering"),
    ]
    with VirtualBoard.start(flash_dir=image, name="logs-e2e") as board:
        for at, mode in cuts:

            def cut_open(port, at=at, mode=mode, **kw):
                opened = real_open(port, **kw)
                opened.transport = CutCable(opened.transport, at, mode)
                return opened

            monkeypatch.setattr(link.Link, "open", staticmethod(cut_open))
            assert cli.main(["logs", "pull", "--port", board.port]) == 1
            monkeypatch.setattr(link.Link, "open", staticmethod(real_open))
            time.sleep(0.3)  # the board reboots after the link closes
            conn = db.connect()
            in_db = {(r[0], r[1]) for r in db_reps(conn)}
            conn.close()
            assert in_db | on_device(image) == {(r[0], r[1]) for r in want(sessions)}
        assert cli.main(["logs", "pull", "--port", board.port]) == 0
    conn = db.connect()
    assert db_reps(conn) == want(sessions)
    conn.close()
    assert image_segments(image) == {}


def patient_config(build: str = "average", patient: str = "P-0042") -> dict:
    """Thresholds for the simulated patient's build, as a calibration would set them."""
    from dowel import config

    from host_tools.sim import builds

    cfg = config.defaults()
    cfg["patient"] = patient
    contact = builds()[build]["contact_counts"]
    for name, level in contact.items():
        cfg["sensors"][name] = {"on": int(level * 0.55), "off": int(level * 0.4), "level": level}
    return cfg


@pytest.mark.slow
def test_scenario_reps_pulled_one_for_one(vboard):
    """The firmware loop logs the reps a simulated patient does; `dowel logs pull` brings back
    exactly those reps: same count, same order, the same point lost, times and depths close to
    the scenario's ground truth, a session dated by the RTC the first pull set."""
    pytest.importorskip("host_tools.sim")
    from dowel import config

    VirtualBoard, flash = vboard
    config.save(patient_config(), str(flash / "dowel.json"))
    with VirtualBoard.start(flash_dir=to_image(flash), name="logs-scenario") as board:
        assert cli.main(["logs", "pull", "--port", board.port]) == 0  # sets the clock
        time.sleep(0.5)  # the board reboots into the loop
        timeline = board.play("quick")
        time.sleep(timeline.duration_ms / 1000 + 1.0)
        truth = board.truth()
        assert cli.main(["logs", "pull", "--port", board.port]) == 0
        assert cli.main(["logs", "pull", "--port", board.port]) == 0  # nothing twice
    conn = db.connect()
    reps = conn.execute("SELECT * FROM reps ORDER BY session, seq").fetchall()
    sessions = conn.execute("SELECT * FROM sessions").fetchall()
    conn.close()
    expected = truth["reps"]
    assert len(reps) == len(expected) == 3
    assert [r["outcome"] for r in reps] == [t["lost"] or "clean" for t in expected]
    assert len(sessions) == 1 and sessions[0]["patient"] == "P-0042"
    assert sessions[0]["started_utc"] is not None and sessions[0]["has_imu"] == 1
    assert [r["seq"] for r in reps] == [0, 1, 2]
    t0 = expected[0]["start_ms"]
    for rep, t in zip(reps, expected, strict=True):
        # The firmware logs the movement, found from the pitch curve: close to the scenario's
        # hinge, within what the patient's sway hides at its ends.
        assert abs(rep["start_ms"] - (t["start_ms"] - t0)) < 600
        assert (
            0.5 * (t["end_ms"] - t["start_ms"])
            < rep["duration_ms"]
            <= t["end_ms"] - t["start_ms"] + 200
        )
        assert abs(rep["depth_deg"] - t["depth_deg"]) < 4
        assert rep["lower_ms"] + rep["pause_ms"] + rep["rise_ms"] == rep["duration_ms"]
        if t["lost"]:
            assert rep["lost_mask"] & {"head": 1, "midback": 2, "sacrum": 4}[t["lost"]]
            assert abs(rep["start_ms"] + rep["loss_at_ms"] - (t["loss_ms"] - t0)) < 400
            assert rep["loss_pitch_deg"] is not None
        else:
            assert rep["lost_mask"] == 0 and rep["loss_at_ms"] is None
