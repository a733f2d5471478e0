"""A board without a board: the real device modules (`dowel.config`, `dowel.drift`,
`dowel.stream`) run on CPython against a temporary flash directory, a synthetic patient and a
virtual clock, behind the same `call`/`transport` surface as host_tools.board.link.Link.

    link = FakeLink(tmp_path, Patient(levels=(21000, 26000, 30000)))
    calibrate(link, "P-1")          # streams the patient's signal, writes tmp_path/dowel.json
"""

from __future__ import annotations

import contextlib
import io
import random
import re
import types
from dataclasses import dataclass

from dowel import config as dconfig
from dowel import drift as ddrift
from dowel import running
from dowel import stream as dstream


@dataclass
class Patient:
    """Readings against time since the link opened: released until `hold_at_ms`, neutral
    hold, then slow hinges from `hinge_at_ms` with each point's contact level swaying by
    `wobble_pct`. `faults` maps a sensor index to "disconnected" or "shorted". The defaults
    fit calibrate's default Steps: released recorded at 0-1.2 s, hold 3.3-5.6 s, check after."""

    levels: tuple[int, int, int] = (22000, 28000, 30000)
    zero: tuple[int, int, int] = (900, 1100, 700)
    noise: int = 150
    hold_at_ms: int = 2500
    hinge_at_ms: int = 6000
    wobble_pct: int = 25
    faults: dict | None = None
    seed: int = 1

    def __post_init__(self):
        self.rng = random.Random(self.seed)

    def counts(self, t_ms: int) -> tuple[int, int, int]:
        out = []
        for i in range(3):
            fault = (self.faults or {}).get(i)
            if fault == "shorted":
                out.append(65535)
                continue
            if fault == "disconnected":
                out.append(max(0, int(self.rng.gauss(40, 20))))
                continue
            if t_ms < self.hold_at_ms:
                level = self.zero[i]
            else:
                level = self.levels[i]
                if t_ms >= self.hinge_at_ms:
                    # A 4 s hinge cycle: the grip eases the pressure by up to wobble_pct.
                    phase = ((t_ms - self.hinge_at_ms) % 4000) / 4000
                    sway = 1 - self.wobble_pct / 100 * (1 - abs(1 - 2 * phase))
                    level = int(self.zero[i] + (level - self.zero[i]) * sway)
            reading = int(self.rng.gauss(level, self.noise))
            out.append(min(65535, max(0, reading)))
        return tuple(out)  # type: ignore[return-value]


class _Clock:
    """MicroPython's time API on a virtual millisecond counter."""

    def __init__(self):
        self.now = 0

    def ticks_ms(self):
        return self.now

    def ticks_diff(self, a, b):
        return a - b

    def sleep_ms(self, ms):
        self.now += ms


class _FakeBoard:
    imu = None
    fed = 0

    def __init__(self, patient: Patient, clock: _Clock):
        self.patient = patient
        self.clock = clock

    def read(self, buf):
        buf[0], buf[1], buf[2] = self.patient.counts(self.clock.now)
        self.clock.now += 1  # reading and printing take time on the board too

    def tone(self, freq_hz):
        pass

    def feed(self):
        self.fed += 1


class FakeTransport:
    def __init__(self, link: FakeLink):
        self.link = link
        self.pending: tuple[int, int] | None = None

    def exec_raw_no_follow(self, code: str) -> None:
        match = re.search(r"_s\.run\((\d+), (\d+), ([01])\)", code)
        assert match, code
        self.pending = (int(match.group(1)), int(match.group(2)), int(match.group(3)))
        self.link.clock.now += 15  # sending the call takes a moment: a slot or two is missed

    def follow(self, timeout, data_consumer=None):
        assert self.pending is not None
        duration_ms, period_ms, resume = self.pending
        self.pending = None
        out = io.StringIO()
        real_time = dstream.time
        dstream.time = self.link.clock
        running.app = types.SimpleNamespace(board=self.link.board)  # the loop's Board
        try:
            with contextlib.redirect_stdout(out):
                dstream.run(duration_ms, period_ms, resume)
        finally:
            dstream.time = real_time
            running.app = None
        data = out.getvalue().encode()
        # Arrives in odd-sized pieces, as from a serial port.
        rng = random.Random(len(data))
        i = 0
        while i < len(data):
            n = rng.randint(1, 64)
            data_consumer(data[i : i + n])
            i += n
        data_consumer(b"\x04")
        return b"", b""


class FakeLink:
    def __init__(self, tmp_path, patient: Patient, device_id: str = "240ac4f00001"):
        self.port = "fake"
        self.clock = _Clock()
        self.board = _FakeBoard(patient, self.clock)
        self.transport = FakeTransport(self)
        self.config_path = str(tmp_path / "dowel.json")
        self.drift_path = str(tmp_path / "drift.json")
        self.fault_path = str(tmp_path / "fault.txt")
        self.device_id = device_id
        self.calls: list[tuple[str, str]] = []

    def call(self, module: str, function: str, *args, timeout: float = 10):
        self.calls.append((module, function))
        if (module, function) == ("dowel.info", "version"):
            from dowel import info

            return info.version()
        if module == "dowel.config":
            return getattr(dconfig, function)(*args, path=self.config_path)
        if module == "dowel.drift":
            return getattr(ddrift, function)(*args, path=self.drift_path)
        if (module, function) == ("dowel.hal", "unique_id"):
            return bytes.fromhex(self.device_id)
        if module == "dowel.fault":  # the real module, on this board's flash
            from dowel import fault

            return getattr(fault, function)(*args, path=self.fault_path)
        raise AssertionError(f"unexpected call {module}.{function}")

    def writes(self) -> int:
        return sum(1 for call in self.calls if call == ("dowel.config", "write_json"))


def replay_losses(samples, sensors, loss_ms, regain_ms):
    """Every LOST the firmware's debounce fires on (t_ms, readings) with (on, off) per sensor:
    what the dowel would beep on for the same trace."""
    from host_tools.calibrate.rule import LiveCheck

    check = LiveCheck(sensors, loss_ms, regain_ms)
    for t_ms, readings in samples:
        check.feed(t_ms, readings)
    return check.losses
