"""The rep log's files: where they are, what they are called, and the store's state files. The
writer (`dowel.logstore`) and the host's calls (`dowel.loghost`) both stand on this, so neither
needs the other.

    names(ROOT)                     # ["00000001.dwl", ...]: the segments, oldest first
    path(ROOT, seg_name(7))         # "/logs/00000007.dwl"
    st = load_state(ROOT)           # the newer whole copy of the state, or None
    save_state(ROOT, st)            # over the older copy; raises OSError when the flash refuses
    st = rebuilt_state(ROOT)        # both copies lost: numbers past every segment on flash

Layout: `<root>/NNNNNNNN.dwl` segments (format: `dowel.logfmt`), and `<root>/state0.json` and
`state1.json`: two copies of the store's state (`epoch`, the next `session` and `segment`
numbers, `rtc`: when the host last set the clock, `dropped`: reps not written while full,
`unfinished`: [name, offset] of segments whose last write failed), written alternately with
a counter `n`, so a power cut mid-write always leaves the previous one whole.
"""

import json
import os

try:
    from micropython import const
except ImportError:  # CPython: the host runs these same files

    def const(x):
        return x


ROOT = "/logs"  # read at call time: host tests point it elsewhere
MARGIN_BYTES = const(24576)  # left free for config writes and littlefs's copy-on-write
_STATES = ("state0.json", "state1.json")
_SUFFIX = ".dwl"


def path(root, name):
    return root + "/" + name


def seg_name(number):
    return "%08d%s" % (number, _SUFFIX)


def is_seg(name):
    return len(name) == 12 and name.endswith(_SUFFIX) and name[:8].isdigit()


def names(root):
    """The segment files under `root`, oldest first ([] when there is no such folder)."""
    try:
        found = [n for n in os.listdir(root) if is_seg(n)]
    except OSError:
        return []
    found.sort()
    return found


def size(file_path):
    return os.stat(file_path)[6]


def read_all(file_path):
    with open(file_path, "rb") as f:
        return f.read()


def free_bytes(root):
    st = os.statvfs(root)
    return st[1] * st[4]


def mkdir(root):
    try:
        os.mkdir(root)
    except OSError:
        pass


def random32():
    """32 random bits: a store's epoch, a boot's number."""
    try:
        b = os.urandom(4)  # type: ignore[attr-defined]
        return b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)
    except AttributeError:  # a port without os.urandom
        import random

        return random.getrandbits(32)


def load_state(root):
    """The newer whole copy of the two state files, or None."""
    best = None
    for name in _STATES:
        try:
            with open(path(root, name)) as f:
                st = json.load(f)
        except (OSError, ValueError):
            continue  # missing, or cut short by a power cut: the other copy holds
        if not isinstance(st, dict) or not isinstance(st.get("n"), int):
            continue
        if not isinstance(st.get("epoch"), int):
            continue
        if best is None or st["n"] > best["n"]:
            best = st
    return best


def save_state(root, st):
    """Write over the older of the two copies: a power cut mid-write leaves the other one whole.
    No rename (`dowel.atomic`): FAT cannot rename over a file, and two copies need none."""
    st["n"] = st.get("n", 0) + 1
    try:
        with open(path(root, _STATES[st["n"] & 1]), "w") as f:
            json.dump(st, f)
    except OSError:
        st["n"] -= 1  # that copy may be torn: the next save retries it, never the good one
        raise


def rebuilt_state(root):
    """A state for a store whose state files are both lost: the epoch and numbers past the
    highest session and segment found in the segments themselves (a new epoch when none)."""
    session, segment, epoch = _scan(root)
    return {
        "epoch": epoch if epoch is not None else random32(),
        "session": session + 1,
        "segment": segment + 1,
        "rtc": None,
        "dropped": 0,
    }


def _scan(root):
    # The decoder is imported here, not at the top: the board needs it only at boot, and then
    # drops it (`dowel.app._BOOT_ONLY`).
    from dowel import logread

    session = 0
    segment = 0
    epoch = None
    for name in names(root):
        d = logread.decode(read_all(path(root, name)), False)
        segment = max(segment, int(name[:8]))
        for s in d.sessions:
            session = max(session, s.number)
        if d.segment is not None:
            epoch = d.segment.epoch
    return session, segment, epoch


def unfinished(st, name):
    """Offset where the failed write into segment `name` began, or -1."""
    for mark in st.get("unfinished") or ():
        if mark[0] == name:
            return mark[1]
    return -1


def forget_unfinished(st, gone):
    """Drop the marks of the segments named in `gone`."""
    marks = st.get("unfinished")
    if marks:
        st["unfinished"] = [m for m in marks if m[0] not in gone]
