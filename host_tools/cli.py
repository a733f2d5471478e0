"""`dowel`: the command line. A table of commands, one module each under
`host_tools.commands`, each with `HELP`, `add_arguments(parser)` and `run(args) -> int`.

Errors the user can act on are `DowelError`s: printed once here as `dowel: message` on
stderr with a non-zero exit status, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
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
    "report": "report",
    "export": "export",
}


def _load(name: str):
    return importlib.import_module("host_tools.commands." + COMMANDS[name])


def build_parser(names=None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dowel", description="Smart dowel: flash, calibrate, pull logs, report."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in names or COMMANDS:
        try:
            module = _load(name)
        except ModuleNotFoundError as exc:
            if exc.name == "host_tools.commands." + COMMANDS[name]:
                continue  # command not built yet
            raise
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    from host_tools.errors import DowelError

    argv = sys.argv[1:] if argv is None else argv
    # Build only the named command's parser when we can: faster, and a broken module elsewhere
    # cannot take the whole CLI down.
    names = [argv[0]] if argv and argv[0] in COMMANDS else None
    parser = build_parser(names)
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except DowelError as exc:
        print(f"dowel: {exc}", file=sys.stderr)
        return exc.exit_status
    except BrokenPipeError:
        # `dowel replay ... | head`: the reader left; say nothing more.
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("dowel: interrupted", file=sys.stderr)
        return 130
