"""`VirtualBoard`: start, drive and stop a virtual dowel board from Python.

    with VirtualBoard.start(flash_dir=tmp / "flash") as board:
        subprocess.run(["mpremote", "connect", board.port, "exec", "print(1)"])
        board.play("quick")                 # the simulated patient starts now
        time.sleep(board.duration_ms() / 1000)
        board.outputs()                     # [(t_ms, "tone", 2000), (t_ms, "tone", 0), ...]
        board.truth()["losses"]             # [(t_ms, "sacrum"), ...]

A board is a daemon process (host_tools.vboard.daemon) owning the pseudo-terminal and the
interpreter process; this object talks to it over its control socket. A board this process
started is stopped by `stop()`, by the context manager, and at interpreter exit (a finalizer),
and the daemon itself exits when this process dies, so no board outlives a test run.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import weakref
from pathlib import Path

from host_tools.errors import DeviceError
from host_tools.paths import python_path
from host_tools.vboard import state

START_TIMEOUT_S = 30.0


def request(control: str, msg: dict, timeout: float = 10.0) -> dict:
    """One request to a board's daemon; its JSON reply (a DeviceError if it says no)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(control)
        sock.sendall((json.dumps(msg) + "\n").encode())
        buf = bytearray()
        while not buf.endswith(b"\n"):
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            buf += chunk
    except OSError as exc:
        raise DeviceError(
            f"the virtual board does not answer ({exc}); it may have stopped: "
            "`dowel vboard status`."
        ) from None
    finally:
        sock.close()
    try:
        reply = json.loads(buf)
    except ValueError:
        raise DeviceError(
            "the virtual board sent an unreadable reply; see its board.log"
        ) from None
    if not reply.get("ok"):
        raise DeviceError(f"the virtual board refused: {reply.get('error')}")
    return reply


def _stop(proc: subprocess.Popen | None, control: str, pid: int, lock: Path) -> None:
    """Stop a board and wait until its daemon is gone (idempotent; used as a finalizer)."""
    try:
        request(control, {"op": "stop"}, timeout=3)
    except DeviceError:
        pass
    deadline = time.monotonic() + 8
    if proc is not None:
        try:
            proc.wait(timeout=8)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        return
    while time.monotonic() < deadline and state.is_locked(lock):
        time.sleep(0.05)
    if state.pid_alive(pid) and state.is_locked(lock):
        os.kill(pid, signal.SIGTERM)


def _kill_group(proc: subprocess.Popen) -> None:
    """Kill a daemon that failed to start, and the interpreter it may have begun: it leads its
    own process group (start_new_session), so a half-started board leaves nothing behind."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _tuples(value):
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


class VirtualBoard:
    def __init__(self, info: dict, proc: subprocess.Popen | None = None):
        self.info = info
        self.name: str = info["name"]
        self.port: str = info["port"]
        self.pid: int = info["pid"]
        self.board_pid: int | None = info.get("board_pid")
        self.flash_dir = Path(info["flash"])
        self.control: str = info["control"]
        self._proc = proc
        self._truth: dict | None = None
        self._duration_ms = 0
        lock = state.state_dir(self.name) / "lock"
        self._finalizer = weakref.finalize(self, _stop, proc, self.control, self.pid, lock)
        if proc is None:
            self._finalizer.detach()  # someone else's board: never stop it implicitly

    # ---- life cycle ---------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        flash_dir: Path | None = None,
        imu: bool | str = True,
        scenario=None,
        *,
        name: str = state.DEFAULT_NAME,
        heap_kb: int | None = None,
        detach: bool = False,
        timeout: float = START_TIMEOUT_S,
    ) -> VirtualBoard:
        """Start a board in the background and return once it has booted.

        `flash_dir` is the flash image (an `.img` file, or a folder that holds `flash.img`;
        default: one per board name under the data dir); `imu` True (an MPU6050), "6500" (an
        MPU-6500) or False; `heap_kb` the MicroPython heap (default: an ESP32_GENERIC's);
        `scenario` (a dict, path or shipped name) starts playing at once. A board started
        with `detach=True` outlives this process (`dowel vboard start`); otherwise it stops
        with this object, at exit, or when this process dies.
        """
        from host_tools.vboard.interp import require_interpreter

        require_interpreter()  # a clear error now rather than a dead daemon
        sdir = state.state_dir(name)
        if state.is_locked(sdir / "lock"):
            info = state.read_state(name) or {}
            raise DeviceError(
                f"a virtual board named {name!r} is already running"
                + (f" on {info['port']} (pid {info['pid']})" if info else "")
                + ". Use that port, or stop it first: `dowel vboard stop`."
            )
        cmd = [sys.executable, "-m", "host_tools.vboard.daemon", "--name", name]
        cmd += ["--state-dir", str(sdir)]
        if heap_kb is not None:
            cmd += ["--heap-kb", str(heap_kb)]
        if flash_dir is not None:
            cmd += ["--flash", str(Path(flash_dir).resolve())]
        cmd += ["--imu", "none" if not imu else ("6500" if str(imu) == "6500" else "6050")]
        if not detach:
            cmd += ["--parent-pid", str(os.getpid())]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(p) for p in python_path()] + env.get("PYTHONPATH", "").split(os.pathsep)
        ).rstrip(os.pathsep)
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            env=env,
        )
        reply = cls._read_ready(proc, timeout)
        board = cls(reply, None if detach else proc)
        if detach:
            proc.stdout.close()
            proc.stderr.close()
        if scenario is not None:
            try:
                board.play(scenario)
            except BaseException:
                board.stop()  # the caller gets an error, not a board: stop it even if detached
                raise
        return board

    @staticmethod
    def _read_ready(proc: subprocess.Popen, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        line = b""
        fd = proc.stdout.fileno()
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                _kill_group(proc)
                raise DeviceError(f"the virtual board did not start within {timeout:.0f} s")
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            line += chunk
        try:
            reply = json.loads(line)
        except ValueError:
            err = proc.stderr.read().decode(errors="replace") if proc.poll() is not None else ""
            _kill_group(proc)
            raise DeviceError(
                f"the virtual board failed to start: {err.strip()[-2000:]}"
            ) from None
        if not reply.get("ok"):
            proc.wait()
            raise DeviceError(reply.get("error", "the virtual board failed to start"))
        return reply

    @classmethod
    def running(cls, name: str = state.DEFAULT_NAME) -> VirtualBoard | None:
        """The board `dowel vboard start` left running under `name`, or None."""
        info = state.read_state(name)
        return cls(info) if info else None

    def stop(self) -> None:
        """Stop the board; returns once its processes are gone (idempotent)."""
        if self._proc is not None:
            self._finalizer()
        else:
            _stop(None, self.control, self.pid, state.state_dir(self.name) / "lock")

    def __enter__(self) -> VirtualBoard:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- the simulated patient ----------------------------------------------------------------

    def play(self, scenario, *, build=None, seed: int | None = None):
        """Start playing `scenario` (a dict, a path or a shipped name) now; return its timeline."""
        from host_tools.sim import load_scenario, render

        timeline = render(load_scenario(scenario), build=build, seed=seed)
        request(
            self.control,
            {
                "op": "play",
                "timeline": timeline.wire(),
                "truth": timeline.truth,
                "name": timeline.name,
            },
            timeout=30,
        )
        self._truth = timeline.truth
        self._duration_ms = timeline.duration_ms
        return timeline

    def idle(self) -> None:
        """Stop the patient: the dowel lies untouched on a table."""
        request(self.control, {"op": "play", "timeline": None, "truth": None})
        self._truth = None
        self._duration_ms = 0

    def duration_ms(self) -> int:
        return self._duration_ms

    def elapsed_ms(self) -> int:
        """Milliseconds since the scenario started playing (the outputs' timeline)."""
        return request(self.control, {"op": "outputs"})["now_ms"]

    def outputs(self, kinds: tuple[str, ...] | None = None) -> list[tuple[int, str, object]]:
        """Outputs recorded since play(), as (t_ms, kind, value), t_ms on the scenario's timeline.

        Kinds: "tone" (buzzer Hz, 0 when silent), "led" (0/1), "pwm" ((pin, freq, duty_u16)),
        "pin" ((pin, level) for other outputs), "reset" (soft|hard|wdt|stuck|crash),
        "boot" (reset cause). The first tone and led rows (t_ms 0) give the state at play().
        """
        rows = request(self.control, {"op": "outputs"})["outputs"]
        out = [(t, k, _tuples(v)) for t, k, v in rows]
        return [r for r in out if kinds is None or r[1] in kinds]

    def beeps(self) -> list[tuple[int, int, int]]:
        """Each beep since play() as (start_ms, end_ms, hz); end_ms is -1 while it sounds. A
        change of pitch while sounding (a cue cutting into a warning tick) ends one beep and
        starts the next."""
        beeps: list[list[int]] = []
        for t, _, hz in self.outputs(("tone",)):
            sounding = bool(beeps) and beeps[-1][1] == -1
            if sounding and hz != beeps[-1][2]:
                beeps[-1][1] = t
                sounding = False
            if hz and not sounding:
                beeps.append([t, -1, hz])
        return [tuple(b) for b in beeps]

    def cues(self) -> list[tuple[int, str]]:
        """Each lost-point cue since play() as (start_ms, point): the beeps of one cue (one
        pitch, gaps under 150 ms) count once; other sounds (ready, chime) are left out."""
        from dowel import cues

        points = {
            cues.HEAD_CUE[0]: "head",
            cues.MIDBACK_CUE[0]: "midback",
            cues.SACRUM_CUE[0]: "sacrum",
        }
        heard: list[tuple[int, str]] = []
        last_hz, last_end = None, -10_000
        for start, end, hz in self.beeps():
            if hz == last_hz and start - last_end < 150:
                last_end = end
                continue
            last_hz, last_end = hz, end
            if hz in points:
                heard.append((start, points[hz]))
        return heard

    def truth(self) -> dict:
        """The ground truth of the scenario playing (see host_tools.sim.render)."""
        if self._truth is None:
            self._truth = request(self.control, {"op": "truth"})["truth"]
        if self._truth is None:
            raise DeviceError("no scenario is playing on this board: call play() first")
        return {
            k: [tuple(x) if isinstance(x, list) else x for x in v] if isinstance(v, list) else v
            for k, v in self._truth.items()
        }

    def status(self) -> dict:
        return request(self.control, {"op": "status"})

    # ---- faults -------------------------------------------------------------------------------

    def power_cut(self, after_ops: int = 0, torn: bool = False) -> None:
        """Cut the power just before the board's `after_ops`-th next flash write or erase
        (littlefs keeps what it had committed); the board then powers on again by itself."""
        request(self.control, {"op": "powercut", "after_ops": after_ops, "torn": torn})

    def power_cycle(self, kind: str = "cycle") -> None:
        """Switch the board off and on ("cycle": the RTC is lost) or dip its supply
        ("brownout")."""
        request(self.control, {"op": "power", "kind": kind})

    def reset(self) -> None:
        """Press the reset button (EN): a hard reset."""
        request(self.control, {"op": "reset"})

    def wait_booted(
        self, timeout: float = 10.0, modes: tuple[str, ...] = ("main", "repl")
    ) -> dict:
        """Wait until the board sits at its REPL or runs main.py again after a reset (`modes`:
        ("main",) waits for main.py, as after a host's link closed)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            st = self.status()
            if st.get("board_pid") and st.get("mode") in modes:
                return st
            time.sleep(0.05)
        raise DeviceError(f"the virtual board did not boot within {timeout:.0f} s")

    def __repr__(self) -> str:
        return f"VirtualBoard({self.name!r}, port={self.port!r}, pid={self.pid})"


def running_port(name: str = state.DEFAULT_NAME) -> str | None:
    """The port of the board `dowel vboard start` runs, or None when none runs."""
    info = state.read_state(name)
    return info["port"] if info else None
