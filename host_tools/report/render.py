"""The report's rendering layer: `ReportData` -> one self-contained HTML page, or a PDF.

    html = render_html(data, generated=datetime.now(timezone.utc))
    write_pdf(data, Path("report.pdf"))

The page carries its plots as inline SVG and its style inline: no script, no network, no font
to fetch, so it opens in any browser and can be mailed or attached to a record. The PDF holds
the same summary and the same figures (matplotlib's PdfPages), one figure per page.
"""

from __future__ import annotations

import html
from datetime import datetime
from pathlib import Path

from host_tools.report.data import POINT_LABELS, POINTS, ReportData
from host_tools.report.figures import COLOURS, LABELS, STYLE, build_figures, figure_svg
from host_tools.report.summary import (
    day_text,
    estimated_note,
    session_start_text,
    summarize,
)

CSS = """
body { font: 15px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: #1d1d1d; margin: 0 auto; max-width: 880px; padding: 24px; background: #fff; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 6px; border-bottom: 1px solid #ddd; padding-bottom: 3px; }
.meta { color: #555; margin: 0 0 14px; }
.summary { background: #f3f7f5; border-left: 5px solid #009E73; padding: 10px 16px 10px 30px;
           margin: 0; }
.summary li { margin: 3px 0; }
figure { margin: 8px 0 18px; }
h3 { font-size: 15px; margin: 10px 0 2px; }
figcaption { color: #444; font-size: 13px; margin-top: 2px; }
.plot-svg { width: 100%; height: auto; display: block; }
.note { color: #555; font-style: italic; }
table { border-collapse: collapse; font-size: 13px; width: 100%; }
th, td { padding: 3px 6px; border-bottom: 1px solid #e6e6e6; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f6f6f6; }
.key { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
footer { color: #777; font-size: 12px; margin-top: 30px; }
@media print { body { max-width: none; } figure, table { page-break-inside: avoid; } }
"""


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _code(text: str) -> str:
    """Backticked command names in summary lines as <code>."""
    parts = _esc(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def title_lines(data: ReportData, generated: datetime) -> tuple[str, str]:
    p = data.patient
    title = f"Hip-hinge practice report: patient {p.patient}"
    if data.start and data.end:
        period = (
            f"{day_text(data.start)} {data.start.year} to {day_text(data.end)} {data.end.year}"
        )
    else:
        period = "no practice recorded"
    rx = f"{p.sets_per_day} sets of {p.reps_per_set} reps a day"
    if p.is_default:
        rx += " (the default; change with `dowel patient set`)"
    meta = f"Period: {period}. Prescription: {rx}. Generated {generated:%Y-%m-%d %H:%M} UTC."
    return title, meta


def _sessions_table(data: ReportData) -> str:
    if not data.sessions:
        return ""
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "Session start",
            "Reps",
            "Clean",
            *(POINT_LABELS[p] + " lost" for p in POINTS),
            "Median depth",
            "Pitch at loss",
            "IMU",
        )
    )
    rows = []
    for s in data.sessions:
        share = f" ({round(100 * s.clean / s.reps)}%)" if s.reps else ""
        depth = f"{s.depth.median:.0f}°" if s.depth.n else "–"
        pitch = f"{s.loss_pitch.median:.0f}°" if s.loss_pitch.n else "–"
        cells = [
            session_start_text(s, data.tz),
            s.reps,
            f"{s.clean}{share}",
            *(s.first_lost[p] for p in POINTS),
            depth,
            pitch,
            "yes" if s.has_imu else "no",
        ]
        rows.append("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in cells) + "</tr>")
    note = estimated_note(data)
    foot = f'<p class="note" id="estimated-note">{_esc(note)}</p>' if note else ""
    return (
        f'<table id="sessions"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>{foot}"
    )


def _calibration_table(data: ReportData) -> str:
    if not data.calibrations and not data.drift_prompts:
        return '<p class="note">No calibration recorded for this patient.</p>'
    out = []
    if data.calibrations:
        head = "<th>Calibrated</th><th>Dowel</th>" + "".join(
            f"<th>{POINT_LABELS[p]} contact / zero</th>" for p in POINTS
        )
        rows = []
        for c in data.calibrations:
            t = c.taken.astimezone(data.tz)
            cal_cells = [f"{day_text(t.date())} {t.year} {t:%H:%M}", c.device_id]
            for p in POINTS:
                lv = c.levels.get(p, {})
                contact = f"{lv['contact']:.0f}" if "contact" in lv else "–"
                zero = f"{lv['zero']:.0f}" if "zero" in lv else "–"
                cal_cells.append(f"{contact} / {zero}")
            rows.append("<tr>" + "".join(f"<td>{_esc(x)}</td>" for x in cal_cells) + "</tr>")
        out.append(
            f'<table id="calibrations"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>"
        )
    if data.drift_prompts:
        rows = []
        for d in data.drift_prompts:
            t = d.seen.astimezone(data.tz)
            change = f"{d.change:+.0%}" if d.change is not None else "–"
            cells: list[object] = [
                f"{day_text(t.date())} {t.year} {t:%H:%M}",
                d.device_id,
                POINT_LABELS.get(d.sensor, d.sensor),
                d.calibrated,
                d.current,
                change,
            ]
            rows.append("<tr>" + "".join(f"<td>{_esc(x)}</td>" for x in cells) + "</tr>")
        out.append(
            '<h3>Drift prompts</h3><table id="drift"><thead><tr><th>Seen</th><th>Dowel</th>'
            "<th>Sensor</th><th>Calibrated level</th><th>Level seen</th><th>Change</th></tr>"
            f"</thead><tbody>{''.join(rows)}</tbody></table>"
        )
    else:
        out.append('<p class="note">No drift prompts in this period.</p>')
    return "".join(out)


def render_html(data: ReportData, generated: datetime) -> str:
    plots = {p.key: p for p in build_figures(data)}
    title, meta = title_lines(data, generated)
    body = [
        f"<h1>{_esc(title)}</h1>",
        f'<p class="meta">{_code(meta)}</p>',
        '<ul class="summary" id="summary">'
        + "".join(f"<li>{_code(line)}</li>" for line in summarize(data))
        + "</ul>",
    ]

    def section(key: str, missing: str) -> None:
        plot = plots.get(key)
        if plot is None:
            body.append(f'<p class="note" id="no-{key}">{_esc(missing)}</p>')
            return
        body.append(
            f'<figure id="fig-{key}"><h3>{_esc(plot.title)}</h3>{figure_svg(plot.figure, key)}'
            f"<figcaption>{_esc(plot.caption)}</figcaption></figure>"
        )

    body.append("<h2>Adherence</h2>")
    section("adherence", "No practice period to show.")
    body.append("<h2>Outcomes</h2>")
    section("outcomes", "No reps recorded in this period.")
    body.append("<h2>Depth and tempo</h2>")
    no_imu = (
        "No IMU data: this dowel has no motion sensor, or no session with one in this "
        "period, so depth and tempo were not measured."
    )
    section("depth", no_imu)
    if "depth" in plots:
        section("timing", "The IMU did not time lowering, pause and rising in these sessions.")
    body.append("<h2>Calibration</h2>")
    if data.calibrations or data.drift_prompts:
        section("calibration", "The stored calibrations hold no contact levels to plot.")
    body.append(_calibration_table(data))
    if data.sessions:
        body.append("<h2>Sessions</h2>")
        key = " ".join(
            f'<span class="key" style="background:{COLOURS[k]}"></span>{_esc(LABELS[k])}'
            for k in ("clean", *POINTS)
        )
        body.append(
            f'<p class="note">Rep outcomes: {key}. "Lost" counts the first point '
            "that left the dowel in each rep.</p>"
        )
        body.append(_sessions_table(data))
    body.append(
        "<footer>Smart dowel host tools. Days are calendar days in the zone of the computer that "
        "made this report. Patient identified by pseudonym only.</footer>"
    )
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def front_page(data: ReportData, generated: datetime):
    """The PDF's first page: title, period, prescription and the summary, as a Figure."""
    import textwrap

    from matplotlib.figure import Figure

    title, meta = title_lines(data, generated)
    front = Figure(figsize=(8.27, 11.69))  # A4 portrait
    y = 0.95
    front.text(0.08, y, title, fontsize=15, weight="bold", va="top")
    y -= 0.035
    for line in textwrap.wrap(meta.replace("`", ""), 95):
        front.text(0.08, y, line, fontsize=9, color="#555555", va="top")
        y -= 0.018
    y -= 0.02
    for line in summarize(data):
        for i, part in enumerate(textwrap.wrap(line.replace("`", ""), 85)):
            front.text(0.08, y, ("\u2022 " if i == 0 else "   ") + part, fontsize=11, va="top")
            y -= 0.022
        y -= 0.008
    note = estimated_note(data)
    if note:
        y -= 0.01
        for part in textwrap.wrap(note, 105):
            front.text(0.08, y, part, fontsize=8.5, color="#555555", style="italic", va="top")
            y -= 0.016
    return front


def write_pdf(data: ReportData, path: Path, generated: datetime) -> int:
    """The summary on page one, then one figure a page. Returns the page count."""
    from matplotlib import rc_context
    from matplotlib.backends.backend_pdf import PdfPages

    title, _ = title_lines(data, generated)
    pages = 0
    with (
        rc_context(STYLE),
        PdfPages(path, metadata={"Title": title, "Creator": "dowel report"}) as pdf,
    ):
        pdf.savefig(front_page(data, generated))
        pages += 1
        for plot in build_figures(data):
            plot.figure.suptitle(plot.title, fontsize=12, weight="bold")
            pdf.savefig(plot.figure)
            pages += 1
    return pages
