"""`dowel vboard start|stop|status`: a virtual dowel board in the background.

    dowel vboard start [--flash DIR] [--no-imu] [--scenario NAME]   # prints the port last
    mpremote connect "$(dowel vboard start | tail -1)" exec "print(1)"
    dowel vboard status
    dowel vboard stop

The board runs the real MicroPython interpreter (WebAssembly, Node) with a simulated ESP32 and
patient; its flash persists in a directory (default: under the data dir) across restarts.
"""

from __future__ import annotations

import argparse
import json

from host_tools.vboard import state

HELP = "run a virtual dowel board in the background: start, stop, status"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    start = sub.add_parser("start", help="start a board; prints its port as the last line")
    start.add_argument("--flash", metavar="DIR", help="the board's flash directory (kept)")
    start.add_argument("--no-imu", action="store_true", help="a board without the MPU6050")
    start.add_argument("--scenario", metavar="NAME", help="play a scenario (name or JSON file)")
    start.add_argument("--heap-kb", type=int, default=128, help="heap size (default 128)")
    for p in (
        start,
        sub.add_parser("stop", help="stop the board"),
        sub.add_parser("status", help="is a board running, on which port"),
    ):
        p.add_argument("--name", default=state.DEFAULT_NAME, help=argparse.SUPPRESS)
    sub.choices["status"].add_argument("--json", action="store_true", help="machine-readable")


def run(args: argparse.Namespace) -> int:
    from host_tools.vboard import VirtualBoard

    if args.action == "start":
        if args.scenario:
            from host_tools.sim import load_scenario

            load_scenario(args.scenario)  # a bad name fails before a board starts
        board = VirtualBoard.start(
            flash_dir=args.flash,
            imu=not args.no_imu,
            name=args.name,
            heap_kb=args.heap_kb,
            detach=True,
        )
        if args.scenario:
            tl = board.play(args.scenario)
            print(f"playing scenario {tl.name} ({tl.duration_ms / 1000:.1f} s)")
        print(
            f"virtual board {board.name!r} running (pid {board.pid}), flash in {board.flash_dir}"
        )
        print("stop it with `dowel vboard stop`; its port:")
        print(board.port)
        return 0
    board = VirtualBoard.running(args.name)
    if args.action == "stop":
        if board is None:
            print(f"no virtual board {args.name!r} is running")
            return 0
        board.stop()
        print(f"virtual board {args.name!r} stopped")
        return 0
    if board is None:
        if args.json:
            print(json.dumps({"running": False}))
        else:
            print(
                f"no virtual board {args.name!r} is running; start one with `dowel vboard start`"
            )
        return 1
    info = board.status()
    info.pop("ok", None)
    if args.json:
        print(json.dumps({"running": True, **info}, indent=1))
        return 0
    heap = info.get("heap") or {}
    print(f"virtual board {info['name']!r} running (pid {info['pid']}, up {info['uptime_s']} s)")
    print(
        f"  port:   {info['port']} -> {info['pty']}" + (" (in use)" if info["connected"] else "")
    )
    print(f"  flash:  {info['flash']}")
    print(f"  imu:    {'MPU6050 at 0x68' if info['imu'] else 'none'}")
    print(f"  state:  {info['mode']}" + (" (raw REPL)" if info.get("raw_repl") else ""))
    if heap.get("peak"):
        print(f"  heap:   peak {heap['peak']} bytes live of {heap['limit']}")
    if info.get("scenario"):
        print(f"  playing {info['scenario']} for {info['playing_ms'] / 1000:.1f} s")
    return 0
