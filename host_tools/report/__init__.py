"""The PT's report: data queries -> figures and summary -> a self-contained HTML page or a PDF.

    from host_tools.report import write_report
    written = write_report("P-0001", since=date(2025, 3, 1), out=Path("p1.pdf"))
    written.path, written.pages, written.notes

Layers, each tested on its own: `data` (SQLite -> plain numbers), `summary` (numbers ->
sentences), `figures` (numbers -> matplotlib figures), `content` (the report's blocks, in
order), `render` (blocks -> HTML) and `pdf` (the same blocks -> an A4 PDF).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone, tzinfo
from pathlib import Path

from host_tools.errors import UsageError

SUFFIXES = (".html", ".htm", ".pdf")
# An ESP32 that lost the date restarts its clock at 2000-01-01 (`host_tools.store.dates`), so
# no dowel log is dated before it: a period starting earlier is a typing slip.
EARLIEST = date(2000, 1, 1)


@dataclass(frozen=True)
class WrittenReport:
    path: Path
    pages: int | None  # A4 pages of a PDF; None for the HTML page
    notes: list[str] = field(default_factory=list)  # what the period covers that is unknown


def default_out(patient: str, today: date) -> Path:
    return Path(f"dowel-report-{patient}-{today.isoformat()}.html")


def check_dates(since: date | None, until: date | None, today: date) -> None:
    """UsageError for a period no report can be about, before anything is read."""
    if since and until and until < since:
        raise UsageError(f"--until {until} is before --since {since}: swap them")
    for option, day in (("--since", since), ("--until", until)):
        if day is None:
            continue
        if day > today:
            raise UsageError(
                f"{option} {day} is in the future (today is {today}): give a day up to today"
            )
        if day < EARLIEST:
            raise UsageError(
                f"{option} {day} is before any dowel could log (2000): give a day of this "
                "patient's practice, or leave it out to start at the first session"
            )


def check_period(data, since: date | None, until: date | None) -> None:
    """UsageError when a period the PT asked for holds nothing the host knows of: no logs were
    pulled for it, or it ends before anything was recorded. A period that only overhangs what
    is known is reported, and says so (`summary.period_notes`)."""
    if since is None and until is None:
        return  # the default period is the known one
    p = data.patient.patient
    if data.pulled_until is None:
        raise UsageError(
            f"no practice logs pulled for {p} yet, so no period to report: pull the dowel "
            "(`dowel logs pull`), or leave out --since/--until for the calibration history"
        )
    known = f"{data.recorded_from or data.pulled_until} to {data.pulled_until}"
    if since is not None and since > data.pulled_until:
        raise UsageError(
            f"no logs for {p} after {data.pulled_until} (the last day pulled): pull the dowel "
            f"(`dowel logs pull`) or give a --since in {known}"
        )
    if until is not None and data.recorded_from is not None and until < data.recorded_from:
        raise UsageError(
            f"nothing recorded for {p} before {data.recorded_from}: give an --until in {known}"
        )


def write_report(
    patient: str,
    since: date | None = None,
    until: date | None = None,
    out: Path | None = None,
    tz: tzinfo | None = None,
    conn=None,
    today: date | None = None,
) -> WrittenReport:
    """Build the report for `patient` and write it to `out` (HTML, or PDF by suffix). Raises
    UsageError, having written nothing, for a bad file name or period."""
    from host_tools.report.data import load_report_data, local_zone
    from host_tools.report.render import render_html
    from host_tools.report.summary import period_notes
    from host_tools.store import db

    if out is not None and out.suffix.lower() not in SUFFIXES:
        raise UsageError(f"cannot write a report to {out}: name the file .html or .pdf")
    tz = tz or local_zone()
    today = today or datetime.now(tz).date()
    check_dates(since, until, today)
    with db.using(conn) as c:
        data = load_report_data(c, patient, since=since, until=until, tz=tz, today=today)
    check_period(data, since, until)
    generated = datetime.now(timezone.utc)
    out = out or default_out(patient, generated.astimezone(data.tz).date())
    pages = None
    try:
        if out.suffix.lower() == ".pdf":
            from host_tools.report.pdf import write_pdf

            pages = write_pdf(data, out, generated)
        else:
            out.write_text(render_html(data, generated), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror}; choose another --out") from None
    return WrittenReport(out, pages, period_notes(data))
