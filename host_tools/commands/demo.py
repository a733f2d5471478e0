"""`dowel demo`: the main job. With no dowel plugged in, the whole product on a virtual board."""

from __future__ import annotations

import argparse

HELP = "watch the dowel work end to end (on a virtual board when no dowel is plugged in)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--scenario", default="demo", help="the simulated patient's scenario (default: demo)"
    )


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from host_tools.demo import run_virtual
    from host_tools.ports import VIRTUAL, likely_ports

    console = Console()
    real = [p for p in likely_ports() if p.kind != VIRTUAL]
    if real:
        console.print(
            f"A dowel seems to be plugged in on {real[0].device} ({real[0].kind}). The demo runs "
            "on a virtual board and leaves your dowel alone; to use yours: `dowel flash`, "
            "`dowel calibrate --patient ID`, then `dowel logs pull`.",
            highlight=False,
        )
    run_virtual(console, scenario=args.scenario)
    return 0
