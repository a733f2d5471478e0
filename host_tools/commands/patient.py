"""`dowel patient set`: set a patient's prescription (sets x reps per day).

dowel patient set P-0001 --prescription 5x10/day
"""

from __future__ import annotations

import argparse

HELP = "set a patient's prescription"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    p = sub.add_parser("set", help="set the prescription of patient ID (creating the patient)")
    p.add_argument("patient", metavar="ID", help="pseudonymous patient ID, e.g. P-0001")
    p.add_argument(
        "--prescription",
        required=True,
        metavar="SETSxREPS/day",
        help="e.g. 5x10/day: 5 sets of 10 reps a day",
    )


def run(args: argparse.Namespace) -> int:
    from host_tools.store import db
    from host_tools.store.patients import (
        check_patient_id,
        get_patient,
        parse_prescription,
        set_prescription,
    )

    check_patient_id(args.patient)
    sets, reps = parse_prescription(args.prescription)
    conn = db.connect()
    try:
        new = get_patient(conn, args.patient) is None
        set_prescription(conn, args.patient, sets, reps)
    finally:
        conn.close()
    what = "new patient" if new else "patient"
    print(f"{what} {args.patient}: prescription {sets}x{reps}/day ({sets * reps} reps a day)")
    return 0
