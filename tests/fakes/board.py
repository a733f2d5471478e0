"""A dowel without a board: an mpremote `Transport` whose raw REPL runs the host's code strings
on CPython, with the firmware's real modules (`device/dowel/*.py`, run from source) against a
temporary directory standing in for the board's flash. The code sees MicroPython's `os`, `sys`,
`time`, `micropython` and `machine` (`tests/fakes/machine.py`, on a virtual clock), so the very
strings `Link`, `host_tools.board.api`, deploy and mpremote's own `fs_writefile` send are what
run, and what they leave is files under `root`.

    board = FakeBoard(tmp_path / "flash")
    link = Link(board, port="fake")
    api.read_config(link)               # dowel.config.read() on the board: root/dowel.json
    board.calls                         # [("dowel.info", "version"), ("dowel.config", "read")]
    board.args_of("dowel.selftest", "beep")   # [(2000, 300)]: what each such call was given
    board.device("logstore").Log()      # the board's own module, to log as the firmware does

The board keeps one interpreter until a soft reset (`enter_raw_repl(soft_reset=True)`): the
device modules' state (`dowel.running`, the stream's schedule) lasts across calls, as after the
host's Ctrl-C; the flash, the RTC and the clock outlast a reset.

Firmware: `firmware=True` (the default) is this checkout's dowel firmware, installed.
`firmware=False` is MicroPython alone until a flash has written /dowel/manifest.json; then
`dowel.info.version()` answers what the manifest recorded (the uploaded .mpy files cannot run
on CPython: the checkout's source runs in their place), or `answer_version`. `missing` names
modules the board's firmware lacks (an older release): importing one is MicroPython's
ImportError.

Faults: `die_at` the exec (1-based) at which the cable goes, `after` the board runs it first
(the answer is lost on its way); `corrupt_reads` flips a base64 character in every answer of
`dowel.loghost.read`; `corrupt[path] = n` flips a byte in the next n writes of `path` (through
its temporary name); `fat=True` makes rename refuse an existing target, as FAT does.

Time: the board's clock (`machine.clock`) moves only when its code sleeps, by `round_trip_ms`
at each exec (the raw REPL's round trip; 0 by default) and by `machine.read_us` at each ADC
read, so tests that date sessions from the board's ticks know them to the millisecond.
"""

from __future__ import annotations

import ast
import builtins
import errno
import io
import json
import os
import random
import re
import traceback
import types
from pathlib import Path

from mpremote.transport import Transport, TransportError, TransportExecError

from host_tools.board.link import Link
from tests.fakes.machine import Machine, time_module

MICROPYTHON_1_27 = ("micropython", (1, 27, 0, ""), 0x306)

# The device call at the start of a code string: Link.call's and the stream's.
_CALL = re.compile(r"^import (dowel\.\w+) as (_\w+)\n(?:print\(repr\()?\2\.(\w+)\(", re.M)

_SOURCE: dict[Path, tuple[float, types.CodeType]] = {}  # compiled once per process
_COMMANDS: dict[str, types.CodeType] = {}  # the host sends the same strings again and again


def _device_code(path: Path) -> types.CodeType:
    mtime = path.stat().st_mtime
    cached = _SOURCE.get(path)
    if cached is None or cached[0] != mtime:
        name = "dowel/" + path.name
        cached = (mtime, compile(path.read_text(), name, "exec"))
        _SOURCE[path] = cached
    return cached[1]


def _call_of(command: str) -> tuple[str, str, tuple] | None:
    """(module, function, args) of the device call `command` makes, if it makes one."""
    found = _CALL.search(command)
    if not found:
        return None
    module, alias, function = found.groups()
    try:
        tree = ast.parse(command)
    except SyntaxError:  # the board will say so
        return module, function, ()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and (node.func.value.id, node.func.attr) == (alias, function)
        ):
            return module, function, tuple(ast.literal_eval(a) for a in node.args)
    return module, function, ()


class _Serial:
    def __init__(self):
        self.written = b""

    def write(self, data):
        self.written += data


class _File:
    """A file on the board's flash, with MicroPython's `write(buf, off, n)`."""

    def __init__(self, f):
        self._f = f

    def write(self, data, start=0, n=-1):
        if start or n >= 0:
            data = bytes(memoryview(data)[start : None if n < 0 else start + n])
        return self._f.write(data)

    def close(self):
        self._f.close()

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __iter__(self):
        return iter(self._f)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class FakeBoard(Transport):
    def __init__(
        self,
        root: Path,
        *,
        machine: Machine | None = None,
        firmware: bool = True,
        missing: tuple[str, ...] = (),
        answer_version: str | None = None,
        impl=MICROPYTHON_1_27,
        free: int = 1_500_000,
        fat: bool = False,
        die_at: int | None = None,
        after: bool = False,
        corrupt_reads: bool = False,
        round_trip_ms: int = 0,
    ):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.machine = machine or Machine()
        self.clock = self.machine.clock
        self.firmware = firmware
        self.missing = set(missing)
        self.answer_version = answer_version
        self.impl = impl
        self.free = free
        self.fat = fat
        self.die_at = die_at
        self.after = after
        self.corrupt_reads = corrupt_reads
        self.round_trip_ms = round_trip_ms
        self.corrupt: dict[str, int] = {}
        self.writes: list[str] = []  # board paths opened for writing, in order
        self.log: list[tuple[str, str, tuple]] = []  # device calls: (module, function, args)
        self.execs = 0
        self.dead = False
        self.soft_resets = 0
        self.closed = False
        self.serial = _Serial()
        self._pending: str | None = None
        self._reset_interpreter()

    # -- the board's flash ---------------------------------------------------------------

    def host_path(self, path: str) -> Path:
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

    @property
    def calls(self) -> list[tuple[str, str]]:
        """The device calls made, in order, as (module, function)."""
        return [(module, function) for module, function, _ in self.log]

    def args_of(self, module: str, function: str) -> list[tuple]:
        """The arguments of each call of `module.function`, in order."""
        return [args for m, f, args in self.log if (m, f) == (module, function)]

    # -- the firmware, as this interpreter has it --------------------------------------------

    def device(self, name: str) -> types.ModuleType:
        """The board's `dowel.<name>` (loaded now if no code imported it yet)."""
        return self._load("dowel." + name)

    def _installed(self) -> bool:
        return self.firmware or self.host_path("/dowel/manifest.json").exists()

    def _load(self, modname: str) -> types.ModuleType:
        if modname in self._modules:
            return self._modules[modname]
        name = modname.partition(".")[2]
        source = self._source_dir / f"{name}.py"
        if not self._installed() or name in self.missing or not source.exists():
            raise ImportError(f"no module named '{modname}'")
        module = types.ModuleType(modname)
        module.__dict__["__builtins__"] = self._builtins
        self._modules[modname] = module  # before it runs: the firmware's imports may cycle
        try:
            exec(_device_code(source), module.__dict__)
        except BaseException:
            del self._modules[modname]
            raise
        if name == "info" and not self.firmware:
            module.version = self._manifest_version
        setattr(self._package, name, module)
        return module

    def _manifest_version(self):
        from dowel.version import CONFIG, PROTOCOL

        if self.answer_version is not None:
            return (self.answer_version, PROTOCOL, CONFIG)
        said = json.loads(self.host_path("/dowel/manifest.json").read_text())
        return (said["firmware"], said["protocol"], said["config"])

    # -- MicroPython's modules ------------------------------------------------------------

    def _os(self):
        board = self

        def oserror(exc: OSError):
            code = exc.errno or errno.EIO
            return OSError(code, errno.errorcode.get(code, "EIO"))

        def mkdir(p):
            try:
                board.host_path(p).mkdir()
            except OSError as exc:
                raise oserror(exc) from None

        def remove(p):
            try:
                board.host_path(p).unlink()
            except OSError as exc:
                raise oserror(exc) from None

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
                raise oserror(exc) from None
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
            listdir=lambda p="/": [e[0] for e in ilistdir(p)],
            urandom=os.urandom,
        )

    def _open(self, path, mode="r", *args, **kwargs):
        target = self.host_path(path)
        if "w" in mode or "a" in mode:
            final = path[:-4] if path.endswith(".tmp") else path
            self.writes.append(path)
            try:
                f = _File(open(target, mode, *args, **kwargs))  # noqa: SIM115 - the board's
            except OSError as exc:
                raise OSError(exc.errno or errno.EIO, "") from None
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
            return _File(open(target, mode, *args, **kwargs))  # noqa: SIM115 - the board's
        except FileNotFoundError:
            raise OSError(errno.ENOENT, "ENOENT") from None
        except IsADirectoryError:
            raise OSError(errno.EISDIR, "EISDIR") from None

    def _reset_interpreter(self):
        board = self
        name, version, mpy = self.impl

        def print_exception(exc, file=None):
            text = "".join(traceback.format_exception(exc))
            (file or board._out).write(text)

        def exit_(code=0):
            raise SystemExit(code)

        from host_tools.paths import device_dir

        self._source_dir = device_dir() / "dowel"
        self._modules: dict[str, types.ModuleType] = {}
        self._package = types.ModuleType("dowel")
        self._modules["dowel"] = self._package
        modules = {
            "os": self._os(),
            "sys": types.SimpleNamespace(
                implementation=types.SimpleNamespace(name=name, version=version, _mpy=mpy),
                platform="esp32",
                print_exception=print_exception,
                exit=exit_,
                modules=self._modules,
            ),
            "time": time_module(self.clock),
            "machine": self.machine,
            "micropython": types.SimpleNamespace(
                const=lambda x: x,
                heap_lock=lambda: 0,
                heap_unlock=lambda: 0,
                alloc_emergency_exception_buf=lambda n: None,
            ),
            "gc": types.SimpleNamespace(
                collect=lambda: None,
                mem_free=lambda: 100_000,
                mem_alloc=lambda: 10_000,
            ),
        }

        def _import(modname, globals_=None, locals_=None, fromlist=(), level=0):
            if modname in modules:
                return modules[modname]
            if modname == "dowel" or modname.startswith("dowel."):
                if not board._installed():
                    raise ImportError(f"no module named '{modname}'")
                if modname != "dowel":
                    module = board._load(modname)
                    # `from dowel.x import y` takes `y` from the module itself; `import
                    # dowel.x as m` takes `x` from the package.
                    return module if fromlist else board._package
                for name in fromlist or ():
                    board._load("dowel." + name)
                return board._package
            return builtins.__import__(modname, globals_, locals_, fromlist, level)

        self._out = io.StringIO()
        fake_builtins = dict(vars(builtins))
        fake_builtins.update(
            __import__=_import,
            open=self._open,
            print=lambda *a, **k: builtins.print(*a, **{**k, "file": k.get("file", board._out)}),
        )
        self._builtins = fake_builtins
        self.namespace = {"__builtins__": fake_builtins, "__name__": "__main__"}

    # -- the raw REPL surface mpremote and Link use ----------------------------------------

    def _run(self, command) -> tuple[bytes, bytes]:
        if isinstance(command, bytes):
            command = command.decode()
        if self.dead:
            raise TransportError("could not enter raw repl")
        self.execs += 1
        if self.execs == self.die_at and not self.after:
            self.dead = True
            raise TransportError("device disconnected")
        call = _call_of(command)
        if call:
            self.log.append(call)
        self.clock.advance_ms(self.round_trip_ms)
        self._out = io.StringIO()
        err = b""
        try:
            code = _COMMANDS.get(command)
            if code is None:
                if len(_COMMANDS) > 1000:  # deploy's chunks are each sent once
                    _COMMANDS.clear()
                code = _COMMANDS[command] = compile(command, "<stdin>", "exec")
            exec(code, self.namespace)
        except Exception:  # noqa: BLE001 - reported to the host, as the board would
            last = traceback.format_exc().strip().splitlines()[-1]
            err = ("Traceback (most recent call last):\n" + last + "\n").encode()
        out = self._out.getvalue().encode()
        if self.corrupt_reads and call and call[:2] == ("dowel.loghost", "read"):
            # One flipped base64 character: the bytes decode, but wrong.
            text = bytearray(out)
            i = text.index(b"'") + 2
            text[i] = ord("A") if text[i] != ord("A") else ord("B")
            out = bytes(text)
        if self.execs == self.die_at:
            self.dead = True
            raise TransportError("device disconnected")
        return out, err

    def exec_raw(self, command, timeout=10, data_consumer=None):
        return self._run(command)

    def exec_raw_no_follow(self, command):
        self._pending = command.decode() if isinstance(command, bytes) else command

    def follow(self, timeout, data_consumer=None):
        """The output of the code `exec_raw_no_follow` sent, in odd-sized pieces as from a
        serial port, then the end of the output (Ctrl-D)."""
        command, self._pending = self._pending, None
        assert command is not None, "follow without exec_raw_no_follow"
        out, err = self._run(command)
        if data_consumer is None:
            return out, err
        rng = random.Random(len(out))
        i = 0
        while i < len(out):
            n = rng.randint(1, 64)
            data_consumer(out[i : i + n])
            i += n
        data_consumer(b"\x04")
        return b"", err

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
        if self.dead:
            raise TransportError("could not enter raw repl")
        if soft_reset:
            self.soft_resets += 1
            self._reset_interpreter()

    def exit_raw_repl(self):
        pass

    def close(self):
        self.closed = True


def fake_link(flash: Path, **board_kw) -> Link:
    """A `Link` to a new FakeBoard on `flash` (its log store in flash/logs)."""
    return Link(FakeBoard(flash, **board_kw), port="fake")
