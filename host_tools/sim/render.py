"""Render a scenario into the sample timeline the virtual board plays, plus its ground truth.

    tl = render(load_scenario("quick"))          # same scenario and seed -> same arrays
    tl.head[1000], tl.pitch_cdeg[1000]           # head counts and pitch (centi-degrees) at 1 s
    tl.truth["losses"]                           # [[t_ms, "sacrum"], ...]
    tl.to_csv("trace.csv", step_ms=5)            # t_ms,head,midback,sacrum,pitch_deg

The timeline holds one sample every `dt_ms` of: the three FSR readings (ADC counts at 11 dB),
the dowel's pitch (centi-degrees from vertical, + = hinged forward), its rate (milli-deg/s, the
IMU's gyro Y) and the acceleration magnitude (milli-g: 1000 at rest, ~0 in free fall). The
board turns pitch and magnitude into accelerometer axes (X along the dowel toward the head,
Z out of the patient's back: ax = g cos(pitch), az = g sin(pitch)).

Ground truth (times in ms from the start):
  losses    [[t, sensor]]         a point truly left the dowel during a hold or a rep (t = the
                                  contact force crossing half way down): one beep each
  regains   [[t, sensor]]         it came back
  wobbles   [[start, end, sensor]] grip dips shorter than a loss: must not beep
  chatter   [[start, end, sensor]] contact hovering at the thresholds: ambiguous
  reps      [{start_ms, bottom_ms, end_ms, depth_deg, lower_ms, pause_ms, rise_ms, lost,
             loss_ms, loss_deg, regain_ms}]   phases as the patient did them (they add up to
                                  end_ms - start_ms); loss_deg: the pitch at loss_ms
  pickups   [t]                   three-point contact established after picking the dowel up
  releases  [[t, "put_down" | "drop"]]  the dowel left the back on purpose or fell
  presses   [[start, end, sensor]], tilts [[start, end, to_deg]], faults [[t, kind, [sensors]]]
  build     the resolved build (contact and zero counts per sensor), seed, duration_ms
  sway_deg  the amplitude of the patient's sway, on the pitch throughout
"""

from __future__ import annotations

import base64
import math
import random
import sys
from array import array
from dataclasses import dataclass, field
from pathlib import Path

from dowel.points import NAMES

from host_tools.sim.scenario import I2C_FAULTS, resolve_build, validate

LOSS_RAMP_MS = 40  # a point leaves the dowel over this long; truth = the middle of the ramp
REGAIN_RAMP_MS = 60
LOST_LEVEL = 0.03  # contact fraction left when a point is off the dowel
LYING_DEG = 90.0
# The patient's sway while the dowel is on the back (standing, and on top of every hinge): two
# sines, (amplitude in degrees, period in ms). The truth gives their sum (`sway_deg`): a phase
# boundary where the hinge moves the pitch less than that is hidden in the sway.
SWAY = ((0.7, 2300.0), (0.3, 830.0))


@dataclass
class Timeline:
    name: str
    dt_ms: int
    head: array
    midback: array
    sacrum: array
    pitch_cdeg: array
    gyro_mdps: array
    gmag_milli: array
    truth: dict = field(default_factory=dict)
    holds: list = field(default_factory=list)  # [{"at_ms", "match"}]: await_host steps
    i2c_fault: array | None = None  # per sample, 0 or an I2C_FAULTS code; None: no I2C fault

    @property
    def n(self) -> int:
        return len(self.head)

    @property
    def duration_ms(self) -> int:
        return self.n * self.dt_ms

    def counts(self) -> tuple[array, array, array]:
        return self.head, self.midback, self.sacrum

    def at(self, t_ms: float) -> tuple[int, int, int, float]:
        """(head, midback, sacrum, pitch_deg) at `t_ms`, as the board samples it."""
        i = min(max(int(t_ms // self.dt_ms), 0), self.n - 1)
        return self.head[i], self.midback[i], self.sacrum[i], self.pitch_cdeg[i] / 100

    def wire(self) -> dict:
        """The arrays as the board process takes them (little-endian int32, base64)."""

        def enc(a: array) -> str:
            b = array("i", a)
            if sys.byteorder != "little":
                b.byteswap()
            return base64.b64encode(b.tobytes()).decode()

        names = ("head", "midback", "sacrum", "pitch_cdeg", "gyro_mdps", "gmag_milli")
        if self.i2c_fault is not None:
            names += ("i2c_fault",)
        return {
            "dt_ms": self.dt_ms,
            "n": self.n,
            "arrays": {k: enc(getattr(self, k)) for k in names},
            "holds": self.holds,
        }

    def to_csv(self, path, step_ms: int = 5) -> int:
        """Write a replay trace `t_ms,head,midback,sacrum,pitch_deg`; returns the row count."""
        step = max(1, step_ms // self.dt_ms)
        rows = ["t_ms,head,midback,sacrum,pitch_deg"]
        for i in range(0, self.n, step):
            rows.append(
                f"{i * self.dt_ms},{self.head[i]},{self.midback[i]},{self.sacrum[i]},"
                f"{self.pitch_cdeg[i] / 100:.2f}"
            )
        Path(path).write_text("\n".join(rows) + "\n")
        return len(rows) - 1


def _ease(x: float) -> float:
    """0 -> 1 with zero slope at both ends (a smooth movement)."""
    x = min(max(x, 0.0), 1.0)
    return 0.5 - 0.5 * math.cos(math.pi * x)


def _ease_inv(y: float) -> float:
    y = min(max(y, 0.0), 1.0)
    return math.acos(1 - 2 * y) / math.pi


class _Renderer:
    def __init__(self, sc: dict, rng: random.Random):
        self.sc = sc
        self.rng = rng
        self.dt = sc["dt_ms"]
        self.build = sc["build"]
        self.stand = self.build["stand_deg"]
        self.frac: list[list[float]] = [[], [], []]
        self.pitch: list[float] = []
        self.gmag: list[float] = []
        self.faults_at: list[tuple[int, dict]] = []  # (sample index, fault state from then on)
        self.fault_state: dict[str, object] = {}
        self.cur = [0.0, 0.0, 0.0]
        self.cur_pitch = LYING_DEG
        self.held = False
        self.holds: list[dict] = []
        self.truth: dict[str, list] = {
            k: []
            for k in (
                "losses",
                "regains",
                "wobbles",
                "chatter",
                "reps",
                "pickups",
                "releases",
                "presses",
                "tilts",
                "faults",
            )
        }

    @property
    def t(self) -> int:
        return len(self.pitch) * self.dt

    def _n(self, ms: float) -> int:
        return max(0, int(round(ms / self.dt)))

    def emit(self, n: int, fn) -> None:
        """Append n samples; fn(i) -> (fractions[3], pitch_deg, gmag_milli)."""
        self._base = len(self.pitch)
        for i in range(n):
            fr, p, g = fn(i)
            for s in range(3):
                self.frac[s].append(fr[s])
            self.pitch.append(p)
            self.gmag.append(g)
        if n:
            self.cur = [self.frac[s][-1] for s in range(3)]
            self.cur_pitch = self.pitch[-1]

    _base = 0

    def sway(self, i: int) -> float:
        """Standing sway (degrees) at sample i of the segment being emitted: one function of
        absolute time, so segments join without a jump."""
        t = (self._base + i) * self.dt
        (a0, p0), (a1, p1) = SWAY
        return a0 * math.sin(2 * math.pi * t / p0) + a1 * math.sin(2 * math.pi * t / p1)

    def need_held(self, step: dict) -> None:
        if not self.held:
            from host_tools.errors import UsageError

            raise UsageError(
                f"scenario {self.sc['name']}: step '{step['do']}' at {self.t} ms needs the dowel "
                "on the back: add a pickup step before it"
            )

    # ---- steps ---------------------------------------------------------------------------

    def released(self, s):
        self.held = False
        self.emit(self._n(s["ms"]), lambda i: ((0.0, 0.0, 0.0), LYING_DEG, 1000.0))

    def pickup(self, s):
        n = self._n(s["ms"])
        p0 = self.cur_pitch
        start = list(self.cur)
        # Sacrum first, then mid-back, then head, as the dowel is laid along the spine.
        touch = (0.85, 0.70, 0.55)

        def fn(i):
            x = i / max(n - 1, 1)
            p = p0 + (self.stand - p0) * _ease(x / 0.6) + self.sway(i) * _ease((x - 0.6) / 0.4)
            fr = []
            for k in range(3):
                r = (x - touch[k]) * n * self.dt / REGAIN_RAMP_MS
                fr.append(start[k] + (1.0 - start[k]) * min(max(r, 0.0), 1.0))
            return fr, p, 1000.0

        self.emit(n, fn)
        self.held = True
        self.truth["pickups"].append(self.t)

    def hold(self, s):
        self.need_held(s)
        self.emit(self._n(s["ms"]), lambda i: ((1.0, 1.0, 1.0), self.stand + self.sway(i), 1000.0))

    def wait(self, s):
        fr = tuple(self.cur)
        if self.held:
            self.emit(self._n(s["ms"]), lambda i: (fr, self.stand + self.sway(i), 1000.0))
        else:
            p = self.cur_pitch
            self.emit(self._n(s["ms"]), lambda i: (fr, p, 1000.0))

    def await_host(self, s):
        # No samples: the board holds the scenario clock here (host_tools/vboard/daemon.py).
        self.holds.append({"at_ms": self.t, "match": s["match"]})

    def hinge(self, s):
        self.need_held(s)
        for _ in range(int(s["reps"])):
            self._rep(s)

    def _rep(self, s):
        dt = self.dt
        stand, depth = self.stand, float(s["depth_deg"])
        # A little tempo jitter, so ten reps are not ten copies.
        j = lambda ms: max(0.0, ms * (1 + self.rng.uniform(-0.05, 0.05)))  # noqa: E731
        lower, pause, rise, rest = (
            j(s["lower_ms"]),
            j(s["pause_ms"]),
            j(s["rise_ms"]),
            j(s["rest_ms"]),
        )
        n = self._n(lower + pause + rise + rest)
        t0 = self.t
        base = len(self.pitch)  # this rep's first sample
        lost = s["lose"]
        k = NAMES.index(lost) if lost else -1
        loss_ms = regain_ms = None
        if lost:
            u = (s["lose_at_deg"] - stand) / (depth - stand)
            loss_ms = lower * _ease_inv(u)
            if s["regain_after_ms"] is not None:
                regain_ms = loss_ms + float(s["regain_after_ms"])
            elif s["regain_at_deg"] is not None:
                v = (float(s["regain_at_deg"]) - stand) / (depth - stand)
                regain_ms = lower + pause + rise * _ease_inv(1 - v)
            else:
                regain_ms = lower + pause + rise
            regain_ms = max(regain_ms, loss_ms + LOSS_RAMP_MS + REGAIN_RAMP_MS)

        def pitch_at(t):
            if t < lower:
                return stand + (depth - stand) * _ease(t / lower)
            if t < lower + pause:
                return depth
            if t < lower + pause + rise:
                return depth - (depth - stand) * _ease((t - lower - pause) / rise)
            return stand

        def fn(i):
            t = i * dt
            p = pitch_at(t)
            x = min(max((p - stand) / 40.0, 0.0), 1.2)
            # Pressure shifts toward the sacrum as the hips go back.
            fr = [1.0 - 0.15 * x, 1.0 + 0.05 * x, 1.0 + 0.10 * x]
            if k >= 0:
                a = (t - (loss_ms - LOSS_RAMP_MS / 2)) / LOSS_RAMP_MS
                b = (t - (regain_ms - REGAIN_RAMP_MS / 2)) / REGAIN_RAMP_MS
                off = min(max(a, 0.0), 1.0) * (1 - min(max(b, 0.0), 1.0))
                fr[k] = fr[k] * (1 - off) + LOST_LEVEL * off
            return fr, p + self.sway(i), 1000.0

        self.emit(n, fn)
        bottom, rise_at, end = int(lower), int(lower + pause), int(lower + pause + rise)
        loss_deg = None if loss_ms is None else round(self.pitch[base + int(loss_ms) // dt], 2)
        rep = {
            "start_ms": t0,
            "bottom_ms": t0 + bottom,
            "end_ms": t0 + end,
            "depth_deg": depth,
            # The phases as the patient did them (tempo jitter included): from standing to the
            # bottom, held there, back to standing; they add up to end_ms - start_ms.
            "lower_ms": bottom,
            "pause_ms": rise_at - bottom,
            "rise_ms": end - rise_at,
            "lost": lost,
            "loss_ms": None if loss_ms is None else t0 + int(loss_ms),
            # The dowel's pitch (sway included, before the IMU's noise) when the point left it.
            "loss_deg": loss_deg,
            "regain_ms": None if regain_ms is None else t0 + int(regain_ms),
        }
        self.truth["reps"].append(rep)
        if lost:
            self.truth["losses"].append([rep["loss_ms"], lost])
            self.truth["regains"].append([rep["regain_ms"], lost])

    def wobble(self, s):
        self.need_held(s)
        k = NAMES.index(s["sensor"])
        lead = self._n(200)
        self.hold({"do": "hold", "ms": lead * self.dt})
        for _ in range(int(s["dips"])):
            dip = max(float(s["dip_ms"]), 3 * self.dt)
            start = self.t
            edge = min(10.0, dip / 3)

            def fn(i, dip=dip, edge=edge):
                t = i * self.dt
                if t < edge:
                    d = t / edge
                elif t > dip - edge:
                    d = max(0.0, (dip - t) / edge)
                else:
                    d = 1.0
                fr = [1.0, 1.0, 1.0]
                fr[k] = 1.0 - (1.0 - s["level"]) * d
                return fr, self.stand + self.sway(i), 1000.0

            self.emit(self._n(dip), fn)
            self.truth["wobbles"].append([start, self.t, s["sensor"]])
            self.hold({"do": "hold", "ms": float(s["gap_ms"])})

    def chatter(self, s):
        self.need_held(s)
        k = NAMES.index(s["sensor"])
        n = self._n(s["ms"])
        start = self.t
        period = max(1, self._n(s["period_ms"]))
        signs = [1.0 if self.rng.random() < 0.5 else -1.0 for _ in range(n // period + 2)]

        def fn(i):
            fr = [1.0, 1.0, 1.0]
            fr[k] = s["level"] + s["swing"] * signs[i // period]
            return fr, self.stand + self.sway(i), 1000.0

        self.emit(n, fn)
        self.truth["chatter"].append([start, self.t, s["sensor"]])

    def press(self, s):
        # Self-test: the dowel in the hands, one sensor pressed by a thumb.
        self.held = False
        k = NAMES.index(s["sensor"])
        p = self.cur_pitch
        n = self._n(s["ms"])
        start = self.t

        def fn(i):
            t = i * self.dt
            r = min(t / REGAIN_RAMP_MS, (n * self.dt - t) / REGAIN_RAMP_MS, 1.0)
            fr = [0.0, 0.0, 0.0]
            fr[k] = max(r, 0.0)
            return fr, p, 1000.0

        self.emit(n, fn)
        self.truth["presses"].append([start, self.t, s["sensor"]])
        self.emit(self._n(s["gap_ms"]), lambda i: ((0.0, 0.0, 0.0), p, 1000.0))

    def tilt(self, s):
        p0, p1 = self.cur_pitch, float(s["to_deg"])
        n = self._n(s["ms"])
        fr = tuple(self.cur)
        start = self.t
        self.emit(n, lambda i: (fr, p0 + (p1 - p0) * _ease(i / max(n - 1, 1)), 1000.0))
        self.truth["tilts"].append([start, self.t, p1])

    def drop(self, s):
        n = self._n(s["ms"])
        p0 = self.cur_pitch
        start = list(self.cur)
        fall, impact = 250.0, 40.0

        def fn(i):
            t = i * self.dt
            fr = [c * max(0.0, 1 - t / 20.0) for c in start]
            if t < fall:
                return fr, p0 + (LYING_DEG - p0) * _ease(t / fall), 50.0
            if t < fall + impact:
                return (
                    fr,
                    LYING_DEG + 4 * math.sin((t - fall) / 6.0),
                    3500.0 if t < fall + 15 else 1500.0,
                )
            return fr, LYING_DEG, 1000.0

        self.held = False
        self.truth["releases"].append([self.t, "drop"])
        self.emit(n, fn)

    def put_down(self, s):
        n = self._n(s["ms"])
        p0 = self.cur_pitch
        start = list(self.cur)
        off_at = (0.0, 0.12, 0.24)  # head leaves first, then mid-back, then sacrum
        self.truth["releases"].append([self.t, "put_down"])

        def fn(i):
            x = i / max(n - 1, 1)
            fr = []
            for k in range(3):
                r = (x - off_at[k]) * n * self.dt / LOSS_RAMP_MS
                fr.append(start[k] * (1 - min(max(r, 0.0), 1.0)))
            return fr, p0 + (LYING_DEG - p0) * _ease((x - 0.2) / 0.8), 1000.0

        self.held = False
        self.emit(n, fn)

    def fault(self, s):
        kind = s["kind"]
        if kind == "clear":
            self.fault_state = {}
            sensors: list[str] = []
        elif kind in I2C_FAULTS:
            sensors = []
            self.fault_state = {**self.fault_state, "i2c": I2C_FAULTS[kind]}
        elif kind == "swapped":
            sensors = list(s["sensors"])
            self.fault_state = {
                **self.fault_state,
                "swap": tuple(NAMES.index(x) for x in sensors),
            }
        else:
            sensors = [s["sensor"]]
            self.fault_state = {**self.fault_state, s["sensor"]: kind}
        self.faults_at.append((len(self.pitch), dict(self.fault_state)))
        self.truth["faults"].append([self.t, kind, sensors])

    # ---- noise and faults -------------------------------------------------------------------

    def finish(self, name: str) -> Timeline:
        rng = self.rng
        noise = self.sc["noise"]
        n = len(self.pitch)
        contact = self.build["contact_counts"]
        zero = self.build["zero_counts"]
        adc_sd, grip_sd = float(noise["adc_sd"]), float(noise["grip_sd"])
        chans = [array("i", bytes(4 * n)) for _ in range(3)]
        # Grip pressure drifts slowly (AR(1), ~300 ms), on top of white ADC noise.
        alpha = math.exp(-self.dt / 300.0)
        drift_sd = math.sqrt(1 - alpha * alpha)
        for k in range(3):
            frac, out, drift = self.frac[k], chans[k], 0.0
            span = contact[k] - zero[k]
            for i in range(n):
                drift = alpha * drift + drift_sd * rng.gauss(0.0, 1.0)
                f = frac[i]
                v = zero[k] + f * span * (1 + grip_sd * drift) + rng.gauss(0.0, adc_sd)
                out[i] = min(max(int(round(v)), 0), 65535)
        # Faults, from their step on.
        i2c = None
        if any(fs.get("i2c") for _, fs in self.faults_at):
            i2c = array("i", bytes(4 * n))
            marks = self.faults_at + [(n, {})]
            for (i0, fs), (i1, _) in zip(marks, marks[1:], strict=False):
                for i in range(i0, i1):
                    i2c[i] = fs.get("i2c", 0)
        if self.faults_at:
            marks = self.faults_at + [(n, {})]
            for (i0, fs), (i1, _) in zip(marks, marks[1:], strict=False):
                swap = fs.get("swap")
                for i in range(i0, i1):
                    vals = [chans[0][i], chans[1][i], chans[2][i]]
                    if swap:
                        a, b = swap
                        vals[a], vals[b] = vals[b], vals[a]
                    for k, s in enumerate(NAMES):
                        if fs.get(s) == "disconnected":
                            vals[k] = int(abs(rng.gauss(0.0, 15.0)))
                        elif fs.get(s) == "shorted":
                            vals[k] = 65535
                    for k in range(3):
                        chans[k][i] = vals[k]
        pitch = array("i", bytes(4 * n))
        gyro = array("i", bytes(4 * n))
        gmag = array("i", bytes(4 * n))
        psd, gsd = float(noise["pitch_sd_deg"]), float(noise["gyro_sd_dps"])
        for i in range(n):
            pitch[i] = int(round((self.pitch[i] + rng.gauss(0.0, psd)) * 100))
            a, b = self.pitch[max(i - 1, 0)], self.pitch[min(i + 1, n - 1)]
            rate = (b - a) / (self.dt * (min(i + 1, n - 1) - max(i - 1, 0)) or 1) * 1000.0
            gyro[i] = int(round((rate + rng.gauss(0.0, gsd)) * 1000))
            gmag[i] = int(round(self.gmag[i]))
        truth = {
            "name": name,
            "seed": self.sc["seed"],
            "build": self.build,
            "sway_deg": sum(a for a, _ in SWAY),
            "duration_ms": n * self.dt,
            **self.truth,
        }
        truth["holds"] = self.holds
        tl = Timeline(
            name, self.dt, chans[0], chans[1], chans[2], pitch, gyro, gmag, truth, self.holds
        )
        tl.i2c_fault = i2c
        return tl


def render(scenario: dict, build=None, seed: int | None = None) -> Timeline:
    """Render a (validated) scenario; `build` and `seed` override the scenario's own."""
    sc = dict(scenario) if _validated(scenario) else validate(scenario)
    if build is not None:
        sc["build"] = resolve_build(build)
    if seed is not None:
        sc["seed"] = int(seed)
    r = _Renderer(sc, random.Random(sc["seed"]))
    for step in sc["steps"]:
        getattr(r, step["do"])(step)
    return r.finish(sc["name"])


def _validated(sc: dict) -> bool:
    # load_scenario() output: the build is resolved and every step has all its fields.
    build = sc.get("build")
    return isinstance(build, dict) and isinstance(build.get("contact_counts"), list)
