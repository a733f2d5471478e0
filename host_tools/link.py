"""The host's link to a board (real or virtual): mpremote's own serial transport, used as a
library, plus the one convention for calling device-side functions.

    with Link.open("/dev/ttyUSB0") as link:
        version = link.call("dowel.info", "version")   # runs dowel.info.version() on the board

A call imports a firmware module on the board, runs one function and prints its `repr`; the host
parses it with `ast.literal_eval`. Device functions therefore return plain tuples, lists, dicts,
ints, strings and bytes. Entering the raw REPL stops the firmware loop (Ctrl-C, as mpremote does);
closing the link soft-resets the board so the loop runs again for the patient.
"""

from __future__ import annotations

import ast

from host_tools.errors import DeviceError


class Link:
    """A connected board in the raw REPL. Tests may build one around any transport with
    mpremote's `exec_raw`."""

    def __init__(self, transport, port: str = "?"):
        self.transport = transport
        self.port = port

    @classmethod
    def open(cls, port: str) -> Link:
        from mpremote.transport import TransportError
        from mpremote.transport_serial import SerialTransport

        try:
            transport = SerialTransport(port, baudrate=115200)
        except TransportError as exc:
            raise DeviceError(
                f"cannot open {port}: {exc}. Is the dowel plugged in, and is no other program "
                "(a serial monitor, another dowel command) using the port? `dowel ports` lists "
                "boards."
            ) from None
        link = cls(transport, port)
        try:
            transport.enter_raw_repl(soft_reset=False)
        except TransportError as exc:
            transport.close()
            raise DeviceError(
                f"the board on {port} does not answer like MicroPython ({exc}). If it runs other "
                "firmware, install MicroPython first: `dowel flash --firmware FILE.bin`."
            ) from None
        return link

    def exec(self, code: str, timeout: float = 10) -> bytes:
        """Run code on the board; return what it printed. A board-side exception is a
        DeviceError."""
        from mpremote.transport import TransportError

        try:
            out, err = self.transport.exec_raw(code, timeout=timeout)
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
