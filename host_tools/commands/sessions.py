"""`dowel sessions`: the logged sessions in the database, with rep counts and battery level;
an estimated start (the dowel's clock had lost the date) is marked `~`.

dowel sessions [--patient ID] [--json]

`--json` prints {"sessions": [one object per session], "monitoring": [per patient and 30-day
window of their report period: days with data, and when each session began]}.
"""

from __future__ import annotations

import argparse
import json

HELP = "list logged sessions (after `dowel logs pull`), optionally for one patient"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--patient", help="only this patient's sessions")
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of a table")


def run(args: argparse.Namespace) -> int:
    from host_tools.store import db
    from host_tools.store import reps as repstore

    conn = db.connect()
    try:
        rows = repstore.session_rows(conn, args.patient)
        monitoring = _monitoring(conn, rows) if args.json else []
    finally:
        conn.close()
    if args.json:
        print(json.dumps({"sessions": rows, "monitoring": monitoring}, indent=2))
        return 0
    if not rows:
        who = f" for patient {args.patient}" if args.patient else ""
        print(f"no sessions{who} yet: plug in the dowel and run `dowel logs pull`")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for col in (
        "patient",
        "started (UTC)",
        "device",
        "session",
        "reps",
        "clean",
        "IMU",
        "battery",
    ):
        table.add_column(col)
    estimated = 0
    for r in rows:
        started = r["started_utc"].replace("T", " ")[:16] if r["started_utc"] else "clock not set"
        if r["started_utc"] and r["started_estimated"]:
            started = "~" + started
            estimated += 1
        battery = "–" if r["battery_pct"] is None else f"{r['battery_pct']}%"
        table.add_row(
            r["patient"],
            started,
            r["device_id"],
            str(r["session"]),
            str(r["reps"]),
            str(r["clean"]),
            "yes" if r["has_imu"] else "no",
            battery,
        )
    console = Console(soft_wrap=True)
    console.print(table)
    if estimated:
        console.print(
            f"~ estimated start ({estimated}): the dowel's clock had lost the date (it was "
            "switched off); placed from the session order and the dowel's running time. "
            "`--json` gives each one's earliest and latest start.",
            markup=False,
        )
    return 0


def _monitoring(conn, rows: list[dict]) -> list[dict]:
    """Per patient of `rows`, the 30-day windows of their report period (days in this
    computer's zone, as the report counts them): days with data and each session's start."""
    from host_tools.report.data import load_report_data
    from host_tools.report.monitoring import monitoring_windows

    out = []
    for patient in dict.fromkeys(r["patient"] for r in rows):
        data = load_report_data(conn, patient)
        for w in monitoring_windows(data):
            out.append({"patient": patient, **w.as_json()})
    return out
