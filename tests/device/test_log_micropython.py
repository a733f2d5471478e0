"""logfmt, logread, logstore and loghost on the real MicroPython interpreter (the unix port the
virtual board runs): byte-identical output to CPython, decoding, boot recovery, the host calls,
and a rep packed with the heap locked."""

from __future__ import annotations

import base64
import hashlib
import json
import random

import pytest
from dowel import logfmt, logread

from host_tools.paths import device_dir
from tests.fakes.logs import random_sessions, write_scenario

pytestmark = pytest.mark.vboard

EPOCH = 0x5EED1234
BOOT = 0x2BAD5EED


def run_mp(code: str, files: dict[str, bytes]) -> str:
    """Run on the virtual board's interpreter (the native MicroPython unix port)."""
    interp = pytest.importorskip("host_tools.vboard.interp")
    return interp.run_micropython(code, files=files, timeout=120)


def dowel_files() -> dict[str, bytes]:
    src = device_dir() / "dowel"
    return {
        f"/lib/dowel/{n}": (src / n).read_bytes()
        for n in (
            "__init__.py",
            "logfiles.py",
            "logfmt.py",
            "loghost.py",
            "logread.py",
            "logstore.py",
            "running.py",
        )
    }


SESSIONS = random_sessions(random.Random(17), 2, 25) + random_sessions(
    random.Random(18), 1, 10, has_imu=False
)

PROGRAM = r"""
import sys, json, os, gc, binascii, micropython
sys.path.insert(0, "/lib")
from dowel import logfmt, loghost, logread, logstore
SESSIONS = json.loads(%(sessions)r)
DEV = binascii.unhexlify("a4cf12345678")
root = "/flash/logs"
os.mkdir("/flash"); os.mkdir(root)
with open(root + "/state0.json", "w") as f:
    json.dump({"n": 0, "epoch": %(epoch)d, "session": 1, "segment": 1, "rtc": None,
               "dropped": 0}, f)
log = logstore.Log(root=root, segment_bytes=400, boot=%(boot)d)
for i, reps in enumerate(SESSIONS):
    log.begin_session(DEV, "0.1.0", b"\x01" * 8, "P-0001", None, 1000 + i, reps[0][7] is not None)
    for rep in reps:
        assert log.add_rep(*rep)
log.close()
out = {"segments": {}, "listed": loghost.segments(root)}
for name, size, sha, _u in out["listed"]:
    with open(root + "/" + name, "rb") as f:
        out["segments"][name] = binascii.b2a_base64(f.read()).decode().strip()
# The device's decoder on its own output.
reps = []
for name, size, sha, _u in out["listed"]:
    with open(root + "/" + name, "rb") as f:
        d = logread.decode(f.read())
    assert d.error is None, d.error
    reps += [list(r.fields()) for r in d.reps]
out["decoded"] = reps
# Damage: the resynchronising decoder, and the one-bit repair, on the board's interpreter.
with open(root + "/" + out["listed"][1][0], "rb") as f:
    dd = bytearray(f.read())
dd[len(dd) // 2] ^= 0x55
d = logread.decode(bytes(dd))
out["damaged"] = [[list(x) for x in d.skipped], d.unplaced, [list(r.fields()) for r in d.reps]]
dd[len(dd) // 2] ^= 0x55 ^ 0x04
d = logread.decode(bytes(dd), True, True)
out["repaired"] = [[list(x) for x in d.repaired], [list(r.fields()) for r in d.reps]]
# Boot recovery: tear the last record of the last segment.
name = out["listed"][-1][0]
with open(root + "/" + name, "rb") as f:
    data = f.read()
with open(root + "/" + name, "wb") as f:
    f.write(data[:-5])
log = logstore.Log(root=root, segment_bytes=400)
out["torn"] = log.torn_bytes
log.begin_session(DEV, "0.1.0", b"\x01" * 8, "P-0001", None, 99, True)
log.add_rep(0, 0, 4000, 0, 0, None, None, 700, 1500, 500, 2000)
log.close()
out["after"] = [(n, s) for n, s, _, _ in loghost.segments(root)]
out["read"] = loghost.read(name, 3, 20, root).decode().strip()
out["delete"] = loghost.delete([(out["listed"][0][0], out["listed"][0][2])], root)
# A rep packed with the heap locked: any allocation would raise MemoryError.
p = logfmt.RepPacker()
q = logfmt.RepPacker()
p.pack(0, 0, 4000, 4, 3, 2000, 300, 700, 1500, 500, 2000)
q.pack(0, 0, 4000, 0, 0, None, None, None, None, None, None)
def packs(p, q):
    # Locals only: a new global stored under heap_lock could grow the globals dict.
    for i in range(1, 100, 2):
        p.pack(i, i * 6000, 4000, 4, 3, 2000, 300, 700, 1500, 500, 2000)
        q.pack(i, i * 6000, 4000, 0, 0, None, None, None, None, None, None)
        p.pack(i + 7, i * 6000, 40000, 1, 1, 30000, -20, 300, 9000, 1, 2)  # long form
        logfmt.pack_feedback(p.buf, logfmt.feedback_state(i & 7, 2, 67, i & 2))
packs(logfmt.RepPacker(), logfmt.RepPacker())  # warm up
gc.collect()
before = gc.mem_alloc()
micropython.heap_lock()
try:
    packs(p, q)
finally:
    micropython.heap_unlock()
out["grown"] = gc.mem_alloc() - before
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def mp_out():
    code = PROGRAM % {"sessions": json.dumps(SESSIONS), "epoch": EPOCH, "boot": BOOT}
    text = run_mp(code, dowel_files())
    return json.loads(text.strip().splitlines()[-1])


def test_micropython_writes_the_same_bytes_as_cpython(mp_out, tmp_path):
    root = tmp_path / "logs"
    root.mkdir()
    (root / "state0.json").write_text(
        json.dumps({"n": 0, "epoch": EPOCH, "session": 1, "segment": 1, "rtc": None, "dropped": 0})
    )
    write_scenario(root, SESSIONS, segment_bytes=400, boot=BOOT)
    ours = {p.name: p.read_bytes() for p in sorted(root.glob("*.dwl"))}
    theirs = {n: base64.b64decode(b) for n, b in mp_out["segments"].items()}
    assert len(theirs) > 3
    assert theirs == ours
    flat = [tuple(r) for s in SESSIONS for r in s]
    decoded = [r.fields() for n in sorted(theirs) for r in logread.decode(theirs[n]).reps]
    assert decoded == flat
    assert [tuple(r) for r in mp_out["decoded"]] == flat


def test_micropython_host_calls_and_recovery(mp_out):
    listed = mp_out["listed"]
    for name, size, sha, _unfinished in listed:
        data = base64.b64decode(mp_out["segments"][name])
        assert size == len(data) and sha == hashlib.sha256(data).hexdigest()
    last = listed[-1][0]
    assert mp_out["torn"] > 0
    # The torn segment was sealed (5 bytes shorter) and a new one opened after it.
    after = dict(mp_out["after"])
    assert after[last] == listed[-1][1] - 5
    assert len(after) == len(listed) + 1
    data = base64.b64decode(mp_out["segments"][last])
    assert base64.b64decode(mp_out["read"]) == data[3:23]
    assert mp_out["delete"] == {"deleted": [listed[0][0]], "missing": [], "changed": []}


def test_packing_a_rep_allocates_nothing_on_micropython(mp_out):
    assert mp_out["grown"] == 0


def test_micropython_resynchronises_and_repairs_like_cpython(mp_out):
    data = bytearray(base64.b64decode(mp_out["segments"][mp_out["listed"][1][0]]))
    data[len(data) // 2] ^= 0x55
    d = logread.decode(bytes(data))
    assert d.skipped and mp_out["damaged"] == [
        [list(x) for x in d.skipped],
        d.unplaced,
        [list(r.fields()) for r in d.reps],
    ]
    data[len(data) // 2] ^= 0x55 ^ 0x04
    d = logread.decode(bytes(data), repair=True)
    assert d.repaired and mp_out["repaired"] == [
        [list(x) for x in d.repaired],
        [list(r.fields()) for r in d.reps],
    ]


HEADER_PROGRAM = r"""
import sys, binascii
sys.path.insert(0, "/lib")
from dowel import logfmt, loghost, logread, logstore, running
DEV = binascii.unhexlify("a4cf12345678")
out = []
for battery in (None, 0, 42, 100):
    data = logfmt.segment_header(0x5EED1234, 1) + logfmt.session_header(
        7, DEV, "0.1.0", b"\x01" * 8, "P-0001", (2025, 3, 4, 9, 30, 0), 2**30 - 1, True,
        (3, 4000), boot=0x2BAD5EED, battery_pct=battery)
    d = logread.decode(data)
    s = d.sessions[0]
    out.append((binascii.hexlify(data).decode(), d.segment.version, s.battery_pct, s.boot,
                s.rtc, s.base, d.error))
try:
    logfmt.session_header(7, DEV, "0.1.0", b"", "P", None, 0, False, battery_pct=101)
    out.append("accepted 101")
except ValueError:
    out.append("refused 101")
import os
os.mkdir("/flash"); os.mkdir("/flash/logs")
log = logstore.Log(root="/flash/logs", boot=0x2BAD5EED)
for battery in (150, -3, 55.9, "x"):
    log.begin_session(DEV, "0.1.0", b"\x01" * 8, "P-0001", None, 10, False, battery_pct=battery)
log.close()
name = loghost.segments("/flash/logs")[0][0]
d = logread.decode(open("/flash/logs/" + name, "rb").read())
out.append([s.battery_pct for s in d.sessions])
out.append(running.session_boot == 0x2BAD5EED)
print(repr(out))
"""


def test_session_header_with_battery_round_trips_on_micropython():
    import ast

    got = ast.literal_eval(run_mp(HEADER_PROGRAM, dowel_files()).strip().splitlines()[-1])
    dev = bytes.fromhex("a4cf12345678")
    for row, battery in zip(got[:4], (None, 0, 42, 100), strict=True):
        expected = logfmt.segment_header(0x5EED1234, 1) + logfmt.session_header(
            7,
            dev,
            "0.1.0",
            b"\x01" * 8,
            "P-0001",
            (2025, 3, 4, 9, 30, 0),
            2**30 - 1,
            True,
            (3, 4000),
            boot=0x2BAD5EED,
            battery_pct=battery,
        )
        assert row[0] == expected.hex()  # byte-identical to CPython's encoder
        assert tuple(row[1:]) == (
            logfmt.FORMAT_VERSION,
            battery,
            0x2BAD5EED,
            (2025, 3, 4, 9, 30, 0),
            (3, 4000),
            None,
        )
    assert got[4] == "refused 101"
    # The loop's bad readings never stop it: clamped, or logged as unknown.
    assert got[5] == [100, 0, 55, None]
    assert got[6] is True  # the boot the host's clock call reports (`dowel.clock.sync`)
