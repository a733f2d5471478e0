"""The rep log's figures: bytes per rep on flash, and what a pull costs on the wire.

    rows = run()      # [(figure, value, compared against)], printed by `python -m bench`

Record sizes come from the real encoder (`dowel.logfmt`). A week of home practice (two sessions
a day of two or three sets of ten reps, a point lost in about a quarter of them, an IMU) is
written by the real `dowel.logstore.Log` into a temp dir, then pulled by the real
`host_tools.logs.pull.pull` through a transport that runs the device side under CPython and
counts bytes. The wire figure adds mpremote's raw-paste framing per call (its protocol: 3-byte
request, 4-byte grant, a flow-control byte per 256-byte window, end-of-data and two EOF
markers, the next prompt; the device prints "\\r\\n" line ends). Compared against mpremote's own
`fs cp` path (`Transport.fs_readfile`: `repr` of 256-byte chunks), computed on the same bytes.
"""

from __future__ import annotations

import io
import math
import random
import struct
import sys
import tempfile
import time
import traceback
import types
from contextlib import redirect_stdout
from datetime import datetime, timezone
from pathlib import Path

from dowel import logfiles, logfmt, logread, logstore

WINDOW = 256  # raw-paste flow-control window of the ESP32 port (MICROPY_REPL_STDIN_BUFFER_MAX)
BAUD = 115200
FS_BYTES = 2 * 1024 * 1024  # the ESP32 4 MB image's littlefs partition, about
TARGET_BYTES = 16
PROBE = logfmt.feedback_state(2, 2, 67, True)  # a probe set in a `faded 67` stage
FADED = logfmt.feedback_state(2, 2, 67, False)


def frame_overhead(code_len: int, out_len: int, err_len: int, out_lines: int) -> tuple[int, int]:
    """(host->device, device->host) bytes of one mpremote raw-paste exec beyond code/output."""
    to_dev = 3 + 1  # b"\x05A\x01", end-of-data b"\x04"
    to_host = 2 + 2 + max(0, math.ceil(code_len / WINDOW) - 1) + 1  # R\x01, window, acks, \x04
    to_host += out_lines + 1 + 1 + 1  # \n -> \r\n, EOF after output, EOF after error, ">"
    return to_dev, to_host


class CountingBoard:
    """The device side under CPython (real dowel.logstore on a temp dir), counting the bytes
    each exec would put on the wire."""

    def __init__(self, root: Path):
        self.root = root
        self.wire = 0
        self.calls = 0

    def exec_raw(self, code: str, timeout: float = 10):
        machine = types.ModuleType("machine")

        class RTC:
            def datetime(self, value=None):
                return value or (2025, 1, 1, 2, 0, 0, 0, 0)

        machine.RTC = RTC  # type: ignore[attr-defined]
        out = io.StringIO()
        err = b""
        saved = logfiles.ROOT, sys.modules.get("machine")
        logfiles.ROOT = str(self.root)
        sys.modules["machine"] = machine
        try:
            with redirect_stdout(out):
                exec(compile(code, "<stdin>", "exec"), {})
        except Exception:  # noqa: BLE001
            err = traceback.format_exc().encode()
        finally:
            logfiles.ROOT = saved[0]
            if saved[1] is None:
                sys.modules.pop("machine", None)
            else:
                sys.modules["machine"] = saved[1]
        data = out.getvalue().encode()
        a, b = frame_overhead(len(code.encode()), len(data), len(err), data.count(b"\n"))
        self.wire += len(code.encode()) + len(data) + len(err) + a + b
        self.calls += 1
        return data, err

    def exit_raw_repl(self):
        pass

    def close(self):
        pass


def fs_readfile_wire(data: bytes, chunk: int = 256) -> int:
    """Wire bytes mpremote's Transport.fs_readfile spends on `data` (repr of each chunk)."""
    total = 0

    def call(code: str, out: bytes) -> None:
        nonlocal total
        a, b = frame_overhead(len(code), len(out), 0, out.count(b"\n"))
        total += len(code) + len(out) + a + b

    call("f=open('/logs/00000001.dwl','rb')\nr=f.read", b"")
    for i in range(0, len(data) + 1, chunk):
        piece = data[i : i + chunk]
        call(f"print(repr(r({chunk})))", (repr(piece) + "\n").encode())
        if not piece:
            break
    call("f.close()", b"")
    return total


def week(rng: random.Random) -> list[list[tuple]]:
    """Sessions of a week at home, as add_rep argument tuples."""
    sessions = []
    for _day in range(7):
        for _slot in range(2):
            reps, t, seq = [], 0, 0
            for _set in range(rng.choice((2, 3))):
                for _ in range(10):
                    lower = rng.randint(1200, 2600)
                    pause = rng.randint(200, 1200)
                    rise = rng.randint(1000, 2200)
                    duration = lower + pause + rise
                    lost = rng.random() < 0.25
                    mask = rng.choice((1, 2, 4, 4, 4, 6)) if lost else 0
                    first = (mask & -mask).bit_length()
                    depth = rng.randint(350, 800)
                    reps.append(
                        (
                            seq,
                            t,
                            duration,
                            mask,
                            first,
                            rng.randint(300, duration) if lost else None,
                            rng.randint(100, depth) if lost else None,
                            depth,
                            lower,
                            pause,
                            rise,
                        )
                    )
                    seq += 1
                    t += duration + rng.randint(1500, 4500)
                t += rng.randint(45000, 120000)  # rest between sets
            sessions.append(reps)
    return sessions


def rep_size(*rep) -> int:
    p = logfmt.RepPacker()
    return p.pack(*rep)


def met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _frame_starts(data: bytes) -> list[int]:
    """Where each frame of a clean segment starts."""
    starts, pos = [], 0
    while pos < len(data):
        starts.append(pos)
        b0 = data[pos]
        n = data[pos + 1] if b0 & 31 == 31 else b0 & 31
        pos += (2 if b0 & 31 == 31 else 1) + n + 2
    return starts


def run() -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    clean = rep_size(0, 0, 4500, 0, 0, None, None, 650, 1800, 700, 2000)
    lost = rep_size(0, 0, 4500, 4, 3, 2100, 420, 650, 1800, 700, 2000)
    plain = rep_size(0, 0, 4500, 0, 0, None, None, None, None, None, None)
    plain_lost = rep_size(0, 0, 4500, 2, 2, 900, None, None, None, None, None)
    fixed = struct.calcsize("<HIHBBHhhHHH") + 2 + 2  # the same fields as a fixed struct + CRC
    target = f"target <= {TARGET_BYTES} B"
    rows.append(
        (
            "rep record, clean, IMU",
            f"{clean} B",
            f"{target}; fixed struct of the fields + CRC: {fixed} B",
        )
    )
    rows.append(("rep record, point lost, IMU", f"{lost} B", target))
    rows.append(("rep record, no IMU (clean / lost)", f"{plain} / {plain_lost} B", target))

    rng = random.Random(2025)
    sessions = week(rng)
    n_reps = sum(len(s) for s in sessions)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "logs"
        log = logstore.Log(root=str(root))
        for i, reps in enumerate(sessions):
            log.begin_session(
                b"\xa4\xcf\x12\x34\x56\x78", "0.1.0", b"\x01" * 8, "P-0001", None, 1000 + i, True
            )
            for k, rep in enumerate(reps):
                # Format 4: a probe set of ten opens the day's first session, feedback after.
                state = PROBE if i % 2 == 0 and k < 10 else FADED
                assert log.add_rep(*rep, feedback=state)
        log.close()
        segs = sorted(root.glob("*.dwl"))
        flash = sum(p.stat().st_size for p in segs)
        payload = b"".join(p.read_bytes() for p in segs)
        decoded = [r for p in segs for r in logread.decode(p.read_bytes()).reps]
        assert [r.fields() for r in decoded] == [r for s in sessions for r in s]
        sizes = [r.frame_bytes for r in decoded]
        long_form = sum(1 for r in decoded if r.frame_bytes > TARGET_BYTES)
        with_loss = sum(1 for r in decoded if r.lost_mask)
        rows.append(
            (
                "mean rep record, a week at home",
                f"{sum(sizes) / n_reps:.2f} B",
                f"{target} ({n_reps} reps, {with_loss} with a loss, {long_form} over 16 B)",
            )
        )
        frames = sum(
            1
            for p in segs
            for d in [p.read_bytes()]
            for i in _frame_starts(d)
            if d[i] >> 5 == logfmt.K_FEEDBACK
        )
        fb_bytes = frames * logfmt.FEEDBACK_FRAME
        per_rep = (sum(sizes) + fb_bytes) / n_reps
        rows.append(
            (
                "feedback frames (format 4), a week at home",
                f"{frames} x {logfmt.FEEDBACK_FRAME} B = {fb_bytes / n_reps:.2f} B per rep",
                f"rep record + feedback {per_rep:.2f} B per rep: {met(per_rep <= TARGET_BYTES)}",
            )
        )
        rows.append(
            (
                "flash per rep incl. session headers",
                f"{flash / n_reps:.2f} B",
                f"{len(sessions)} sessions of ~{n_reps // len(sessions)} reps; CSV export "
                f"row ~{_csv_row_bytes()} B",
            )
        )
        rows.append(
            (
                "flash for that week",
                f"{flash} B",
                f"~{FS_BYTES // flash} weeks fit in a {FS_BYTES // 2**20} MB file system",
            )
        )

        from host_tools.board.link import Link
        from host_tools.logs.pull import pull
        from host_tools.store import db

        board = CountingBoard(root)
        conn = db.connect(Path(tmp) / "bench.sqlite3")
        report = pull(
            Link(board, "bench"),
            conn,
            raw_base=Path(tmp) / "raw",
            now=datetime(2025, 1, 1, tzinfo=timezone.utc),
        )
        assert report.counts.reps_new == n_reps, report
        ratio = board.wire / len(payload)
        mp_ratio = fs_readfile_wire(payload) / len(payload)
        rows.append(
            (
                "pull: wire bytes per payload byte",
                f"{ratio:.2f}",
                f"mpremote fs cp (repr, 256 B chunks): {mp_ratio:.2f}",
            )
        )
        secs = board.wire * 10 / BAUD
        rows.append(
            (
                "pull of that week at 115200 baud",
                f"{secs:.1f} s ({board.calls} calls)",
                f"fs cp: {fs_readfile_wire(payload) * 10 / BAUD:.1f} s; excl. device CPU time",
            )
        )
        big = logstore.SEGMENT_BYTES
        rows.append(
            (
                "pull of a full 32 KB segment",
                f"{_segment_wire(big) * 10 / BAUD:.1f} s, {_segment_wire(big) / big:.2f} wire B/B",
                f"fs cp: {fs_readfile_wire(bytes(range(256)) * 128) / big:.2f} wire B/B "
                "(binary data)",
            )
        )
        conn.close()
        rows.append(_vboard_row(sessions, len(payload)))
    rows.append(_boot_scan_row())
    return rows


BOOT_SCAN = r"""
import json, os
import time
from dowel import logfiles, logfmt, logread, logstore
now_us = time.ticks_us
os.mkdir("/flash")
log = logstore.Log(root="/flash/logs")
log.begin_session(b"\x01" * 6, "0.1.0", b"\x01" * 8, "P-0001", None, 0, True)
seq = 0
t = 0
while log._seg == 1:
    log.add_rep(seq, t, 4500, 4 if seq % 4 == 0 else 0, 3 if seq % 4 == 0 else 0,
                2000 if seq % 4 == 0 else None, 300 if seq % 4 == 0 else None,
                650, 1800, 700, 2000)
    seq += 1
    t += 7000
log.close()
os.remove("/flash/logs/00000002.dwl")  # the rep that overflowed: segment 1 is now the last
size = os.stat("/flash/logs/00000001.dwl")[6]
seq -= 1
best = 1 << 30
for _ in range(3):
    t0 = now_us()
    logstore.Log(root="/flash/logs").close()
    best = min(best, time.ticks_diff(now_us(), t0))
print(json.dumps({"ms": best / 1000, "bytes": size, "reps": seq}))
"""


class _CountingSerial:
    """pyserial's Serial, counting every byte each way."""

    def __init__(self, real):
        self._real = real
        self.bytes = 0

    def read(self, n=1):
        data = self._real.read(n)
        self.bytes += len(data)
        return data

    def write(self, data):
        self.bytes += len(data)
        return self._real.write(data)

    def __getattr__(self, name):
        return getattr(self._real, name)


def _vboard_row(sessions: list[list[tuple]], payload: int) -> tuple[str, str, str]:
    """The same week pulled over the virtual board's serial port by the real mpremote
    transport, every byte counted: the firmware flashed as `dowel flash` does, the week's
    segments written into the board's littlefs, then `dowel logs pull`."""
    import os

    name = "pull over the virtual board's serial (measured)"
    try:
        from host_tools.vboard.client import VirtualBoard
    except ImportError:
        return (name, "not measured", "host_tools.vboard is not there")
    from host_tools.board.link import Link
    from host_tools.firmware.deploy import deploy
    from host_tools.logs.pull import pull
    from host_tools.store import db

    saved_home = os.environ.get("DOWEL_HOME")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["DOWEL_HOME"] = tmp
            logs = Path(tmp) / "logs"
            log = logstore.Log(root=str(logs))
            for i, reps in enumerate(sessions):
                log.begin_session(
                    b"\xa4\xcf\x12\x34\x56\x78", "0.1.0", b"\x01" * 8, "P-0001", None, i, True
                )
                for rep in reps:
                    log.add_rep(*rep)
            log.close()
            image = Path(tmp) / "flash.img"
            with VirtualBoard.start(flash_dir=image, name="bench-log") as board:
                with Link.open(board.port) as link:
                    deploy(link, Path(tmp) / "build")
                    link.exec("import os\ntry:\n os.mkdir('/logs')\nexcept OSError:\n pass")
                    for p in sorted(logs.iterdir()):
                        link.transport.fs_writefile("/logs/" + p.name, p.read_bytes())
                # Connect once the firmware runs again: a Ctrl-C that lands in the board's
                # own start-up (before its flash is on sys.path) leaves a REPL without it.
                board.wait_booted()
                time.sleep(0.5)
                conn = db.connect(Path(tmp) / "bench.sqlite3")
                with Link.open(board.port) as link:
                    counter = _CountingSerial(link.transport.serial)
                    link.transport.serial = counter
                    report = pull(link, conn)
                conn.close()
    except Exception as exc:  # noqa: BLE001 - a figure we could not take is said, not hidden
        last = [line.strip() for line in str(exc).splitlines() if line.strip()]
        return (name, "not measured", (last[-1] if last else type(exc).__name__)[:100])
    finally:
        if saved_home is None:
            os.environ.pop("DOWEL_HOME", None)
        else:
            os.environ["DOWEL_HOME"] = saved_home
    return (
        name,
        f"{counter.bytes / report.payload_bytes:.2f} wire B/B",
        f"{report.payload_bytes} B payload, {report.counts.reps_new} reps; the model "
        "above assumes the ESP32's 256-byte window",
    )


def _boot_scan_row() -> tuple[str, str, str]:
    """Boot recovery reads and checks the whole last segment: its cost when that is full."""
    try:
        from bench.mpbench import firmware_files
        from bench.mpbench import run as run_mp

        out = run_mp(BOOT_SCAN, firmware_files())
    except Exception as exc:  # noqa: BLE001 - a figure we could not take is said, not hidden
        return ("boot scan of a full segment (MicroPython)", "not measured", str(exc)[:80])
    return (
        "boot scan of a full segment (MicroPython)",
        f"{out['ms']:.0f} ms for {out['bytes']} B / {out['reps']} reps",
        "unix port on this host (host folder, not littlefs); an ESP32 runs it slower",
    )


def _segment_wire(size: int) -> float:
    chunks = math.ceil(size / 3072)
    per = len("import dowel.loghost as _m\nprint(repr(_m.read('00000001.dwl', 30720, 3072)))")
    body = math.ceil(3072 / 3) * 4 + 1 + 4  # base64 + newline, b'' + \\n
    return chunks * (per + body + sum(frame_overhead(per, body, 0, 1)))


def _csv_row_bytes() -> int:
    return len(
        "P-0001,a4cf12345678,12,2025-03-04,2025-03-04T07:12:09+00:00,7,61234,4500,"
        "sacrum,sacrum,sacrum,2100,42.0,65.0,1800,700,2000\n"
    )


if __name__ == "__main__":
    for row in run():
        print(" | ".join(row))
