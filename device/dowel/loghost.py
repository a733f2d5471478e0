"""The log store's host calls, made over the raw REPL while the firmware loop is stopped:
called as `dowel.logstore.<name>` (see there), whose functions load this module on first use.
Apart from the store because the firmware loop never needs them, and a loaded module's bytecode
stays in RAM.

    link.call("dowel.logstore", "segments")     # -> [(name, size, sha256 hex, unfinished)]
"""

import os

from dowel import logfmt, logstore
from dowel.logstore import (
    MARGIN_BYTES,
    _forget_unfinished,
    _free_bytes,
    _is_seg,
    _load_state,
    _mkdir,
    _names,
    _new_epoch,
    _path,
    _save_state,
    _scan,
    _size,
    _unfinished,
)


def _root(root):
    return root or logstore.ROOT  # read at call time: host tests point it elsewhere


def _quiesce():
    """Close the running Log: the host is about to read, delete or rewrite state."""
    if logstore._live is not None:
        logstore._live.close()


def _state(root):
    st = _load_state(root)
    if st is None:
        _mkdir(root)
        session, segment, epoch = _scan(root, _names(root))
        st = {"epoch": epoch if epoch is not None else _new_epoch(), "session": session + 1,
              "segment": segment + 1, "rtc": None, "dropped": 0}
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
    st = _load_state(root) or {}
    names = _names(root)
    total = 0
    for n in names:
        total += _size(_path(root, n))
    try:
        free = _free_bytes(root)
    except OSError:
        free = 0
    live_full = logstore._live is not None and logstore._live.full
    return {
        "format": logfmt.FORMAT_VERSION,
        "epoch": st.get("epoch"),
        "next_session": st.get("session"),
        "segments": len(names),
        "bytes": total,
        "free_bytes": free,
        "margin_bytes": MARGIN_BYTES,
        "full": live_full or free < MARGIN_BYTES,
        "dropped": st.get("dropped", 0),
        "rtc_set": st.get("rtc"),
    }


def segments(root=None):
    """[(name, size, sha256 hex, unfinished)] of every segment, oldest first (`unfinished`:
    where a failed write began, else -1)."""
    _quiesce()
    root = _root(root)
    st = _load_state(root) or {}
    out = []
    for name in _names(root):
        path = _path(root, name)
        out.append((name, _size(path), _sha256(path), _unfinished(st, name)))
    return out


def read(name, offset, size, root=None):
    """Bytes [offset, offset + size) of a segment, base64 (a third of `repr`'s wire bytes)."""
    import binascii

    if not _is_seg(name):
        raise ValueError("not a segment name: %r" % name)
    with open(_path(_root(root), name), "rb") as f:
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
        path = _path(root, name)
        if not _is_seg(name):
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
    st = _load_state(root)
    if st is not None and st.get("unfinished"):
        _forget_unfinished(st, out["deleted"] + out["missing"])
        try:
            _save_state(root, st)
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
    _save_state(root, st)
    return now


def reserve_sessions(first, root=None):
    """Number the next session at least `first` (the host knows higher numbers for this device,
    e.g. after the store was wiped by a reflash). Returns the next session number."""
    _quiesce()
    root = _root(root)
    st = _state(root)
    if st["session"] < first:
        st["session"] = first
        _save_state(root, st)
    return st["session"]


def ack_dropped(count, root=None):
    """The host has reported `count` dropped reps: take them off the counter."""
    _quiesce()
    root = _root(root)
    st = _state(root)
    st["dropped"] = max(0, st.get("dropped", 0) - count)
    _save_state(root, st)
    return st["dropped"]
