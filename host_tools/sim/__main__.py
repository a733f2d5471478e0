"""python -m host_tools.sim: render scenarios to replay traces, list them, show their truth.

python -m host_tools.sim render demo --out trace.csv [--step-ms 5] [--build weak] [--seed 3]
python -m host_tools.sim truth quick
python -m host_tools.sim list
"""

from __future__ import annotations

import argparse
import json
import sys

from host_tools.errors import DowelError
from host_tools.sim import builds, list_scenarios, load_scenario, render


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m host_tools.sim", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("render", help="write a replay trace (t_ms,head,midback,sacrum,pitch_deg)")
    r.add_argument("scenario", help="a shipped scenario name or a JSON file")
    r.add_argument("--out", required=True, help="the CSV file to write")
    r.add_argument("--step-ms", type=int, default=5, help="row spacing in ms (default 5)")
    r.add_argument("--build", help="override the patient build (e.g. weak, strong)")
    r.add_argument("--seed", type=int, help="override the scenario's seed")
    t = sub.add_parser("truth", help="print the scenario's ground truth as JSON")
    t.add_argument("scenario")
    t.add_argument("--build")
    t.add_argument("--seed", type=int)
    sub.add_parser("list", help="list the shipped scenarios and builds")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "list":
            for name in list_scenarios():
                sc = load_scenario(name)
                print(f"{name:12} {sc['description']}")
            print("builds:", ", ".join(builds()))
            return 0
        tl = render(load_scenario(args.scenario), build=args.build, seed=args.seed)
        if args.cmd == "truth":
            print(json.dumps(tl.truth, indent=1))
            return 0
        rows = tl.to_csv(args.out, step_ms=args.step_ms)
        print(
            f"{args.out}: {rows} rows, {tl.duration_ms / 1000:.1f} s, "
            f"{len(tl.truth['losses'])} losses, {len(tl.truth['wobbles'])} wobbles"
        )
        return 0
    except DowelError as exc:
        print(f"dowel: {exc}", file=sys.stderr)
        return exc.exit_status


if __name__ == "__main__":
    raise SystemExit(main())
