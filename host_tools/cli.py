"""`dowel`: the command line. A table of commands, one module each under
`host_tools.commands`, each with `HELP`, `add_arguments(parser)` and `run(args) -> int`.

Errors the user can act on are `DowelError`s: printed once here as `dowel: message` on
stderr with a non-zero exit status, never as a traceback. `dowel` alone prints the help (exit
0: asking what the tool does is not a mistake); `dowel --version` names the firmware it installs.
"""

from __future__ import annotations

import argparse
import importlib
import sqlite3
import sys

# name -> module under host_tools.commands; modules load lazily so `dowel replay` does not
# pay for matplotlib or pyserial.
COMMANDS = {
    "demo": "demo",
    "replay": "replay",
    "vboard": "vboard",
    "ports": "ports",
    "flash": "flash",
    "selftest": "selftest",
    "calibrate": "calibrate",
    "config": "config",
    "logs": "logs",
    "sessions": "sessions",
    "patients": "patients",
    "patient": "patient",
    "history": "history",
    "report": "report",
    "export": "export",
    "app": "app",
}


def _load(name: str):
    return importlib.import_module("host_tools.commands." + COMMANDS[name])


class Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line that names where the help is (exit status 2)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message} (`{self.prog} --help` lists the options)\n")


def build_parser(names=None) -> argparse.ArgumentParser:
    parser = Parser(prog="dowel", description="Smart dowel: flash, calibrate, pull logs, report.")
    parser.add_argument(
        "--version",
        action="version",
        version=version_text(),
        help="print the host tools' version and the firmware they install",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in names or COMMANDS:
        module = _load(name)
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def version_text() -> str:
    """The host tools' release and the firmware (and host-device protocol) they install."""
    from importlib.metadata import PackageNotFoundError, version

    from dowel.version import FIRMWARE, PROTOCOL

    try:
        host = version("smart-dowel")
    except PackageNotFoundError:  # run from a checkout that was never pip-installed
        host = "(not installed)"
    return f"dowel {host}: installs firmware {FIRMWARE}, protocol {PROTOCOL}"


def main(argv: list[str] | None = None) -> int:
    from host_tools.errors import DowelError

    argv = sys.argv[1:] if argv is None else argv
    # Build only the named command's parser when we can: faster, and a broken module elsewhere
    # cannot take the whole CLI down.
    names = [argv[0]] if argv and argv[0] in COMMANDS else None
    parser = build_parser(names)
    if not argv:
        parser.print_help()
        return 0
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except DowelError as exc:
        print(f"dowel: {exc}", file=sys.stderr)
        return exc.exit_status
    except sqlite3.DatabaseError as exc:
        # Only the database file's own failures (damaged, read-only) are the user's to fix; a
        # wrong query is a bug and keeps its traceback.
        from host_tools.store import db

        error = db.explain(exc)
        if error is None:
            raise
        print(f"dowel: {error}", file=sys.stderr)
        return error.exit_status
    except BrokenPipeError:
        # `dowel replay ... | head`: the reader left; say nothing more.
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("dowel: interrupted", file=sys.stderr)
        return 130
