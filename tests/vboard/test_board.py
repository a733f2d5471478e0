"""The virtual board as a board: flash that survives restarts, the watchdog, resets, the
simulated peripherals, one board per name and per flash image, no process left behind, and
`dowel vboard start|status|stop`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from mpremote.transport_serial import SerialTransport

from host_tools.errors import DeviceError
from host_tools.vboard import VirtualBoard, running_port
from host_tools.vboard.state import pid_alive, read_state

from .conftest import flash_file, mpremote, need_interpreter, put, wait_until

pytestmark = pytest.mark.vboard


def test_flash_persists_across_board_restarts(flash):
    need_interpreter()
    with VirtualBoard.start(flash_dir=flash) as board:
        mpremote(
            board.port,
            "exec",
            "import os\nos.mkdir('logs')\n"
            "with open('logs/s1.dwl', 'wb') as f:\n f.write(b'\\x01\\x02rep')",
        )
    assert flash_file(flash, "logs/s1.dwl") == b"\x01\x02rep"  # in the littlefs image
    with VirtualBoard.start(flash_dir=flash) as board:
        out = mpremote(board.port, "exec", "print(open('logs/s1.dwl', 'rb').read())").stdout
    assert out == "b'\\x01\\x02rep'\n"


def test_file_kept_open_reaches_the_flash(board):
    # A log the firmware keeps open and flushes: on the host within a fraction of a second.
    mpremote(
        board.port,
        "exec",
        "import builtins\nf = open('open.log', 'w')\nf.write('line 1')\n"
        "f.flush()\nbuiltins.keep = f",
    )

    def flushed():
        try:
            return flash_file(board, "open.log") == b"line 1"
        except FileNotFoundError:
            return False

    wait_until(flushed, 2, "the flushed log")


def test_watchdog_resets_the_board_and_says_so(board):
    link = SerialTransport(board.port, baudrate=115200)
    try:
        link.enter_raw_repl(soft_reset=False)
        assert link.eval("__import__('machine').reset_cause()") == 1  # PWRON_RESET
        link.exec("import machine\nw = machine.WDT(timeout=300)\nw.feed()")
        link.exit_raw_repl()  # the REPL idles; nobody feeds the WDT
        console = link.read_until(1, b"task_wdt: Aborting.", timeout=3)
        assert b"task_wdt: Task watchdog got triggered" in console
        link.read_until(1, b">>> ", timeout=5)  # a fresh boot, to the friendly REPL
        link.enter_raw_repl(soft_reset=False)
        assert link.eval("__import__('machine').reset_cause()") == 3  # WDT_RESET
    finally:
        link.close()
    assert (mpremote_reset_kinds(board)) == ["wdt"]


def mpremote_reset_kinds(board) -> list[str]:
    return [v for _, k, v in board.outputs(("reset",)) if v != "soft"]


def test_watchdog_resets_a_board_stuck_in_a_loop(board):
    # The loop never yields; the daemon keeps the watchdog, as the ESP32's timer hardware does.
    mpremote(
        board.port,
        "exec",
        "--no-follow",
        "import machine\nw = machine.WDT(timeout=300)\nwhile True:\n pass",
    )
    wait_until(lambda: "wdt" in mpremote_reset_kinds(board), 5, "the WDT reset")
    board.wait_booted()
    # `resume`: a plain exec would soft-reset first and read SOFT_RESET (5).
    out = mpremote(
        board.port, "resume", "exec", "import machine; print(machine.reset_cause())"
    ).stdout
    assert out == "3\n"


def test_machine_reset_and_soft_reset(board):
    mpremote(board.port, "exec", "--no-follow", "import machine; machine.reset()")
    wait_until(lambda: "hard" in mpremote_reset_kinds(board), 3, "the reset")
    board.wait_booted()
    # `resume`: no soft reset first, so the cause is the hard reset's (HARD_RESET = 2) ...
    out = mpremote(board.port, "resume", "exec", "import machine; print(machine.reset_cause())")
    assert out.stdout == "2\n"
    # ... while a plain `exec` soft-resets the board first (SOFT_RESET = 5).
    out = mpremote(board.port, "exec", "import machine; print(machine.reset_cause())")
    assert out.stdout == "5\n"
    out = mpremote(
        board.port,
        "exec",
        "x = 1",
        "exec",
        "--no-follow",
        "import machine; machine.soft_reset()",
        "exec",
        "print('x' in globals())",
    )
    assert out.stdout == "False\n"


def test_timers_run_and_stop_at_soft_reset(board):
    board.idle()
    mpremote(
        board.port,
        "exec",
        "import machine\nled = machine.Pin(2, machine.Pin.OUT)\n"
        "t = machine.Timer(0)\nt.init(period=20, mode=machine.Timer.PERIODIC, "
        "callback=lambda _: led.value(1 - led.value()))",
    )
    time.sleep(0.3)
    toggles = len(board.outputs(("led",)))
    assert toggles >= 5
    mpremote(board.port, "soft-reset")
    n = len(board.outputs(("led",)))
    time.sleep(0.3)
    assert len(board.outputs(("led",))) == n  # the soft reset stopped the timer


def test_peripherals_match_the_pin_map(board):
    out = mpremote(
        board.port,
        "exec",
        """
from machine import ADC, I2C, PWM, Pin
try:
    Pin(34, Pin.OUT)
except ValueError as e:
    print('input only:', e)
try:
    ADC(Pin(23))
except ValueError as e:
    print('no adc:', e)
i2c = I2C(0, scl=Pin(22), sda=Pin(21), freq=400000)
print(i2c.scan(), i2c.readfrom_mem(0x68, 0x75, 1), i2c.readfrom_mem(0x68, 0x3B, 2))
i2c.writeto_mem(0x68, 0x6B, b'\\x00')
b = i2c.readfrom_mem(0x68, 0x3B, 6)
az = (b[4] << 8 | b[5])
print('az g', round(az / 16384, 1))
pwm = PWM(Pin(25), freq=2000, duty_u16=32768)
pwm.duty_u16(0)
""",
    ).stdout.splitlines()
    assert out[0] == "input only: pin can only be input"
    assert out[1] == "no adc: invalid pin for ADC"
    assert out[2] == "[104] b'h' b'\\x00\\x00'"  # WHO_AM_I; asleep after power-up: zeros
    assert out[3] == "az g 1.0"  # idle dowel lying flat: gravity out of the back (Z)
    tones = [v for _, k, v in board.outputs(("tone",))]
    assert tones[-2:] == [2000, 0]


def test_board_without_imu(flash):
    need_interpreter()
    with VirtualBoard.start(flash_dir=flash, imu=False) as board:
        out = mpremote(
            board.port,
            "exec",
            "from machine import I2C, Pin\n"
            "i2c = I2C(0, scl=Pin(22), sda=Pin(21))\nprint(i2c.scan())\n"
            "try:\n i2c.readfrom_mem(0x68, 0x75, 1)\nexcept OSError as e:\n print(e)",
        )
    assert out.stdout == "[]\n[Errno 19] ENODEV\n"


def test_rtc_starts_unset_and_keeps_time_across_soft_reset(board):
    out = mpremote(
        board.port,
        "exec",
        "import machine, time\n"
        "print(machine.RTC().datetime()[:3], time.localtime()[:3])\n"
        "machine.RTC().datetime((2026, 3, 4, 2, 10, 20, 30, 0))",
    ).stdout
    assert out == "(2000, 1, 1) (2000, 1, 1)\n"
    out = mpremote(board.port, "soft-reset", "exec", "import time; print(time.localtime()[:5])")
    assert out.stdout == "(2026, 3, 4, 10, 20)\n"


def test_second_board_on_a_busy_name_or_flash_is_refused(board, tmp_path):
    with pytest.raises(DeviceError, match="already running.*dowel vboard stop"):
        VirtualBoard.start(flash_dir=tmp_path / "other-flash")
    with pytest.raises(DeviceError, match="flash image .* is in use"):
        VirtualBoard.start(flash_dir=board.flash_dir, name="second")
    assert mpremote(board.port, "exec", "print('still fine')").stdout == "still fine\n"


def test_stop_leaves_no_process_behind(flash):
    need_interpreter()
    board = VirtualBoard.start(flash_dir=flash)
    pids = (board.pid, board.board_pid)
    assert all(pid_alive(p) for p in pids)
    board.stop()
    assert not any(pid_alive(p) for p in pids)
    assert read_state() is None and not os.path.lexists(board.port)
    board.stop()  # idempotent


def test_board_dies_with_the_process_that_started_it(tmp_path):
    need_interpreter()
    code = (
        "import sys, time\nfrom host_tools.vboard import VirtualBoard\n"
        f"b = VirtualBoard.start(flash_dir={str(tmp_path / 'f')!r})\n"
        "print(b.pid, b.board_pid, flush=True)\ntime.sleep(60)\n"
    )
    owner = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(x) for x in owner.stdout.readline().split()]
        assert len(pids) == 2 and all(pid_alive(p) for p in pids)
        os.kill(owner.pid, signal.SIGKILL)  # a test run killed mid-way: no finalizer runs
        owner.wait()
        wait_until(lambda: not any(pid_alive(p) for p in pids), 5, "the board to exit")
    finally:
        owner.kill()
        owner.wait()


def dowel(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "host_tools", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_cli_start_status_stop(tmp_path):
    need_interpreter()
    started = dowel("vboard", "start", "--flash", str(tmp_path / "f"), "--scenario", "quick")
    assert started.returncode == 0, started.stderr
    port = started.stdout.strip().splitlines()[-1]
    try:
        assert port == running_port() and os.path.realpath(port).startswith("/dev/pts/")
        assert "quick" in dowel("vboard", "status").stdout
        assert mpremote(port, "exec", "print('hello')").stdout == "hello\n"
        again = dowel("vboard", "start")
        assert again.returncode == 1
        assert "already running" in again.stderr and "dowel vboard stop" in again.stderr
        pids = (read_state()["pid"], read_state()["board_pid"])
    finally:
        stopped = dowel("vboard", "stop")
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert running_port() is None and not any(pid_alive(p) for p in pids)
    assert dowel("vboard", "status").returncode == 1


def test_main_that_outgrows_the_heap_ends_with_memoryerror(board, tmp_path):
    # The unix port would grow its heap without end; `-X heapsize` holds it to the ESP32's.
    put(
        board,
        "main.py",
        "import asyncio\nkeep = []\nasync def main():\n    while True:\n"
        "        keep.append(bytearray(2048))\n        await asyncio.sleep_ms(5)\n"
        "asyncio.run(main())\n",
        tmp_path,
    )
    link = SerialTransport(board.port, baudrate=115200)
    try:
        link.serial.write(b"\x04")  # soft reset at the friendly prompt: main.py runs
        console = link.read_until(1, b">>> ", timeout=10)
    finally:
        link.close()
    assert b"MemoryError: memory allocation failed" in console
    # The next soft reset frees it all: the heap is back at its size after boot.
    out = mpremote(board.port, "exec", "import gc; gc.collect(); print(gc.mem_free())")
    assert int(out.stdout) > board.status()["heap"]["free"] - 4096


def test_long_data_dir_paths_still_work(tmp_path, monkeypatch):
    need_interpreter()
    home = tmp_path / ("d" * 60) / ("e" * 60)
    monkeypatch.setenv("DOWEL_HOME", str(home))
    with VirtualBoard.start(flash_dir=tmp_path / "f") as board:
        assert len(board.control) < 108  # AF_UNIX limit: the socket moved to the temp dir
        assert mpremote(board.port, "exec", "print(1)").stdout == "1\n"
