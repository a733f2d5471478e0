"""On a real dowel: `pytest -m hardware --port /dev/ttyUSB0` (skipped without --port).

What no fake can show: esptool talking to a real ESP32, the raw REPL's speed and the board's
own filesystem under `deploy`, and the device half of the self-test on real pins. Writing
MicroPython itself also needs an image: set DOWEL_TEST_FIRMWARE=path/to/ESP32_GENERIC-....bin.
These tests never erase the flash, so the board's config and logs survive them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from dowel.version import FIRMWARE

pytestmark = pytest.mark.hardware


def test_esptool_detects_an_esp32(hardware_port):
    from esptool.cmds import detect_chip

    from host_tools.firmware.esptool_flash import hard_reset

    with detect_chip(hardware_port) as loader:
        name = loader.CHIP_NAME
        hard_reset(loader)  # back to MicroPython for the next tests (esptool 4.8 and 5.x)
    assert name == "ESP32"


@pytest.mark.skipif(
    not os.environ.get("DOWEL_TEST_FIRMWARE"),
    reason="set DOWEL_TEST_FIRMWARE to a MicroPython ESP32 image",
)
def test_write_micropython(hardware_port):
    from host_tools.commands.flash import BOOT_WAIT_S, open_link
    from host_tools.firmware import esptool_flash

    info = esptool_flash.flash_micropython(hardware_port, Path(os.environ["DOWEL_TEST_FIRMWARE"]))
    with open_link(hardware_port, BOOT_WAIT_S) as link:
        version = link.exec("import sys\nprint(sys.implementation.version[:2])").strip()
    assert version.decode() == repr(info.micropython[:2])


def test_deploy_then_nothing_to_upload(hardware_port, tmp_path):
    from host_tools.board.link import Link
    from host_tools.firmware.deploy import deploy

    with Link.open(hardware_port) as link:
        deploy(link, tmp_path / "build")
    with Link.open(hardware_port) as link:
        again = deploy(link, tmp_path / "build")
        assert again.uploaded == [] and again.firmware == FIRMWARE
        assert link.call("dowel.info", "version")[0] == FIRMWARE


def test_device_selftest_calls(hardware_port):
    from host_tools.board.link import Link

    with Link.open(hardware_port) as link:
        lo, hi = link.call("dowel.selftest", "window", 200)
        assert len(lo) == len(hi) == 3
        assert all(0 <= a <= b <= 65535 for a, b in zip(lo, hi, strict=True))
        assert link.call("dowel.selftest", "led", True) is True
        assert link.call("dowel.selftest", "led", False) is False
        assert link.call("dowel.selftest", "beep", 2000, 100) == 2000
        present, pitch_ddeg, g_milli = link.call("dowel.selftest", "imu")
        if present:
            assert -1800 <= pitch_ddeg <= 1800 and 500 < g_milli < 1500
