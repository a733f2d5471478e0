"""What an ESP32_GENERIC does from reset to the REPL, on the unix port (run as its script with
`-i`, so the port's own REPL, shared/runtime/pyexec.c as on the ESP32, follows).

ports/esp32/main.c, mp_task: mount the flash (modules/_boot.py: littlefs v2 on the `vfs`
partition, made on first boot by inisetup.py), run boot.py, then main.py unless the raw REPL
is active (a host soft-reset the board into it) or boot.py failed, then the REPL. Here first:
`time`, `select` and `machine` are replaced by the board's (_vbtime, _vbselect, _vbmachine)
before anything imports them, and the unix port's host-folder root is swapped for the flash.

Environment (set by host_tools/vboard/daemon.py): VB_IMAGE flash image, VB_BOOT friendly|raw,
VB_DIR the daemon's directory (_vbhw), VB_RESET_CAUSE, VB_UID, VB_IMU, VB_RTC_OFFSET_US,
VB_TICKS_BASE_US. One-shot runs (host_tools/vboard/interp.py): VB_BOOT=oneshot, VB_ROOT a host
folder for the file system, VB_CODE the file of code to run.

Markers `ESC _ vb:NAME ESC \\` on the console tell the daemon where boot is (it strips them):
up (the flash is mounted; Ctrl-C may now reach the interpreter), main (main.py starts), repl
(the REPL follows).
"""

import sys


def _mark(name):
    sys.stdout.write("\x1b_vb:" + name + "\x1b\\")


import os  # noqa: E402

import _vbtime  # noqa: E402

sys.modules["time"] = _vbtime
import _vbselect  # noqa: E402

sys.modules["select"] = _vbselect
import _vbmachine  # noqa: E402

sys.modules["machine"] = _vbmachine
import asyncio  # noqa: E402, F401 - imported now, with the board's time and select
import gc  # noqa: E402

import _vbflash  # noqa: E402
import _vbhw  # noqa: E402
import micropython  # noqa: E402
import vfs  # noqa: E402

_BOOT_PY = """\
# This file is executed on every boot (including wake-boot from deepsleep)
#import esp
#esp.osdebug(None)
#import webrepl
#webrepl.start()
"""


def _mount():
    image = os.getenv("VB_IMAGE")
    if not image:
        root = vfs.VfsPosix(os.getenv("VB_ROOT") or ".")
        vfs.umount("/")
        vfs.mount(root, "/")
        os.chdir("/")
        return
    bdev = _vbflash.Flash(image)  # opened on the host's file system, before it goes
    vfs.umount("/")
    try:
        vfs.mount(bdev, "/")
    except OSError:
        # inisetup.setup(): a blank partition is formatted and given a boot.py.
        vfs.VfsLfs2.mkfs(bdev)
        vfs.mount(bdev, "/")
        with open("boot.py", "w") as f:
            f.write(_BOOT_PY)
    os.chdir("/")


def _run(name, g):
    """pyexec_file_if_exists: 1 if the file ran to its end or is absent, 0 if it raised,
    -1 for a soft reset asked for by SystemExit."""
    try:
        with open(name) as f:
            src = f.read()
    except OSError:
        return 1
    try:
        exec(compile(src, name, "exec"), g)
        return 1
    except SystemExit:
        return -1
    except BaseException as e:  # noqa: B036 - a board prints every uncaught exception
        sys.print_exception(e)
        return 0


def _boot():
    mode = os.getenv("VB_BOOT") or "friendly"
    if mode == "oneshot":
        with open(os.getenv("VB_CODE")) as f:
            code = f.read()  # before the host's file system goes away
    while True:
        try:
            _mount()
            break
        except KeyboardInterrupt:
            pass  # a Ctrl-C during the mount: _boot.py cannot be interrupted on a board
    sys.path[:] = ["", ".frozen", "/lib"]
    # From here the host's Ctrl-C may interrupt (the daemon held it back while the board's
    # modules loaded and the flash was mounted, as an ESP32's _boot.py is not interrupted).
    _mark("up")
    gc.collect()
    _vbhw.event(_vbhw.EV_HEAP, 0, gc.mem_free(), gc.mem_alloc())
    g = globals()
    if mode == "oneshot":
        try:
            exec(compile(code, "<stdin>", "exec"), {"__name__": "__main__"})
        except SystemExit as e:
            raise e
        except BaseException as e:  # noqa: B036
            sys.print_exception(e, sys.stderr)
            sys.exit(1)
        sys.exit(0)
    ret = _run("boot.py", g)
    if ret > 0 and mode == "friendly":
        _mark("main")
        ret = _run("main.py", g)
    if ret < 0:
        sys.exit(0)  # soft reset: the daemon starts the next boot
    # As pyexec does once main.py has ended: Ctrl-C is input again, not an interrupt (the
    # rest of this script is the board's, not the program's).
    micropython.kbd_intr(-1)
    _mark("repl")


_boot()
for _name in ("_mark", "_mount", "_run", "_boot", "_BOOT_PY", "_name"):
    globals().pop(_name, None)
gc.collect()
