"""What the dowel page shows of a board (host_tools.board.status), on a fake board running the
real device modules: firmware and protocol, whose config, battery, and a missing firmware named
with its fix."""

from __future__ import annotations

from dowel import config as dconfig
from dowel import version

from host_tools.board.link import Link
from host_tools.board.status import read_status
from tests.fakes.board import FakeBoard


def test_a_calibrated_board(tmp_path):
    cfg = dconfig.defaults()
    cfg["patient"] = "P-0007"
    dconfig.save(cfg, str(tmp_path / "dowel.json"))
    st = read_status(Link(FakeBoard(tmp_path), "fake"))
    assert st.problem is None and st.up_to_date
    assert st.firmware.firmware == version.FIRMWARE and st.firmware.protocol == version.PROTOCOL
    assert st.patient == "P-0007" and ("patient", "P-0007") in st.config
    assert st.unique_id == "240ac4f00001"
    assert st.config_note is None and st.battery is not None


def test_the_defaults_are_nobodys(tmp_path):
    st = read_status(Link(FakeBoard(tmp_path), "fake"))
    assert st.patient is None  # UNSET: never calibrated


def test_a_rejected_config_says_why_and_the_fix(tmp_path):
    (tmp_path / "dowel.json").write_text("{not json")
    st = read_status(Link(FakeBoard(tmp_path), "fake"))
    assert st.config_note.startswith("warning: ") and "dowel calibrate" in st.config_note


def test_no_firmware_names_the_fix(tmp_path):
    st = read_status(Link(FakeBoard(tmp_path, firmware=False), "fake"))
    assert st.firmware is None and "dowel flash" in st.problem
    assert not st.up_to_date and st.config == []
