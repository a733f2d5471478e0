"""`dowel export fhir`: a patient's sessions as a FHIR R4 Bundle of Observations (JSON).

    dowel export fhir --patient P-0001 --out p1-fhir.json

One Observation per session; the codes are documented in docs/fhir.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from host_tools.words import count

HELP = "export a patient's sessions (FHIR R4 Bundle of Observations)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="format", metavar="FORMAT")
    sub.required = True
    p = sub.add_parser("fhir", help="FHIR R4 Bundle (type collection), one Observation a session")
    p.add_argument(
        "--patient",
        required=True,
        metavar="ID",
        help="pseudonymous patient ID (`dowel patients` lists them)",
    )
    p.add_argument(
        "--out",
        type=Path,
        metavar="FILE.json",
        help="write here (default: dowel-fhir-ID-DATE.json; - for standard output)",
    )


def run(args: argparse.Namespace) -> int:
    from datetime import datetime, timezone

    from host_tools.errors import UsageError
    from host_tools.report.fhir import session_bundle
    from host_tools.store import db

    conn = db.connect()
    try:
        bundle = session_bundle(conn, args.patient)
    finally:
        conn.close()
    text = json.dumps(bundle, indent=2, ensure_ascii=False) + "\n"
    kinds = [e["resource"]["resourceType"] for e in bundle.get("entry", [])]
    n = kinds.count("Observation")
    devices = kinds.count("Device")
    if args.out is not None and str(args.out) == "-":
        sys.stdout.write(text)
        return 0
    out = args.out or Path(
        f"dowel-fhir-{args.patient}-{datetime.now(timezone.utc).date().isoformat()}.json"
    )
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror}; choose another --out") from None
    print(
        f"wrote {out}: {count(n, 'session observation')}, "
        f"{count(devices, 'dowel')} with their sensors, the prescription"
    )
    return 0
