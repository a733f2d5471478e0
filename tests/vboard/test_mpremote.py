"""The real mpremote CLI, unchanged, against the virtual board: exec, fs cp both ways, fs ls,
fs rm, run, soft-reset, and the REPL interrupted with Ctrl-C (more in test_mpremote_all)."""

from __future__ import annotations

import os

import pytest

from .conftest import MPREMOTE, Console, flash_file, mpremote, put

pytestmark = pytest.mark.vboard

TICKER = """\
import asyncio

async def main():
    n = 0
    try:
        while True:
            print("tick", n)
            n += 1
            await asyncio.sleep_ms(100)
    finally:
        print("main cleaned up")

asyncio.run(main())
"""


def test_exec_runs_code_on_micropython(board):
    out = mpremote(board.port, "exec", "import sys; print(sys.implementation.name, 6 * 7)").stdout
    assert out == "micropython 42\n"


def test_fs_cp_both_ways_keeps_every_byte(board, tmp_path):
    data = os.urandom(100 * 1024)
    src, back = tmp_path / "random.bin", tmp_path / "back.bin"
    src.write_bytes(data)
    mpremote(board.port, "fs", "cp", str(src), ":random.bin", timeout=60)
    assert flash_file(board, "random.bin") == data  # in the board's littlefs image
    assert "102400 random.bin" in mpremote(board.port, "fs", "ls").stdout
    mpremote(board.port, "fs", "cp", ":random.bin", str(back), timeout=60)
    assert back.read_bytes() == data


def test_fs_ls_and_rm(board, tmp_path):
    (tmp_path / "a.txt").write_text("alpha\n")
    mpremote(board.port, "fs", "mkdir", ":d", "+", "fs", "cp", str(tmp_path / "a.txt"), ":d/a.txt")
    assert "a.txt" in mpremote(board.port, "fs", "ls", ":d").stdout
    assert mpremote(board.port, "fs", "cat", ":d/a.txt").stdout.endswith("alpha\n")
    mpremote(board.port, "fs", "rm", ":d/a.txt")
    assert "a.txt" not in mpremote(board.port, "fs", "ls", ":d").stdout
    mpremote(board.port, "fs", "rmdir", ":d")
    from host_tools.vboard import flashimg

    assert not flashimg.exists(board.flash_dir, "d")


def test_missing_file_is_enoent_as_on_a_board(board, tmp_path):
    proc = mpremote(board.port, "fs", "cp", ":nope.txt", str(tmp_path / "x"), check=False)
    assert proc.returncode == 1 and "No such file or directory" in proc.stderr
    out = mpremote(
        board.port,
        "exec",
        "import errno\ntry:\n open('nope.txt')\nexcept OSError as e:\n"
        " print(e.errno, e.errno == errno.ENOENT)",
    ).stdout
    assert out == "2 True\n"


def test_run_waits_for_asyncio_main(board, tmp_path):
    script = tmp_path / "script.py"
    script.write_text(
        "import asyncio\n"
        "async def main():\n"
        "    for i in range(3):\n"
        "        print('step', i)\n"
        "        await asyncio.sleep_ms(50)\n"
        "    print('main done')\n"
        "asyncio.run(main())\n"
    )
    assert mpremote(board.port, "run", str(script)).stdout == "step 0\nstep 1\nstep 2\nmain done\n"


def test_run_reports_the_traceback(board, tmp_path):
    script = tmp_path / "bad.py"
    script.write_text("print('before')\nraise ValueError('bad input')\n")
    proc = mpremote(board.port, "run", str(script), check=False)
    assert proc.returncode == 1
    assert "before" in proc.stdout and "ValueError: bad input" in proc.stdout + proc.stderr


def test_soft_reset_restarts_python_and_runs_boot_not_main(board, tmp_path):
    put(board, "boot.py", "booted = 'yes'\n", tmp_path)
    put(board, "main.py", "main_ran = True\n", tmp_path)
    out = mpremote(
        board.port,
        "exec",
        "x = 5",
        "exec",
        "print('x' in globals())",
        "soft-reset",
        "exec",
        "print('x' in globals(), booted, 'main_ran' in globals())",
    ).stdout
    assert out == "True\nFalse yes False\n"


def test_repl_ctrl_c_interrupts_main_and_ctrl_d_restarts_it(board, tmp_path):
    """Ctrl-C is a pending KeyboardInterrupt raised where the VM is, nearly always in asyncio's
    wait_io_event: it leaves run_until_complete and main's `finally` never runs, as on an
    ESP32 (the old board threw it into the task, so `finally` always ran)."""
    put(board, "main.py", TICKER, tmp_path)
    mpremote(board.port, "soft-reset")  # leaves the raw REPL: main.py runs at the next reset
    console = Console(MPREMOTE, "connect", board.port, "repl")
    try:
        console.expect(b"Use Ctrl-] or Ctrl-x to exit this shell")
        console.wait_raw()
        console.send(b"\x04")  # Ctrl-D at the friendly prompt: soft reboot, main.py runs
        console.expect(b"MPY: soft reboot")
        console.expect(b"tick 1")
        console.send(b"\x03")
        out = console.expect(b">>> ")
        assert b"KeyboardInterrupt" in out
        assert b"main cleaned up" not in out  # the task's `finally` did not run
        console.send(b"print(6 * 7)\r")
        assert b"42" in console.expect(b"42\r\n>>> ")
        console.send(b"\x04")
        console.expect(b"tick 1")  # main.py again, as after a board's soft reset
        console.send(b"\x03")
        console.expect(b">>> ")
        console.send(b"\x1d")  # Ctrl-]: leave mpremote
        assert console.close() == 0
    finally:
        console.close(timeout=1)
