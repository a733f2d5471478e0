"""`dowel sessions`: the logged sessions in the database, with rep counts and battery level;
an estimated start (the dowel's clock had lost the date) is marked `~`.

dowel sessions [--patient ID] [--json]
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
    finally:
        conn.close()
    if args.json:
        print(json.dumps(rows, indent=2))
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
