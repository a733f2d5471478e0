"""`dowel history --patient ID`: who did what for a patient, oldest first: each log import,
calibration and prescription change, with the PT (DOWEL_PT, else the OS user), the computer
and the time. Read from the shared database, so it covers every laptop that writes to it.

dowel history --patient P-0001 [--json]
"""

from __future__ import annotations

import argparse
import json

HELP = "who imported, calibrated and prescribed what for a patient, and when"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--patient", required=True, metavar="ID", help="e.g. P-0001")
    parser.add_argument("--json", action="store_true", help="print a JSON list instead")


def run(args: argparse.Namespace) -> int:
    from host_tools.store import audit, db
    from host_tools.store.patients import require_patient

    conn = db.connect()
    try:
        require_patient(conn, args.patient)
        rows = audit.history(conn, args.patient)
    finally:
        conn.close()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(f"nothing recorded for {args.patient} yet (records start with this version)")
        return 0
    for r in rows:
        print(
            f"{r['at_utc'].replace('T', ' ')[:16]}  {r['actor']} on {r['host']}: "
            f"{r['action']}: {r['detail']}"
        )
    return 0
