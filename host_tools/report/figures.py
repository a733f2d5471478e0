"""The report's plots: `ReportData` in, matplotlib Figures out (no pyplot, no global state).

    plots = build_figures(data)   # [Plot(key, title, caption, figure)]; no data, no plot
    svg = figure_svg(plots[0].figure, plots[0].key)

Every figure is drawn from `ReportData` fields only, so the numbers in a plot are the ones the
tests check. Colours are the Okabe-Ito palette (readable with the common colour-vision
deficiencies); the point colours match the dowel's order head, mid-back, sacrum.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib import rc_context  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator, PercentFormatter  # noqa: E402

from host_tools.report.data import (  # noqa: E402
    POINT_LABELS,
    POINTS,
    ReportData,
    SessionStats,
)

COLOURS = {
    "clean": "#009E73",
    "head": "#56B4E9",
    "midback": "#E69F00",
    "sacrum": "#D55E00",
    "met": "#009E73",
    "partial": "#E69F00",
    "missed": "#BBBBBB",
    "depth": "#0072B2",
    "loss": "#D55E00",
    "lower": "#0072B2",
    "pause": "#CC79A7",
    "rise": "#56B4E9",
    "alone": "#000000",
    "guided": "#0072B2",
}
# The schedule's stages, shaded behind the learning plots (light, so the lines read over them).
STAGE_SHADES = ("#f2f2f2", "#e0ecf4")
LABELS = {"clean": "clean", **{p: f"{label} lost" for p, label in POINT_LABELS.items()}}
# Typed loosely: matplotlib's stubs want literal rc keys, which a shared dict cannot give.
STYLE: Any = {
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.grid.axis": "y",
    "grid.color": "#e4e4e4",
    "axes.axisbelow": True,
    "svg.fonttype": "path",  # glyphs as paths: the page needs no font
}
WIDTH_IN = 8.0


@dataclass(frozen=True)
class Plot:
    key: str  # also the HTML id: fig-<key>
    title: str
    caption: str  # how to read it, for the PT
    figure: Figure


# Room kept between the plotted extremes and the frame, as a share of the data's span: more
# than a marker's radius or an error bar's cap at these figure heights (4 pt of about 150).
Y_MARGIN = 0.08


def fit_y(ax, values: list[float], floor: float | None = 0.0) -> None:
    """y limits from every plotted value (error-bar ends included) with Y_MARGIN each side, so
    no marker meets the frame. The axis starts at `floor` (bars stand on it) unless a value
    lies below it or too near it for its marker to show whole; None: from the data alone."""
    lo, hi = min(values), max(values)
    if floor is not None:
        lo, hi = min(lo, floor), max(hi, floor)
    span = hi - lo or max(abs(hi), 1.0)
    pad = Y_MARGIN * span
    lowest = min(values)
    bottom = floor if floor is not None and lowest - floor >= pad else lo - pad
    ax.set_ylim(bottom, hi + pad)


def _session_axis(ax, data: ReportData, sessions: list[SessionStats]) -> None:
    """x axis of per-session plots: a few sessions are labelled with day and time; more are
    grouped by day (a tick at each day's first session, a faint line between days)."""
    times = []
    for s in sessions:
        assert s.started is not None
        times.append(s.started.astimezone(data.tz))
    marks = ["~" if s.estimated else "" for s in sessions]  # estimated dates (summary's mark)
    if len(sessions) <= 14:
        ax.set_xticks(range(len(times)))
        ax.set_xticklabels(
            [f"{m}{t.day} {t:%b}\n{t:%H:%M}" for m, t in zip(marks, times, strict=True)]
        )
    else:
        firsts = [i for i, t in enumerate(times) if i == 0 or t.date() != times[i - 1].date()]
        if len(firsts) <= 31:  # beyond a month the lines would hide the bars
            for i in firsts[1:]:
                ax.axvline(i - 0.5, color="#cccccc", linewidth=0.8, zorder=0)
        # A label under the middle of each day's sessions, skipping one that would touch the
        # last shown (a day with one or two sessions is narrower than its label).
        min_gap = 0.6 / (WIDTH_IN * 0.8 / len(times))  # label width over one session's width
        ticks, labels, last = [], [], None
        for first, nxt in zip(firsts, [*firsts[1:], len(times)], strict=True):
            centre = (first + nxt - 1) / 2
            if last is None or centre - last >= min_gap:
                ticks.append(centre)
                day_marks = "~" if any(marks[first:nxt]) else ""
                labels.append(
                    f"{day_marks}{times[first]:%a}\n{times[first].day} {times[first]:%b}"
                )
                last = centre
        ax.set_xticks(ticks)
        ax.set_xticklabels(labels)
        ax.tick_params(axis="x", length=0)
        ax.set_xlabel("sessions, grouped by day", fontsize=8, color="#555555")
    ax.set_xlim(-0.6, len(sessions) - 0.4)


def adherence_figure(data: ReportData) -> Figure | None:
    if not data.days:
        return None
    days = data.days
    target = data.target_reps
    fig = Figure(figsize=(WIDTH_IN, 2.8), layout="constrained")
    ax = fig.add_subplot()
    x = range(len(days))
    heights = [d.reps for d in days]
    colours = [
        COLOURS["met"] if d.met else COLOURS["partial"] if d.practised else COLOURS["missed"]
        for d in days
    ]
    ax.bar(x, heights, color=colours, width=0.75)
    for i, d in enumerate(days):
        if not d.practised:
            ax.plot(i, 0, marker="x", color="#888888", markersize=6, clip_on=False)
        elif len(days) <= 31:
            ax.annotate(
                f"{d.sessions}",
                (i, d.reps),
                textcoords="offset points",
                xytext=(0, 2),
                ha="center",
                va="bottom",
                fontsize=7,
                color="#444444",
            )
    ax.axhline(target, color="#333333", linestyle="--", linewidth=1)
    # Headroom for the session counts written over the bars.
    ax.set_ylim(0, max([target, *heights]) * (1 + 1.5 * Y_MARGIN))
    ax.set_ylabel("reps per day")
    step = max(1, -(-len(days) // 15))
    ax.set_xticks(range(0, len(days), step))
    ax.set_xticklabels([f"{d.day:%a}\n{d.day.day} {d.day:%b}" for d in days[::step]])
    ax.set_xlim(-0.6, len(days) - 0.4)
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    ax.legend(
        handles=[
            Line2D(
                [],
                [],
                color="#333333",
                linestyle="--",
                linewidth=1,
                label=f"prescribed: {target} reps a day",
            ),
            Patch(color=COLOURS["met"], label="prescription met"),
            Patch(color=COLOURS["partial"], label="practised, fewer reps"),
            Patch(color=COLOURS["missed"], label="no practice (x)"),
        ],
        loc="lower left",
        bbox_to_anchor=(0, 1.0),
        ncols=4,
        frameon=False,
        fontsize=8,
    )
    return fig


def outcomes_figure(data: ReportData) -> Figure | None:
    sessions = [s for s in data.sessions if s.reps]
    if not sessions:
        return None
    fig = Figure(figsize=(WIDTH_IN, 3.2), layout="constrained")
    ax = fig.add_subplot()
    x = range(len(sessions))
    bottom = [0.0] * len(sessions)
    for kind in ("clean", *POINTS):
        shares = [(s.clean if kind == "clean" else s.first_lost[kind]) / s.reps for s in sessions]
        ax.bar(x, shares, bottom=bottom, color=COLOURS[kind], label=LABELS[kind], width=0.75)
        bottom = [b + v for b, v in zip(bottom, shares, strict=True)]
    if len(sessions) <= 30:
        for i, s in enumerate(sessions):
            ax.annotate(
                f"{round(100 * s.clean / s.reps)}%",
                (i, s.clean / s.reps / 2),
                ha="center",
                va="center",
                fontsize=7,
                color="white",
            )
            ax.annotate(
                f"n={s.reps}",
                (i, 1),
                textcoords="offset points",
                xytext=(0, 2),
                ha="center",
                va="bottom",
                fontsize=6.5,
                color="#444444",
            )
    ax.set_ylim(0, 1.08)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel("share of the session's reps")
    _session_axis(ax, data, sessions)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8, reverse=True)
    return fig


def depth_figure(data: ReportData) -> Figure | None:
    sessions = data.imu_sessions
    if not sessions:
        return None
    fig = Figure(figsize=(WIDTH_IN, 3.0), layout="constrained")
    ax = fig.add_subplot()
    plotted: list[float] = []
    for attr, colour, label, offset in (
        ("depth", COLOURS["depth"], "deepest pitch reached", -0.1),
        ("loss_pitch", COLOURS["loss"], "pitch when a point was lost", 0.1),
    ):
        xs, med, lo, hi = [], [], [], []
        for i, s in enumerate(sessions):
            spread = getattr(s, attr)
            if spread.n:
                xs.append(i + offset)
                med.append(spread.median)
                lo.append(spread.median - spread.q1)
                hi.append(spread.q3 - spread.median)
                plotted += [spread.q1, spread.q3]
        if xs:
            ax.errorbar(
                xs,
                med,
                yerr=[lo, hi],
                color=colour,
                marker="o",
                markersize=4,
                capsize=3,
                linewidth=1.2,
                label=label + " (median, middle half)",
            )
    ax.set_ylabel("trunk pitch, degrees\n(0 = upright)")
    # From 0 (upright), or below it for a loss while still standing.
    fit_y(ax, plotted)
    _session_axis(ax, data, sessions)
    ax.legend(loc="lower left", frameon=False, fontsize=8, ncols=2, bbox_to_anchor=(0, 1.0))
    return fig


def timing_figure(data: ReportData) -> Figure | None:
    sessions = [s for s in data.imu_sessions if s.lower_ms.n or s.pause_ms.n or s.rise_ms.n]
    if not sessions:
        return None
    fig = Figure(figsize=(WIDTH_IN, 2.8), layout="constrained")
    ax = fig.add_subplot()
    x = range(len(sessions))
    bottom = [0.0] * len(sessions)
    for attr, label in (
        ("lower_ms", "lowering"),
        ("pause_ms", "pause at the bottom"),
        ("rise_ms", "rising"),
    ):
        secs = [(getattr(s, attr).median or 0) / 1000 for s in sessions]
        ax.bar(x, secs, bottom=bottom, color=COLOURS[attr[:-3]], label=label, width=0.75)
        bottom = [b + v for b, v in zip(bottom, secs, strict=True)]
    fit_y(ax, bottom)
    ax.set_ylabel("seconds (median rep)")
    _session_axis(ax, data, sessions)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8, reverse=True)
    return fig


def calibration_figure(data: ReportData) -> Figure | None:
    cals = [c for c in data.calibrations if any("contact" in v for v in c.levels.values())]
    if not cals and not data.drift_prompts:
        return None
    fig = Figure(figsize=(WIDTH_IN, 2.8), layout="constrained")
    ax = fig.add_subplot()

    def when(moment):
        # Wall time in the report's zone, naive: matplotlib reads naive times as they are.
        return moment.astimezone(data.tz).replace(tzinfo=None)

    levels: list[float] = []
    for point in POINTS:
        pts = [
            (when(c.taken), c.levels[point]["contact"])
            for c in cals
            if "contact" in c.levels[point]
        ]
        if pts:
            ax.plot(
                [p[0] for p in pts],
                [p[1] for p in pts],
                marker="o",
                color=COLOURS[point],
                label=f"{LABELS[point].split()[0]} contact level at calibration",
            )
        drift = [d for d in data.drift_prompts if d.sensor == point]
        if drift:
            ax.plot(
                [when(d.seen) for d in drift],
                [d.current for d in drift],
                linestyle="none",
                marker="X",
                markersize=8,
                color=COLOURS[point],
                label=f"{LABELS[point].split()[0]} drift prompt (level seen)",
            )
        levels += [p[1] for p in pts] + [d.current for d in drift]
    ax.set_ylabel("sensor reading\n(0 to 65535)")
    ax.yaxis.set_major_locator(MaxNLocator(5))
    fit_y(ax, levels, floor=None)
    moments = [when(c.taken) for c in cals] + [when(d.seen) for d in data.drift_prompts]
    pad = max(timedelta(days=2), (max(moments) - min(moments)) * 0.08)
    left, right = min(moments) - pad, max(moments) + pad
    ax.set_xlim(left, right)
    event_day_axis(ax, sorted({m.date() for m in moments}), right - left)
    # Above the plot, not beside it: the days get the figure's whole width.
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncols=3, frameon=False, fontsize=7.5)
    return fig


def event_day_axis(ax, days: list[date], shown: timedelta) -> None:
    """Each day with an event as a faint band from midnight to midnight, labelled at its noon:
    a visit lies in its own day's band at any hour (a tick at midnight, or every other day,
    puts an evening visit next to the next day's label). The day is set over its month, so
    days next to each other keep both labels in a few weeks' plot; a label that would still
    touch the one before is left out, its band stays."""
    years = len({d.year for d in days}) > 1
    day_width_in = WIDTH_IN * 0.85 * (timedelta(days=1) / shown)  # the axes' share of the width
    min_gap_days = 0.3 / day_width_in  # a "Mar" label's width at 9 pt, with a gap, in days
    ticks, labels, last = [], [], None
    for d in days:
        midnight = datetime.combine(d, time())
        ax.axvspan(midnight, midnight + timedelta(days=1), color="#f0f0f0", lw=0, zorder=0)
        if last is None or (d - last).days >= min_gap_days:
            ticks.append(midnight + timedelta(hours=12))
            labels.append(f"{d.day}\n{d:%b}" + (f"\n{d.year}" if years else ""))
            last = d
    ax.set_xticks(ticks)
    ax.set_xticklabels(labels)
    ax.tick_params(axis="x", length=0)


def _week_axis(ax, weeks) -> list[datetime]:
    """x positions of weeks (each at its middle) with their first days as labels; the axis
    spans the weeks' days, first to last."""
    mids = [
        datetime.combine(w.first, time()) + (w.last - w.first + timedelta(days=1)) / 2
        for w in weeks
    ]
    ax.set_xticks(mids)
    ax.set_xticklabels([f"week {i + 1}\n{w.first.day} {w.first:%b}" for i, w in enumerate(weeks)])
    ax.tick_params(axis="x", length=0)
    first = datetime.combine(weeks[0].first, time())
    ax.set_xlim(first, datetime.combine(weeks[-1].last, time()) + timedelta(days=1))
    return mids


def _stage_bands(ax, learning) -> None:
    """Each stage of the schedule as a band over its days, labelled at its top."""
    for i, st in enumerate(learning.stages):
        x0 = datetime.combine(st.first, time())
        x1 = datetime.combine(st.last, time()) + timedelta(days=1)
        ax.axvspan(x0, x1, color=STAGE_SHADES[i % 2], lw=0, zorder=0)
        ax.text(
            x0 + (x1 - x0) / 2,
            1.0,
            st.label,
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="bottom",
            fontsize=7,
            color="#555555",
        )


def learning_figure(data: ReportData) -> Figure | None:
    learning = data.learning
    if learning is None:
        return None
    weeks = learning.weeks
    fig = Figure(figsize=(WIDTH_IN, 3.0), layout="constrained")
    ax = fig.add_subplot()
    _stage_bands(ax, learning)
    mids = _week_axis(ax, weeks)
    for attr, reps, colour, label, marker in (
        (
            "alone_rate",
            "alone_reps",
            COLOURS["alone"],
            f"without feedback ({learning.alone_label})",
            "s",
        ),
        ("guided_rate", "guided_reps", COLOURS["guided"], "with feedback", "o"),
    ):
        shown = [(m, w) for m, w in zip(mids, weeks, strict=True) if getattr(w, attr) is not None]
        if shown:
            xs = [m for m, _ in shown]
            ys = [getattr(w, attr) for _, w in shown]
            ax.plot(xs, ys, color=colour, marker=marker, markersize=5, linewidth=1.5, label=label)
            for x, y, (_, w) in zip(xs, ys, shown, strict=True):
                ax.annotate(
                    f"n={getattr(w, reps)}",
                    (x, y),
                    textcoords="offset points",
                    xytext=(6, 4),
                    fontsize=6.5,
                    color=colour,
                )
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_ylabel("reps with a point lost")
    ax.set_ylim(0, 1.05)
    ax.legend(loc="upper right", frameon=False, fontsize=8)
    return fig


def fault_depth_figure(data: ReportData) -> Figure | None:
    learning = data.learning
    if learning is None or not any(w.loss_pitch.n for w in learning.weeks):
        return None
    weeks = learning.weeks
    fig = Figure(figsize=(WIDTH_IN, 2.6), layout="constrained")
    ax = fig.add_subplot()
    _stage_bands(ax, learning)
    mids = _week_axis(ax, weeks)
    xs, med, lo, hi, plotted = [], [], [], [], []
    for m, w in zip(mids, weeks, strict=True):
        sp = w.loss_pitch
        if sp.n:
            xs.append(m)
            med.append(sp.median)
            lo.append(sp.median - sp.q1)
            hi.append(sp.q3 - sp.median)
            plotted += [sp.q1, sp.q3]
    ax.errorbar(
        xs,
        med,
        yerr=[lo, hi],
        color=COLOURS["loss"],
        marker="o",
        markersize=4,
        capsize=3,
        linewidth=1.2,
        label="pitch when the first point left (median, middle half)",
    )
    ax.set_ylabel("trunk pitch, degrees")
    fit_y(ax, plotted)
    ax.legend(loc="lower right", frameon=False, fontsize=8)
    return fig


FIGURES: list[tuple[str, str, str, Callable[[ReportData], Figure | None]]] = [
    (
        "adherence",
        "Practice per day",
        "Reps per calendar day against the prescription (dashed line). The small number over a "
        "bar is the number of sessions that day; an x marks a day without practice.",
        adherence_figure,
    ),
    (
        "outcomes",
        "Outcome of each rep, by session",
        "Each bar is one session: green is the share of clean reps (all three points kept), the "
        "other colours the point that left the dowel first. Over each bar (up to 30 sessions), n "
        "is the session's rep count.",
        outcomes_figure,
    ),
    (
        "depth",
        "How far the patient hinged (IMU)",
        "Per session: the deepest trunk pitch reached and the pitch at which a point left the "
        "dowel. The dot is the median rep, the bar the middle half of reps.",
        depth_figure,
    ),
    (
        "timing",
        "Rep tempo (IMU)",
        "Median time lowering, pausing at the bottom and rising, per session: is the patient "
        "slowing down and pausing as taught?",
        timing_figure,
    ),
    (
        "calibration",
        "Calibration history",
        "Contact level of each sensor at each calibration visit; a cross is a drift prompt, the "
        "level the dowel saw when it asked for a recalibration.",
        calibration_figure,
    ),
    (
        "learning",
        "Learning: faults without feedback against faults with it, per week",
        "Share of reps with a point lost, per week: black without fault feedback (probe sets, "
        "and stages with none: what the patient does alone, the measure of learning), blue in "
        "sets with feedback. The bands are the stages of the feedback schedule; n is the reps "
        "behind each point.",
        learning_figure,
    ),
    (
        "fault_depth",
        "How deep the patient hinges before form breaks",
        "Per week, the trunk pitch at which the first point left the dowel in reps with a loss "
        "(the dot is the median rep, the bar the middle half): deeper is better.",
        fault_depth_figure,
    ),
]


def build_figures(data: ReportData) -> list[Plot]:
    plots = []
    with rc_context(STYLE):
        for key, title, caption, make in FIGURES:
            fig = make(data)
            if fig is not None:
                plots.append(Plot(key, title, caption, fig))
    return plots


def figure_svg(fig: Figure, key: str) -> str:
    """The figure as an inline <svg> element (no XML prolog, ids prefixed with `key`)."""
    buf = io.StringIO()
    with rc_context({**STYLE, "svg.hashsalt": key}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    # Matplotlib numbers its element ids per figure (figure_1, patch_1, glyph names): prefix
    # them, and every reference to them, so five plots on one page keep ids unique.
    text = re.sub(r'\bid="([^"]+)"', rf'id="{key}-\1"', text)
    text = re.sub(r'href="#([^"]+)"', rf'href="#{key}-\1"', text)
    text = re.sub(r"url\(#([^)]+)\)", rf"url(#{key}-\1)", text)
    # Give the SVG a role and a fluid width: it scales with the page, height follows.
    text = re.sub(
        r'<svg ([^>]*?)width="[^"]*" height="[^"]*"',
        rf'<svg \1role="img" aria-label="{key}" class="plot-svg"',
        text,
        count=1,
    )
    return text
