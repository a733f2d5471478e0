"""The host-device contract: one typed function per call the host makes into the dowel firmware.

    link = api.connect("/dev/ttyUSB0")            # raw REPL, the board's clock set
    cfg, reason = api.read_config(link)           # the firmware's protocol checked first, once

Every other host module reaches the firmware through here, so three things are decided once:
- the firmware's protocol (`dowel.version.PROTOCOL`, the names and tuple shapes below) is
  checked against the host's on a link's first call, and a mismatch says which side to update;
- a board that has MicroPython but not the dowel firmware (never flashed, or a flash that was
  interrupted) answers `ImportError: no module named 'dowel...'`; that becomes "run `dowel
  flash`" here, not in every caller;
- answers are checked for shape, so a caller gets the types it is annotated with.

Device functions return plain tuples, lists, dicts, ints, strings and bytes (`Link.call` parses
their `repr`). The device side of each call is named in its docstring.
"""

from __future__ import annotations

import ast
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from dowel import version as firmware_version

from host_tools.board.link import Link
from host_tools.errors import DeviceError

FLASH_FIX = "install the dowel firmware with `dowel flash`"


class FirmwareMissing(DeviceError):
    """The board runs MicroPython without the dowel firmware, or with part of it."""


class ProtocolMismatch(DeviceError):
    """The board's firmware speaks another version of this contract."""


@dataclass(frozen=True)
class FirmwareVersion:
    firmware: str  # dowel.version.FIRMWARE on the board
    protocol: int
    config: int  # /dowel.json schema version


def firmware_missing(text: str) -> bool:
    """Whether a board-side error means "this firmware is not (all) there"."""
    lowered = text.lower()
    # MicroPython says ImportError; CPython (the test doubles) ModuleNotFoundError.
    missing_module = "importerror" in lowered or "modulenotfounderror" in lowered
    return (missing_module and "dowel" in lowered) or (
        "attributeerror" in lowered and "module" in lowered and "has no attribute" in lowered
    )


def _raw(link: Link, module: str, function: str, *args, timeout: float = 10):
    try:
        return link.call("dowel." + module, function, *args, timeout=timeout)
    except DeviceError as exc:
        if firmware_missing(str(exc)):
            raise missing_error(link, f"dowel.{module}.{function}") from None
        raise


def missing_error(link: Link, what: str) -> FirmwareMissing:
    return FirmwareMissing(
        f"the board on {getattr(link, 'port', '?')} has MicroPython but not the dowel "
        f"firmware's {what} (never "
        f"installed, or an install was interrupted): {FLASH_FIX}"
    )


def version(link: Link) -> FirmwareVersion:
    """`dowel.info.version()`: (firmware, protocol, config), with no protocol check, for
    `dowel flash` and the self-test's firmware line."""
    answer = _raw(link, "info", "version")
    if (
        not isinstance(answer, tuple)
        or len(answer) != 3
        or not isinstance(answer[0], str)
        or not all(isinstance(v, int) for v in answer[1:])
    ):
        raise DeviceError(f"dowel.info.version() answered {answer!r}; {FLASH_FIX} again")
    return FirmwareVersion(*answer)


def check_firmware(link: Link) -> FirmwareVersion:
    """The board's firmware version, its protocol checked against the host's; asked once per
    link (kept as `link.firmware`)."""
    known = getattr(link, "firmware", None)
    if known is not None:
        return known
    found = version(link)
    host = firmware_version.PROTOCOL
    if found.protocol != host:
        side = (
            f"update it with `dowel flash` (these host tools install firmware "
            f"{firmware_version.FIRMWARE})"
            if found.protocol < host
            else "update these host tools to a release that speaks it, or reinstall this "
            "release's firmware with `dowel flash`"
        )
        raise ProtocolMismatch(
            f"the dowel runs firmware {found.firmware} (host protocol {found.protocol}); these "
            f"host tools speak protocol {host}: {side}"
        )
    link.firmware = found
    return found


def _call(link: Link, module: str, function: str, *args, timeout: float = 10):
    check_firmware(link)
    return _raw(link, module, function, *args, timeout=timeout)


# --------------------------------------------------------------------------------------------
# Connecting, and the board's clock


@dataclass(frozen=True)
class ClockSync:
    """What setting the board's clock told the host. `host_utc`: the host's time at the board's
    `ticks_ms` reading (the middle of the call); `boot`: the log store's boot number of the last
    session begun since the board's interpreter started (None: none, or older firmware);
    `pcf8563`: True set, False found but refused, None not fitted (or older firmware)."""

    host_utc: datetime
    ticks_ms: int | None
    boot: int | None
    pcf8563: bool | None
    firmware: bool  # False: no `dowel.clock` on the board, only the ESP32's RTC was set
    pcf8563_error: str | None = None
    # The dowel's own clock at that moment, before the host set it (UTC; None: older firmware
    # or a reading that is no date): the board clock against the host clock.
    board_utc: datetime | None = None


def _rtc_datetime(rtc) -> datetime | None:
    """machine.RTC().datetime() order as an aware UTC datetime; None when it is not one."""
    try:
        year, month, day, _wd, hour, minute, second, us = rtc
        return datetime(year, month, day, hour, minute, second, us, tzinfo=timezone.utc)
    except (TypeError, ValueError):
        return None


def rtc_tuple(now: datetime) -> tuple[int, ...]:
    """machine.RTC().datetime() order: (year, month, day, weekday 0=Monday, h, m, s, us)."""
    t = now.astimezone(timezone.utc)
    return (t.year, t.month, t.day, t.weekday(), t.hour, t.minute, t.second, 0)


# Runs on the board: the dowel firmware's clock call (`dowel.clock.sync`), else (MicroPython
# alone, as `dowel flash` meets it) the bare RTC. ImportError only: any other error is the
# board's to report.
_SYNC_CODE = """\
_t = {t!r}
try:
    from dowel import clock as _c
except ImportError:
    _c = None
if _c is not None:
    print(repr(_c.sync(_t)))
else:
    import time as _time
    import machine as _mc
    _k = _time.ticks_ms()
    _mc.RTC().datetime(_t)
    print(repr({{"ticks_ms": _k, "boot": None, "pcf8563": None, "firmware": False}}))
"""


def sync_clock(
    link: Link,
    now: Callable[[], datetime] | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> ClockSync:
    """Set the board's RTC (and a fitted PCF8563) from the host clock; keep what it said as
    `link.clock` and return it. A board-side error is a DeviceError."""
    now = now or (lambda: datetime.now(timezone.utc))
    t0 = monotonic()
    sent = now()
    out = link.exec(_SYNC_CODE.format(t=rtc_tuple(sent)))
    # The board read its ticks about half-way through the round trip (USB serial: a few ms).
    half = timedelta(seconds=max(0.0, monotonic() - t0) / 2)
    text = out.decode(errors="replace").strip()
    try:
        said = ast.literal_eval(text)
        if not isinstance(said, dict):
            raise ValueError(text)
    except (ValueError, SyntaxError):
        raise DeviceError(
            f"unexpected answer when setting the board's clock: {text[:200]!r}"
        ) from None
    link.clock = ClockSync(
        host_utc=sent + half,
        ticks_ms=said.get("ticks_ms"),
        boot=said.get("boot"),
        pcf8563=said.get("pcf8563"),
        firmware=said.get("firmware", True),
        pcf8563_error=said.get("pcf8563_error"),
        board_utc=_rtc_datetime(said.get("rtc_before")),
    )
    return link.clock


def connect(
    port: str,
    *,
    fresh: bool = False,
    set_clock: bool = True,
    now: Callable[[], datetime] | None = None,
    **open_kw,
) -> Link:
    """`Link.open` (raw REPL; `fresh` soft-resets first to free the heap), then the board's
    clock set from the host's, so whichever command the dowel last met, the sessions it logs
    next are dated. A clock that cannot be set is not fatal here (`link.clock_error` says why):
    the command's own calls say what is wrong with the board, and a log pull sets it again."""
    link = Link.open(port, fresh=fresh, **open_kw)
    # A transport that cannot run code (a double of the REPL entry alone) has no clock.
    if set_clock and hasattr(getattr(link, "transport", None), "exec_raw"):
        try:
            sync_clock(link, now)
        except DeviceError as exc:
            link.clock_error = str(exc)
    return link


def connect_when_booted(
    port: str,
    wait_s: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Link:
    """`connect`, retried for `wait_s` while a freshly flashed board boots."""
    deadline = clock() + wait_s
    while True:
        try:
            return connect(port)
        except DeviceError:
            if clock() >= deadline:
                raise
            sleep(0.5)


# --------------------------------------------------------------------------------------------
# Identity, config, drift, faults


def unique_id(link: Link) -> str:
    """`dowel.hal.unique_id()`: the ESP32's MAC as hex text, as the log headers carry it."""
    uid = _call(link, "hal", "unique_id")
    if not isinstance(uid, bytes | bytearray):
        raise DeviceError(f"the board answered {uid!r} for its id; {FLASH_FIX} again")
    return bytes(uid).hex()


def read_config(link: Link) -> tuple[dict, str | None]:
    """`dowel.config.read()`: the config the board runs and, when it refused its file, why."""
    answer = _call(link, "config", "read")
    if not (isinstance(answer, tuple) and len(answer) == 2 and isinstance(answer[0], dict)):
        raise DeviceError(f"dowel.config.read() answered {answer!r}; {FLASH_FIX} again")
    return answer[0], answer[1]


def write_config(link: Link, canonical_json: str) -> dict:
    """`dowel.config.write_json(text)`: validated and saved atomically by the board; returns
    the config it kept."""
    return _call(link, "config", "write_json", canonical_json)


def reset_drift(link: Link) -> None:
    """`dowel.drift.reset()`: forget the contact levels seen against the old calibration."""
    _call(link, "drift", "reset")


def drift_report(link: Link):
    """`dowel.drift.report()`: each sensor's contact level during the neutral hold."""
    return _call(link, "drift", "report")


def last_fault(link: Link) -> str | None:
    """`dowel.fault.last()`: the one line the dowel left when a fault stopped its loop."""
    return _call(link, "fault", "last")


def clear_fault(link: Link) -> None:
    _call(link, "fault", "clear")


# --------------------------------------------------------------------------------------------
# The self-test's measurements (`dowel.selftest`); the host judges them

SELFTEST_TIMEOUT_S = 15  # the longest: a cue of ~1 s and its gap


def fsr_window(link: Link, ms: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Per-sensor minimum and maximum raw counts over `ms`: ((min x3), (max x3))."""
    lo, hi = _call(link, "selftest", "window", ms, timeout=SELFTEST_TIMEOUT_S)
    return tuple(lo), tuple(hi)


def beep(link: Link, freq_hz: int, ms: int) -> None:
    _call(link, "selftest", "beep", freq_hz, ms, timeout=SELFTEST_TIMEOUT_S)


def play_cue(link: Link, name: str, gap_ms: int) -> None:
    _call(link, "selftest", "cue", name, gap_ms, timeout=SELFTEST_TIMEOUT_S)


def set_led(link: Link, on: bool) -> None:
    _call(link, "selftest", "led", on)


def imu_reading(link: Link) -> tuple[bool, int, int]:
    """(present, pitch in tenths of a degree, |g| in milli-g)."""
    present, pitch_ddeg, g_milli = _call(link, "selftest", "imu")
    return bool(present), pitch_ddeg, g_milli


def imu_chip(link: Link) -> tuple[int, str]:
    """(WHO_AM_I, chip name), or (-1, "") when no IMU answers."""
    who, name = _call(link, "selftest", "imu_chip")
    return who, name


def battery(link: Link) -> tuple[bool, int, int]:
    """(present, cell mV, percent)."""
    present, cell_mv, pct = _call(link, "selftest", "battery")
    return bool(present), cell_mv, pct


# --------------------------------------------------------------------------------------------
# The rep log (`dowel.loghost`, over `dowel.logstore`)


def log_status(link: Link) -> dict:
    return _call(link, "loghost", "status")


def log_segments(link: Link) -> list[tuple]:
    """Rows of (name, size, sha256, unfinished-write offset or -1)."""
    return [tuple(row) for row in _call(link, "loghost", "segments", timeout=60)]


def log_read(link: Link, name: str, offset: int, n: int) -> str:
    """`n` bytes of segment `name` from `offset`, as base64 text."""
    return _call(link, "loghost", "read", name, offset, n)


def log_delete(link: Link, verified: list[tuple[str, str]]) -> dict:
    """Delete the segments whose (name, sha256) still match: {"deleted", "missing",
    "changed"}, each a list of names."""
    return _call(link, "loghost", "delete", verified)


def log_ack_dropped(link: Link, dropped: int) -> None:
    _call(link, "loghost", "ack_dropped", dropped)


def log_reserve_sessions(link: Link, first: int) -> None:
    """Number the board's next sessions from `first` on."""
    _call(link, "loghost", "reserve_sessions", first)


# --------------------------------------------------------------------------------------------
# Live readings (`dowel.stream`): code that prints while it runs; `board.livestream` reads it


def stream_code(link: Link, duration_ms: int, period_ms: int, resume: bool) -> str:
    """The code to run with `exec_raw_no_follow` for `dowel.stream.run`; checks the firmware
    first."""
    check_firmware(link)
    return (
        "import dowel.stream as _s\n"
        f"_s.run({int(duration_ms)}, {int(period_ms)}, {1 if resume else 0})"
    )
