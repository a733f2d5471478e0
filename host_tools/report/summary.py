"""The plain-language summary at the top of the report, computed from `ReportData`.

    for line in summarize(data): print(line)
    # 12 of 14 days practised (3 Mar to 16 Mar); the prescription (5x10/day) was met on 9.
    # Sacrum losses fell from 40% to 12% of reps.

It says only what the data supports: a trend needs at least two sessions and enough reps on
each side (early half vs late half of the sessions, see `data.halves`), and a change smaller
than the thresholds below is reported as "about the same", not as a rise or a fall.
"""

from __future__ import annotations

from datetime import date, timedelta, tzinfo

from host_tools.report.data import (
    POINT_LABELS,
    POINTS,
    ReportData,
    SessionStats,
    halves,
    pooled_share,
    pooled_values,
)

ESTIMATED_MARK = "~"  # before an estimated date: "~Tue 3 Mar"
# An estimate whose range is at most this shows its time of day too ("~Tue 3 Mar 09:30").
TIME_SHOWN_WITHIN = timedelta(minutes=30)

MIN_REPS_FOR_SHARE = 10  # per half, before a share is compared
MIN_VALUES_FOR_MEAN = 5  # per half, before an IMU mean is compared
SHARE_CHANGE = 0.05  # 5 percentage points
DEPTH_CHANGE_DEG = 3.0
TIME_CHANGE_S = 0.2
TIME_CHANGE_REL = 0.15
NOTABLE_SHARE = 0.05  # a point lost on fewer reps than this is not worth a sentence


def day_text(day: date) -> str:
    return f"{day.day} {day.strftime('%b')}"


def session_start_text(s: SessionStats, tz: tzinfo) -> str:
    """ "Tue 3 Mar 09:30"; an estimated one "~Tue 3 Mar 09:30", or "~Tue 3 Mar" when the
    estimate's range is wider than TIME_SHOWN_WITHIN."""
    if s.started is None:
        return "no date"
    t = s.started.astimezone(tz)
    text = f"{t:%a} {day_text(t.date())}"
    if not s.estimated:
        return f"{text} {t:%H:%M}"
    width = (s.latest - s.earliest) if s.latest and s.earliest else None
    if width is not None and width <= TIME_SHOWN_WITHIN:
        text += f" {t:%H:%M}"
    return ESTIMATED_MARK + text


def _span_text(width: timedelta) -> str:
    hours = width.total_seconds() / 3600
    if hours < 1:
        return f"{max(1, round(hours * 60))} min"
    if hours < 48:
        return f"{round(hours)} h"
    return f"{round(hours / 24)} days"


def estimated_note(data: ReportData) -> str | None:
    """The footnote for estimated dates, or None when every session was dated by the dowel."""
    est = data.estimated_sessions
    if not est:
        return None
    widths = [s.latest - s.earliest for s in est if s.latest and s.earliest]
    worst = f", each within {_span_text(max(widths) / 2)} either way" if widths else ""
    return (
        f"{ESTIMATED_MARK} estimated date: the dowel's clock had lost the date (it was switched "
        f"off), so {_plural(len(est), 'session')} {'was' if len(est) == 1 else 'were'} placed "
        "from the order of the sessions, the dowel's running time and the dated sessions "
        f"around {'it' if len(est) == 1 else 'them'}{worst}."
    )


def pct(x: float) -> str:
    return f"{round(100 * x)}%"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _trend(early: float, late: float, fmt, up: str, down: str, same: str, threshold: float):
    if abs(late - early) < threshold or fmt(early) == fmt(late):
        return f"{same} {fmt(late)}"
    return f"{up if late > early else down} from {fmt(early)} to {fmt(late)}"


def date_text(day: date) -> str:
    return f"{day_text(day)} {day.year}"


def period_notes(data: ReportData) -> list[str]:
    """Days of the period the host knows nothing of: before the patient's first session or
    calibration, or after the last day the pulled logs cover. They show as not practised, so
    the report says so first."""
    notes = []
    if data.start and data.recorded_from and data.start < data.recorded_from:
        n = (data.recorded_from - data.start).days
        notes.append(
            f"The period starts {_plural(n, 'day')} before this patient's first session or "
            f"calibration ({date_text(data.recorded_from)}): those days show as not practised."
        )
    if data.end and data.pulled_until and data.end > data.pulled_until:
        n = (data.end - data.pulled_until).days
        notes.append(
            f"The period ends {_plural(n, 'day')} after the last day the pulled logs cover "
            f"({date_text(data.pulled_until)}): those days show as not practised until the "
            "dowel's logs are pulled (`dowel logs pull`)."
        )
    return notes


def summarize(data: ReportData) -> list[str]:
    """A few short sentences, most important first."""
    lines: list[str] = period_notes(data)
    target = data.target_reps
    if not data.sessions:
        if not data.days:
            lines.append("No practice sessions pulled from the dowel yet (`dowel logs pull`).")
        else:
            first, last = data.days[0].day, data.days[-1].day
            when = (
                f"on {day_text(first)}"
                if first == last
                else f"from {day_text(first)} to {day_text(last)}"
            )
            lines.append(f"No practice sessions recorded {when}.")
    else:
        n_days = len(data.days)
        first, last = data.days[0].day, data.days[-1].day
        period = f"{day_text(first)} to {day_text(last)}" if n_days > 1 else day_text(first)
        practised = data.days_practised
        line = f"{practised} of {_plural(n_days, 'day')} practised ({period})"
        met = data.days_met
        rx = f"the prescription ({data.patient.prescription}, {target} reps a day)"
        if met == practised == n_days:
            line += f"; {rx} was met every day."
        elif met == 0:
            line += f"; {rx} was not met on any day."
        else:
            line += f"; {rx} was met on {_plural(met, 'day')}."
        lines.append(line)
        lines.append(_outcomes_line(data))
        if data.total_reps:
            lines.extend(_point_lines(data))
            lines.extend(_imu_lines(data))
    if data.estimated_sessions:
        n = len(data.estimated_sessions)
        lines.append(
            f"{_plural(n, 'session')} {'has' if n == 1 else 'have'} an estimated date "
            f"(marked {ESTIMATED_MARK}): the dowel's clock had lost the date."
        )
    if data.undated_sessions:
        lines.append(
            f"{_plural(data.undated_sessions, 'session')} had no date (the dowel's clock was not "
            f"set) and {'is' if data.undated_sessions == 1 else 'are'} left out."
        )
    lines.append(_calibration_line(data))
    return [line for line in lines if line]


def _outcomes_line(data: ReportData) -> str:
    reps, clean = data.total_reps, data.total_clean
    n = len(data.sessions)
    if reps == 0:
        return f"{_plural(n, 'session')} recorded, with no completed reps."
    line = f"{_plural(reps, 'rep')} in {_plural(n, 'session')}; {pct(clean / reps)} clean"
    h = halves(data.sessions)
    if h:
        ce, re_ = pooled_share(h.early, None)
        cl, rl = pooled_share(h.late, None)
        if re_ >= MIN_REPS_FOR_SHARE and rl >= MIN_REPS_FOR_SHARE:
            early, late = ce / re_, cl / rl
            if abs(late - early) < SHARE_CHANGE or pct(early) == pct(late):
                line += ", about the same early and late"
            else:
                line += f" ({'rose' if late > early else 'fell'} from {pct(early)} to {pct(late)})"
    return line + "."


def _point_lines(data: ReportData) -> list[str]:
    reps = data.total_reps
    if reps == 0:
        return []
    h = halves(data.sessions)
    changes = []
    if h:
        for point in POINTS:
            le, re_ = pooled_share(h.early, point)
            ll, rl = pooled_share(h.late, point)
            if re_ < MIN_REPS_FOR_SHARE or rl < MIN_REPS_FOR_SHARE:
                continue
            early, late = le / re_, ll / rl
            if max(early, late) >= NOTABLE_SHARE and abs(late - early) >= SHARE_CHANGE:
                word = "rose" if late > early else "fell"
                changes.append(
                    f"{POINT_LABELS[point]} losses {word} from {pct(early)} to {pct(late)} of reps"
                )
    if changes:
        return [_capital("; ".join(changes)) + "."]
    lost = {p: sum(s.first_lost[p] for s in data.sessions) for p in POINTS}
    most = max(lost.values())
    if most == 0:
        return ["No point left the dowel on any rep."]
    # Every point with the top count is named: a tie has no "most often".
    worst = [POINT_LABELS[p] for p in POINTS if lost[p] == most]
    share = most / reps
    if share < NOTABLE_SHARE:
        each = " each" if len(worst) > 1 else ""
        return [
            f"Points seldom left the dowel (at most {pct(share)} of reps{each}, {_and(worst)})."
        ]
    if len(worst) == 1:
        line = f"The point lost most often was the {worst[0]} ({pct(share)} of reps)"
    else:
        line = _capital(
            f"{_and(worst)} were each lost on {_plural(most, 'rep')} ({pct(share)} of reps)"
        )
    # "About the same" only where the halves were compared (the loop above skipped small ones).
    compared = (
        h is not None
        and min(pooled_share(h.early, None)[1], pooled_share(h.late, None)[1])
        >= MIN_REPS_FOR_SHARE
    )
    return [line + (", about the same early and late." if compared else ".")]


def _and(names: list[str]) -> str:
    """["head", "mid-back", "sacrum"] -> "head, mid-back and sacrum"."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _capital(text: str) -> str:
    return text[0].upper() + text[1:]


def _imu_lines(data: ReportData) -> list[str]:
    imu = data.imu_sessions
    if not imu:
        return ["No IMU on the dowel for these sessions, so depth and timing were not measured."]
    lines = []
    prefix = ""
    if len(imu) < len(data.sessions):
        prefix = f"From the {len(imu)} of {len(data.sessions)} sessions with an IMU: "
    h = halves(imu)
    parts = []

    def degrees(x: float) -> str:
        return f"{round(x)}"

    for attr, label in (
        ("loss_pitch", "average depth before loss"),
        ("clean_depth", "average depth of clean reps"),
    ):
        mean, n = pooled_values(imu, attr)
        if mean is None:
            continue
        text = f"{label} {degrees(mean)} degrees"
        if h:
            me, ne = pooled_values(h.early, attr)
            ml, nl = pooled_values(h.late, attr)
            if me is not None and ml is not None and min(ne, nl) >= MIN_VALUES_FOR_MEAN:
                text = (
                    f"{label} "
                    + _trend(me, ml, degrees, "rose", "fell", "stayed about", DEPTH_CHANGE_DEG)
                    + " degrees"
                )
        parts.append(text)
    if parts:
        text = "; ".join(parts)
        text = prefix + text if prefix else _capital(text)
        lines.append(text + ".")
    timing = _timing_line(imu)
    if timing:
        lines.append(timing)
    return lines


def _timing_line(imu) -> str | None:
    means = {}
    for name in ("lower", "pause", "rise"):
        mean, n = pooled_values(imu, name + "_ms")
        if mean is not None:
            means[name] = mean / 1000
    if not means:
        return None

    def s(x: float) -> str:
        return f"{x:.1f} s"

    parts = [
        f"{s(means[k])} {label}"
        for k, label in (
            ("lower", "lowering"),
            ("pause", "paused at the bottom"),
            ("rise", "rising"),
        )
        if k in means
    ]
    line = "A rep took on average " + ", ".join(parts)
    h = halves(imu)
    trends = []
    if h:
        for name, label, up, down in (
            ("lower", "lowering", "slowed", "sped up"),
            ("pause", "the pause", "lengthened", "shortened"),
        ):
            me, ne = pooled_values(h.early, name + "_ms")
            ml, nl = pooled_values(h.late, name + "_ms")
            if me is None or ml is None or min(ne, nl) < MIN_VALUES_FOR_MEAN:
                continue
            me, ml = me / 1000, ml / 1000
            if abs(ml - me) >= TIME_CHANGE_S and abs(ml - me) >= TIME_CHANGE_REL * max(me, ml):
                trends.append(f"{label} {up if ml > me else down} from {s(me)} to {s(ml)}")
    if trends:
        line += "; " + "; ".join(trends)
    return line + "."


def _calibration_line(data: ReportData) -> str:
    cals = data.calibrations
    drifts = data.drift_prompts
    if not cals:
        line = "Not calibrated on this computer yet (`dowel calibrate`)"
        after = drifts
    else:
        when = ", ".join(day_text(data.local_day(c.taken)) for c in cals[-4:])
        if len(cals) > 4:
            when = "latest " + when
        line = (
            f"Calibrated {len(cals)} times ({when})" if len(cals) > 1 else f"Calibrated on {when}"
        )
        after = [d for d in drifts if d.seen >= cals[-1].taken]
    before = [d for d in drifts if d not in after]

    def listing(prompts) -> str:
        return ", ".join(
            f"{POINT_LABELS.get(d.sensor, d.sensor)} {day_text(data.local_day(d.seen))}"
            for d in prompts[-4:]
        )

    if after:
        line += (
            f"; {_plural(len(after), 'drift prompt')} since ({listing(after)}): "
            "consider recalibrating"
        )
    elif before:
        line += (
            f"; {_plural(len(before), 'drift prompt')} ({listing(before)}), none since the "
            "latest calibration"
        )
    return line + "."


# What each point's loss means, in the PT's words (the mission: losing the sacrum means the low
# back rounded, the mid-back over-extension, the head that it came forward).
POINT_MEANING = {
    "sacrum": "the low back rounded",
    "midback": "over-extension",
    "head": "the head came forward",
}


def learning_lines(data: ReportData) -> list[str]:
    """The learning section in plain words: faults alone (probe sets) against faults with
    feedback, first week to last; the depth of the first loss; the schedule; which point."""
    learning = data.learning
    if learning is None:
        return []
    weeks = learning.weeks
    lines = []

    def span(attr: str) -> str | None:
        known = [
            (i, getattr(w, attr)) for i, w in enumerate(weeks) if getattr(w, attr) is not None
        ]
        if not known:
            return None
        (i0, r0), (i1, r1) = known[0], known[-1]
        if i0 == i1:
            return f"was {pct(r0)} in week {i0 + 1}"
        return f"went from {pct(r0)} in week {i0 + 1} to {pct(r1)} in week {i1 + 1}"

    alone, guided = span("alone_rate"), span("guided_rate")
    if alone:
        label = learning.alone_label
        line = f"Without feedback ({label}) the share of reps with a point lost {alone}"
        lines.append(line + (f"; with feedback it {guided}." if guided else "."))
    elif guided:
        lines.append(f"With feedback the share of reps with a point lost {guided}.")
    if not learning.probe_reps:
        lines.append(
            "No probe sets in this period, so what the patient does without the dowel's help "
            "is not measured against the same sets: on the dowel page of `dowel app`, "
            "'the first set of each day is a probe set' (or `dowel config set probe=first`) "
            "makes one."
        )
    depths = [w.loss_pitch for w in weeks if w.loss_pitch.n]
    if len(depths) >= 2:
        first, last = depths[0].median, depths[-1].median
        word = "deepened" if last > first else "became shallower" if last < first else "stayed"
        lines.append(
            f"Form broke at a median trunk pitch that {word} from {first:.0f}° to {last:.0f}° "
            "(the depth the patient reaches before a point leaves the dowel)."
        )
    stages = ", then ".join(
        f"{s.label} ({day_text(s.first)}–{day_text(s.last)})" for s in learning.stages
    )
    lines.append(f"Feedback schedule as the dowel gave it: {stages}.")
    faults = sorted(learning.points, key=lambda p: -(p.alone + p.guided))
    named = [
        f"{POINT_LABELS[p.point]} ({POINT_MEANING[p.point]}) {p.alone + p.guided}"
        + (f" at a median {p.loss_pitch.median:.0f}°" if p.loss_pitch.n else "")
        for p in faults
        if p.alone + p.guided
    ]
    if named:
        lines.append("Faults by point: " + "; ".join(named) + ".")
    if learning.unknown:
        lines.append(
            f"{_plural(learning.unknown, 'rep')} came from a dowel whose firmware did not log its "
            "feedback (before log format 4): left out of these figures."
        )
    return lines
