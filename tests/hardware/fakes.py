"""A raw REPL without a board, for deploy tests: an mpremote `Transport` whose `exec_raw` runs
the host's code strings on CPython against a temporary directory standing in for the board's
flash. `os`, `open` and `sys` are swapped for MicroPython-like ones (ilistdir, statvfs,
sys.implementation._mpy), so the very code deploy sends is what runs; mpremote's own
`fs_writefile` drives it unchanged.

    board = FakeBoard(tmp_path)
    link = Link(board, port="fake")
    deploy(link)
    board.files()            # {"/main.py": b"...", "/dowel/app.mpy": b"...", ...}

Faults: `corrupt[path] = n` flips a byte in the next n writes of `path` (through its temporary
name); `fat=True` makes rename refuse an existing target, as FAT does.
"""

from __future__ import annotations

import ast
import builtins
import errno
import io
import json
import os
import traceback
import types
from pathlib import Path

from mpremote.transport import Transport, TransportExecError

MICROPYTHON_1_27 = ("micropython", (1, 27, 0, ""), 0x306)


class _Serial:
    def __init__(self):
        self.written = b""

    def write(self, data):
        self.written += data


class FakeBoard(Transport):
    def __init__(
        self,
        root: Path,
        *,
        impl=MICROPYTHON_1_27,
        free: int = 1_500_000,
        fat: bool = False,
        answer_version: str | None = None,
    ):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.impl = impl
        self.free = free
        self.fat = fat
        self.answer_version = answer_version  # None: read it from the uploaded manifest
        self.corrupt: dict[str, int] = {}
        self.writes: list[str] = []  # board paths opened for writing, in order
        self.soft_resets = 0
        self.closed = False
        self.serial = _Serial()
        self._reset_namespace()

    # -- the board's flash ---------------------------------------------------------------

    def host_path(self, path: str) -> Path:
        if not path.startswith("/"):
            path = "/" + path
        return self.root / path.lstrip("/")

    def files(self) -> dict[str, bytes]:
        return {
            "/" + p.relative_to(self.root).as_posix(): p.read_bytes()
            for p in sorted(self.root.rglob("*"))
            if p.is_file()
        }

    def put(self, path: str, data: bytes) -> None:
        target = self.host_path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    # -- MicroPython-like modules ----------------------------------------------------------

    def _os(self):
        board = self

        def _oserror(exc: OSError):
            return OSError(exc.errno or errno.EIO, errno.errorcode.get(exc.errno or 5, "EIO"))

        def mkdir(p):
            try:
                board.host_path(p).mkdir()
            except FileExistsError:
                raise OSError(errno.EEXIST, "EEXIST") from None

        def remove(p):
            try:
                board.host_path(p).unlink()
            except OSError as exc:
                raise _oserror(exc) from None

        def rename(a, b):
            src, dst = board.host_path(a), board.host_path(b)
            if not src.exists():
                raise OSError(errno.ENOENT, "ENOENT")
            if board.fat and dst.exists():
                raise OSError(errno.EEXIST, "EEXIST")
            os.replace(src, dst)

        def stat(p):
            try:
                st = board.host_path(p).stat()
            except OSError as exc:
                raise _oserror(exc) from None
            mode = 0x4000 if board.host_path(p).is_dir() else 0x8000
            return (mode, 0, 0, 0, 0, 0, st.st_size, 0, 0, 0)

        def statvfs(_p):
            return (4096, 4096, 512, board.free // 4096, board.free // 4096, 0, 0, 0, 0, 255)

        def ilistdir(p="/"):
            d = board.host_path(p)
            if not d.is_dir():
                raise OSError(errno.ENOENT, "ENOENT")
            for e in sorted(d.iterdir()):
                yield (
                    e.name,
                    0x4000 if e.is_dir() else 0x8000,
                    0,
                    0 if e.is_dir() else e.stat().st_size,
                )

        return types.SimpleNamespace(
            mkdir=mkdir,
            remove=remove,
            rename=rename,
            stat=stat,
            statvfs=statvfs,
            ilistdir=ilistdir,
        )

    def _open(self, path, mode="r"):
        target = self.host_path(path)
        if "w" in mode or "a" in mode:
            final = path[:-4] if path.endswith(".tmp") else path
            self.writes.append(path)
            f = open(target, mode)  # noqa: SIM115 - handed to the board code
            if self.corrupt.get(final, 0) > 0:
                self.corrupt[final] -= 1
                real_close = f.close

                def close_corrupted():
                    real_close()
                    data = bytearray(target.read_bytes())
                    if data:
                        data[-1] ^= 0xFF
                    target.write_bytes(bytes(data))

                f.close = close_corrupted  # type: ignore[method-assign]
            return f
        try:
            return open(target, mode)
        except FileNotFoundError:
            raise OSError(errno.ENOENT, "ENOENT") from None

    def _dowel_package(self):
        """`dowel` on this board: a fake `info` (the version a flash left in the manifest) and
        the real device modules, each run from source against this board's open and os."""
        board = self

        def version():
            from dowel.version import CONFIG, PROTOCOL

            if board.answer_version is not None:
                return (board.answer_version, PROTOCOL, CONFIG)
            manifest = board.host_path("/dowel/manifest.json")
            if not manifest.exists():
                raise ImportError("no module named 'dowel.info'")
            said = json.loads(manifest.read_text())
            return (said["firmware"], said["protocol"], said["config"])

        class Package(types.SimpleNamespace):
            def __getattr__(self, name):
                return board._device_module(name)

        return Package(info=types.SimpleNamespace(version=version))

    def _device_module(self, name: str):
        """The real `dowel/<name>.py`, run once per soft reset against this board's flash."""
        from host_tools.paths import device_dir

        if name not in self._modules:
            source = (device_dir() / "dowel" / f"{name}.py").read_text()
            module = {"__builtins__": self.namespace["__builtins__"], "__name__": "dowel." + name}
            exec(compile(source, f"dowel/{name}.py", "exec"), module)
            self._modules[name] = types.SimpleNamespace(**module)
        return self._modules[name]

    def _reset_namespace(self):
        board = self
        name, version, mpy = self.impl
        fake_sys = types.SimpleNamespace(
            implementation=types.SimpleNamespace(name=name, version=version, _mpy=mpy),
            platform="esp32",
        )

        def _import(modname, globals_=None, locals_=None, fromlist=(), level=0):
            if modname == "os":
                return board._os()
            if modname == "sys":
                return fake_sys
            if modname == "dowel":
                return board._dowel_package()
            if modname.startswith("dowel."):
                name = modname.split(".")[1]
                # `import dowel.x as m` takes `x` from the package; `from dowel.x import y`
                # takes `y` from the module itself.
                package = board._dowel_package()
                return getattr(package, name) if fromlist else package
            return builtins.__import__(modname, globals_, locals_, fromlist, level)

        self._modules: dict[str, types.SimpleNamespace] = {}
        self._out = io.StringIO()
        fake_builtins = dict(vars(builtins))
        fake_builtins.update(
            __import__=_import,
            open=self._open,
            print=lambda *a, **k: builtins.print(*a, **{**k, "file": board._out}),
        )
        self.namespace = {"__builtins__": fake_builtins, "__name__": "__main__"}

    # -- the raw REPL surface mpremote and Link use ----------------------------------------

    def exec_raw(self, command, timeout=10, data_consumer=None):
        if isinstance(command, bytes):
            command = command.decode()
        self._out = io.StringIO()
        try:
            exec(compile(command, "<stdin>", "exec"), self.namespace)
        except Exception:  # noqa: BLE001 - reported to the host, as the board would
            tb = traceback.format_exc().splitlines()
            return self._out.getvalue().encode(), (
                "Traceback (most recent call last):\n" + tb[-1] + "\n"
            ).encode()
        return self._out.getvalue().encode(), b""

    def exec(self, command, data_consumer=None):
        out, err = self.exec_raw(command)
        if err:
            raise TransportExecError(out, err.decode())
        if data_consumer:
            data_consumer(out)
        return out

    def eval(self, expression, parse=True):
        out = self.exec(f"print(repr({expression}))").strip()
        return ast.literal_eval(out.decode()) if parse else out

    def enter_raw_repl(self, soft_reset=True, timeout_overall=10):
        if soft_reset:
            self.soft_resets += 1
            self._reset_namespace()

    def exit_raw_repl(self):
        pass

    def close(self):
        self.closed = True


class SimDowel:
    """A built dowel behind `link.call`, on a simulated clock, for the self-test flow.

    `touches` are (pad, start_s, end_s): the pad is pressed over that time whatever the host is
    prompting, as a scripted patient does. `wiring[pad]` is the pin index the pad is soldered
    to (a swap is a permutation); pins in `dead` read ~0 whatever is pressed (cut wire);
    `preload` adds a constant to a pin at rest; pins in `floating` wander (no resistor).
    `imu`: None (not fitted) or (g_milli, tilt_after_s): the pitch goes from 0 to 45 degrees
    that long after the host first reads the IMU (None: never tilted); `who_am_i` is what
    its WHO_AM_I reads. `battery_mv`: the cell through the divider (None: no cell switched in).
    `cues` records each cue played, by name.
    """

    FIRMWARE = None  # filled from dowel.version at first use

    def __init__(
        self,
        touches=(),
        *,
        wiring=(0, 1, 2),
        dead=(),
        preload=None,
        floating=(),
        rest=(900, 1100, 700),
        press=35000,
        imu=(1000, 1.0),
        has_selftest=True,
        who_am_i=0x68,
        battery_mv=3900,
    ):
        import random

        self.touches = list(touches)
        self.wiring = wiring
        self.dead = set(dead)
        self.preload = preload or {}
        self.floating = set(floating)
        self.rest = rest
        self.press = press
        self.imu_spec = imu
        self.has_selftest = has_selftest
        self.now = 0.0
        self.rng = random.Random(7)
        self.beeps: list[tuple[int, int]] = []
        self.led_states: list[bool] = []
        self.port = "sim"
        self.first_imu_s: float | None = None
        self.who_am_i = who_am_i
        self.battery_mv = battery_mv
        self.cues: list[str] = []

    def clock(self) -> float:
        return self.now

    def reading(self, pin: int, t: float) -> int:
        if pin in self.dead:
            return self.rng.randint(0, 60)
        if pin in self.floating:
            return self.rng.randint(0, 40000)
        level = self.rest[pin] + self.preload.get(pin, 0)
        for pad, start, end in self.touches:
            if self.wiring[pad] == pin and start <= t < end:
                level = self.press
        return max(0, min(65535, level + self.rng.randint(-150, 150)))

    def call(self, module, function, *args, timeout=10):
        from host_tools.errors import DeviceError

        self.now += 0.01  # a raw-REPL round trip
        if module == "dowel.info" and function == "version":
            from dowel.version import CONFIG, FIRMWARE, PROTOCOL

            return (FIRMWARE, PROTOCOL, CONFIG)
        if module == "dowel.config" and function == "read":  # the command's config check
            from dowel import config

            return (config.defaults(), None)
        if module == "dowel.fault" and function in ("last", "clear"):
            return None
        if module != "dowel.selftest":
            raise AssertionError(f"unexpected call {module}.{function}")
        if not self.has_selftest:
            raise DeviceError(
                "the board reported an error: Traceback (most recent call last):"
                "\nImportError: no module named 'dowel.selftest'"
            )
        if function == "window":
            ms = args[0]
            times = [self.now + k * 0.005 for k in range(ms // 5 + 1)]
            self.now += ms / 1000
            samples = [[self.reading(pin, t) for pin in range(3)] for t in times]
            return (
                tuple(min(s[i] for s in samples) for i in range(3)),
                tuple(max(s[i] for s in samples) for i in range(3)),
            )
        if function == "beep":
            self.beeps.append(args)
            self.now += args[1] / 1000
            return args[0]
        if function == "led":
            self.led_states.append(bool(args[0]))
            return bool(args[0])
        if function == "imu":
            if self.imu_spec is None:
                return (False, 0, 0)
            g_milli, tilt_after = self.imu_spec
            if self.first_imu_s is None:
                self.first_imu_s = self.now
            tilted = tilt_after is not None and self.now >= self.first_imu_s + tilt_after
            return (True, 450 if tilted else 0, g_milli)
        if function == "imu_chip":
            if self.imu_spec is None:
                return (-1, "")
            from dowel.imu import chip_for

            chip = chip_for(self.who_am_i)
            return (self.who_am_i, chip.name if chip else "")
        if function == "cue":
            from dowel import cues

            pattern = getattr(cues, args[0])
            self.cues.append(args[0])
            self.now += (sum(pattern[1::2]) + (args[1] if len(args) > 1 else 0)) / 1000
            return sum(pattern[1::2])
        if function == "battery":
            from dowel import battery

            if self.battery_mv is None:
                return (False, 0, 0)
            return (True, self.battery_mv, battery.percent(self.battery_mv))
        raise AssertionError(f"unexpected call {function}")
