"""`dowel vboard start|stop|status`: a virtual dowel board in the background.

    dowel vboard start [--flash IMAGE] [--imu 6050|6500|none] [--scenario NAME]   # port last
    mpremote connect "$(dowel vboard start | tail -1)" exec "print(1)"
    dowel vboard status
    dowel vboard power-cut [--after-ops N] [--torn]     # cut the power at a flash write
    dowel vboard power cycle|brownout
    dowel vboard stop

The board runs the native MicroPython interpreter (the unix port) as an ESP32_GENERIC would run:
littlefs on a flash image (default: under the data dir, kept across restarts), the 100 Hz tick,
the ESP32's heap, Ctrl-C as a pending KeyboardInterrupt; with a simulated patient
(vboard/README.md).
"""

from __future__ import annotations

import argparse
import json

from host_tools.vboard import state

HELP = "run a virtual dowel board in the background: start, stop, status"


# Below this the firmware does not finish booting and `start` would wait out its timeout
# (64 KiB boots with ~65 KB free; 48 does not: measured 2026-12-02).
MIN_HEAP_KB = 64


def heap_kb(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of KiB") from None
    if value < MIN_HEAP_KB:
        raise argparse.ArgumentTypeError(
            f"{value} KiB is too small for the firmware to boot: give at least {MIN_HEAP_KB}"
        )
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    start = sub.add_parser("start", help="start a board; prints its port as the last line")
    start.add_argument(
        "--flash", metavar="IMAGE", help="the board's flash image (.img; kept), or its folder"
    )
    start.add_argument(
        "--imu",
        choices=("6050", "6500", "none"),
        default="6050",
        help="the IMU fitted: MPU6050 (default), MPU-6500, or none",
    )
    start.add_argument("--no-imu", action="store_true", help=argparse.SUPPRESS)
    start.add_argument("--scenario", metavar="NAME", help="play a scenario (name or JSON file)")
    start.add_argument(
        "--heap-kb",
        type=heap_kb,
        default=None,
        help=f"MicroPython heap, at least {MIN_HEAP_KB} (default: an ESP32_GENERIC's)",
    )
    cut = sub.add_parser("power-cut", help="cut the power just before a flash write or erase")
    cut.add_argument(
        "--after-ops",
        type=int,
        default=0,
        metavar="N",
        help="let N more flash writes/erases through first (default 0)",
    )
    cut.add_argument("--torn", action="store_true", help="half of the cut program lands")
    power = sub.add_parser("power", help="switch the board off and on, or dip its supply")
    power.add_argument("kind", choices=("cycle", "brownout"))
    for p in (
        start,
        sub.add_parser("stop", help="stop the board"),
        sub.add_parser("status", help="is a board running, on which port"),
        cut,
        power,
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
            imu=False if args.no_imu or args.imu == "none" else args.imu,
            name=args.name,
            heap_kb=args.heap_kb,
            detach=True,
        )
        if args.scenario:
            try:
                tl = board.play(args.scenario)
            except BaseException:
                board.stop()  # a board the user was told failed must not keep running
                raise
            print(f"playing scenario {tl.name} ({tl.duration_ms / 1000:.1f} s)")
        print(
            f"virtual board {board.name!r} running (pid {board.pid}), flash in {board.flash_dir}"
        )
        print("stop it with `dowel vboard stop`; its port:")
        print(board.port)
        return 0
    board = VirtualBoard.running(args.name)
    if args.action in ("power-cut", "power"):
        if board is None:
            print(f"no virtual board {args.name!r} is running: `dowel vboard start` first")
            return 1
        if args.action == "power":
            board.power_cycle(args.kind)
            print(f"virtual board {args.name!r}: power {args.kind}; it boots again by itself")
        else:
            board.power_cut(args.after_ops, torn=args.torn)
            print(
                f"virtual board {args.name!r}: the power goes before flash operation "
                f"{args.after_ops + 1} from now{' (a torn write)' if args.torn else ''}"
            )
        return 0
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
    imu = {"6050": "MPU6050 at 0x68", "6500": "MPU-6500 at 0x68"}.get(info["imu"], "none")
    print(f"  imu:    {imu}")
    print(f"  state:  {info['mode']}" + (" (raw REPL)" if info.get("raw_repl") else ""))
    if heap.get("free"):
        print(f"  heap:   {heap['free']} bytes free after boot ({info['heap_kb']} KiB heap)")
    if info.get("scenario"):
        print(f"  playing {info['scenario']} for {info['playing_ms'] / 1000:.1f} s")
    return 0
