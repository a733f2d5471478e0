"""A dowel for log tests under CPython: the real log store (`dowel.logstore`, its host calls in
`dowel.loghost`) on a temp dir as its flash, reached through a transport with mpremote's
`exec_raw(code, timeout) -> (out, err)`, which runs the very code strings `Link` sends. It can
die at a chosen call, before or after the device has acted (a cable pulled while the answer was
on its way)."""

from __future__ import annotations

import io
import random
import sys
import traceback
import types
from contextlib import redirect_stdout
from pathlib import Path

from dowel import logfiles, logstore
from mpremote.transport import TransportError

from host_tools.board.link import Link


class FakeRTC:
    now = (2000, 1, 1, 5, 0, 0, 0, 0)

    def datetime(self, value=None):
        if value is None:
            return FakeRTC.now
        FakeRTC.now = tuple(value)
        return None


def machine_module() -> types.ModuleType:
    m = types.ModuleType("machine")
    m.RTC = FakeRTC  # type: ignore[attr-defined]
    return m


class FakeTransport:
    """One connection to the fake board. `die_at`: the call number (1-based) at which the cable
    goes; `after`: the device runs that call before the answer is lost."""

    def __init__(self, root: Path, die_at: int | None = None, after: bool = False,
                 corrupt_reads: bool = False):
        self.root = root
        self.die_at = die_at
        self.after = after
        self.corrupt_reads = corrupt_reads
        self.calls = 0
        self.dead = False
        self.sent_bytes = 0
        self.received_bytes = 0

    def exec_raw(self, code: str, timeout: float = 10):
        if self.dead:
            raise TransportError("could not enter raw repl")
        self.calls += 1
        if self.calls == self.die_at and not self.after:
            self.dead = True
            raise TransportError("device disconnected")
        self.sent_bytes += len(code.encode())
        out = io.StringIO()
        err = b""
        saved_root = logfiles.ROOT
        saved_machine = sys.modules.get("machine")
        logfiles.ROOT = str(self.root)
        sys.modules["machine"] = machine_module()
        try:
            with redirect_stdout(out):
                exec(compile(code, "<stdin>", "exec"), {})
        except Exception:  # noqa: BLE001 - the device prints its traceback
            err = traceback.format_exc().encode()
        finally:
            logfiles.ROOT = saved_root
            if saved_machine is None:
                sys.modules.pop("machine", None)
            else:
                sys.modules["machine"] = saved_machine
        data = out.getvalue().encode()
        if self.corrupt_reads and "_m.read(" in code:
            # One flipped base64 character: the bytes decode, but wrong.
            text = bytearray(data)
            i = text.index(b"'") + 2
            text[i] = ord("A") if text[i] != ord("A") else ord("B")
            data = bytes(text)
        self.received_bytes += len(data) + len(err)
        if self.calls == self.die_at:
            self.dead = True
            raise TransportError("device disconnected")
        return data, err

    def exit_raw_repl(self):
        pass

    def close(self):
        pass


def fake_link(root: Path, **kw) -> Link:
    return Link(FakeTransport(root, **kw), port="fake")


def write_scenario(root: Path, sessions: list[list[tuple]], *, segment_bytes: int = 32768,
                   has_imu: bool | None = None, device_id: bytes = b"\xa4\xcf\x12\x34\x56\x78",
                   patient: str = "P-0001", rtc=None, boot: int | None = None) -> None:
    """Write sessions of reps (add_rep argument tuples) the way the firmware does, in one
    boot (`boot`: its number, None: random). `has_imu` None: a session has an IMU when its
    first rep has a depth."""
    root.parent.mkdir(parents=True, exist_ok=True)
    log = logstore.Log(root=str(root), segment_bytes=segment_bytes, boot=boot)
    for i, reps in enumerate(sessions):
        imu = has_imu if has_imu is not None else bool(reps) and reps[0][7] is not None
        log.begin_session(device_id, "0.1.0", b"\x01" * 8, patient, rtc, 1000 + i, imu)
        for rep in reps:
            assert log.add_rep(*rep)
    log.close()


def random_rep(rng: random.Random, seq: int, start_ms: int, has_imu: bool = True) -> tuple:
    """A plausible rep (mostly short-form, sometimes not)."""
    duration = rng.choice([rng.randint(1500, 9000), rng.randint(0, 40000)])
    lost_mask = rng.choice([0, 0, 0, 1, 2, 4, 5, 7])
    first = (lost_mask & -lost_mask).bit_length()  # lowest point lost: 1 head .. 3 sacrum
    loss_at = rng.randint(0, duration) if lost_mask else None
    if not has_imu:
        return (seq, start_ms, duration, lost_mask, first, loss_at, None, None, None, None, None)
    pitch = rng.randint(-300, 1100) if lost_mask else None
    depth = rng.randint(-100, 1200)
    lower = rng.randint(0, duration)
    pause = rng.randint(0, duration - lower)
    rise = duration - lower - pause if rng.random() < 0.9 else rng.randint(0, 5000)
    return (seq, start_ms, duration, lost_mask, first, loss_at, pitch, depth, lower, pause, rise)


def random_sessions(rng: random.Random, n_sessions: int, reps_per: int,
                    has_imu: bool = True) -> list[list[tuple]]:
    sessions = []
    for _ in range(n_sessions):
        reps, t = [], 0
        for seq in range(reps_per):
            rep = random_rep(rng, seq, t, has_imu)
            reps.append(rep)
            t = rep[1] + rep[2] + rng.choice([rng.randint(0, 5000), rng.randint(0, 200000)])
        sessions.append(reps)
    return sessions
