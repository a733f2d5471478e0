"""The PT's report: data queries -> figures and summary -> a self-contained HTML page or a PDF.

    from host_tools.report import write_report
    path = write_report("P-0001", since=date(2025, 3, 1), out=Path("p1.html"))

Layers, each tested on its own: `data` (SQLite -> plain numbers), `summary` (numbers ->
sentences), `figures` (numbers -> matplotlib figures), `render` (figures + sentences -> HTML or
PDF). `patients` holds patient IDs and prescriptions.
"""

from __future__ import annotations

from datetime import date, datetime, timezone, tzinfo
from pathlib import Path

from host_tools.errors import UsageError

SUFFIXES = (".html", ".htm", ".pdf")


def default_out(patient: str, today: date) -> Path:
    return Path(f"dowel-report-{patient}-{today.isoformat()}.html")


def write_report(
    patient: str,
    since: date | None = None,
    until: date | None = None,
    out: Path | None = None,
    tz: tzinfo | None = None,
    conn=None,
) -> Path:
    """Build the report for `patient` and write it to `out` (HTML, or PDF by suffix)."""
    from host_tools.report.data import load_report_data
    from host_tools.report.render import render_html, write_pdf
    from host_tools.store import db

    if out is not None and out.suffix.lower() not in SUFFIXES:
        raise UsageError(f"cannot write a report to {out}: name the file .html or .pdf")
    if since and until and until < since:
        raise UsageError(f"--until {until} is before --since {since}: swap them")
    own = conn is None
    conn = conn or db.connect()
    try:
        data = load_report_data(conn, patient, since=since, until=until, tz=tz)
    finally:
        if own:
            conn.close()
    generated = datetime.now(timezone.utc)
    out = out or default_out(patient, generated.astimezone(data.tz).date())
    try:
        if out.suffix.lower() == ".pdf":
            write_pdf(data, out, generated)
        else:
            out.write_text(render_html(data, generated), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror}; choose another --out") from None
    return out
