"""Install MicroPython on the dowel's ESP32 with esptool: `dowel flash --firmware FILE.bin`.

    info = check_image(Path("ESP32_GENERIC-20251209-v1.27.0.bin"))   # before touching the board
    flash_micropython("/dev/ttyUSB0", path, erase=False)

Order: the image is checked on the host (an ESP32 image with its partition table, MicroPython
1.24-1.29); the chip is detected (esptool's `detect_chip`) and must be an ESP32 (the image is
for that chip only); then esptool's own command line writes it at 0x1000 (where the ESP32
boots its second-stage bootloader; it verifies each write by MD5) and `verify-flash` reads it
back. Writing MicroPython leaves the filesystem partition alone, so the patient's config and
logs survive an update; only `--erase` wipes them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from host_tools.errors import DeviceError, UsageError
from host_tools.firmware.deploy import SUPPORTED_MICROPYTHON, SUPPORTED_TEXT

ESP32_IMAGE_ADDR = 0x1000  # ESP32 (not S2/S3/C3): the bootloader lives at 0x1000
PARTITION_TABLE_OFFSET = 0x8000 - ESP32_IMAGE_ADDR  # in the file: 0x7000
IMAGE_MAGIC = 0xE9
SUPPORTED = SUPPORTED_MICROPYTHON  # minor versions whose .mpy ABI (6.3) we build for
DEFAULT_BAUD = 460800
DOWNLOAD = "https://micropython.org/download/ESP32_GENERIC/"


@dataclass(frozen=True)
class ImageInfo:
    path: Path
    size: int
    micropython: tuple[int, int, int]

    @property
    def version(self) -> str:
        return ".".join(map(str, self.micropython))


def chip_name_for_image_id(chip_id: int) -> str:
    from esptool.targets import CHIP_DEFS

    for cls in CHIP_DEFS.values():
        if getattr(cls, "IMAGE_CHIP_ID", None) == chip_id:
            return cls.CHIP_NAME
    return f"an unknown chip (id {chip_id})"


def check_image(path: Path) -> ImageInfo:
    """The image is a whole ESP32 MicroPython 1.24-1.29 firmware, or a UsageError says why."""
    if not path.is_file():
        raise UsageError(f"{path}: no such file. Download the ESP32 image from {DOWNLOAD}")
    data = path.read_bytes()
    if len(data) < 0x10000 or data[0] != IMAGE_MAGIC:
        raise UsageError(
            f"{path} is not an ESP32 firmware image. Download the .bin from {DOWNLOAD}"
        )
    chip_id = int.from_bytes(data[12:14], "little")
    if chip_id != 0:
        raise UsageError(
            f"{path} is built for {chip_name_for_image_id(chip_id)}, not the ESP32: download "
            f"the ESP32_GENERIC image from {DOWNLOAD}"
        )
    if data[PARTITION_TABLE_OFFSET : PARTITION_TABLE_OFFSET + 2] != b"\xaa\x50":
        raise UsageError(
            f"{path} has no partition table: it looks like an application-only image "
            f"(.app-bin). Download the plain .bin from {DOWNLOAD}"
        )
    found = re.search(rb"MicroPython v(\d+)\.(\d+)\.(\d+)", data)
    if not found:
        raise UsageError(f"{path} is an ESP32 image but not MicroPython. Get it from {DOWNLOAD}")
    version = tuple(int(g) for g in found.groups())
    if not SUPPORTED[0] <= version[:2] <= SUPPORTED[1]:
        raise UsageError(
            f"{path} is MicroPython {'.'.join(map(str, version))}; the dowel firmware supports "
            f"{SUPPORTED_TEXT} (the releases that load .mpy 6.3, which its files are built as). "
            f"Download a supported release from {DOWNLOAD}"
        )
    return ImageInfo(path, len(data), version)  # type: ignore[arg-type]


def _esptool_5() -> bool:
    import esptool

    return not esptool.__version__.startswith("4.")


def esptool_commands(
    port: str, image: Path, *, erase: bool = False, baud: int = DEFAULT_BAUD
) -> list[list[str]]:
    """The esptool command lines, in order: [erase-flash,] write-flash, verify-flash."""
    dash = "-" if _esptool_5() else "_"
    base = ["--chip", "esp32", "--port", port, "--baud", str(baud)]
    addr = hex(ESP32_IMAGE_ADDR)
    commands = []
    if erase:
        commands.append(base + [f"erase{dash}flash"])
    commands.append(base + [f"write{dash}flash", addr, str(image)])
    commands.append(base + [f"verify{dash}flash", addr, str(image)])
    return commands


def detect_chip_name(port: str) -> str:
    from esptool.cmds import detect_chip

    with detect_chip(port) as esp:
        return esp.CHIP_NAME


def hard_reset(loader) -> None:
    """Reset a chip that esptool holds in its bootloader back into MicroPython, on every esptool
    pyproject.toml allows (>=4.8,<6): `esptool.cmds.reset_chip` exists from 5.0 only (its
    "hard-reset" mode calls `ESPLoader.hard_reset()`); 4.8-4.12 have just that method."""
    try:
        from esptool.cmds import reset_chip
    except ImportError:  # esptool 4.x
        loader.hard_reset()
    else:
        reset_chip(loader, "hard-reset")


HINTS = {
    "connect": (
        "Is this the dowel's port (`dowel ports`), and no serial monitor open on it? If the "
        "board has no auto-reset, hold its BOOT button, tap EN, release BOOT, and retry."
    ),
    "erase": "Retry; if it keeps failing, try a shorter USB cable or a lower --baud.",
    "write": "Nothing was erased beyond the image area. Retry with a lower --baud (115200) "
    "or another USB cable.",
    "verify": "The flash does not hold what was written. Retry with --erase; if it still "
    "fails, the module's flash is faulty.",
}


def _serial_hint(port: str, exc: Exception, default: str) -> str:
    """The hint for a port that could not be used: permissions, brltty, or `default`. esptool
    (4.8 to 5.x, loader.py) turns pyserial's error into FatalError("Could not open PORT, the
    port is busy or doesn't exist."), without the errno: the port is then probed once."""
    import errno

    from host_tools.board.ports import open_failure_hint

    code = getattr(exc, "errno", None)
    if code in (errno.EACCES, errno.EPERM, errno.EBUSY, errno.ENOENT):
        return open_failure_hint(port, code) + "."
    if "Could not open" in str(exc):
        return open_failure_hint(port) + "."
    return default


def _step(argv: list[str]) -> str:
    command = argv[6] if len(argv) > 6 else ""
    verb = command.replace("_", "-").split("-")[0]
    return verb if verb in HINTS else "write"


def run_esptool(argv: list[str], port: str, runner: Callable[[list[str]], object]) -> None:
    """Run one esptool command line; its failures become DeviceErrors with a next step."""
    import serial
    from esptool.util import FatalError

    step = _step(argv)
    try:
        runner(argv)
    except FatalError as exc:
        raise DeviceError(
            f"esptool failed to {step} on {port}: {exc}. {_serial_hint(port, exc, HINTS[step])}"
        ) from None
    except serial.SerialException as exc:
        raise DeviceError(
            f"cannot use {port}: {exc}. "
            + _serial_hint(
                port,
                exc,
                "Close any serial monitor or other `dowel` command "
                "using it, check the cable, and retry.",
            )
        ) from None
    except SystemExit as exc:  # esptool's argument parser said no
        raise DeviceError(f"esptool refused `{' '.join(argv)}` (exit {exc.code})") from None


def flash_micropython(
    port: str,
    image: Path,
    *,
    erase: bool = False,
    baud: int = DEFAULT_BAUD,
    detect: Callable[[str], str] = detect_chip_name,
    runner: Callable[[list[str]], object] | None = None,
    say: Callable[[str], None] = print,
) -> ImageInfo:
    """Check the image, detect an ESP32, then [erase,] write and verify with esptool."""
    import serial
    from esptool.util import FatalError

    info = check_image(image)
    if runner is None:
        import esptool

        runner = esptool.main
    say(f"Detecting the chip on {port}...")
    try:
        chip = detect(port)
    except FatalError as exc:
        raise DeviceError(
            f"no ESP bootloader answered on {port}: {exc}. "
            + _serial_hint(port, exc, HINTS["connect"])
        ) from None
    except serial.SerialException as exc:
        raise DeviceError(
            f"cannot open {port}: {exc}. {_serial_hint(port, exc, HINTS['connect'])}"
        ) from None
    if chip != "ESP32":
        raise DeviceError(
            f"the board on {port} is an {chip}, not an ESP32: the dowel's pin map and this "
            "firmware are for the classic ESP32 (e.g. an ESP32-WROOM-32 DevKit). Nothing was "
            "written."
        )
    for argv in esptool_commands(port, image, erase=erase, baud=baud):
        say("esptool " + " ".join(argv))
        run_esptool(argv, port, runner)
    return info
