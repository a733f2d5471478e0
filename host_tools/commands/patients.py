"""`dowel patients`: the patients this computer knows, with prescription and last session.

dowel patients
dowel patients --json
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

HELP = "list patients with their prescription and last session"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of a table")


def run(args: argparse.Namespace) -> int:
    from host_tools.store import db
    from host_tools.store.patients import list_patients

    conn = db.connect()
    try:
        patients = list_patients(conn)
    finally:
        conn.close()
    if args.json:
        rows = [
            {**asdict(p), "prescription": p.prescription, "default_prescription": p.is_default}
            for p in patients
        ]
        print(json.dumps(rows, indent=2))
        return 0
    if not patients:
        print(
            "no patients yet: `dowel calibrate` registers one, or `dowel patient set ID "
            "--prescription 5x10/day`"
        )
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for col in ("patient", "prescription", "sessions", "last session (UTC)", "last calibration"):
        table.add_column(col)
    for p in patients:
        rx = p.prescription + (" (default)" if p.is_default else "")
        table.add_row(
            p.patient,
            rx,
            str(p.sessions),
            _short(p.last_session_utc),
            _short(p.last_calibration_utc),
        )
    Console(soft_wrap=True).print(table)
    return 0


def _short(utc: str | None) -> str:
    if not utc:
        return "-"
    return utc.replace("T", " ")[:16]
