"""`dowel replay TRACE.csv`: run the firmware's own engine over a recorded or generated trace,
then print a summary (and, when no rep was seen, whether the thresholds fit the trace)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from host_tools.errors import UsageError

HELP = "run the firmware's debounce and rep logic on a trace (CSV) and print the events"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("trace", type=Path, help="CSV: t_ms,head,midback,sacrum[,pitch_deg]")
    p.add_argument("--config", type=Path, help="a dowel.json to use instead of the defaults")
    p.add_argument("--json", action="store_true", help="one JSON object per event per line")


def load_config(path: Path | None) -> dict:
    from dowel import config

    if path is None:
        return config.defaults()
    try:
        text = path.read_text()
    except OSError as exc:
        raise UsageError(f"cannot read config {path}: {exc.strerror}") from None
    try:
        return config.validate(json.loads(text))
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not JSON ({exc.msg}, line {exc.lineno})") from None
    except config.ConfigError as exc:
        raise UsageError(f"{path}: {exc}") from None


def format_event(e: dict) -> str:
    rest = {k: v for k, v in e.items() if k not in ("t_ms", "event") and v is not None}
    detail = " ".join(f"{k}={v}" for k, v in rest.items())
    return f"{e['t_ms']:>8} ms  {e['event']:<9} {detail}".rstrip()


def run(args: argparse.Namespace) -> int:
    from host_tools.sim.replay import read_trace, replay, summary

    cfg = load_config(args.config)
    samples, has_pitch = read_trace(args.trace)
    events = []
    for event in replay(samples, has_pitch, cfg):
        events.append(event)
        print(json.dumps(event) if args.json else format_event(event))
    # With --json, stdout stays one event per line for programs; the summary is for the reader.
    out = sys.stderr if args.json else sys.stdout
    for line in summary(events, samples, cfg):
        print(line, file=out)
    return 0
