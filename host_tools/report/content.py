"""What the report says, in reading order, as plain blocks: the one source of the HTML page and
the PDF, so the two carry the same summary, captions, tables and figures.

    doc = report_content(data, generated)
    doc.title, doc.meta, [type(b).__name__ for b in doc.blocks]   # Heading, Bullets, Chart, ...

Text may hold `backticked` command names; each renderer sets them as code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from host_tools.report.data import POINT_LABELS, POINTS, ReportData
from host_tools.report.figures import COLOURS, LABELS, Plot, build_figures
from host_tools.report.monitoring import MonitoringWindow, monitoring_windows
from host_tools.report.summary import (
    date_text,
    estimated_note,
    learning_lines,
    session_start_text,
    summarize,
)
from host_tools.store.patients import prescription_words
from host_tools.words import count


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2  # 2: a section; 3: a table's own title


@dataclass(frozen=True)
class Bullets:
    id: str
    lines: list[str]


@dataclass(frozen=True)
class Note:
    text: str
    id: str | None = None


@dataclass(frozen=True)
class Chart:
    plot: Plot  # its title, caption and matplotlib figure


@dataclass(frozen=True)
class Table:
    id: str
    head: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class ColourKey:
    """A note with colour swatches: `before`, then each (colour, label), then `after`."""

    before: str
    entries: list[tuple[str, str]]
    after: str


Block = Heading | Bullets | Note | Chart | Table | ColourKey


@dataclass(frozen=True)
class ReportContent:
    title: str
    meta: str
    blocks: list[Block]
    footer: str


FOOTER = (
    "Smart dowel host tools. Days are calendar days in the zone of the computer that made this "
    "report. Patient identified by pseudonym only."
)
NO_IMU = (
    "No depth or tempo: no session in this period was recorded with the dowel's motion sensor "
    "(no sessions yet, or a dowel without one)."
)


def title_lines(data: ReportData, generated: datetime) -> tuple[str, str]:
    p = data.patient
    title = f"Hip-hinge practice report: patient {p.patient}"
    if data.start and data.end:
        period = f"{date_text(data.start)} to {date_text(data.end)}"
    else:
        period = "no practice recorded"
    rx = prescription_words(p.sets_per_day, p.reps_per_set)
    if p.is_default:
        rx += " (the default; change with `dowel patient set`)"
    meta = f"Period: {period}. Prescription: {rx}. Generated {generated:%Y-%m-%d %H:%M} UTC."
    return title, meta


def _when(data: ReportData, moment: datetime) -> str:
    t = moment.astimezone(data.tz)
    return f"{date_text(t.date())} {t:%H:%M}"


def sessions_table(data: ReportData) -> Table:
    head = [
        "Session start",
        "Reps",
        "Clean",
        *(POINT_LABELS[p] + " lost" for p in POINTS),
        "Median depth",
        "Pitch at loss",
        "IMU",
    ]
    rows = []
    for s in data.sessions:
        share = f" ({round(100 * s.clean / s.reps)}%)" if s.reps else ""
        rows.append(
            [
                session_start_text(s, data.tz),
                str(s.reps),
                f"{s.clean}{share}",
                *(str(s.first_lost[p]) for p in POINTS),
                f"{s.depth.median:.0f}°" if s.depth.n else "–",
                f"{s.loss_pitch.median:.0f}°" if s.loss_pitch.n else "–",
                "yes" if s.has_imu else "no",
            ]
        )
    return Table("sessions", head, rows)


def calibrations_table(data: ReportData) -> Table:
    # The levels measured and the thresholds the dowel was given: a loss is a dip under "off".
    head = ["Calibrated", "Dowel"] + [
        f"{POINT_LABELS[p]}: contact / zero, on / off" for p in POINTS
    ]
    rows = []
    for c in data.calibrations:
        cells = [_when(data, c.taken), c.device_id]
        for p in POINTS:
            lv = c.levels.get(p, {})
            contact, zero, on, off = (
                f"{lv[k]:.0f}" if k in lv else "–" for k in ("contact", "zero", "on", "off")
            )
            cells.append(f"{contact} / {zero}, {on} / {off}")
        rows.append(cells)
    return Table("calibrations", head, rows)


def drift_table(data: ReportData) -> Table:
    head = ["Seen", "Dowel", "Sensor", "Calibrated level", "Level seen", "Change"]
    rows = [
        [
            _when(data, d.seen),
            d.device_id,
            POINT_LABELS.get(d.sensor, d.sensor),
            str(d.calibrated),
            str(d.current),
            f"{d.change:+.0%}" if d.change is not None else "–",
        ]
        for d in data.drift_prompts
    ]
    return Table("drift", head, rows)


def monitoring_text(windows: list[MonitoringWindow]) -> str:
    parts = []
    for w in windows:
        span = f"{date_text(w.first)} to {date_text(w.last)}"
        so_far = "" if w.complete else f", {count(w.days, 'day')} of the window so far"
        parts.append(f"data on {w.days_with_data} of {count(w.days, 'day')} from {span}{so_far}")
    return _capital("; ".join(parts)) + "."


def monitoring_table(windows: list[MonitoringWindow]) -> Table:
    head = ["30-day window", "Days with data", "Sessions", "Estimated starts"]
    rows = [
        [
            f"{date_text(w.first)} to {date_text(w.last)}",
            f"{w.days_with_data} of {w.days}",
            str(len(w.session_starts)),
            str(w.estimated),
        ]
        for w in windows
    ]
    return Table("monitoring", head, rows)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def learning_table(data: ReportData) -> Table:
    head = ["Week", "Reps without feedback", "Lost", "Reps with feedback", "Lost", "Loss depth"]
    rows = []
    for i, w in enumerate(data.learning.weeks):

        def share(faults: int, reps: int) -> str:
            return f"{faults} ({round(100 * faults / reps)}%)" if reps else "–"

        rows.append(
            [
                f"{i + 1}: {date_text(w.first)}",
                str(w.alone_reps),
                share(w.alone_faults, w.alone_reps),
                str(w.guided_reps),
                share(w.guided_faults, w.guided_reps),
                f"{w.loss_pitch.median:.0f}°" if w.loss_pitch.n else "–",
            ]
        )
    return Table("learning-weeks", head, rows)


def report_content(data: ReportData, generated: datetime) -> ReportContent:
    plots = {p.key: p for p in build_figures(data)}
    title, meta = title_lines(data, generated)
    blocks: list[Block] = [Bullets("summary", summarize(data))]

    def chart(key: str, missing: str) -> None:
        plot = plots.get(key)
        blocks.append(Chart(plot) if plot else Note(missing, id=f"no-{key}"))

    blocks.append(Heading("Adherence"))
    chart("adherence", "No practice period to show.")
    windows = monitoring_windows(data)
    if windows:
        blocks += [
            Heading("Remote monitoring: days with data per 30 days", level=3),
            Note(monitoring_text(windows), id="monitoring-note"),
            monitoring_table(windows),
        ]
    blocks.append(Heading("Outcomes"))
    chart("outcomes", "No reps recorded in this period.")
    blocks.append(Heading("Depth and tempo"))
    chart("depth", NO_IMU)
    if "depth" in plots:
        chart("timing", "The IMU did not time lowering, pause and rising in these sessions.")
    if data.learning is not None:
        blocks.append(Heading("Learning"))
        blocks.append(Bullets("learning", learning_lines(data)))
        chart("learning", "No weeks to show.")
        chart("fault_depth", "No loss with an IMU reading in this period.")
        blocks.append(learning_table(data))
    blocks.append(Heading("Calibration"))
    if not data.calibrations and not data.drift_prompts:
        blocks.append(Note("No calibration recorded for this patient."))
    else:
        chart("calibration", "The stored calibrations hold no contact levels to plot.")
        if data.calibrations:
            blocks.append(calibrations_table(data))
        if data.drift_prompts:
            blocks += [Heading("Drift prompts", level=3), drift_table(data)]
        else:
            blocks.append(Note("No drift prompts in this period."))
    if data.sessions:
        blocks.append(Heading("Sessions"))
        blocks.append(
            ColourKey(
                "Rep outcomes:",
                [(COLOURS[k], LABELS[k]) for k in ("clean", *POINTS)],
                '. "Lost" counts the first point that left the dowel in each rep.',
            )
        )
        blocks.append(sessions_table(data))
        note = estimated_note(data)
        if note:
            blocks.append(Note(note, id="estimated-note"))
    return ReportContent(title, meta, blocks, FOOTER)
