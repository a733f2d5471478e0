"""The virtual board's daemon: owns the serial port (a pseudo-terminal) and the board process.

    python -m host_tools.vboard.daemon --name default [--flash DIR] [--no-imu] [--heap-kb 128]
                                       [--parent-pid PID]

Prints one JSON line on stdout once the board has booted ({"ok": true, "port": ..., ...} or
{"ok": false, "error": ...}), then logs to `board.log` in the board's state directory.

- The serial port: a pty in raw mode, symlinked as `<state dir>/tty` (the port `mpremote
  connect` takes). Bytes go to and from the board process (vboard/board.mjs) over pipes. While
  no program has the port open, the board's output is discarded, as a USB-serial bridge does.
- The board process: restarted when it dies; a watchdog that expired while the interpreter was
  stuck in a loop kills it (WDT reset), and so does Ctrl-C that goes unanswered for 3 s (the
  interpreter cannot interrupt a loop that never yields; a board would raise KeyboardInterrupt).
- Control: a Unix socket taking one JSON request per connection: ping, status, play, outputs,
  truth, stop (host_tools.vboard.client speaks it). The daemon keeps the played timeline, its
  ground truth and the outputs, so they survive a restart of the board process.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import selectors
import signal
import socket
import subprocess
import sys
import termios
import time
import tty
from pathlib import Path

from host_tools.paths import repo_root
from host_tools.vboard import state

PING_S = 1.0
CTRL_C_STUCK_S = 3.0
MAX_RESTARTS = 5  # within RESTART_WINDOW_S, then the daemon gives up
RESTART_WINDOW_S = 30.0
PTY_BUFFER_MAX = 1 << 20
MAX_OUTPUTS = 200_000  # recorded outputs kept since the last play (a long-running board)


def monotonic_us() -> int:
    return time.monotonic_ns() // 1000


def board_pins() -> dict:
    from dowel import pinmap

    return {
        "sensors": list(pinmap.SENSOR_PINS),
        "led": pinmap.LED_PIN,
        "buzzer": pinmap.BUZZER_PIN,
    }


class StartError(Exception):
    pass


class Daemon:
    def __init__(self, args: argparse.Namespace):
        self.name = args.name
        self.sdir = Path(args.state_dir) if args.state_dir else state.state_dir(self.name)
        self.sdir.mkdir(parents=True, exist_ok=True)
        self.flash = Path(args.flash or state.default_flash_dir(self.name)).resolve()
        self.imu = not args.no_imu
        self.heap_kb = args.heap_kb
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
        self.node: subprocess.Popen | None = None
        self.node_pid = 0
        self.ctl: socket.socket | None = None
        self.ctl_in = b""
        self.to_ctl = bytearray()
        self.to_node = bytearray()
        self.ready = False
        self.announced = False
        self.stopping = False
        self.wdt_stuck = False
        self.restarts: list[float] = []
        self.ctrl_c_at: float | None = None
        self.last_pong = time.monotonic()
        self.last_ping = 0.0
        self.node_state: dict = {}
        self.heap: dict = {}
        self.rtc_offset_ms = None
        self.t0_us = monotonic_us()
        self.timeline_msg: dict | None = None
        self.truth: dict | None = None
        self.scenario_name: str | None = None
        self.outputs: list[tuple[int, str, object]] = []
        self.current: dict[str, object] = {"tone": 0, "led": 0}
        self.resets: list[tuple[int, str]] = []
        self.started = time.time()
        self.started_mono = time.monotonic()
        self.since_ctrl_c = bytearray()  # input sent after an unanswered Ctrl-C
        self.stuck_reason = ""
        self.replay = b""

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
        self.flash.mkdir(parents=True, exist_ok=True)
        fd = state.try_lock(self.flash)
        if fd is None:
            raise StartError(
                f"the flash directory {self.flash} is in use by another virtual board; "
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

    def spawn_node(self, reset_cause: int = 1) -> None:
        from host_tools.vboard.node import node_command

        parent, child = socket.socketpair()
        cfg = {
            "flash": str(self.flash),
            "heap_kb": self.heap_kb,
            "imu": self.imu,
            "uid": state.unique_id(self.flash),
            "pins": board_pins(),
            "control_fd": child.fileno(),
            "reset_cause": reset_cause,
            "rtc_offset_ms": self.rtc_offset_ms,
        }
        script = repo_root() / "vboard" / "board.mjs"
        self.node = subprocess.Popen(
            [node_command(), str(script), json.dumps(cfg)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log_fd,
            pass_fds=(child.fileno(),),
            cwd=str(repo_root()),
        )
        child.close()
        self.node_pid = self.node.pid
        self.log(f"board process {self.node.pid} started (reset cause {reset_cause})")
        self.ctl = parent
        parent.setblocking(False)
        os.set_blocking(self.node.stdin.fileno(), False)
        os.set_blocking(self.node.stdout.fileno(), False)
        self.sel.register(self.node.stdout, selectors.EVENT_READ, self.on_node_out)
        self.sel.register(parent, selectors.EVENT_READ, self.on_ctl)
        self.ctl_in = b""
        self.to_ctl.clear()
        self.to_node.clear()
        self.wdt_stuck = False
        self.ctrl_c_at = None
        self.last_pong = time.monotonic()
        if self.timeline_msg is not None:
            self.send_ctl(self.timeline_msg)
        if self.replay:
            self.to_node += self.replay
            self.replay = b""
            self.flush_node()

    def send_ctl(self, msg: dict) -> None:
        self.to_ctl += (json.dumps(msg) + "\n").encode()
        self.flush_ctl()

    def flush_ctl(self) -> None:
        if self.ctl is None:
            return
        while self.to_ctl:
            try:
                n = self.ctl.send(self.to_ctl)
            except BlockingIOError:
                break
            except OSError:
                self.to_ctl.clear()
                return
            del self.to_ctl[:n]
        self._set_events(self.ctl, self.on_ctl, bool(self.to_ctl))

    def flush_node(self) -> None:
        if self.node is None:
            return
        stdin = self.node.stdin
        while self.to_node:
            try:
                n = os.write(stdin.fileno(), self.to_node)
            except BlockingIOError:
                break
            except OSError:
                self.to_node.clear()
                return
            del self.to_node[:n]
        try:
            if self.to_node:
                self.sel.register(stdin, selectors.EVENT_WRITE, self.on_node_in)
            else:
                self.sel.unregister(stdin)
        except (KeyError, ValueError):
            pass

    def on_node_in(self, mask: int) -> None:
        self.flush_node()

    def _set_events(self, fileobj, callback, want_write: bool) -> None:
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if want_write else 0)
        try:
            self.sel.modify(fileobj, events, callback)
        except (KeyError, ValueError):
            pass

    def on_node_out(self, mask: int) -> None:
        try:
            data = os.read(self.node.stdout.fileno(), 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.node_ended()
            return
        self.write_pty(data)

    def on_ctl(self, mask: int) -> None:
        if mask & selectors.EVENT_WRITE:
            self.flush_ctl()
        if not mask & selectors.EVENT_READ:
            return
        try:
            data = self.ctl.recv(1 << 20)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.node_ended()
            return
        self.ctl_in += data
        *lines, self.ctl_in = self.ctl_in.split(b"\n")
        for line in lines:
            if line.strip():
                try:
                    self.on_event(json.loads(line))
                except ValueError:
                    self.log(f"bad event line {line[:200]!r}")

    def on_event(self, ev: dict) -> None:
        kind = ev.get("ev")
        if kind == "out":
            value = ev["value"]
            key = ev["kind"] if not isinstance(value, list) else f"{ev['kind']}{value[0]}"
            self.current[key] = value
            self.outputs.append((ev["t_us"], ev["kind"], value))
            if len(self.outputs) > MAX_OUTPUTS:
                del self.outputs[: len(self.outputs) - MAX_OUTPUTS]
        elif kind in ("pong", "ctrl_c"):
            self.last_pong = time.monotonic()
            self.ctrl_c_at = None
            self.since_ctrl_c.clear()
            if kind == "pong":
                self.node_state = ev
        elif kind == "ready":
            self.ready = True
            self.ping()
        elif kind == "reset":
            self.resets.append((monotonic_us(), ev["kind"]))
            self.outputs.append((monotonic_us(), "reset", ev["kind"]))
        elif kind == "boot":
            self.outputs.append((monotonic_us(), "boot", ev.get("reset_cause")))
            self.ping()
        elif kind == "rtc":
            self.rtc_offset_ms = ev["offset_ms"]
        elif kind == "heap":
            self.heap = ev
        elif kind == "wdt_stuck":
            self.wdt_stuck = True

    def node_ended(self) -> None:
        node = self.node
        if node is None:
            return
        for f in (node.stdout, node.stdin, self.ctl):
            try:
                self.sel.unregister(f)
            except (KeyError, ValueError):
                pass
        try:
            node.stdin.close()
        except OSError:
            pass
        try:
            rc = node.wait(timeout=5)
        except subprocess.TimeoutExpired:
            node.kill()
            rc = node.wait()
        node.stdout.close()
        self.ctl.close()
        self.ctl = None
        self.node = None
        if self.stopping:
            return
        # Drain a wdt_stuck event that raced the end of the pipes.
        now = time.monotonic()
        self.restarts = [t for t in self.restarts if now - t < RESTART_WINDOW_S] + [now]
        if len(self.restarts) > MAX_RESTARTS:
            self.log(f"board process keeps dying (last exit {rc}); giving up")
            self.write_pty(b"\r\n[vboard] the board process keeps crashing; see board.log\r\n")
            self.stopping = True
            return
        t_us = monotonic_us()
        for key in ("tone", "led"):
            if self.current.get(key):
                self.current[key] = 0
                self.outputs.append((t_us, key, 0))
        if self.wdt_stuck:
            cause, why = 3, "wdt"
            ms = int((now - self.started_mono) * 1000)
            self.write_pty(
                f"E ({ms}) task_wdt: Task watchdog got triggered. The following tasks did not "
                f"reset the watchdog in time:\r\nE ({ms}) task_wdt:  - mp_task (CPU 0/1)\r\n"
                f"E ({ms}) task_wdt: Aborting.\r\n"
                "[vboard] watchdog reset: the WDT was not fed in time\r\n".encode()
            )
        elif self.stuck_reason:
            cause, why = 2, "stuck"
            self.write_pty(self.stuck_reason.encode())
        else:
            cause, why = 2, "crash"
            self.write_pty(f"\r\n[vboard] the board process ended ({rc}); restarting\r\n".encode())
        self.stuck_reason = ""
        self.log(f"board process ended with {rc} ({why}); restarting")
        self.resets.append((t_us, why))
        self.outputs.append((t_us, "reset", why))
        self.spawn_node(reset_cause=cause)

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
        if self.ctrl_c_at is not None:
            self.since_ctrl_c += data
        elif b"\x03" in data:
            self.ctrl_c_at = time.monotonic()
            self.since_ctrl_c = bytearray(data[data.index(b"\x03") :])
            self.ping()
        self.to_node += data
        self.flush_node()

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
            t0 = self.t0_us
            rows = [[(t - t0) // 1000, k, v] for t, k, v in self.outputs if t >= t0]
            return {
                "ok": True,
                "t0_us": t0,
                "now_ms": (monotonic_us() - t0) // 1000,
                "outputs": rows,
            }
        if op == "truth":
            return {"ok": True, "truth": self.truth, "name": self.scenario_name}
        return {"ok": False, "error": f"unknown request {op!r}"}

    def play(self, timeline: dict | None, truth: dict | None, name: str | None) -> dict:
        t0 = monotonic_us()
        self.t0_us = t0
        self.truth = truth
        self.scenario_name = name
        self.outputs = [(t0, k, self.current.get(k, 0)) for k in ("tone", "led")]
        if timeline:
            self.timeline_msg = {"op": "timeline", "t0_us": t0, **timeline}
        else:
            self.timeline_msg = {"op": "timeline", "n": 0}
        self.send_ctl(self.timeline_msg)
        return {"ok": True, "t0_us": t0}

    def status(self) -> dict:
        return {
            "name": self.name,
            "pid": os.getpid(),
            "node_pid": self.node_pid if self.node else None,
            "port": self.port,
            "pty": self.pty_name,
            "flash": str(self.flash),
            "imu": self.imu,
            "heap_kb": self.heap_kb,
            "connected": self.connected,
            "mode": self.node_state.get("mode"),
            "raw_repl": self.node_state.get("raw"),
            "heap": self.node_state.get("heap") or self.heap,
            "uptime_s": round(time.time() - self.started, 1),
            "resets": [[(t - self.t0_us) // 1000, k] for t, k in self.resets],
            "scenario": self.scenario_name,
            "playing_ms": (monotonic_us() - self.t0_us) // 1000,
        }

    # ---- main loop ------------------------------------------------------------------------------

    def ping(self) -> None:
        self.last_ping = time.monotonic()
        self.send_ctl({"op": "ping", "id": int(self.last_ping * 1000)})

    def tick(self) -> None:
        now = time.monotonic()
        if not self.connected:
            self.poll_connect()
        if self.node is not None and now - self.last_ping > PING_S:
            self.ping()
        if (
            self.node is not None
            and self.ctrl_c_at is not None
            and now - self.ctrl_c_at > CTRL_C_STUCK_S
        ):
            self.stuck_reason = (
                "\r\n[vboard] Ctrl-C went unanswered for 3 s: the interpreter runs a loop that "
                "never yields, which this port cannot interrupt. Hard reset.\r\n"
            )
            self.log("interpreter stuck after Ctrl-C; killing the board process")
            # What the host sent from its Ctrl-C on goes to the new board, as a board that
            # could be interrupted would have read it: mpremote then finds its raw REPL.
            self.replay = bytes(self.since_ctrl_c)
            self.since_ctrl_c.clear()
            self.ctrl_c_at = None
            self.node.kill()
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
            self.spawn_node()
        except (StartError, OSError) as exc:
            self.cleanup()
            self.announce({"ok": False, "error": str(exc)})
            return 1
        except Exception as exc:  # noqa: BLE001 - e.g. DeviceError: no node; report, not traceback
            self.cleanup()
            self.announce({"ok": False, "error": str(exc)})
            return 1
        deadline = time.monotonic() + 30
        while not self.stopping:
            timeout = 0.01 if not self.connected else 0.2
            for key, mask in self.sel.select(timeout):
                key.data(mask)
            self.tick()
            if not self.announced:
                if self.ready:
                    info = self.status()
                    state.write_state(self.sdir, {**info, "control": self.control})
                    self.announce({"ok": True, **info, "control": self.control})
                    self.log(f"board up on {self.port} -> {self.pty_name}")
                elif time.monotonic() > deadline or self.node is None:
                    self.cleanup()
                    self.announce({"ok": False, "error": "the board did not boot; see board.log"})
                    return 1
        self.log("stopping")
        self.cleanup()
        return 0

    def cleanup(self) -> None:
        self.stopping = True
        node = self.node
        if node is not None:
            try:
                if self.ctl is not None:
                    self.ctl.setblocking(True)
                    self.ctl.settimeout(1)
                    self.ctl.sendall(b'{"op": "stop"}\n')
            except OSError:
                pass
            try:
                node.stdin.close()
            except OSError:
                pass
            try:
                node.wait(timeout=3)
            except subprocess.TimeoutExpired:
                node.kill()
                node.wait()
            self.node = None
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
        if self.master >= 0:
            os.close(self.master)
            self.master = -1
        for fd in self.locks:
            os.close(fd)
        self.locks.clear()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m host_tools.vboard.daemon")
    parser.add_argument("--name", default=state.DEFAULT_NAME)
    # Given explicitly (VirtualBoard does) so `ps` shows whose board this is.
    parser.add_argument("--state-dir")
    parser.add_argument("--flash")
    parser.add_argument("--no-imu", action="store_true")
    parser.add_argument("--heap-kb", type=int, default=128)
    parser.add_argument("--parent-pid", type=int, default=0)
    args = parser.parse_args(argv)
    return Daemon(args).run()


if __name__ == "__main__":
    raise SystemExit(main())
