"""The log store's power-loss guarantee on the virtual board's littlefs (issue 13): the power
is cut at a chosen flash write or erase while the real `dowel.logstore` appends reps, the board
powers on again, and the real `dowel logs pull` brings back every rep whose `add_rep` had
returned True before the cut, at most the one being written, none twice and none invented.

A board-side script appends reps and prints `@c SEQ` once each is committed (add_rep writes
and flushes the record before it returns). The host arms the cut at a random operation count,
so it lands in a segment write, a state save, a segment roll or a block erase."""

from __future__ import annotations

import random
import re
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.vboard

APPENDER = """
import os
from dowel.logstore import Log
try:
    os.stat('/append')
except OSError:
    raise SystemExit  # powered on again after the cut: leave the log to the host
os.remove('/append')
log = Log(root='/logs', segment_bytes=600)
log.begin_session(b'\\x24\\x0a\\xc4\\x00\\x00\\x01', '0.1.0', 'cfg', 'P-0001',
                  (2000, 1, 1, 5, 0, 0, 0, 0), 0, True)
print('@ready')
for seq in range(1, 100000):
    if log.add_rep(seq, seq * 3000, 2000, 0, 0, None, None, 450, 800, 300, 900):
        print('@c', seq)
"""


def board_files() -> dict[str, bytes]:
    import tempfile

    from host_tools.firmware.build import board_files as built_files
    from host_tools.firmware.build import compile_device

    build = Path(tempfile.mkdtemp(prefix="dowel-pc-"))
    compile_device(build)
    files = {path: p.read_bytes() for path, p in built_files(build).items()}
    files.pop("/main.py", None)  # this test's appender runs instead of the firmware loop
    files["/main.py"] = APPENDER.encode()
    files["/append"] = b""
    return files


@pytest.fixture(scope="module")
def firmware_files():
    pytest.importorskip("host_tools.vboard.interp").require_interpreter()
    return board_files()


def one_trial(tmp_path: Path, files: dict, after_ops: int, torn: bool, name: str):
    import serial

    from host_tools import cli
    from host_tools.store import db
    from host_tools.vboard import VirtualBoard, flashimg

    image = tmp_path / f"{name}.img"
    flashimg.write(image, files)
    with VirtualBoard.start(flash_dir=image, name=name, imu=False) as board:
        port = serial.Serial(board.port, 115200, timeout=0.05)
        out = b""
        end = time.monotonic() + 20
        while b"@ready" not in out and time.monotonic() < end:
            out += port.read(4096)
        assert b"@ready" in out, out[-500:]
        board.power_cut(after_ops=after_ops, torn=torn)
        end = time.monotonic() + 20
        while time.monotonic() < end:
            out += port.read(4096)
            if any(k == "power" for _, k in board.status()["resets"]):
                break
        port.close()
        board.wait_booted()
        committed = [int(m) for m in re.findall(rb"@c (\d+)", out)]
        assert cli.main(["logs", "pull", "--port", board.port]) == 0
    conn = db.connect()
    seqs = [r[0] for r in conn.execute("SELECT seq FROM reps ORDER BY seq")]
    conn.close()
    return committed, seqs


def test_power_cuts_during_appends_lose_only_the_rep_being_written(
    tmp_path, monkeypatch, firmware_files
):
    rng = random.Random(2026)
    lost = extra = 0
    trials = [(rng.randrange(0, 240), rng.random() < 0.5) for _ in range(8)]
    for i, (after_ops, torn) in enumerate(trials):
        monkeypatch.setenv("DOWEL_HOME", str(tmp_path / f"home{i}"))
        committed, seqs = one_trial(tmp_path, firmware_files, after_ops, torn, f"pc{i}")
        assert len(seqs) == len(set(seqs)), "a rep imported twice"
        assert seqs == sorted(seqs) and (not seqs or seqs[0] == 1), seqs[:5]
        missing = set(committed) - set(seqs)
        lost += len(missing)
        assert not missing, f"cut after {after_ops} ops (torn={torn}): lost {sorted(missing)}"
        # At most the rep whose write the cut interrupted, and only if it landed whole.
        beyond = [s for s in seqs if s > (max(committed) if committed else 0)]
        extra += len(beyond)
        assert len(beyond) <= 1, beyond
    print(
        f"littlefs power cuts: {len(trials)} trials, committed reps lost {lost}, "
        f"reps past the last committed one {extra}"
    )
