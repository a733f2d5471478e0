"""`dowel config show|set`: read and adjust the board's `/dowel.json` by hand.

    dowel config show [--json]
    dowel config set loss_ms=150 sensors.sacrum.off=14000
    dowel config set --from-defaults patient=P-0001   # the board refused its config

`set` applies each KEY=VALUE with the firmware's own `dowel.config.set_field` (the same
validation the board runs at boot and on `write_json`), so a refused value is refused here with
the field and its range, before anything is written; the board then validates again, saves
atomically, and the host reads the config back to compare.

A board that refused its `/dowel.json` runs on the defaults: `show` says why, and `set` refuses
(naming the reason) rather than quietly turning a rejected config into a valid one built on the
defaults, unless `--from-defaults` says to start from them.
"""

from __future__ import annotations

import argparse
import json

from host_tools.board import config as board_config
from host_tools.errors import DeviceError, UsageError

HELP = "show or change the dowel's configuration (thresholds, timings, feedback)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from host_tools.board.ports import add_port_argument

    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    show = sub.add_parser("show", help="print the config the board runs")
    show.add_argument("--json", action="store_true", help="print it as JSON")
    add_port_argument(show)
    set_ = sub.add_parser(
        "set", help="change fields: KEY=VALUE ... (dotted keys, e.g. sensors.head.on=21000)"
    )
    set_.add_argument("assignments", nargs="+", metavar="KEY=VALUE")
    set_.add_argument(
        "--from-defaults",
        action="store_true",
        help="apply the fields to the default config, not the board's (needed when the board "
        "rejected its config; the patient and thresholds then need `dowel calibrate`)",
    )
    add_port_argument(set_)


def parse_assignments(items: list[str]) -> list[tuple[str, str]]:
    pairs = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"{item!r}: expected KEY=VALUE, e.g. loss_ms=150")
        pairs.append((key.strip(), value.strip()))
    return pairs


def show(link, as_json: bool = False, console=None) -> dict:
    from rich.console import Console
    from rich.table import Table

    # With --json, stdout holds the JSON alone; notes and prompts go to stderr.
    from host_tools.calibrate.drift import check_drift, drift_prompt

    console = console or Console(stderr=as_json)
    cfg, reason = board_config.read(link)
    if reason:  # first, so it is not lost above a long table
        console.print(board_config.rejection_note(reason), highlight=False, markup=False)
    board_config.show_last_fault(
        link, lambda text: console.print(text, highlight=False, markup=False)
    )
    if as_json:
        print(json.dumps(cfg, indent=2, sort_keys=True))
    else:
        title = f"dowel config on {link.port}" + (
            " (defaults: its own was rejected)" if reason else ""
        )
        table = Table(title=title)
        table.add_column("key")
        table.add_column("value", justify="right")
        for key, value in board_config.flatten(cfg):
            table.add_row(key, json.dumps(value))
        console.print(table)
    try:
        findings = check_drift(link, cfg=cfg)
    except DeviceError as exc:  # advisory: the config above is still what the board runs
        console.print(
            f"note: could not read the board's drift state: {exc}", highlight=False, markup=False
        )
        findings = []
    if findings:
        console.print(drift_prompt(findings, cfg["patient"]), highlight=False, markup=False)
    return cfg


def run(args: argparse.Namespace) -> int:
    from host_tools.board import api
    from host_tools.board.ports import resolve_port

    pairs = parse_assignments(args.assignments) if args.action == "set" else []
    board_config.precheck(pairs)
    port = resolve_port(args.port)
    with api.connect(port) as link:
        if args.action == "show":
            show(link, args.json)
            return 0
        old, new = board_config.set_fields(link, pairs, from_defaults=args.from_defaults)
    before = dict(board_config.flatten(old))
    changed = [(k, v) for k, v in board_config.flatten(new) if before.get(k) != v]
    for key, value in changed:
        print(f"{key} = {json.dumps(value)}")
    if not changed:
        print("nothing changed (the board already had these values)")
    return 0
