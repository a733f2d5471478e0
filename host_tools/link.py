"""The host's link to a board (real or virtual): mpremote's own serial transport, used as a
library, plus the one convention for calling device-side functions.

    with Link.open("/dev/ttyUSB0") as link:
        version = link.call("dowel.info", "version")   # runs dowel.info.version() on the board

A call imports a firmware module on the board, runs one function and prints its `repr`; the host
parses it with `ast.literal_eval`. Device functions therefore return plain tuples, lists, dicts,
ints, strings and bytes. Entering the raw REPL stops the firmware loop (Ctrl-C, as mpremote does);
closing the link soft-resets the board so the loop runs again for the patient. Connecting
retries (see CONNECT_ATTEMPTS), and a port that cannot be opened gets a hint naming the usual
cause (`host_tools.ports.open_failure_hint`).

Every connection sets the board's clock from the host's (UTC; `sync_clock`), so whichever
command the dowel last met (flash, calibrate, selftest, config, logs pull), the sessions it
logs next are dated; `link.clock` keeps what the board said (its ticks at that moment, for
`host_tools.session_dates`). On a board without the dowel firmware yet (`dowel flash` on a
fresh MicroPython) only the ESP32's RTC is set.
"""

from __future__ import annotations

import ast
import contextlib
import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from host_tools.errors import DeviceError

# Entering the raw REPL: a board that resets when its port opens (the DTR/RTS auto-reset of
# ESP32 DevKits; mpremote's transport_serial.py works around one such case, the CP210x driver on
# Windows) is still booting when the first Ctrl-C arrives, and loses it. So each attempt is
# short, and a failed one is retried after a pause that grows, bounded: at worst
# 4 x 2 s + 0.5 + 1 + 2 s = 11.5 s before giving up (one 10 s attempt before).
CONNECT_ATTEMPTS = 4
ENTER_TIMEOUT_S = 2.0  # per attempt: a running board answers Ctrl-C, Ctrl-A in milliseconds
CONNECT_BACKOFF_S = (0.5, 1.0, 2.0)  # 3.5 s in all for a reset board to boot and answer

# Every command first tells the firmware a host is there: a board left with its loop stopped
# and no host call for a few minutes resets itself back to work (dowel.hal.keepalive). Quiet on
# a board without the dowel firmware.
KEEPALIVE = "try:\n import dowel.hal as _h\n _h.keepalive()\nexcept Exception:\n pass\n"


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


def rtc_tuple(now: datetime) -> tuple[int, ...]:
    """machine.RTC().datetime() order: (year, month, day, weekday 0=Monday, h, m, s, us)."""
    t = now.astimezone(timezone.utc)
    return (t.year, t.month, t.day, t.weekday(), t.hour, t.minute, t.second, 0)


# Runs on the board: the dowel firmware's clock call, else (MicroPython alone, or firmware from
# before `dowel.clock`) the store's `set_rtc`, else the bare RTC. ImportError only: any other
# error is the board's to report.
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
    _k = _time.ticks_ms()
    try:
        from dowel import logstore as _s
        _s.set_rtc(_t)
    except ImportError:
        import machine as _mc
        _mc.RTC().datetime(_t)
    print(repr({{"ticks_ms": _k, "boot": None, "pcf8563": None, "firmware": False}}))
"""


def sync_clock(
    link: Link,
    now: Callable[[], datetime] | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> ClockSync:
    """Set the board's RTC (and a fitted PCF8563) from the host clock; return what it said.
    A board-side error is a DeviceError."""
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
    return ClockSync(
        host_utc=sent + half,
        ticks_ms=said.get("ticks_ms"),
        boot=said.get("boot"),
        pcf8563=said.get("pcf8563"),
        firmware=said.get("firmware", True),
        pcf8563_error=said.get("pcf8563_error"),
    )


class Link:
    """A connected board in the raw REPL. Tests may build one around any transport with
    mpremote's `exec_raw`."""

    def __init__(self, transport, port: str = "?"):
        self.transport = transport
        self.port = port
        self.clock: ClockSync | None = None  # set by `open` (`sync_clock`)
        self.clock_error: str | None = None  # why it could not be set, if it could not

    @classmethod
    def open(
        cls,
        port: str,
        *,
        attempts: int = CONNECT_ATTEMPTS,
        sleep: Callable[[float], None] = time.sleep,
        transport_factory: Callable[[str], object] | None = None,
        set_clock: bool = True,
        now: Callable[[], datetime] | None = None,
        fresh: bool = False,
    ) -> Link:
        """Open the port and enter the raw REPL, with up to `attempts` Ctrl-C/Ctrl-A rounds;
        then set the board's clock (`set_clock`, with `now` as the host clock). `fresh`: soft-
        reset into the raw REPL first, so the stopped firmware loop's modules and objects leave
        the heap (an ESP32_GENERIC has about 110 KB) before a command that needs room: the
        self-test, a calibration, a log pull."""
        from mpremote.transport import TransportError

        if transport_factory is None:
            from mpremote.transport_serial import SerialTransport

            def transport_factory(p):
                return SerialTransport(p, baudrate=115200)

        try:
            transport = transport_factory(port)
        except TransportError:
            from host_tools.ports import open_failure_hint

            raise DeviceError(f"cannot open {port}: {open_failure_hint(port)}") from None
        link = cls(transport, port)
        for attempt in range(attempts):
            try:
                # mpremote prints what it read when it gives up: the library never prints.
                with contextlib.redirect_stdout(io.StringIO()):
                    transport.enter_raw_repl(soft_reset=fresh, timeout_overall=ENTER_TIMEOUT_S)
                if set_clock:
                    link._set_clock(now)
                return link
            except TransportError as exc:
                if attempt + 1 < attempts:
                    sleep(CONNECT_BACKOFF_S[min(attempt, len(CONNECT_BACKOFF_S) - 1)])
                    continue
                transport.close()
                raise DeviceError(
                    f"the board on {port} does not answer like MicroPython ({exc}; tried "
                    f"{attempts} times). If it runs other firmware, install MicroPython first: "
                    "`dowel flash --firmware FILE.bin`."
                ) from None
        raise AssertionError("attempts must be at least 1")

    def _set_clock(self, now: Callable[[], datetime] | None) -> None:
        # A transport that cannot run code (a double of the REPL entry alone) has no clock.
        if not hasattr(self.transport, "exec_raw"):
            return
        try:
            self.clock = sync_clock(self, now)
        except DeviceError as exc:
            # Not fatal to the command that connected: its own calls will say what is wrong
            # with the board; `dowel logs pull` sets the clock again and stops if it fails.
            self.clock_error = str(exc)

    def exec(self, code: str, timeout: float = 10) -> bytes:
        """Run code on the board; return what it printed. A board-side exception is a
        DeviceError."""
        from mpremote.transport import TransportError

        try:
            out, err = self.transport.exec_raw(KEEPALIVE + code, timeout=timeout)
        except TransportError as exc:
            raise DeviceError(f"lost contact with the board on {self.port}: {exc}") from None
        if err:
            raise DeviceError(
                f"the board reported an error: {err.decode(errors='replace').strip()}"
            )
        return out

    def call(self, module: str, function: str, *args, timeout: float = 10):
        """Run `module.function(*args)` on the board and return its result as a Python value."""
        arglist = ", ".join(repr(a) for a in args)
        out = self.exec(
            f"import {module} as _m\nprint(repr(_m.{function}({arglist})))", timeout=timeout
        )
        text = out.decode(errors="replace").strip()
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise DeviceError(
                f"unexpected answer from {module}.{function} on the board: {text[:200]!r}. "
                "Is the dowel firmware installed? Run `dowel flash`."
            ) from None

    def close(self, restart: bool = True) -> None:
        """Leave the raw REPL; by default soft-reset so the firmware loop runs again."""
        try:
            if restart:
                self.transport.exit_raw_repl()
                self.transport.serial.write(b"\x04")
        except Exception:  # noqa: BLE001 - a vanished board must not hide the real result
            pass
        finally:
            self.transport.close()

    def __enter__(self) -> Link:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
