"""The host's link to a board (real or virtual): mpremote's own serial transport, used as a
library, plus the one convention for calling device-side functions.

    with Link.open("/dev/ttyUSB0") as link:
        out = link.exec("print(1 + 1)")   # b"2\r\n"

A call (`Link.call`) imports a firmware module on the board, runs one function and prints its
`repr`; the host parses it with `ast.literal_eval`. Only `host_tools.board.api` makes calls into
the dowel firmware: everything else asks it. Entering the raw REPL stops the firmware loop
(Ctrl-C, as mpremote does); closing the link soft-resets the board so the loop runs again for
the patient. Connecting retries (see CONNECT_ATTEMPTS), and a port that cannot be opened gets a
hint naming the usual cause (`host_tools.board.ports.open_failure_hint`).
"""

from __future__ import annotations

import ast
import contextlib
import io
import time
from collections.abc import Callable

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


class Link:
    """A connected board in the raw REPL. Tests may build one around any transport with
    mpremote's `exec_raw`."""

    def __init__(self, transport, port: str = "?"):
        self.transport = transport
        self.port = port
        self.clock = None  # an api.ClockSync, once `api.sync_clock` set the board's clock
        self.clock_error: str | None = None  # why it could not be set, if it could not
        self.firmware = None  # an api.FirmwareVersion, once `api.check_firmware` asked

    @classmethod
    def open(
        cls,
        port: str,
        *,
        attempts: int = CONNECT_ATTEMPTS,
        sleep: Callable[[float], None] = time.sleep,
        transport_factory: Callable[[str], object] | None = None,
        fresh: bool = False,
    ) -> Link:
        """Open the port and enter the raw REPL, with up to `attempts` Ctrl-C/Ctrl-A rounds
        (`host_tools.board.api.connect` also sets the board's clock). `fresh`: soft-
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
            from host_tools.board.ports import open_failure_hint

            raise DeviceError(f"cannot open {port}: {open_failure_hint(port)}") from None
        link = cls(transport, port)
        for attempt in range(attempts):
            try:
                # mpremote prints what it read when it gives up: the library never prints.
                with contextlib.redirect_stdout(io.StringIO()):
                    transport.enter_raw_repl(soft_reset=fresh, timeout_overall=ENTER_TIMEOUT_S)
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
