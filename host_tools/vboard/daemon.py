"""The virtual board's daemon: owns the serial port (a pseudo-terminal) and the board process.

    python -m host_tools.vboard.daemon --name default [--flash IMAGE] [--imu 6050|6500|none]
                                       [--heap-kb KB] [--parent-pid PID]

Prints one JSON line on stdout once the board has booted ({"ok": true, "port": ..., ...} or
{"ok": false, "error": ...}), then logs to `board.log` in the board's state directory.

- The serial port: a pty in raw mode, symlinked as `<state dir>/tty` (the port `mpremote
  connect` takes). While no program has it open, the board's output is discarded, as a
  USB-serial bridge does.
- The board process: the native MicroPython unix interpreter (host_tools/vboard/launch.py
  running vboard/py/_vbboot.py), on a second pty that is its controlling terminal, so the host's
  Ctrl-C reaches it as SIGINT while it runs code, exactly where an ESP32's UART interrupt
  would raise it (see vboard/README.md). Each boot (power-on, soft or hard reset, watchdog) is a
  fresh process on the same flash image; this daemon prints what an ESP32 prints between boots.
- The hardware outside the chip lives here: the watchdog (it outlives a soft reset), the RTC
  (it survives every reset but a power cut), the recorded outputs, the simulated patient
  (timeline files and a header the board reads, see vboard/py/_vbhw.py) and power cuts.
- Control: a Unix socket taking one JSON request per connection: ping, status, play, outputs,
  truth, powercut, power, stop (host_tools.vboard.client speaks it).
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import json
import os
import re
import select
import selectors
import signal
import socket
import struct
import subprocess
import sys
import termios
import time
import tty
from pathlib import Path

from host_tools.paths import vboard_py_dir
from host_tools.vboard import state
from host_tools.vboard.interp import board_command, board_path
from host_tools.vboard.launch import TICK_S, WAKE_SIGNAL

MAX_RESTARTS = 5  # crashes within RESTART_WINDOW_S, then the daemon gives up
RESTART_WINDOW_S = 30.0
PTY_BUFFER_MAX = 1 << 20
MAX_OUTPUTS = 200_000  # recorded outputs kept since the last play (a long-running board)
HEAP_KB = 112  # the ESP32_GENERIC's heap: 56 KiB at start, grown once (docs/esp32-facts.md)
# The unix port here is 64-bit: pointers, object headers and GC blocks (4 words) are twice an
# ESP32's, bytecode and strings are not. The firmware's modules (.mpy, loaded and set up) took
# 73472 bytes of heap on this port against 67984 on the 32-bit WebAssembly port of 1.27 (both
# measured on the same build, 2026-12-02), so the board scales the ESP32's heap by that ratio
# to hold what an ESP32's holds.
WORD_SCALE = 1.08
# What the simulated hardware takes of the heap here and an ESP32 keeps in flash (its `machine`
# is C): _vbmachine, _vbhw, _vbflash, _vbtime, _vbselect and the boot script, measured after
# boot (`dowel vboard status`, heap used) less the ~3 KB an ESP32 uses at that point.
SIM_KB = 44

# reset_cause() values of the esp32 port (ports/esp32/modmachine.c)
PWRON_RESET, HARD_RESET, WDT_RESET, DEEPSLEEP_RESET, SOFT_RESET = 1, 2, 3, 4, 5
# event records from the board (vboard/py/_vbhw.py)
EV_PIN, EV_PWM, EV_WDT_START, EV_WDT_FEED, EV_SOFT_RESET = 1, 2, 3, 4, 5
EV_HARD_RESET, EV_RTC_SET, EV_POWER_CUT, EV_DEEPSLEEP, EV_HEAP, EV_FLASH = 6, 7, 8, 9, 10, 11

MARK_START = b"\x1b_vb:"
MARK_END = b"\x1b\\"
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
FRIENDLY_BANNER = b'Type "help()" for more information.'
LONE_LF = re.compile(rb"(?<!\r)\n")
ROM_BANNER = b"ets Jun  8 2016 00:22:57\r\n\r\nrst:%s,boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n"
FLASH_BYTES = 0x200000  # the vfs partition of ESP32_GENERIC: 512 blocks of 4096 bytes


def x64_heap_kb(esp32_kb: int) -> int:
    """The heap on this 64-bit interpreter that holds what `esp32_kb` holds on an ESP32."""
    return round(esp32_kb * WORD_SCALE)


def monotonic_us() -> int:
    return time.monotonic_ns() // 1000


def board_pins() -> dict:
    from dowel import pinmap

    return {
        "sensors": list(pinmap.SENSOR_PINS),
        "led": pinmap.LED_PIN,
        "buzzer": pinmap.BUZZER_PIN,
    }


def _tgkill():
    """libc's syscall() for tgkill(2) (Linux x86-64: 234), or None where there is none."""
    try:
        import ctypes
        import ctypes.util

        if sys.platform != "linux" or os.uname().machine != "x86_64":
            return None
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).syscall
    except (OSError, AttributeError):
        return None


SYS_TGKILL = 234
_libc_syscall = _tgkill()
# Linux x86-64 system calls in which the interpreter's main thread waits for an event (see
# try_ctrl_c): poll, select, pselect6, ppoll (asyncio, sleeps: extmod/modselect.c and the unix
# port's event wait), and read on its console (input()). Not any other read, write or sleep:
# those run inside littlefs's block device, the GC or the scheduler's lock, out of which the
# port's signal handler must never jump.
POLL_SYSCALLS = {7, 23, 270, 271}
READ_SYSCALL = 0
CTRL_C_BUSY_S = 1.0  # then a loop that never waits is interrupted where it is
CTRL_C_FLASH_S = 2.0


def _syscall(pid: int) -> tuple[int, int] | None:
    """The system call the main thread of `pid` is blocked in and its first argument; None
    while it runs; (-1, 0) when there is no /proc to tell (not Linux)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/syscall") as f:
            fields = f.read().split()
    except OSError:
        return (-1, 0)
    if len(fields) < 2 or not fields[0].isdigit():
        return None  # "running"
    return int(fields[0]), int(fields[1], 16)


def _waiting(pid: int) -> bool:
    """Whether the main thread of `pid` is blocked waiting for an event (see above)."""
    call = _syscall(pid)
    if call is None:
        return False
    nr, arg = call
    return nr < 0 or nr in POLL_SYSCALLS or (nr == READ_SYSCALL and arg == 0)


def _reading_console(pid: int) -> bool:
    """Whether the main thread of `pid` is blocked reading its console (the REPL waits)."""
    return _syscall(pid) == (READ_SYSCALL, 0)


def _controlling_tty() -> None:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def flash_image(path: Path | str | None, name: str) -> Path:
    """The flash image for `path`: an `.img` file itself, otherwise `flash.img` in that folder."""
    if path is None:
        return state.state_dir(name) / "flash.img"
    path = Path(path)
    return path if path.suffix == ".img" else path / "flash.img"


def blank_image(path: Path) -> None:
    """A new, erased flash: the board formats it with littlefs at its first boot."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(b"\xff" * FLASH_BYTES)


class StartError(Exception):
    pass


class Daemon:
    def __init__(self, args: argparse.Namespace):
        self.name = args.name
        self.sdir = Path(args.state_dir) if args.state_dir else state.state_dir(self.name)
        self.sdir.mkdir(parents=True, exist_ok=True)
        self.bdir = self.sdir / "board"
        self.image = flash_image(args.flash, self.name).resolve()
        self.imu = args.imu
        self.heap_kb = args.heap_kb
        self.pins = board_pins()
        self.parent_pid = args.parent_pid
        self.log_fd = os.open(
            self.sdir / "board.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600
        )
        self.sel = selectors.DefaultSelector()
        self.locks: list[int] = []
        self.master = -1
        self.pty_name = ""
        self.port = str(self.sdir / "tty")
        self.connected = False
        self.to_pty = bytearray()
        self.server: socket.socket | None = None
        self.control = state.control_path(self.sdir)
        self.board: subprocess.Popen | None = None
        self.board_pid = 0
        self.bmaster = -1
        self.to_board = bytearray()
        self.held_in = bytearray()
        self.hold_input = True
        self.boot_mode = "friendly"
        self.mode = "off"
        self.raw = False
        self.mode_tail = b""
        self.out_tail = b""
        self.swallow = b""
        self.prev_cr = False
        self.pending_reset: str | None = None
        self.ctrl_c_sent = 0.0
        self.ctrl_c_since = 0.0
        self.ctrl_c_held = False
        self.flash_busy = False
        self.sigint_races = 0
        self.ev_fd = -1
        self.ev_in = bytearray()
        self.ctl_fd = -1
        self.hdr_seq = 0
        self.gen = 0
        self.t0_us = self.play_us = monotonic_us()
        self.hold_ms = -1
        self.tl_n = 0
        self.tl_dt = 1
        self.holds: list[dict] = []
        self.host_seen = b""
        self.cut_ops = -1
        self.cut_seq = 0
        self.cut_torn = False
        self.ready = False
        self.announced = False
        self.stopping = False
        self.woke = 0.0  # when wake_console last looked (monotonic s)
        self.wdt: list | None = None  # [timeout_ms, last feed (monotonic s)]
        self.restarts: list[float] = []
        self.heap: dict = {}
        self.rtc_offset_us = -monotonic_us()  # power-on: the RTC reads 2000-01-01 00:00:00
        self.truth: dict | None = None
        self.scenario_name: str | None = None
        self.outputs: list[tuple[int, str, object]] = []
        self.current: dict[str, object] = {"tone": 0, "led": 0}
        self.resets: list[tuple[int, str]] = []
        self.started = time.time()
        self.started_mono = time.monotonic()

    # ---- logging ------------------------------------------------------------------------------

    def log(self, msg: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        os.write(self.log_fd, f"{stamp} daemon: {msg}\n".encode())

    # ---- set-up -------------------------------------------------------------------------------

    def acquire(self) -> None:
        fd = state.try_lock(self.sdir / "lock")
        if fd is None:
            info = state.read_state(self.name) or {}
            raise StartError(
                f"a virtual board named {self.name!r} is already running"
                + (f" (pid {info['pid']}, port {info['port']})" if info else "")
                + ". Use it (`mpremote connect PORT`), or stop it first: `dowel vboard stop`."
            )
        self.locks.append(fd)
        if not self.image.exists():
            blank_image(self.image)
        fd = state.try_lock(self.image)
        if fd is None:
            raise StartError(
                f"the flash image {self.image} is in use by another virtual board; "
                "stop that board first (`dowel vboard status` shows it)."
            )
        self.locks.append(fd)

    def open_pty(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)
        self.pty_name = os.ttyname(slave)
        os.close(slave)  # no slave open = nobody connected (the master reads EIO, polls HUP)
        os.set_blocking(master, False)
        self.master = master
        tmp = self.sdir / "tty.tmp"
        tmp.unlink(missing_ok=True)
        os.symlink(self.pty_name, tmp)
        os.replace(tmp, self.port)

    def open_control(self) -> None:
        try:
            os.unlink(self.control)
        except FileNotFoundError:
            pass
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            srv.bind(self.control)
        finally:
            os.umask(old)
        srv.listen(8)
        srv.setblocking(False)
        self.server = srv
        self.sel.register(srv, selectors.EVENT_READ, self.on_accept)

    # ---- the board process ------------------------------------------------------------------

    def open_board_dir(self) -> None:
        """What the board process reads and writes besides its console (vboard/py/_vbhw.py)."""
        bdir = self.bdir
        bdir.mkdir(parents=True, exist_ok=True)
        (bdir / "timeline.bin").write_bytes(b"")
        fifo = bdir / "events"
        fifo.unlink(missing_ok=True)
        os.mkfifo(fifo, 0o600)
        # Read-write, so the board's open for writing never blocks and a board process that
        # ends never makes this end read EOF.
        self.ev_fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
        self.sel.register(self.ev_fd, selectors.EVENT_READ, self.on_events)
        self.ctl_fd = os.open(bdir / "patient.ctl", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        self.write_header()

    def write_header(self) -> None:
        """The 64-byte header the board reads (`_vbhw._HDR_*`), in one pwrite."""
        self.hdr_seq += 2
        body = struct.pack(
            "<IIqiIIiII",
            self.hdr_seq,
            self.gen,
            self.t0_us,
            self.hold_ms,
            self.tl_n,
            self.tl_dt,
            self.cut_ops,
            self.cut_seq,
            1 if self.cut_torn else 0,
        )
        body = body.ljust(60, b"\0") + struct.pack("<I", self.hdr_seq)
        os.pwrite(self.ctl_fd, body, 0)

    def spawn_board(self, boot: str = "friendly", reset_cause: int = PWRON_RESET) -> None:
        master, slave = os.openpty()
        attrs = termios.tcgetattr(slave)
        # The terminal passes every byte untouched in both of the port's modes (its "raw" mode
        # only clears lflag, which is clear here too): the host's Ctrl-C is delivered by
        # deliver_ctrl_c() below, as the ESP32's UART interrupt does, not by the line discipline.
        attrs[0] = 0  # iflag
        attrs[1] = 0  # oflag: the daemon cooks "\n" into "\r\n" as the ESP32's stdout does
        attrs[2] = termios.CS8 | termios.CREAD | termios.CLOCAL
        attrs[3] = 0  # lflag: no echo, no line editing, no signals
        cc = attrs[6]
        cc[termios.VMIN] = 1
        cc[termios.VTIME] = 0
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        env = dict(os.environ)
        env.update(
            {
                "MICROPYPATH": board_path(),
                "VB_DIR": str(self.bdir),
                "VB_IMAGE": str(self.image),
                "VB_BOOT": boot,
                "VB_RESET_CAUSE": str(reset_cause),
                "VB_UID": state.unique_id(self.image),
                "VB_IMU": self.imu,
                "VB_SENSOR_PINS": ",".join(str(p) for p in self.pins["sensors"]),
                "VB_RTC_OFFSET_US": str(self.rtc_offset_us),
            }
        )
        heap_kb = x64_heap_kb(self.heap_kb) + SIM_KB
        cmd = board_command(heap_kb, vboard_py_dir() / "_vbboot.py", interactive=True)
        self.board = subprocess.Popen(
            cmd,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
            preexec_fn=_controlling_tty,
            cwd=str(self.bdir),  # the board opens nothing relative; not the checkout either
            env=env,
        )
        os.close(slave)
        os.set_blocking(master, False)
        self.bmaster = master
        self.board_pid = self.board.pid
        self.sel.register(master, selectors.EVENT_READ, self.on_board_out)
        self.boot_mode = boot
        self.mode = "boot"
        self.hold_input = True  # until the interpreter's SIGINT handler is in place ("up")
        self.swallow = b""
        self.out_tail = b""
        self.prev_cr = False
        self.pending_reset = None
        self.flash_busy = self.ctrl_c_held = False
        self.log(f"board process {self.board.pid} started ({boot}, reset cause {reset_cause})")
        now = monotonic_us()
        self.outputs.append((now, "boot", reset_cause, self.scenario_ms(now)))

    def on_board_out(self, mask: int) -> None:
        try:
            data = os.read(self.bmaster, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.board_ended()
            return
        self.board_output(data)

    def board_output(self, data: bytes) -> None:
        data = self.out_tail + data
        self.out_tail = b""
        out = bytearray()
        while data:
            i = data.find(b"\x1b")
            if i < 0:
                out += data
                break
            out += data[:i]
            rest = data[i:]
            if not MARK_START.startswith(rest[: len(MARK_START)]):
                out += rest[:1]
                data = rest[1:]
                continue
            j = rest.find(MARK_END)
            if len(rest) < len(MARK_START) or j < 0:
                if len(rest) < 64:
                    self.out_tail = rest  # a marker cut by the read: wait for the rest
                else:
                    out += rest
                break
            self.console(bytes(out))  # what came before the marker, under the old state
            out.clear()
            self.on_marker(rest[len(MARK_START) : j].decode(errors="replace"), out)
            data = rest[j + len(MARK_END) :]
        self.console(bytes(out))

    def on_marker(self, name: str, out: bytearray) -> None:
        if name == "up":
            self.hold_input = False
            held, self.held_in = bytes(self.held_in), bytearray()
            self.flush_board()
            self.host_bytes(held)
        elif name == "main":
            self.mode = "main"
            self.ready = True
        elif name == "repl":
            self.mode = "repl"
            self.ready = True
            if self.boot_mode == "raw":
                # The raw REPL survives a soft reset on a board (pyexec_mode_kind is kept):
                # ask the fresh interpreter for it and show only what the board would.
                self.swallow = RAW_BANNER
                self.bwrite(b"\x01")

    def console(self, data: bytes) -> None:
        """Board output to the host: the raw-REPL banner tracked, "\n" cooked to "\r\n"."""
        if self.swallow:
            k = data.find(self.swallow)
            if k < 0:
                return
            data = data[k:]
            self.swallow = b""
        probe = self.mode_tail + data
        r = probe.rfind(RAW_BANNER)
        f = probe.rfind(FRIENDLY_BANNER)
        if r >= 0 or f >= 0:
            self.raw = r > f
        self.mode_tail = probe[-64:]
        head = b""
        if data.startswith(b"\n") and self.prev_cr:
            head, data = b"\n", data[1:]
        cooked = head + LONE_LF.sub(b"\r\n", data)
        if data:
            self.prev_cr = data.endswith(b"\r")
        self.write_pty(cooked)

    def bwrite(self, data: bytes) -> None:
        self.to_board += data
        self.flush_board()

    def flush_board(self) -> None:
        if self.board is None or self.hold_input:
            return
        while self.to_board:
            try:
                n = os.write(self.bmaster, self.to_board)
            except BlockingIOError:
                break
            except OSError:
                self.to_board.clear()
                return
            del self.to_board[:n]
        self._set_events(self.bmaster, self.on_board_io, bool(self.to_board))

    def _set_events(self, fileobj, callback, want_write: bool) -> None:
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if want_write else 0)
        try:
            self.sel.modify(fileobj, events, callback)
        except (KeyError, ValueError):
            pass

    def on_board_io(self, mask: int) -> None:
        if mask & selectors.EVENT_WRITE:
            self.flush_board()
        if mask & selectors.EVENT_READ:
            self.on_board_out(mask)

    def on_events(self, mask: int) -> None:
        try:
            data = os.read(self.ev_fd, 65536)
        except BlockingIOError:
            return
        self.ev_in += data
        n = len(self.ev_in) // 16 * 16
        for off in range(0, n, 16):
            kind, a, b, c = struct.unpack_from("<BBii", self.ev_in, off)
            t_us = int.from_bytes(self.ev_in[off + 10 : off + 16], "little")
            self.on_event(kind, a, b, c, t_us)
        del self.ev_in[:n]

    def on_event(self, kind: int, a: int, b: int, c: int, t_us: int) -> None:
        pins = self.pins
        if kind == EV_PIN:
            if a == pins["led"]:
                self.record(t_us, "led", 1 if b else 0)
            else:
                self.record(t_us, "pin", [a, 1 if b else 0])
        elif kind == EV_PWM:
            freq, duty = b, c
            self.record(t_us, "pwm", [a, freq, duty])
            if a == pins["buzzer"]:
                self.record(t_us, "tone", freq if duty else 0)
            if a == pins["led"]:
                self.record(t_us, "led", 1 if duty else 0)
        elif kind == EV_WDT_START:
            self.wdt = [b, time.monotonic()]
        elif kind == EV_WDT_FEED:
            if self.wdt:
                self.wdt[1] = time.monotonic()
        elif kind == EV_RTC_SET:
            self.rtc_offset_us = (b & 0x7FFFFFFF) | ((c & 0xFFFFFFFF) << 31)
            if self.rtc_offset_us >= 1 << 62:
                self.rtc_offset_us -= 1 << 63
        elif kind == EV_HEAP:
            self.heap = {"free": b, "used": c}
        elif kind == EV_FLASH:
            self.flash_busy = bool(b)
        elif kind == EV_SOFT_RESET:
            self.reset_board("soft")
        elif kind == EV_HARD_RESET:
            self.reset_board("hard")
        elif kind == EV_POWER_CUT:
            self.cut_ops = -1  # spent: the boots after it must not cut again
            self.write_header()
            self.reset_board("power")
        elif kind == EV_DEEPSLEEP:
            self.reset_board("deepsleep")

    def record(self, t_us: int, kind: str, value) -> None:
        key = kind if not isinstance(value, list) else f"{kind}{value[0]}"
        if self.current.get(key) == value:
            return
        self.current[key] = value
        self.outputs.append((t_us, kind, value, self.scenario_ms(t_us)))
        if len(self.outputs) > MAX_OUTPUTS:
            del self.outputs[: len(self.outputs) - MAX_OUTPUTS]

    def reset_board(self, why: str) -> None:
        """Stop the board process for a reset of kind `why`; board_ended() boots the next."""
        if self.board is None or self.pending_reset:
            return
        self.pending_reset = why
        try:
            self.board.kill()
        except OSError:
            pass

    def board_ended(self) -> None:
        proc = self.board
        if proc is None:
            return
        try:
            self.sel.unregister(self.bmaster)
        except (KeyError, ValueError):
            pass
        try:
            rc = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        os.close(self.bmaster)
        self.bmaster = -1
        self.board = None
        if not (rc == -signal.SIGINT and time.monotonic() - self.ctrl_c_sent < 1):
            self.to_board.clear()
        if self.stopping:
            return
        why = self.pending_reset or ("soft" if rc == 0 else "crash")
        if rc == -signal.SIGINT and time.monotonic() - self.ctrl_c_sent < 1:
            # The Ctrl-C reached the interpreter in the microseconds in which it stopped
            # listening for one (the default SIGINT action ends it); a board would have taken
            # the byte as input. Boot again into the same REPL, keeping what the host sent.
            why = "soft"
            self.sigint_races += 1
            self.log("a Ctrl-C met the interpreter as it stopped listening; booting again")
        t_us = monotonic_us()
        for key in ("tone", "led"):
            self.record(t_us, key, 0)  # a reset stops the PWM and the pins go to inputs
        ms = int((time.monotonic() - self.started_mono) * 1000)
        boot, cause = "friendly", PWRON_RESET
        if why == "soft":
            self.write_pty(b"MPY: soft reboot\r\n")
            boot, cause = ("raw" if self.raw else "friendly"), SOFT_RESET
        elif why == "wdt":
            self.write_pty(
                f"E ({ms}) task_wdt: Task watchdog got triggered. The following tasks/users did "
                f"not reset the watchdog in time:\r\nE ({ms}) task_wdt:  - mpy_machine_wdt "
                f"(CPU 0/1)\r\nE ({ms}) task_wdt: Aborting.\r\n".encode()
            )
            cause = WDT_RESET
        elif why == "hard":
            self.write_pty(ROM_BANNER % b"0xc (SW_CPU_RESET)")
            cause = HARD_RESET
        elif why == "deepsleep":
            self.write_pty(ROM_BANNER % b"0x5 (DEEPSLEEP_RESET)")
            cause = DEEPSLEEP_RESET
        elif why in ("power", "brownout"):
            self.rtc_offset_us = -monotonic_us()  # no battery: the RTC starts again at 2000
            self.write_pty(ROM_BANNER % b"0x1 (POWERON_RESET)")
        else:
            self.write_pty(f"\r\n[vboard] the board process ended ({rc}); resetting\r\n".encode())
            cause = HARD_RESET
        if why != "soft":
            self.wdt = None  # a chip reset stops the watchdog; a soft reset does not
        now = time.monotonic()
        self.restarts = [t for t in self.restarts if now - t < RESTART_WINDOW_S] + [now]
        if why == "crash" and len(self.restarts) > MAX_RESTARTS:
            self.log(f"board process keeps dying (last exit {rc}); giving up")
            self.write_pty(b"\r\n[vboard] the board process keeps crashing; see board.log\r\n")
            self.stopping = True
            return
        self.log(f"board process ended with {rc} ({why}); booting again")
        self.resets.append((t_us, why))
        self.outputs.append((t_us, "reset", why, self.scenario_ms(t_us)))
        self.spawn_board(boot, cause)

    # ---- the serial port -------------------------------------------------------------------

    def write_pty(self, data: bytes) -> None:
        if not self.connected:
            return  # nobody listens: a USB-serial bridge drops it too
        self.to_pty += data
        if len(self.to_pty) > PTY_BUFFER_MAX:
            del self.to_pty[: len(self.to_pty) - PTY_BUFFER_MAX]
        self.flush_pty()

    def flush_pty(self) -> None:
        while self.to_pty and self.connected:
            try:
                n = os.write(self.master, self.to_pty)
            except BlockingIOError:
                break
            except OSError:
                self.disconnect()
                return
            del self.to_pty[:n]
        if self.connected:
            self._set_events(self.master, self.on_pty, bool(self.to_pty))

    def on_pty(self, mask: int) -> None:
        if mask & selectors.EVENT_WRITE:
            self.flush_pty()
        if not mask & selectors.EVENT_READ:
            return
        try:
            data = os.read(self.master, 65536)
        except BlockingIOError:
            return
        except OSError:
            self.disconnect()
            return
        if not data:
            self.disconnect()
            return
        self.on_host_input(data)
        self.host_bytes(data)

    def host_bytes(self, data: bytes) -> None:
        """Bytes from the host to the board, the Ctrl-Cs among them delivered as a UART would.
        Held while the board boots (before its SIGINT handler exists): replayed at "up"."""
        if self.hold_input or self.board is None:
            self.held_in += data
            return
        while b"\x03" in data:
            i = data.index(b"\x03")
            self.bwrite(data[:i])
            if not self.deliver_ctrl_c():
                self.bwrite(b"\x03")
            data = data[i + 1 :]
        self.bwrite(data)

    def deliver_ctrl_c(self) -> bool:
        """What the ESP32's UART RX interrupt does with a Ctrl-C (ports/esp32/uart.c): while the
        interpreter runs code (pyexec set the interrupt character) it calls
        mp_sched_keyboard_interrupt() and drops the byte; otherwise the byte is input. The unix
        port installs its SIGINT handler exactly while the interrupt character is set
        (unix_mphal.c, mp_hal_set_interrupt_char), so: SIGINT when the handler is there."""
        if self.board is None or self.hold_input or self.pending_reset:
            return False
        try:
            with open(f"/proc/{self.board.pid}/status", "rb") as f:
                caught = next(line for line in f if line.startswith(b"SigCgt:"))
        except (OSError, StopIteration):
            return False
        if not int(caught.split()[1], 16) & (1 << (signal.SIGINT - 1)):
            return False
        self.flush_board()  # what came before the Ctrl-C is read first, as from the UART
        self.ctrl_c_held = True
        self.ctrl_c_since = time.monotonic()
        self.try_ctrl_c()
        return True

    def try_ctrl_c(self) -> None:
        """Raise a held Ctrl-C once the interpreter waits. The unix port (no GIL) raises
        KeyboardInterrupt straight from its SIGINT handler, wherever the main thread is; an
        ESP32 raises it at the VM's next check. Signalled while the main thread waits in a
        system call (poll, a sleep, reading input), where nearly all of a dowel's time goes,
        the two are the same: the exception leaves the wait, as it would on the ESP32. Held
        during a flash operation (which an ESP32 finishes first), and sent anyway after
        CTRL_C_BUSY_S to a loop that never waits."""
        if not self.ctrl_c_held or self.board is None:
            return
        self.on_events(selectors.EVENT_READ)  # is a flash operation under way?
        waited = time.monotonic() - self.ctrl_c_since
        if self.flash_busy and waited < CTRL_C_FLASH_S:
            return
        if not self.flash_busy and not _waiting(self.board.pid) and waited < CTRL_C_BUSY_S:
            return
        self.ctrl_c_held = False
        self.send_sigint()

    def wake_console(self) -> None:
        """Once a tick, wake a REPL blocked reading its console so that scheduled callbacks
        (a Timer's, the watchdog feed's) run, as the ESP32's REPL does at each FreeRTOS tick.
        The interpreter's SIGALRM tick restarts that read (launch.py says why); WAKE_SIGNAL
        interrupts it. Sent only while the main thread is in that read: anywhere else it could
        cut the garbage collector's wait for the timer thread short."""
        now = time.monotonic()
        if self.board is None or now - self.woke < TICK_S or _libc_syscall is None:
            return
        self.woke = now
        pid = self.board.pid
        if _reading_console(pid):
            _libc_syscall(SYS_TGKILL, pid, pid, WAKE_SIGNAL)

    def send_sigint(self) -> None:
        """SIGINT to the interpreter's main thread only. This build has no GIL, so the unix
        port raises KeyboardInterrupt inside its signal handler (MICROPY_ASYNC_KBD_INTR, set
        in ports/unix/variants/mpconfigvariant_common.h) in whichever thread takes the signal:
        the timer thread must never be the one."""
        if self.board is None:
            return
        self.ctrl_c_sent = time.monotonic()
        pid = self.board.pid
        if _libc_syscall is not None and _libc_syscall(SYS_TGKILL, pid, pid, signal.SIGINT) == 0:
            return
        os.kill(pid, signal.SIGINT)

    def on_host_input(self, data: bytes) -> None:
        """The simulated patient follows the host: a hold of the timeline ends when the host
        sends what it waits for (see host_tools/sim: `await_host`)."""
        if not self.holds:
            return
        self.host_seen = (self.host_seen + data)[-8192:]
        text = self.host_seen.decode("latin-1")
        while self.holds and re.search(self.holds[0]["match"], text):
            hold = self.holds.pop(0)
            now = monotonic_us()
            scen_ms = (now - self.t0_us) // 1000
            if scen_ms > hold["at_ms"]:
                self.t0_us = now - hold["at_ms"] * 1000  # the patient goes on from the hold
            self.hold_ms = self.holds[0]["at_ms"] if self.holds else -1
            self.host_seen = b""
            text = ""
            self.write_header()
            self.log(f"patient hold at {hold['at_ms']} ms released by the host")

    def disconnect(self) -> None:
        if self.connected:
            try:
                self.sel.unregister(self.master)
            except (KeyError, ValueError):
                pass
        self.connected = False
        self.to_pty.clear()
        try:
            termios.tcflush(self.master, termios.TCOFLUSH)
        except termios.error:
            pass

    def poll_connect(self) -> None:
        p = select.poll()
        p.register(self.master, select.POLLIN)
        for _fd, ev in p.poll(0):
            if ev & select.POLLHUP:
                termios.tcflush(self.master, termios.TCOFLUSH)
                return
        self.connected = True
        self.sel.register(self.master, selectors.EVENT_READ, self.on_pty)

    # ---- control requests --------------------------------------------------------------------

    def on_accept(self, mask: int) -> None:
        try:
            conn, _ = self.server.accept()
        except BlockingIOError:
            return
        conn.settimeout(5)
        buf = b""
        try:
            while not buf.endswith(b"\n"):
                chunk = conn.recv(1 << 20)
                if not chunk:
                    break
                buf += chunk
            try:
                req = json.loads(buf)
                reply = self.handle(req)
            except (ValueError, KeyError, TypeError) as exc:
                reply = {"ok": False, "error": f"bad request: {exc}"}
            conn.sendall((json.dumps(reply) + "\n").encode())
        except OSError as exc:
            self.log(f"control client: {exc}")
        finally:
            conn.close()

    def handle(self, req: dict) -> dict:
        op = req.get("op")
        if op == "ping":
            return {"ok": True}
        if op == "status":
            return {"ok": True, **self.status()}
        if op == "stop":
            self.stopping = True
            return {"ok": True}
        if op == "play":
            return self.play(req["timeline"], req.get("truth"), req.get("name"))
        if op == "outputs":
            rows = [[ms, k, v] for t, k, v, ms in self.outputs if t >= self.play_us]
            return {
                "ok": True,
                "t0_us": self.t0_us,
                "now_ms": self.scenario_ms(monotonic_us()),
                "outputs": rows,
            }
        if op == "truth":
            return {"ok": True, "truth": self.truth, "name": self.scenario_name}
        if op == "powercut":
            # Cut the power just before the board's next `after_ops`-th flash write or erase
            # (0: the next one); `torn`: half of a program lands first.
            self.cut_ops = int(req.get("after_ops", 0))
            self.cut_torn = bool(req.get("torn", False))
            self.cut_seq += 1
            self.write_header()
            return {"ok": True}
        if op == "power":
            # "cycle": off and on again (RTC lost); "brownout": the supply dips and the chip
            # resets with POWERON_RESET as after a power-on (esp32 reset reason 0xf maps to it).
            self.reset_board("power" if req.get("kind", "cycle") == "cycle" else "brownout")
            return {"ok": True}
        if op == "reset":
            self.reset_board("hard")
            return {"ok": True}
        return {"ok": False, "error": f"unknown request {op!r}"}

    def scenario_ms(self, t_us: int) -> int:
        ms = (t_us - self.t0_us) // 1000
        return min(ms, self.hold_ms) if self.hold_ms >= 0 else ms

    def play(self, timeline: dict | None, truth: dict | None, name: str | None) -> dict:
        t0 = self.play_us = monotonic_us()
        self.truth = truth
        self.scenario_name = name
        self.t0_us = t0
        self.hold_ms = -1
        self.outputs = [(t0, k, self.current.get(k, 0), 0) for k in ("tone", "led")]
        self.gen += 1
        if timeline:
            arrays = {
                k: memoryview(base64.b64decode(v)).cast("i") for k, v in timeline["arrays"].items()
            }
            n = timeline["n"]
            fault = arrays.get("i2c_fault") or [0] * n
            rec = struct.Struct("<HHHhiHBx")
            buf = bytearray(rec.size * n)
            for i in range(n):
                rec.pack_into(
                    buf,
                    i * rec.size,
                    _u16(arrays["head"][i]),
                    _u16(arrays["midback"][i]),
                    _u16(arrays["sacrum"][i]),
                    max(-32768, min(32767, arrays["pitch_cdeg"][i])),
                    arrays["gyro_mdps"][i],
                    _u16(arrays["gmag_milli"][i]),
                    fault[i] & 0xFF,
                )
            # In place: the board keeps this file open. It switches when the header says so.
            with open(self.bdir / "timeline.bin", "r+b") as f:
                f.write(buf)
            self.tl_n, self.tl_dt = n, timeline["dt_ms"]
            self.holds = sorted(timeline.get("holds") or [], key=lambda h: h["at_ms"])
        else:
            self.gen = 0  # no scenario: the idle patient (the dowel lies on a table)
            self.tl_n, self.tl_dt, self.holds = 0, 1, []
        self.host_seen = b""
        self.hold_ms = self.holds[0]["at_ms"] if self.holds else -1
        self.t0_us = t0
        self.write_header()
        return {"ok": True, "t0_us": t0}

    def status(self) -> dict:
        return {
            "name": self.name,
            "pid": os.getpid(),
            "board_pid": self.board_pid if self.board else None,
            "port": self.port,
            "pty": self.pty_name,
            "flash": str(self.image),
            "imu": self.imu,
            "heap_kb": self.heap_kb,
            "connected": self.connected,
            "mode": self.mode,
            "raw_repl": self.raw,
            "heap": self.heap,
            "wdt": bool(self.wdt),
            "ctrl_c_races": self.sigint_races,
            "uptime_s": round(time.time() - self.started, 1),
            "resets": [[(t - self.play_us) // 1000, k] for t, k in self.resets],
            "scenario": self.scenario_name,
            "playing_ms": self.scenario_ms(monotonic_us()),
            "holding": self.hold_ms >= 0 and self.scenario_ms(monotonic_us()) >= self.hold_ms,
        }

    # ---- main loop ------------------------------------------------------------------------------

    def tick(self) -> None:
        if not self.connected:
            self.poll_connect()
        if self.ctrl_c_held:
            self.try_ctrl_c()
        self.wake_console()
        if self.wdt and self.board is not None and not self.pending_reset:
            timeout_ms, fed = self.wdt
            if (time.monotonic() - fed) * 1000 > timeout_ms:
                self.log("watchdog not fed: WDT reset")
                self.reset_board("wdt")
        if self.parent_pid and os.getppid() != self.parent_pid:
            self.log(f"parent {self.parent_pid} is gone; stopping")
            self.stopping = True

    def announce(self, reply: dict) -> None:
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
        self.announced = True
        os.dup2(self.log_fd, 1)
        os.dup2(self.log_fd, 2)

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, lambda *_: setattr(self, "stopping", True))
        try:
            self.acquire()
            self.open_pty()
            self.open_control()
            self.open_board_dir()
            self.spawn_board()
        except (StartError, OSError) as exc:
            self.cleanup()
            self.announce({"ok": False, "error": str(exc)})
            return 1
        deadline = time.monotonic() + 30
        while not self.stopping:
            for key, mask in self.sel.select(0.001 if self.ctrl_c_held else 0.01):
                key.data(mask)
            self.tick()
            if not self.announced:
                if self.ready:
                    info = self.status()
                    state.write_state(self.sdir, {**info, "control": self.control})
                    self.announce({"ok": True, **info, "control": self.control})
                    self.log(f"board up on {self.port} -> {self.pty_name}")
                elif time.monotonic() > deadline or self.board is None:
                    self.cleanup()
                    self.announce({"ok": False, "error": "the board did not boot; see board.log"})
                    return 1
        self.log("stopping")
        self.cleanup()
        return 0

    def cleanup(self) -> None:
        self.stopping = True
        proc = self.board
        if proc is not None:
            proc.kill()
            proc.wait()
            self.board = None
        if self.bmaster >= 0:
            os.close(self.bmaster)
            self.bmaster = -1
        for path in (self.sdir / "state.json", Path(self.port)):
            try:
                if path.is_symlink() or path.exists():
                    path.unlink()
            except OSError:
                pass
        if self.server is not None:
            self.server.close()
            try:
                os.unlink(self.control)
            except OSError:
                pass
        for fd in (self.master, self.ev_fd, self.ctl_fd):
            if fd >= 0:
                os.close(fd)
        self.master = self.ev_fd = self.ctl_fd = -1
        for fd in self.locks:
            os.close(fd)
        self.locks.clear()


def _u16(v: int) -> int:
    return max(0, min(65535, v))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m host_tools.vboard.daemon")
    parser.add_argument("--name", default=state.DEFAULT_NAME)
    # Given explicitly (VirtualBoard does) so `ps` shows whose board this is.
    parser.add_argument("--state-dir")
    parser.add_argument("--flash")
    parser.add_argument("--imu", choices=("6050", "6500", "none"), default="6050")
    parser.add_argument("--heap-kb", type=int, default=HEAP_KB)
    parser.add_argument("--parent-pid", type=int, default=0)
    args = parser.parse_args(argv)
    return Daemon(args).run()


if __name__ == "__main__":
    raise SystemExit(main())
