"""Board support of the virtual dowel board (runs on the WebAssembly interpreter at every boot).

    _board.setup("/flash")          # mount the flash, install time, asyncio.run
    _board.run_file("main.py", globals())

- The flash: the host directory mirrored at /flash in the interpreter's memory filesystem is
  mounted at "/" through `FlashVfs`, which turns the WASI errno numbers of the interpreter's
  POSIX layer (ENOENT = 44) into MicroPython's (ENOENT = 2), as an ESP32 raises them. Without
  it `e.errno == errno.ENOENT` is false on the board and `mpremote fs cp` fails.
- `asyncio.run(main())`: this port has none, and the interpreter only returns to JavaScript
  (where serial input, timers and garbage collection happen) between task steps. `run` starts
  `main()` as a task and returns at once; the board (vboard/lib/board.mjs) treats the task as
  main.py still running: the REPL waits for it, Ctrl-C throws KeyboardInterrupt into it (its
  `finally` blocks run), and when it ends the traceback is printed and the REPL starts. Code
  placed after `asyncio.run(...)` in main.py therefore runs right away: keep main.py to the call.
"""

import asyncio
import gc
import sys
from asyncio import core as _core

import _vb
import vfs

# WASI errno (Emscripten) -> MicroPython errno (py/mperrno.h, the numbers an ESP32 raises).
_ERRNO = {
    63: 1,  # EPERM
    44: 2,  # ENOENT
    29: 5,  # EIO
    8: 9,  # EBADF
    6: 11,  # EAGAIN
    48: 12,  # ENOMEM
    2: 13,  # EACCES
    20: 17,  # EEXIST
    43: 19,  # ENODEV
    54: 20,  # ENOTDIR
    31: 21,  # EISDIR
    28: 22,  # EINVAL
    51: 28,  # ENOSPC
    69: 30,  # EROFS
    37: 36,  # ENAMETOOLONG
    55: 39,  # ENOTEMPTY
    58: 95,  # ENOTSUP -> EOPNOTSUPP
    73: 110,  # ETIMEDOUT
}

_FLASH_BLOCK = 4096
_FLASH_BLOCKS = 512  # a 2 MB filesystem partition, as on a 4 MB ESP32 module


def _oserror(e):
    n = e.errno
    return OSError(_ERRNO.get(n, n))


class FlashVfs:
    """The board's flash: a VfsPosix rooted at the mirror of the host directory."""

    def __init__(self, root):
        self._v = vfs.VfsPosix(root)
        # VfsPosix(root).rename loses its first path (both go through one shared buffer in
        # vfs_posix.c): rename through a root-less VfsPosix with full paths instead.
        self._root = root.rstrip("/")
        self._abs = vfs.VfsPosix()

    def _full(self, path):
        # As VfsPosix does: an absolute path is under the root, a relative one under the cwd.
        return self._root + path if path.startswith("/") else path

    def mount(self, readonly, mkfs):
        pass

    def umount(self):
        pass

    def ilistdir(self, path):
        try:
            return self._sized(path, self._v.ilistdir(path))
        except OSError as e:
            raise _oserror(e)

    def _sized(self, path, entries):
        # VfsPosix lists (name, type, inode); littlefs on an ESP32 adds the size, which
        # `mpremote fs ls` shows.
        base = path.rstrip("/") + "/"
        for e in entries:
            if len(e) >= 4:
                yield e
            else:
                size = 0 if e[1] == 0x4000 else self._v.stat(base + e[0])[6]
                yield (e[0], e[1], e[2], size)

    def chdir(self, path):
        try:
            return self._v.chdir(path)
        except OSError as e:
            raise _oserror(e)

    def getcwd(self):
        return self._v.getcwd()

    def mkdir(self, path):
        try:
            return self._v.mkdir(path)
        except OSError as e:
            raise _oserror(e)

    def remove(self, path):
        try:
            return self._v.remove(path)
        except OSError as e:
            raise _oserror(e)

    def rename(self, old, new):
        try:
            return self._abs.rename(self._full(old), self._full(new))
        except OSError as e:
            raise _oserror(e)

    def rmdir(self, path):
        try:
            return self._v.rmdir(path)
        except OSError as e:
            raise _oserror(e)

    def stat(self, path):
        try:
            return self._v.stat(path)
        except OSError as e:
            raise _oserror(e)

    def __repr__(self):
        return "<FlashVfs>"

    def statvfs(self, path):
        used = (_vb.flash_used(_FLASH_BLOCK) + _FLASH_BLOCK - 1) // _FLASH_BLOCK
        free = max(0, _FLASH_BLOCKS - used)
        return (_FLASH_BLOCK, _FLASH_BLOCK, _FLASH_BLOCKS, free, free, 0, 0, 0, 0, 255)

    def open(self, path, mode):
        try:
            return self._v.open(path, mode)
        except OSError as e:
            raise _oserror(e)


_main = None  # the task asyncio.run started
_main_exc = None  # how it ended: None, or the exception
_orig_run_iter = _core._run_iter


def _run_iter_guarded():
    # A BaseException (KeyboardInterrupt, SystemExit) escaping a task other than main's
    # wrapper would otherwise propagate into JavaScript and leave asyncio half-way.
    try:
        _orig_run_iter()
    except BaseException as e:  # noqa: B036
        _core.cur_task = _core._top_level_task
        _end_main(e)


async def _wrap(coro):
    try:
        await coro
    except BaseException as e:  # noqa: B036 - main.py ends on any exception, as on a board
        _end_main(e)
        return
    _end_main(None)


def _end_main(exc):
    global _main_exc
    if _main is None or _main_exc is not None:
        if exc is not None and not isinstance(exc, SystemExit):
            sys.print_exception(exc)
        return
    _main_exc = exc if exc is not None else False
    _vb.main_done()


def run(coro):
    """asyncio.run for this port: start `coro` as the board's main task and return."""
    global _main, _main_exc
    if _main is not None:
        raise RuntimeError("asyncio.run() called while another main task runs")
    _main_exc = None
    _main = _core.create_task(_wrap(coro))
    _vb.main_started()


def interrupt(exc_type=KeyboardInterrupt):
    """Ctrl-C: throw `exc_type` into the main task where it waits, as a board raises it."""
    t = _main
    if t is None or _main_exc is not None or not t.state:
        return False
    if not t.cancel():
        return False
    while isinstance(t.data, _core.Task):
        t = t.data
    t.data = exc_type()
    return True


def teardown():
    """After main ends: drop every other task, as leaving asyncio.run does on a board."""
    global _main
    _main = None
    if _core.asyncio_timer is not None:
        import js

        js.clearTimeout(_core.asyncio_timer)
        _core.asyncio_timer = None
    asyncio.new_event_loop()


def report():
    """Print how main ended, as pyexec does for main.py (nothing for SystemExit)."""
    print(report_text(), end="")


def report_text():
    """How main ended, as traceback text ("" when it returned or exited)."""
    global _main_exc
    exc = _main_exc
    _main_exc = None
    if not exc or isinstance(exc, SystemExit):
        return ""
    return _exc_text(exc)


def _exc_text(e):
    # Without this module's own frames, so the traceback reads like a board's.
    import io

    buf = io.StringIO()
    sys.print_exception(e, buf)
    return "\n".join(ln for ln in buf.getvalue().split("\n") if "_board.py" not in ln)


def run_file(name, g):
    """pyexec_file: run a flash file in the __main__ globals `g`; print its traceback."""
    try:
        with open(name) as f:
            src = f.read()
    except OSError:
        return False
    try:
        exec(compile(src, name, "exec"), g)
    except SystemExit:
        pass
    except BaseException as e:  # noqa: B036
        print(_exc_text(e), end="")
    return True


def heap_live():
    return gc.mem_alloc()


def setup(root):
    import _vbgc
    import _vbtime

    sys.modules["time"] = _vbtime
    sys.modules["utime"] = _vbtime
    sys.modules["gc"] = _vbgc
    import machine  # noqa: F401 - the board has it built in

    vfs.umount("/")
    vfs.mount(FlashVfs(root), "/")
    import os

    os.chdir("/")
    asyncio.run = run
    _core._run_iter = _run_iter_guarded
    gc.collect()
