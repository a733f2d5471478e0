"""Everything mpremote 1.27 does, through the real CLI, against the virtual board as against an
ESP32 (issue 11, point 7): fs (ls, cat, cp both ways and -r, mkdir, rm -r, touch, sha256sum,
tree), exec/eval/run/resume/soft-reset, mount with input() and sys.stdin, mip install from a
local package, a RAM disk on vfs.VfsFat, MicroPython's errno values, and 200 back-to-back
commands. The old WebAssembly board had neither VfsFat nor VfsLfs2 (`mip`, `tree`, the fs
tests of mpremote's own suite failed) and `mount`/`input()` could not work on it."""

from __future__ import annotations

import hashlib
import json
import time

import pytest

from .conftest import MPREMOTE, Console, flash_file, mpremote

pytestmark = pytest.mark.vboard


def test_fs_commands(board, tmp_path):
    src = tmp_path / "tree"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("alpha\n")
    (src / "sub" / "b.bin").write_bytes(bytes(range(256)) * 20)
    port = board.port
    mpremote(port, "fs", "mkdir", ":data")
    mpremote(port, "fs", "cp", "-r", str(src), ":data/")
    listing = mpremote(port, "fs", "ls", ":data/tree").stdout
    assert "a.txt" in listing and "sub/" in listing
    assert mpremote(port, "fs", "cat", ":data/tree/a.txt").stdout == "alpha\n"
    assert flash_file(board, "data/tree/sub/b.bin") == (src / "sub" / "b.bin").read_bytes()
    digest = hashlib.sha256((src / "sub" / "b.bin").read_bytes()).hexdigest()
    assert digest in mpremote(port, "fs", "sha256sum", ":data/tree/sub/b.bin").stdout
    mpremote(port, "fs", "touch", ":data/empty")
    assert "0 empty" in mpremote(port, "fs", "ls", ":data").stdout
    tree = mpremote(port, "fs", "tree", ":data").stdout
    assert "b.bin" in tree and "a.txt" in tree and "empty" in tree
    back = tmp_path / "back"
    mpremote(port, "fs", "cp", "-r", ":data/tree", str(back))
    assert (back / "sub" / "b.bin").read_bytes() == (src / "sub" / "b.bin").read_bytes()
    assert (back / "a.txt").read_text() == "alpha\n"
    mpremote(port, "fs", "rm", "-r", ":data")
    assert "data" not in mpremote(port, "fs", "ls").stdout


def test_exec_eval_run_resume_soft_reset(board, tmp_path):
    port = board.port
    assert mpremote(port, "eval", "6 * 7").stdout == "42\n"
    script = tmp_path / "s.py"
    script.write_text("import sys\nprint('run', sys.implementation.name)\nkept = 9\n")
    assert mpremote(port, "run", str(script)).stdout == "run micropython\n"
    # `resume` keeps the interpreter's state (no soft reset); a plain exec starts afresh.
    out = mpremote(port, "exec", "kept = 3", "resume", "exec", "print(kept)").stdout
    assert out == "3\n"
    out = mpremote(port, "exec", "kept = 3", "soft-reset", "exec", "print('kept' in globals())")
    assert out.stdout == "False\n"


def test_mount_input_and_stdin_through_the_console(board, tmp_path):
    """`mpremote mount DIR repl`: the board imports from the host folder; input() and
    sys.stdin.read() are answered from the terminal."""
    (tmp_path / "ask.py").write_text("name = input('name? ')\nprint('hello', name)\n")
    (tmp_path / "raw.py").write_text("import sys\nprint('got', sys.stdin.read(3))\n")
    console = Console(MPREMOTE, "connect", board.port, "mount", str(tmp_path), "repl")
    try:
        console.expect(b"Use Ctrl-] or Ctrl-x to exit this shell")
        console.wait_raw()
        console.send(b"\r")
        console.expect(b">>> ")
        console.send(b"import ask\r")
        console.expect(b"name? ")
        console.send(b"Bob\r")
        console.expect(b"hello Bob\r\n")
        console.expect(b">>> ")
        console.send(b"import raw\r")
        time.sleep(0.3)
        console.send(b"xyz")
        console.expect(b"got xyz\r\n")
        console.send(b"\x1d")
        assert console.close() == 0
    finally:
        console.close(timeout=1)


def test_mip_install_from_a_local_package(board, tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "greet").mkdir(parents=True)
    (pkg / "greet" / "__init__.py").write_text("def hi():\n    return 'hi from mip'\n")
    (pkg / "package.json").write_text(
        json.dumps({"urls": [["greet/__init__.py", "greet/__init__.py"]], "version": "0.1"})
    )
    out = mpremote(board.port, "mip", "install", str(pkg / "package.json")).stdout
    assert "Installing" in out
    assert flash_file(board, "lib/greet/__init__.py").startswith(b"def hi")
    assert mpremote(board.port, "exec", "import greet; print(greet.hi())").stdout == (
        "hi from mip\n"
    )


RAMDISK = """
import os, vfs

class RamBlocks:
    def __init__(self, size, count):
        self.size = size
        self.data = bytearray(size * count)

    def readblocks(self, n, buf):
        off = n * self.size
        buf[:] = self.data[off : off + len(buf)]

    def writeblocks(self, n, buf):
        off = n * self.size
        self.data[off : off + len(buf)] = buf

    def ioctl(self, op, arg):
        if op == 4:
            return len(self.data) // self.size
        if op == 5:
            return self.size
        return 0

bdev = RamBlocks(512, 64)
vfs.VfsFat.mkfs(bdev)
vfs.mount(vfs.VfsFat(bdev), '/ram')
with open('/ram/note.txt', 'w') as f:
    f.write('on the ram disk')
print(open('/ram/note.txt').read(), os.listdir('/ram'), os.statvfs('/ram')[0])
vfs.umount('/ram')
"""


def test_ram_disk_on_vfsfat(board):
    out = mpremote(board.port, "exec", RAMDISK).stdout
    assert out == "on the ram disk ['note.txt'] 512\n"


def test_errno_values_are_micropythons(board):
    code = """
import errno, os
def err(f, *a):
    try:
        f(*a)
    except OSError as e:
        return e.errno
os.mkdir('d')
open('d/f', 'w').close()
print(err(open, 'nope'), err(os.mkdir, 'd'), err(open, 'd', 'w'), err(os.rmdir, 'd'))
print(errno.ENOENT, errno.EEXIST, errno.EISDIR)  # the errno module has no ENOTEMPTY
"""
    out = mpremote(board.port, "exec", code).stdout.splitlines()
    assert out == ["2 17 21 39", "2 17 21"]


@pytest.mark.slow
def test_200_back_to_back_host_commands_all_succeed(board, tmp_path):
    """Issue 11, done when: 200 host commands in a row, none failing (the old board failed
    1-3 of 20 `dowel config show` with "could not enter raw repl")."""
    cfg = json.dumps({"patient": "P-0001", "loss_ms": 120})
    mpremote(board.port, "exec", f"with open('cfg.json', 'w') as f:\n    f.write({cfg!r})")
    commands = [
        ("exec", "print(6 * 7)"),
        ("fs", "ls"),
        ("exec", "import json; print(json.load(open('cfg.json'))['loss_ms'])"),
        ("eval", "1 + 1"),
    ]
    expect = ["42\n", None, "120\n", "2\n"]
    times = []
    failures = []
    for i in range(200):
        k = i % len(commands)
        t = time.monotonic()
        proc = mpremote(board.port, *commands[k], check=False)
        times.append(time.monotonic() - t)
        if proc.returncode != 0 or (expect[k] is not None and proc.stdout != expect[k]):
            failures.append((i, commands[k], proc.stdout, proc.stderr[-300:]))
    times.sort()
    print(
        f"200 commands: total {sum(times):.1f} s, median {times[100] * 1000:.0f} ms, "
        f"worst {times[-1] * 1000:.0f} ms"
    )
    assert not failures, failures[:3]
