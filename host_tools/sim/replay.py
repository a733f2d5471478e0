"""Replay traces: CSV of raw readings over time, checked strictly, and the firmware's engine
run over them.

    samples, has_pitch = read_trace(Path("trace.csv"))
    for event in replay(samples, has_pitch, cfg):
        print(event)     # {"t_ms": 1234, "event": "lost", "sensor": "sacrum"}

Format: header `t_ms,head,midback,sacrum` and optionally `,pitch_deg`; `t_ms` integers,
strictly increasing, any spacing; readings are `read_u16` counts 0..65535; pitch in degrees.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from dowel.engine import Engine
from dowel.points import NAMES
from dowel.rep import EV_ARMED, EV_FAULT, EV_RELEASE, EV_REP_END, EV_REP_START, NO_DDEG

from host_tools.errors import UsageError

HEADER = ["t_ms", *NAMES]
OUTCOMES = ("clean", *NAMES)


class Sample(NamedTuple):
    t_ms: int
    head: int
    midback: int
    sacrum: int
    pitch_ddeg: int


def read_trace(path: Path) -> tuple[list[Sample], bool]:
    """Parse and check a trace; a bad row raises UsageError naming its line."""
    rows: list[list[str]] = []
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows.extend(csv.reader(f))
    except OSError as exc:
        raise UsageError(f"cannot read trace {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, csv.Error):
        # Text is decoded in blocks, so the bad byte is at this line or a little after.
        raise UsageError(
            f"{path}:{len(rows) + 1}: not a CSV text file (binary data near this line): "
            f"give a trace with the header {','.join(HEADER)}[,pitch_deg]"
        ) from None
    if not rows:
        raise UsageError(f"{path}: empty file; expected a header {','.join(HEADER)}[,pitch_deg]")
    header = [h.strip() for h in rows[0]]
    has_pitch = header == [*HEADER, "pitch_deg"]
    if header != HEADER and not has_pitch:
        raise UsageError(
            f"{path}:1: header is {','.join(header)!r}; expected "
            f"{','.join(HEADER)} or {','.join(HEADER)},pitch_deg"
        )
    samples = []
    last_t = None
    for line, row in enumerate(rows[1:], start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise UsageError(f"{path}:{line}: {len(row)} fields, expected {len(header)}")
        try:
            t_ms = int(row[0])
        except ValueError:
            raise UsageError(f"{path}:{line}: t_ms {row[0]!r} is not an integer") from None
        if last_t is not None and t_ms <= last_t:
            raise UsageError(f"{path}:{line}: t_ms {t_ms} is not after {last_t}")
        last_t = t_ms
        counts = []
        for name, cell in zip(NAMES, row[1:4], strict=True):
            try:
                value = int(cell)
            except ValueError:
                value = -1
            if not 0 <= value <= 65535:
                raise UsageError(f"{path}:{line}: {name} {cell!r} is not a count 0..65535")
            counts.append(value)
        pitch_ddeg = 0
        if has_pitch:
            try:
                pitch = float(row[4])
            except ValueError:
                pitch = math.nan
            if not math.isfinite(pitch):
                raise UsageError(f"{path}:{line}: pitch_deg {row[4]!r} is not a finite number")
            pitch_ddeg = round(pitch * 10)
            if not -180 <= pitch_ddeg / 10 <= 180:
                raise UsageError(f"{path}:{line}: pitch_deg {row[4]} is outside -180..180")
        samples.append(Sample(t_ms, counts[0], counts[1], counts[2], pitch_ddeg))
    return samples, has_pitch


def _deg(ddeg: int) -> float | None:
    return None if ddeg == NO_DDEG else ddeg / 10


def _points(mask: int) -> list[str]:
    return [name for bit, name in enumerate(NAMES) if mask >> bit & 1]


def replay(samples: list[Sample], has_pitch: bool, cfg: dict) -> Iterator[dict]:
    """Run the firmware's Engine over the samples; yield one dict per event, in tick order."""
    engine = Engine(cfg, has_pitch)
    reps = engine.reps
    last_t = None
    for s in samples:
        dt = 0 if last_t is None else s.t_ms - last_t
        last_t = s.t_ms
        events = engine.step(s.head, s.midback, s.sacrum, s.pitch_ddeg, dt)
        t = s.t_ms
        for name in _points(engine.lost):
            yield {"t_ms": t, "event": "lost", "sensor": name}
        for name in _points(engine.regained):
            yield {"t_ms": t, "event": "contact", "sensor": name}
        if events & EV_REP_END:
            yield {"t_ms": t, "event": "rep_end", **rep_summary(reps, has_pitch)}
        if events & EV_RELEASE:
            yield {"t_ms": t, "event": "release"}
        if events & EV_ARMED:
            yield {"t_ms": t, "event": "armed"}
        if events & EV_REP_START:
            yield {"t_ms": t, "event": "rep_start", "rep": reps.seq}
        if events & EV_FAULT:
            for name in _points(reps.new_faults):
                yield {
                    "t_ms": t,
                    "event": "fault",
                    "sensor": name,
                    "rep": reps.seq,
                    "cued": engine.cue_this_rep,
                    # Where the point began to leave, not where the debounce fired.
                    "pitch_deg": _deg(reps.loss_pitch_ddeg) if has_pitch else None,
                }


def rep_summary(reps, has_pitch: bool) -> dict:
    """The finished rep's figures as the log will hold them."""
    summary = {
        "rep": reps.seq,
        "outcome": OUTCOMES[reps.first_lost],
        "lost": _points(reps.lost_mask),
        "duration_ms": reps.duration_ms,
        "loss_at_ms": reps.loss_at_ms if reps.lost_mask else None,
    }
    if has_pitch:
        summary.update(
            depth_deg=_deg(reps.depth_ddeg),
            loss_pitch_deg=_deg(reps.loss_pitch_ddeg),
            lower_ms=reps.lower_ms,
            pause_ms=reps.pause_ms,
            rise_ms=reps.rise_ms,
        )
    return summary


def summary(events: list[dict], samples: list[Sample], cfg: dict) -> list[str]:
    """What a replay came to, in a few lines: reps by outcome, losses, and, when no rep was
    seen, why (a point whose readings never reach its `on` threshold cannot make contact)."""
    ends = [e for e in events if e["event"] == "rep_end"]
    outcomes = {name: sum(e["outcome"] == name for e in ends) for name in OUTCOMES}
    by_outcome = ", ".join(f"{n} {name}" for name, n in outcomes.items() if n)
    losses = sum(e["event"] == "lost" for e in events)
    span_s = (samples[-1].t_ms - samples[0].t_ms) / 1000 if samples else 0.0
    lines = [
        f"summary: {len(ends)} reps"
        + (f" ({by_outcome})" if by_outcome else "")
        + f", {losses} losses, over {span_s:.1f} s of trace"
    ]
    if ends:
        return lines
    short = []
    for i, name in enumerate(NAMES):
        on = cfg["sensors"][name]["on"]
        highest = max((s[1 + i] for s in samples), default=0)
        if highest < on:
            short.append(f"{name} peaks at {highest} < on {on}")
    if short:
        lines.append(
            "no rep seen: the thresholds do not fit this trace (" + "; ".join(short) + "): pass "
            "--config with this dowel's thresholds (`dowel config show --json > dowel.json` on "
            "its board, or edit sensors.NAME.on/off in a copy)"
        )
    else:
        lines.append(
            "no rep seen: contact was never held on all three points for arm_ms then a hinge "
            "begun; if this trace is from another dowel, pass --config with its thresholds"
        )
    return lines
