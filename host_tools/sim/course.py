"""A course of home practice, weeks long, on the firmware's own engine and log store: a
simulated patient who learns, the feedback the PT prescribed, the log the dowel would hand the
host, and the ground truth to check a report against.

    course = run_course(cfg, Learner(seed=3), days=28, start=datetime(2026, 3, 2, 8, tzinfo=UTC))
    course.segments              # {"00000001.dwl": bytes, ...}: what `dowel logs pull` would find
    course.reps                  # [CourseRep]: each rep's day, set, feedback, what the patient did
    course.fault_rate(week=0, probe=True)   # the truth a report's learning figures must show

Each set is a rendered scenario (`host_tools.sim.render`: pick up, hold, the set's hinges, put
down) fed tick by tick (TICK_MS, the loop's) to `dowel.engine.Engine`, whose reps go to
`dowel.logstore.Log` on a temporary folder with the session rule of `dowel.app`. Days pass
between sets through the engine's day number and the RTC the session headers carry, not in
samples, so four weeks of three sets a day take seconds. The patient decides a set's reps at
its start, from the feedback the dowel is about to give (a probe set is announced by its cue).
"""

from __future__ import annotations

import copy
import random
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from dowel import logfiles, logstore
from dowel.engine import Engine
from dowel.feedback import MODE_NAMES, MODE_NONE, day_number
from dowel.points import NAMES
from dowel.rep import EV_REP_END, EV_REP_START

from host_tools.sim.render import render
from host_tools.sim.scenario import builds, validate

TICK_MS = 5  # dowel.app.TICK_MS: the loop's tick
DEVICE_ID = b"\xc0\x55\xe5\x00\x00\x01"
EPOCH_2000 = datetime(2000, 1, 1, tzinfo=timezone.utc)


@dataclass
class Learner:
    """A patient learning the hinge: a model with known answers for tests, not a claim about
    patients. `skill` (0..1) is what they do alone: a rep without fault feedback loses a point
    with probability fault_max - (fault_max - fault_min) * skill. While the dowel cues faults
    the cue guides them (the guidance hypothesis: Salmoni, Schmidt & Walter 1984): the
    probability falls by the share `guidance`, and what they learn (skill += rate * (1 -
    skill)) comes from reps with a fault they were told of (`rate_cued`) more than from reps
    practised without a word (`rate_alone`). So the probe sets' fault rate falls with
    practice, and removing the feedback early shows a rise: the guided performance was not yet
    skill. A lost point is the sacrum, mid-back or head with the chances `points`; it leaves at
    a pitch that deepens with skill, from `depth_min` to `depth_max` degrees (the fault-free
    hinge depth)."""

    skill: float = 0.0
    fault_max: float = 0.7
    fault_min: float = 0.05
    guidance: float = 0.5
    rate_cued: float = 0.03
    rate_alone: float = 0.003
    points: dict = field(default_factory=lambda: {"sacrum": 0.6, "midback": 0.25, "head": 0.15})
    depth_min: float = 20.0
    depth_max: float = 36.0
    hinge_deg: float = 45.0
    seed: int = 1

    def __post_init__(self):
        self.rng = random.Random(self.seed)

    def fault_chance(self, guided: bool) -> float:
        alone = self.fault_max - (self.fault_max - self.fault_min) * self.skill
        return alone * (1 - self.guidance) if guided else alone

    def loss_deg(self) -> float:
        mean = self.depth_min + (self.depth_max - self.depth_min) * self.skill
        return min(self.hinge_deg - 6, max(10.0, self.rng.gauss(mean, 1.5)))

    def rep(self, guided: bool) -> tuple[str | None, float | None]:
        """(point lost or None, pitch where it leaves) for the next rep."""
        if self.rng.random() >= self.fault_chance(guided):
            return None, None
        names = list(self.points)
        point = self.rng.choices(names, weights=[self.points[n] for n in names])[0]
        return point, round(self.loss_deg(), 1)

    def learn(self, faulted: bool, cued: bool) -> None:
        rate = self.rate_cued if faulted and cued else self.rate_alone
        self.skill += rate * (1 - self.skill)


@dataclass(frozen=True)
class CourseRep:
    """One rep of the course as the patient did it and as the dowel treated it."""

    day: int  # 0: the course's first day
    set: int  # 0: the day's first set
    at: datetime  # when its set began (UTC)
    lost: str | None  # the point the patient lost (truth), None: a clean rep
    loss_deg: float | None  # the pitch where it left (truth)
    probe: bool  # a probe set (the dowel gave no fault feedback)
    stage: int  # the schedule's stage (the dowel's)
    mode: str  # its feedback mode
    cued: bool  # the dowel cued this rep's fault
    skill: float  # the learner's skill at the set's start (the model's, for the reader)


@dataclass
class Course:
    segments: dict[str, bytes]
    reps: list[CourseRep]
    start: datetime
    days: int
    logged_reps: int  # reps the engine ended and the log took

    def fault_rate(self, week: int, probe: bool) -> float | None:
        """The true share of reps with a lost point in `week` (0-based), in probe sets or in
        sets with feedback; None when there were none."""
        reps = [r for r in self.reps if r.day // 7 == week and r.probe == probe]
        return sum(r.lost is not None for r in reps) / len(reps) if reps else None


def config_for(build: str = "average", **fields) -> dict:
    """A validated config for a patient of `build`, thresholds as the tests calibrate them
    (on 55 %, off 40 % of the contact level), with `fields` (feedback, schedule, probe...)."""
    from dowel import config

    cfg = config.defaults()
    cfg["patient"] = fields.pop("patient", "P-COURSE")
    contact = builds()[build]["contact_counts"]
    for name in NAMES:
        level = contact[name]
        cfg["sensors"][name] = {"on": int(level * 0.55), "off": int(level * 0.4), "level": level}
    cfg.update(fields)
    return config.validate(cfg)


def _set_scenario(reps: list[tuple[str | None, float | None]], learner: Learner, seed: int):
    steps: list[dict] = [
        {"do": "released", "ms": 600},
        {"do": "pickup"},
        {"do": "hold", "ms": 900},
    ]
    for lost, deg in reps:
        hinge = {"do": "hinge", "depth_deg": learner.hinge_deg, "rest_ms": 700}
        if lost:
            hinge.update(lose=lost, lose_at_deg=deg)
        steps.append(hinge)
    steps += [{"do": "put_down"}, {"do": "released", "ms": 600}]
    return validate({"name": "course-set", "seed": seed, "dt_ms": TICK_MS, "steps": steps})


def _coming_feedback(engine: Engine, day: int, new_session: bool) -> tuple[bool, int, int]:
    """(probe, mode, stage) of the set about to start, from a copy of the dowel's feedback."""
    fb = copy.deepcopy(engine.feedback)
    fb.rep_start(day, new_session)
    return fb.rep_probe, fb.rep_mode, fb.rep_stage


def run_course(
    cfg: dict,
    learner: Learner,
    *,
    days: int = 28,
    sets_per_day: int | None = None,
    start: datetime | None = None,
    set_gap: timedelta = timedelta(hours=3),
) -> Course:
    """Practise `days` days of `sets_per_day` sets (default: the config's) of `reps_per_set`
    reps with the dowel set up by `cfg`; the first set each day at `start`'s time of day."""
    start = start or datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
    sets_per_day = sets_per_day or cfg["sets_per_day"] or 1
    reps_per_set = cfg["reps_per_set"] or 10
    engine = Engine(cfg, True, pitch_lag_ms=0)  # the rendered pitch: no IMU filter delay
    gap_ms = cfg["session_gap_s"] * 1000
    out: list[CourseRep] = []
    logged = 0
    with tempfile.TemporaryDirectory(prefix="dowel-course-") as tmp:
        # The PT set the dowel's clock at the visit (`dowel calibrate` does, as every host
        # command): the store then dates its sessions (`dowel.loghost.set_rtc`).
        st = logfiles.rebuilt_state(tmp)
        visit = start - timedelta(hours=1)
        st["rtc"] = [visit.year, visit.month, visit.day, visit.hour, visit.minute, 0]
        logfiles.save_state(tmp, st)
        log = logstore.Log(root=tmp, boot=0x5EED)
        ticks = 1000
        for d in range(days):
            for k in range(sets_per_day):
                at = start + timedelta(days=d) + k * set_gap
                seconds = int((at - EPOCH_2000).total_seconds())
                engine.day = day_number(seconds, cfg["utc_offset_min"])
                probe, mode, stage = _coming_feedback(engine, engine.day, True)
                guided = not probe and mode != MODE_NONE
                skill = learner.skill
                plan = [learner.rep(guided) for _ in range(reps_per_set)]
                timeline = render(_set_scenario(plan, learner, seed=d * 31 + k))
                ends = _play(engine, timeline, log, at, ticks, gap_ms, cfg["patient"])
                ticks += timeline.duration_ms + gap_ms
                logged += len(ends)
                # The dowel's own per-rep feedback where it ended the rep (a stage may advance
                # within a set); the set's as foreseen for a rep it did not see.
                missed = [(False, stage, mode, probe)] * (len(plan) - len(ends))
                for (lost, deg), (cued, st, md, pr) in zip(plan, ends + missed, strict=True):
                    learner.learn(lost is not None, cued)
                    out.append(CourseRep(d, k, at, lost, deg, pr, st, MODE_NAMES[md], cued, skill))
        log.close()
        segments = {p.name: p.read_bytes() for p in sorted(Path(tmp).glob("*.dwl"))}
    return Course(segments, out, start, days, logged)


def _play(
    engine: Engine, timeline, log, at: datetime, ticks: int, gap_ms: int, patient: str
) -> list[tuple[bool, int, int, bool]]:
    """Feed one set to the engine, logging as `dowel.app` does (a session opens at a rep start
    after `session_gap_s` idle); return, per rep ended, (fault cued, stage, mode, probe)."""
    engine.step(0, 0, 0, 0, gap_ms)  # the hours since the last set, the dowel lying idle
    cued = []
    session_open = False
    for i in range(timeline.n):
        pitch = round(timeline.pitch_cdeg[i] / 10)
        events = engine.step(timeline.head[i], timeline.midback[i], timeline.sacrum[i], pitch, 5)
        if events & EV_REP_START and not session_open:
            moment = at + timedelta(milliseconds=i * TICK_MS)
            rtc = (moment.year, moment.month, moment.day, moment.hour, moment.minute, 0)
            log.begin_session(DEVICE_ID, "0.1.0", b"\x01" * 8, patient, rtc, ticks, True)
            engine.reps.rebase()
            session_open = True
        if events & EV_REP_END:
            log.add_rep(*engine.rep_record())
            cued.append(
                (engine.rep_cued != 0, engine.rep_stage, engine.rep_mode, engine.rep_probe)
            )
    return cued
