"""`dowel logs`: the rep logs. `pull` copies them off the dowel into the database (and then frees
the dowel's flash); `export` writes one row per rep for a patient.

dowel logs pull [--port PORT] [--keep] [--accept-damaged]
dowel logs export --patient ID --format csv|json [--out FILE]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from host_tools.errors import DeviceError, DowelError, UsageError

HELP = "pull rep logs off the dowel (pull) or write a patient's reps as CSV/JSON (export)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from host_tools.board.ports import add_port_argument

    sub = parser.add_subparsers(dest="logs_command", metavar="ACTION")
    sub.required = True
    p = sub.add_parser(
        "pull",
        help="copy every log segment into the database, verified, then delete it on the dowel",
        description="Read the dowel's rep log over USB, verify it (per-record CRC, SHA-256 per "
        "segment), import it into the database, and only then delete it on the dowel. Safe to "
        "interrupt and to repeat: reps are never duplicated. Also sets the dowel's clock.",
    )
    add_port_argument(p)
    p.add_argument("--keep", action="store_true", help="leave the segments on the dowel")
    p.add_argument(
        "--accept-damaged",
        action="store_true",
        help="also free damaged segments on the dowel, once the PT has checked the report: "
        "what could be read is imported and the raw copy stays on this computer",
    )
    p.set_defaults(_logs=_pull)
    e = sub.add_parser(
        "export",
        help="one row per rep for a patient, as CSV or JSON",
        description="One row per rep: patient, session date, outcome, point lost, pitch and "
        "phase times (empty without an IMU).",
    )
    e.add_argument("--patient", required=True, help="patient id, as set at calibration")
    e.add_argument("--format", choices=("csv", "json"), default="csv")
    e.add_argument("--out", help="file to write (default: standard output)")
    e.set_defaults(_logs=_export)


def run(args: argparse.Namespace) -> int:
    return args._logs(args)


def _pull(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    from host_tools.board import api
    from host_tools.board.ports import resolve_port
    from host_tools.logs.pull import pull
    from host_tools.store import db

    port = resolve_port(args.port)
    console = Console(stderr=True)
    conn = db.connect()
    try:
        with (
            api.connect(port, fresh=True) as link,
            Progress(
                TextColumn("pulling logs"),
                BarColumn(),
                DownloadColumn(),
                console=console,
                transient=True,
            ) as bar,
        ):
            task = bar.add_task("pull", total=None)
            from host_tools.board import config as board_config

            board_config.warn_if_rejected(
                link, lambda text: console.print(text, highlight=False, markup=False)
            )
            try:
                report = pull(
                    link,
                    conn,
                    keep=args.keep,
                    accept_damaged=args.accept_damaged,
                    progress=lambda n: bar.advance(task, n),
                    on_total=lambda total: bar.update(task, total=total),
                )
            except DeviceError as exc:
                raise DeviceError(
                    f"{exc}\nNothing is lost: reps already imported stay imported and every "
                    "segment not yet verified is still on the dowel. Reconnect and run "
                    "`dowel logs pull` again."
                ) from None
    finally:
        conn.close()
    print(report.summary())
    for w in report.warnings:
        console.print(f"warning: {w}", style="yellow", highlight=False)
    return 0


def check_out(out: str) -> Path:
    """The --out file, refused before any work if it could not be written."""
    path = Path(out)
    if path.is_dir():
        raise UsageError(f"--out {out} is a folder: give a file name, e.g. {path / 'reps.csv'}")
    if not path.parent.is_dir():
        raise UsageError(f"--out {out}: folder {path.parent} does not exist; create it first")
    return path


def _export(args: argparse.Namespace) -> int:
    from host_tools.store import db
    from host_tools.store import reps as repstore

    out_path = check_out(args.out) if args.out else None
    conn = db.connect()
    try:
        rows = repstore.rep_rows(conn, args.patient)
        if not rows and not repstore.patient_known(conn, args.patient):
            raise UsageError(
                f"no reps for patient {args.patient!r}: check the id with `dowel patients`, "
                "or pull the dowel's logs first with `dowel logs pull`"
            )
    finally:
        conn.close()
    if out_path:
        try:
            with open(out_path, "w", newline="", encoding="utf-8") as out:
                repstore.write_rows(rows, args.format, out)
        except OSError as exc:
            raise DowelError(
                f"cannot write {out_path} ({exc.strerror}): free space or choose another --out"
            ) from None
        print(f"{len(rows)} reps written to {out_path}", file=sys.stderr)
    else:
        repstore.write_rows(rows, args.format, sys.stdout)
    return 0
