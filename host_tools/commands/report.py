"""`dowel report`: the PT's per-patient report, a self-contained HTML page or a PDF.

dowel report --patient P-0001 --since 2025-03-01 --out p1.html
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from host_tools.errors import UsageError

HELP = "write a patient's practice report (HTML page with plots, or PDF)"


def parse_date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"{option} {text!r} is not a date: write YYYY-MM-DD, e.g. 2025-03-01"
        ) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--patient",
        required=True,
        metavar="ID",
        help="pseudonymous patient ID (`dowel patients` lists them)",
    )
    parser.add_argument(
        "--since",
        metavar="DATE",
        help="first day to include, YYYY-MM-DD, up to today (default: first session or "
        "calibration)",
    )
    parser.add_argument(
        "--until",
        metavar="DATE",
        help="last day to include, YYYY-MM-DD, up to today (default: the last day pulled: "
        "today if practised, else yesterday)",
    )
    parser.add_argument(
        "--out",
        metavar="FILE",
        type=Path,
        help="FILE.html or FILE.pdf (default: dowel-report-ID-DATE.html here)",
    )


def run(args: argparse.Namespace) -> int:
    from host_tools.report import write_report

    since = parse_date(args.since, "--since") if args.since else None
    until = parse_date(args.until, "--until") if args.until else None
    written = write_report(args.patient, since=since, until=until, out=args.out)
    n = written.pages
    pages = f" ({n} A4 page{'' if n == 1 else 's'})" if n else ""
    print(f"wrote {written.path}{pages}")
    for note in written.notes:
        print(f"note: {note.replace('`', '')}")
    return 0
