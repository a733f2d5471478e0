"""What the patient learned, apart from how they did with the dowel's help: the report's
learning figures from the feedback each rep was given (log format 4), as plain numbers.

    learning = load_learning(conn, "P-0001", sessions, start, end)   # None: none says it
    learning.weeks[0].alone_rate, learning.weeks[-1].guided_rate, learning.stages[0].label

Reps are split by the feedback they were given: *alone* are the reps of probe sets (no fault
feedback, whatever the stage) and of stages with mode `none`; *guided* are the others, whose
faults the dowel could cue. Performance alone is the measure of learning (the retention and
transfer tests of motor-learning research); performance guided is practice with help, and
can look better than what has been learned. Weeks are 7-day blocks from the period's first
day. The depth of the first loss (the pitch at which a point left the dowel) is how far the
patient hinges before form breaks: it deepens as they learn.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date, timedelta

from dowel.points import NAMES as POINTS

from host_tools.report.stats import Spread


@dataclass(frozen=True)
class WeekLearning:
    first: date
    last: date
    alone_reps: int
    alone_faults: int
    guided_reps: int
    guided_faults: int
    loss_pitch: Spread  # pitch at the first loss, degrees, every rep with a loss and an IMU

    @property
    def alone_rate(self) -> float | None:
        return self.alone_faults / self.alone_reps if self.alone_reps else None

    @property
    def guided_rate(self) -> float | None:
        return self.guided_faults / self.guided_reps if self.guided_reps else None


@dataclass(frozen=True)
class StageSpan:
    """A stretch of reps in one stage of the PT's schedule."""

    stage: int
    mode: str
    faded_pct: int | None
    first: date
    last: date
    reps: int

    @property
    def label(self) -> str:
        if self.mode == "faded" and self.faded_pct is not None:
            return f"faded {self.faded_pct} %"
        return self.mode


@dataclass(frozen=True)
class PointFaults:
    point: str
    alone: int  # reps alone whose first lost point this was
    guided: int
    loss_pitch: Spread


@dataclass(frozen=True)
class Learning:
    weeks: list[WeekLearning]
    stages: list[StageSpan]
    points: list[PointFaults]
    reps: int  # reps of the period whose feedback is known
    unknown: int  # reps of the period from older logs, which do not say
    probe_reps: int = 0  # of them, reps of probe sets
    none_reps: int = 0  # and reps of stages with mode `none` (outside probe sets)

    @property
    def alone_reps(self) -> int:
        return sum(w.alone_reps for w in self.weeks)

    @property
    def alone_label(self) -> str:
        """What the reps without fault feedback were, for the PT: probe sets, `none` stages."""
        if self.probe_reps and self.none_reps:
            return "probe sets and stages with no feedback"
        return "stages with no feedback" if self.none_reps else "probe sets"


def load_learning(
    conn: sqlite3.Connection, patient: str, sessions: list, start: date | None, end: date | None
) -> Learning | None:
    """The learning figures of the period start..end, whose sessions (`data.SessionStats`,
    dated) are `sessions`; None when no rep in them says its feedback."""
    if start is None or end is None:
        return None
    day_of = {(s.device_id, s.session): s.day for s in sessions}
    rows = conn.execute(
        "SELECT r.device_id, r.session, r.outcome, r.loss_pitch_deg, r.stage, r.mode, "
        "r.faded_pct, r.probe FROM reps r JOIN sessions s ON s.device_id = r.device_id AND "
        "s.session = r.session WHERE r.patient = ? "
        "ORDER BY s.started_utc, r.device_id, r.session, r.seq",
        (patient,),
    ).fetchall()
    known = []
    unknown = 0
    for r in rows:
        day = day_of.get((r["device_id"], r["session"]))
        if day is None:
            continue  # outside the period, or undated
        if r["mode"] is None:
            unknown += 1
        else:
            known.append((day, r))
    if not known:
        return None
    n_weeks = (end - start).days // 7 + 1
    weeks = []
    for w in range(n_weeks):
        first = start + timedelta(days=7 * w)
        last = min(first + timedelta(days=6), end)
        reps = [r for day, r in known if first <= day <= last]
        alone = [r for r in reps if _alone(r)]
        guided = [r for r in reps if not _alone(r)]
        weeks.append(
            WeekLearning(
                first,
                last,
                len(alone),
                sum(r["outcome"] != "clean" for r in alone),
                len(guided),
                sum(r["outcome"] != "clean" for r in guided),
                Spread.of([r["loss_pitch_deg"] for r in reps if _loss_pitch(r) is not None]),
            )
        )
    points = [
        PointFaults(
            p,
            sum(1 for _, r in known if r["outcome"] == p and _alone(r)),
            sum(1 for _, r in known if r["outcome"] == p and not _alone(r)),
            Spread.of(
                [
                    r["loss_pitch_deg"]
                    for _, r in known
                    if r["outcome"] == p and _loss_pitch(r) is not None
                ]
            ),
        )
        for p in POINTS
    ]
    probe = sum(1 for _, r in known if r["probe"])
    none = sum(1 for _, r in known if not r["probe"] and r["mode"] == "none")
    return Learning(weeks, _stages(known), points, len(known), unknown, probe, none)


def _alone(r) -> bool:
    return bool(r["probe"]) or r["mode"] == "none"


def _loss_pitch(r) -> float | None:
    return r["loss_pitch_deg"] if r["outcome"] != "clean" else None


def _stages(known: list) -> list[StageSpan]:
    spans: list[StageSpan] = []
    for day, r in known:
        key = (r["stage"], r["mode"], r["faded_pct"])
        last = spans[-1] if spans else None
        if last is not None and (last.stage, last.mode, last.faded_pct) == key:
            spans[-1] = StageSpan(*key, last.first, day, last.reps + 1)
        else:
            spans.append(StageSpan(*key, day, day, 1))
    return spans
