"""`dowel flash --firmware`: image checks, the esptool command lines (validated against
esptool's own parser) and every failure esptool can report, with fakes: there is no chip here.
Writing a real ESP32 is in tests/hardware/ (needs --port)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import serial
from esptool.util import FatalError

from host_tools.errors import DeviceError, UsageError
from host_tools.firmware import esptool_flash


def make_image(
    path: Path, *, chip_id=0, version=b"1.27.0", partition=True, magic=0xE9, size=0x180000
) -> Path:
    data = bytearray(b"\xff" * size)
    data[0] = magic
    data[12:14] = chip_id.to_bytes(2, "little")
    if partition:
        data[0x7000:0x7002] = b"\xaa\x50"
    if version:
        banner = b"MicroPython v" + version + b" on 2025-12-09; Generic ESP32 module with ESP32"
        data[0x20000 : 0x20000 + len(banner)] = banner
    path.write_bytes(bytes(data))
    return path


@pytest.fixture
def image(tmp_path):
    return make_image(tmp_path / "ESP32_GENERIC-20251209-v1.27.0.bin")


def test_check_image_accepts_micropython_for_the_esp32(image):
    info = esptool_flash.check_image(image)
    assert info.micropython == (1, 27, 0) and info.version == "1.27.0"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"magic": 0x00}, "not an ESP32 firmware image"),
        ({"size": 4096}, "not an ESP32 firmware image"),
        ({"chip_id": 9}, "ESP32-S3, not the ESP32"),
        ({"chip_id": 5}, "ESP32-C3, not the ESP32"),
        ({"partition": False}, "application-only image"),
        ({"version": None}, "not MicroPython"),
        ({"version": b"1.22.2"}, "MicroPython 1.22.2; the dowel firmware supports 1.24-1.29"),
        ({"version": b"1.23.0"}, "supports 1.24-1.29"),
        ({"version": b"1.30.0"}, "supports 1.24-1.29"),
    ],
)
def test_check_image_refuses(tmp_path, kwargs, message):
    path = make_image(tmp_path / "x.bin", **kwargs)
    with pytest.raises(UsageError, match=message) as exc:
        esptool_flash.check_image(path)
    assert "micropython.org/download/ESP32_GENERIC" in str(exc.value)


@pytest.mark.parametrize("version", [b"1.24.0", b"1.27.0", b"1.28.0", b"1.29.0"])
def test_check_image_accepts_every_release_that_loads_mpy_6_3(tmp_path, version):
    info = esptool_flash.check_image(make_image(tmp_path / "x.bin", version=version))
    assert info.version == version.decode()


def test_check_image_missing_file(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        esptool_flash.check_image(tmp_path / "nope.bin")


def test_commands_write_at_0x1000_then_verify(image):
    commands = esptool_flash.esptool_commands("/dev/ttyUSB0", image)
    base = ["--chip", "esp32", "--port", "/dev/ttyUSB0", "--baud", "460800"]
    assert commands == [
        base + ["write-flash", "0x1000", str(image)],
        base + ["verify-flash", "0x1000", str(image)],
    ]


def test_commands_with_erase_and_baud(image):
    commands = esptool_flash.esptool_commands("COM5", image, erase=True, baud=115200)
    assert [c[6] for c in commands] == ["erase-flash", "write-flash", "verify-flash"]
    assert all(
        c[:6] == ["--chip", "esp32", "--port", "COM5", "--baud", "115200"] for c in commands
    )


def test_commands_for_esptool_4(image, monkeypatch):
    import esptool

    monkeypatch.setattr(esptool, "__version__", "4.8.1")
    commands = esptool_flash.esptool_commands("/dev/ttyUSB0", image, erase=True)
    assert [c[6] for c in commands] == ["erase_flash", "write_flash", "verify_flash"]


def parse_with_esptool(argv):
    """Parse argv with esptool's own click CLI, without connecting to anything."""
    from esptool import cli

    cli._esp = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx = cli.make_context("esptool", list(argv))
        rest = [*getattr(ctx, "protected_args", []), *ctx.args]
    name, cmd, args = cli.resolve_command(ctx, rest)
    sub = cmd.make_context(name, args, parent=ctx)
    for _addr, f in sub.params.get("addr_filename", []):
        f.close()
    return ctx.params, name, sub.params


def test_esptool_itself_accepts_the_commands(image):
    import esptool

    if esptool.__version__.startswith("4."):  # argparse, no click CLI: parse by running it
        for argv in esptool_flash.esptool_commands("/dev/ttyNOPE0", image, erase=True):
            with pytest.raises(FatalError, match="Could not open /dev/ttyNOPE0"):
                esptool.main(argv)  # past the parser: it tried to open the port
        return
    for argv in esptool_flash.esptool_commands("/dev/ttyUSB0", image, erase=True):
        params, name, sub = parse_with_esptool(argv)
        assert params["chip"] == "esp32" and params["port"] == "/dev/ttyUSB0"
        assert params["after"] == "hard-reset"  # the board boots MicroPython afterwards
        if name in ("write-flash", "verify-flash"):
            assert [addr for addr, _f in sub["addr_filename"]] == [0x1000]
    assert [
        parse_with_esptool(a)[1] for a in esptool_flash.esptool_commands("p", image, erase=True)
    ] == [
        "erase-flash",
        "write-flash",
        "verify-flash",
    ]


class Recorder:
    def __init__(self, fail_on: str | None = None, exc: BaseException | None = None):
        self.calls: list[list[str]] = []
        self.fail_on = fail_on
        self.exc = exc

    def __call__(self, argv):
        self.calls.append(argv)
        if self.fail_on and self.fail_on in argv:
            raise self.exc


def flash(image, runner, detect=lambda port: "ESP32", **kw):
    return esptool_flash.flash_micropython(
        "/dev/ttyUSB0", image, detect=detect, runner=runner, say=lambda _m: None, **kw
    )


def test_flash_detects_then_writes_then_verifies(image):
    runner = Recorder()
    seen = []
    info = flash(image, runner, detect=lambda port: seen.append(port) or "ESP32", erase=True)
    assert seen == ["/dev/ttyUSB0"]
    assert [c[6] for c in runner.calls] == ["erase-flash", "write-flash", "verify-flash"]
    assert info.version == "1.27.0"


def test_flash_refuses_another_chip_before_writing(image):
    runner = Recorder()
    with pytest.raises(DeviceError, match="is an ESP32-S3, not an ESP32") as exc:
        flash(image, runner, detect=lambda port: "ESP32-S3")
    assert "Nothing was written" in str(exc.value)
    assert runner.calls == []


def test_flash_refuses_a_bad_image_before_detecting(tmp_path):
    def detect(port):
        raise AssertionError("must not touch the board")

    with pytest.raises(UsageError):
        flash(make_image(tmp_path / "s3.bin", chip_id=9), Recorder(), detect=detect)


@pytest.mark.parametrize(
    ("exc", "message"),
    [
        (
            FatalError("Failed to connect to Espressif device: No serial data received."),
            "hold its BOOT button",
        ),
        (
            serial.SerialException("[Errno 16] Device or resource busy: '/dev/ttyUSB0'"),
            "cannot open /dev/ttyUSB0",
        ),
    ],
)
def test_flash_detect_failures(image, exc, message):
    def detect(port):
        raise exc

    runner = Recorder()
    with pytest.raises(DeviceError, match=message):
        flash(image, runner, detect=detect)
    assert runner.calls == []


@pytest.mark.parametrize(
    ("step", "exc", "message"),
    [
        (
            "verify-flash",
            FatalError("MD5 of file does not match data in flash!"),
            "failed to verify on /dev/ttyUSB0: MD5 of file does not match",
        ),
        (
            "write-flash",
            FatalError("Write failed, the written flash region is empty."),
            "failed to write.*lower --baud",
        ),
        ("erase-flash", FatalError("Timed out waiting for packet header"), "failed to erase"),
        (
            "write-flash",
            serial.SerialException("device reports readiness to read but returned no data"),
            "Close any serial monitor",
        ),
        ("write-flash", SystemExit(2), "esptool refused"),
    ],
)
def test_flash_esptool_failures_become_device_errors(image, step, exc, message):
    runner = Recorder(fail_on=step, exc=exc)
    with pytest.raises(DeviceError, match=message):
        flash(image, runner, erase=True)
    steps = [c[6] for c in runner.calls]
    assert steps[-1] == step  # stops at the failing step
    assert "verify-flash" not in steps[:-1] or step == "verify-flash"


def test_detect_chip_name_uses_esptool_detect(monkeypatch):
    import esptool.cmds

    class FakeLoader:
        CHIP_NAME = "ESP32"
        closed = False

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            FakeLoader.closed = True

    monkeypatch.setattr(esptool.cmds, "detect_chip", lambda port: FakeLoader())
    assert esptool_flash.detect_chip_name("/dev/ttyUSB0") == "ESP32"
    assert FakeLoader.closed


@pytest.mark.parametrize(
    ("code", "hint"),
    [(13, "dialout"), (16, "brltty")],  # EACCES, EBUSY on Linux
)
def test_detect_on_a_port_linux_refuses_names_the_fix(image, monkeypatch, code, hint):
    monkeypatch.setattr("sys.platform", "linux")
    monkeypatch.setattr("os.path.exists", lambda _p: True)

    def detect(port):
        raise serial.SerialException(code, f"could not open port {port}: [Errno {code}]")

    with pytest.raises(DeviceError, match=hint) as exc:
        flash(image, Recorder(), detect=detect)
    assert "\n" not in str(exc.value)


class FakeLoader:
    def __init__(self):
        self.resets = []

    def hard_reset(self):
        self.resets.append("hard")


def test_hard_reset_uses_reset_chip_on_esptool_5(monkeypatch):
    import esptool.cmds

    if not hasattr(esptool.cmds, "reset_chip"):
        pytest.skip("esptool 4.x installed: covered by the next test")
    calls = []
    monkeypatch.setattr(esptool.cmds, "reset_chip", lambda esp, mode: calls.append((esp, mode)))
    loader = FakeLoader()
    esptool_flash.hard_reset(loader)
    assert calls == [(loader, "hard-reset")] and loader.resets == []


def test_hard_reset_on_esptool_4_without_reset_chip(monkeypatch):
    import esptool.cmds

    monkeypatch.delattr(esptool.cmds, "reset_chip", raising=False)  # as in esptool 4.8-4.12
    loader = FakeLoader()
    esptool_flash.hard_reset(loader)
    assert loader.resets == ["hard"]


def test_the_installed_esptool_has_what_the_dowel_calls():
    # Both esptool 4.8-4.12 and 5.x: detect_chip (a context manager), ESPLoader.hard_reset,
    # esptool.main(argv), FatalError in esptool.util, CHIP_DEFS (esptool's v4.8.0 and v5.0.0
    # sources); reset_chip only from 5.0.
    import esptool
    import esptool.cmds
    from esptool.loader import ESPLoader
    from esptool.targets import CHIP_DEFS

    assert callable(esptool.cmds.detect_chip) and callable(esptool.main)
    assert hasattr(ESPLoader, "hard_reset") and hasattr(ESPLoader, "__enter__")
    assert "esp32" in CHIP_DEFS
    major = int(esptool.__version__.split(".")[0])
    assert 4 <= major < 6
    assert hasattr(esptool.cmds, "reset_chip") == (major >= 5)


def test_esptools_could_not_open_gets_the_probed_hint(image, monkeypatch):
    from host_tools.board import ports

    monkeypatch.setattr("sys.platform", "linux")
    monkeypatch.setattr("os.path.exists", lambda _p: True)
    monkeypatch.setattr(ports, "_open_errno", lambda _p: 13)  # EACCES, as opening says
    fatal = FatalError("Could not open /dev/ttyUSB0, the port is busy or doesn't exist.")

    def detect(port):
        raise fatal

    with pytest.raises(DeviceError, match="no ESP bootloader.*dialout"):
        flash(image, Recorder(), detect=detect)
    with pytest.raises(DeviceError, match="failed to write.*dialout"):
        flash(image, Recorder(fail_on="write-flash", exc=fatal))
