"""What a PT sees of a dowel before working with it: which firmware it runs (and whether these
host tools can work with it), whose config it holds, its battery, and a fault it stopped on.

    with api.connect(port) as link:
        st = read_status(link)
        if st.problem: ...          # no firmware, or another protocol: st.problem names the fix

The web app's dowel page shows this; the CLI says the same facts in `dowel selftest` and
`dowel config show`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dowel import battery
from dowel import version as firmware_version

from host_tools.board import api
from host_tools.board import config as board_config
from host_tools.board.feedback import current_preset, describe
from host_tools.errors import DeviceError


@dataclass(frozen=True)
class Battery:
    present: bool
    cell_mv: int
    pct: int

    @property
    def low(self) -> bool:
        """Under the level of the firmware's own low-battery cue (as `dowel selftest` says)."""
        return self.present and self.cell_mv < battery.LOW_MV


@dataclass
class BoardStatus:
    port: str
    firmware: api.FirmwareVersion | None = None
    problem: str | None = None  # why the firmware cannot be used, naming the fix
    unique_id: str = ""
    patient: str | None = None
    config: list[tuple[str, object]] = field(default_factory=list)
    config_note: str | None = None  # the board refused its config file: why, and the fix
    feedback: str = ""  # the feedback its config gives, in words (`board.feedback.describe`)
    feedback_preset: str | None = None  # the app's choice it matches, if any
    probe: bool = False  # probe sets on
    battery: Battery | None = None
    fault: str | None = None  # the fault the loop last stopped on (said once, then cleared)

    @property
    def expected_firmware(self) -> str:
        return firmware_version.FIRMWARE

    @property
    def up_to_date(self) -> bool:
        return self.firmware is not None and self.firmware.firmware == self.expected_firmware


def read_status(link) -> BoardStatus:
    st = BoardStatus(port=getattr(link, "port", "?"))
    try:
        st.firmware = api.check_firmware(link)
    except DeviceError as exc:  # FirmwareMissing, ProtocolMismatch, or a board that answers junk
        st.problem = str(exc)
        return st
    st.unique_id = api.unique_id(link)
    cfg, reason = board_config.read(link)
    st.patient = board_config.calibrated_patient(cfg)
    st.config = board_config.flatten(cfg)
    st.config_note = board_config.rejection_note(reason) if reason else None
    st.feedback = describe(cfg)
    st.feedback_preset = current_preset(cfg)
    st.probe = cfg["probe"] != "off"
    st.battery = Battery(*api.battery(link))
    notes: list[str] = []
    board_config.show_last_fault(link, notes.append)
    st.fault = notes[0] if notes else None
    return st
