"""The log store's host calls, made over the raw REPL while the firmware loop is stopped. Apart
from the writer (`dowel.logstore`) because the firmware loop never needs them, and a loaded
module's bytecode stays in RAM; both use `dowel.logfiles`.

    link.call("dowel.loghost", "segments")     # -> [(name, size, sha256 hex, unfinished)]

`status()` -> dict, `segments()` -> [(name, size, sha256 hex, unfinished offset or -1)],
`read(name, offset, size)` -> base64, `delete([(name, sha256 hex)])` -> dict,
`set_rtc(datetime_tuple)`, `reserve_sessions(first)`, `ack_dropped(count)`. Every call that
reads, deletes or rewrites state first closes the loop's Log (`running.log`), so nothing writes
while the host works.
"""

import os

from dowel import logfiles, logfmt, running


def _root(root):
    return root or logfiles.ROOT  # read at call time: host tests point it elsewhere


def _quiesce():
    """Close the running Log: the host is about to read, delete or rewrite state."""
    if running.log is not None:
        running.log.close()


def _state(root):
    st = logfiles.load_state(root)
    if st is None:
        logfiles.mkdir(root)
        st = logfiles.rebuilt_state(root)
    return st


def _sha256(path):
    import hashlib

    h = hashlib.sha256()
    buf = bytearray(512)
    mv = memoryview(buf)
    with open(path, "rb") as f:
        while True:
            k = f.readinto(buf)
            if not k:
                break
            h.update(mv[:k])
    import binascii

    return binascii.hexlify(h.digest()).decode()


def status(root=None):
    """The store at a glance (dict)."""
    root = _root(root)
    st = logfiles.load_state(root) or {}
    names = logfiles.names(root)
    total = 0
    for n in names:
        total += logfiles.size(logfiles.path(root, n))
    try:
        free = logfiles.free_bytes(root)
    except OSError:
        free = 0
    live = running.log
    live_full = live is not None and live.full
    return {
        "format": logfmt.FORMAT_VERSION,
        "epoch": st.get("epoch"),
        "next_session": st.get("session"),
        "segments": len(names),
        "bytes": total,
        "free_bytes": free,
        "margin_bytes": logfiles.MARGIN_BYTES,
        "full": live_full or free < logfiles.MARGIN_BYTES,
        "dropped": st.get("dropped", 0),
        "rtc_set": st.get("rtc"),
    }


def segments(root=None):
    """[(name, size, sha256 hex, unfinished)] of every segment, oldest first. `unfinished`:
    the offset where a write into it failed (the store's own word that the bytes from there
    are an interrupted record, not damage), else -1."""
    _quiesce()
    root = _root(root)
    st = logfiles.load_state(root) or {}
    out = []
    for name in logfiles.names(root):
        path = logfiles.path(root, name)
        out.append((name, logfiles.size(path), _sha256(path), logfiles.unfinished(st, name)))
    return out


def read(name, offset, size, root=None):
    """Bytes [offset, offset + size) of a segment, base64 (a third of `repr`'s wire bytes)."""
    import binascii

    if not logfiles.is_seg(name):
        raise ValueError("not a segment name: %r" % name)
    with open(logfiles.path(_root(root), name), "rb") as f:
        f.seek(offset)
        data = f.read(size)
    return binascii.b2a_base64(data)


def delete(items, root=None):
    """Delete each (name, sha256 hex) whose file still has exactly that hash. Returns
    {"deleted": [...], "missing": [...], "changed": [...]}: missing ones were already gone
    (a pull interrupted after deleting), changed ones are kept."""
    _quiesce()
    root = _root(root)
    out = {"deleted": [], "missing": [], "changed": []}
    for name, sha in items:
        path = logfiles.path(root, name)
        if not logfiles.is_seg(name):
            out["changed"].append(name)
            continue
        try:
            actual = _sha256(path)
        except OSError:
            out["missing"].append(name)
            continue
        if actual != sha:
            out["changed"].append(name)
            continue
        os.remove(path)
        out["deleted"].append(name)
    st = logfiles.load_state(root)
    if st is not None and st.get("unfinished"):
        logfiles.forget_unfinished(st, out["deleted"] + out["missing"])
        try:
            logfiles.save_state(root, st)
        except OSError:
            pass  # a stale mark names a file that is gone: nothing reads it
    return out


def set_rtc(datetime, root=None):
    """Set the RTC (UTC, machine.RTC().datetime() order) and remember it was set, so sessions
    carry dates until the clock next loses power. Returns the RTC's reading."""
    import machine  # only here and in dowel.hal: the rest of the store is plain files

    _quiesce()
    root = _root(root)
    rtc = machine.RTC()
    rtc.datetime(tuple(datetime))
    now = rtc.datetime()
    st = _state(root)
    st["rtc"] = [now[0], now[1], now[2], now[4], now[5], now[6]]
    logfiles.save_state(root, st)
    return now


def reserve_sessions(first, root=None):
    """Number the next session at least `first` (the host knows higher numbers for this device,
    e.g. after the store was wiped by a reflash). Returns the next session number."""
    _quiesce()
    root = _root(root)
    st = _state(root)
    if st["session"] < first:
        st["session"] = first
        logfiles.save_state(root, st)
    return st["session"]


def ack_dropped(count, root=None):
    """The host has reported `count` dropped reps: take them off the counter."""
    _quiesce()
    root = _root(root)
    st = _state(root)
    st["dropped"] = max(0, st.get("dropped", 0) - count)
    logfiles.save_state(root, st)
    return st["dropped"]
