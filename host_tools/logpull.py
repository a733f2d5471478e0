"""Pull the rep log off a dowel: read every segment, verify it, keep a raw copy, import it, and
only then let the device delete it.

    with Link.open(port) as link, db.connect() as conn:
        report = pull(link, conn, keep=False, progress=bar.advance)

Order per segment (an unplugged cable at any step loses nothing):
1. read it in chunks (base64 over the raw REPL);
2. check its SHA-256 against the one the device computed, and decode it (every record's CRC);
3. write the raw bytes to the data directory (fsync'd) and import the records (one committed
   transaction; idempotent);
4. unless `keep`, ask the device to delete it, which it does only if the file still has the
   verified hash. A damaged segment (undecodable bytes that are not a torn tail) or one in an
   unknown format version is kept on the device.

Before anything else the device's RTC is set from the host clock (UTC), so the sessions that
follow are dated. The segment being written when the loop stopped is pulled like any other: the
loop is stopped during a pull, and the device starts a new segment after it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from dowel import logread

from host_tools import logdb
from host_tools.errors import DeviceError
from host_tools.paths import data_dir

MODULE = "dowel.logstore"
CHUNK = 3072  # bytes per read call: 4 KB of base64, small next to the ESP32's free heap


@dataclass(frozen=True)
class SegmentInfo:
    name: str
    size: int
    sha256: str


@dataclass
class PullReport:
    segments: int = 0
    payload_bytes: int = 0
    counts: logdb.ImportCounts = field(default_factory=logdb.ImportCounts)
    deleted: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    status: dict = field(default_factory=dict)


def rtc_tuple(now: datetime) -> tuple[int, ...]:
    """machine.RTC().datetime() order: (year, month, day, weekday 0=Monday, h, m, s, us)."""
    t = now.astimezone(timezone.utc)
    return (t.year, t.month, t.day, t.weekday(), t.hour, t.minute, t.second, 0)


def raw_dir() -> Path:
    return data_dir() / "raw"


def save_raw(base: Path, epoch: int, seg: SegmentInfo, data: bytes) -> Path:
    """Keep the exact bytes (owner-only): the device copy is deleted after this."""
    folder = base / f"{epoch:08x}"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"{seg.name.removesuffix('.dwl')}-{seg.sha256[:16]}.dwl"
    if path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() == seg.sha256:
        return path
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return path


def read_segment(link, seg: SegmentInfo, progress: Callable[[int], None] | None = None) -> bytes:
    import base64

    out = bytearray()
    while len(out) < seg.size:
        n = min(CHUNK, seg.size - len(out))
        chunk = base64.b64decode(link.call(MODULE, "read", seg.name, len(out), n))
        if len(chunk) != n:
            raise DeviceError(
                f"segment {seg.name} changed size while being read; run `dowel logs pull` again"
            )
        out += chunk
        if progress:
            progress(n)
    return bytes(out)


def set_clock(link, now: datetime | None = None) -> None:
    """Set the board's RTC from the host clock, so the sessions it logs from now on are dated."""
    link.call(MODULE, "set_rtc", rtc_tuple(now or datetime.now(timezone.utc)))


def pull(
    link,
    conn,
    *,
    keep: bool = False,
    now: datetime | None = None,
    raw_base: Path | None = None,
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> PullReport:
    """Pull, verify, import and (unless `keep`) delete every segment. Device errors (a lost
    link) propagate as DeviceError; whatever was imported before stays imported."""
    now = now or datetime.now(timezone.utc)
    base = raw_base or raw_dir()
    report = PullReport()
    try:
        set_clock(link, now)
    except DeviceError as exc:
        text = str(exc)
        if "dowel.logstore" in text and ("ImportError" in text or "ModuleNotFound" in text):
            raise DeviceError(
                "the firmware on the dowel has no rep log (dowel.logstore): install the current "
                "firmware with `dowel flash`"
            ) from None
        raise
    report.status = link.call(MODULE, "status")
    segs = [SegmentInfo(*s) for s in link.call(MODULE, "segments", timeout=60)]
    if on_total:
        on_total(sum(s.size for s in segs))
    devices: set[str] = set()
    for seg in segs:
        data = read_segment(link, seg, progress)
        report.payload_bytes += len(data)
        report.segments += 1
        if hashlib.sha256(data).hexdigest() != seg.sha256:
            report.kept.append(seg.name)
            report.warnings.append(
                f"segment {seg.name} did not arrive intact (SHA-256 mismatch): kept on the "
                "dowel; run `dowel logs pull` again"
            )
            continue
        decoded = logread.decode(data)
        if decoded.unsupported or decoded.segment is None:
            report.kept.append(seg.name)
            report.warnings.append(
                f"segment {seg.name} is not readable by these host tools ({decoded.error}): "
                "kept on the dowel; update them with `pip install -U smart-dowel`"
            )
            continue
        path = save_raw(base, decoded.segment.epoch, seg, data)
        report.counts.add(
            logdb.import_segment(conn, decoded, sha256=seg.sha256, size=seg.size,
                                 raw_path=str(path), now=now)
        )
        devices.update(s.device_id.hex() for s in decoded.sessions)
        if decoded.error is not None and not decoded.torn:
            report.kept.append(seg.name)
            report.warnings.append(
                f"segment {seg.name} is damaged ({decoded.error}); {len(decoded.reps)} reps "
                f"before the damage were imported, the segment is kept on the dowel and a copy "
                f"is at {path}"
            )
            continue
        if keep:
            report.kept.append(seg.name)
            continue
        result = link.call(MODULE, "delete", [(seg.name, seg.sha256)])
        report.deleted.extend(result["deleted"] + result["missing"])
        if result["changed"]:
            report.kept.extend(result["changed"])
            report.warnings.append(f"segment {seg.name} changed on the dowel: kept")
    _renumber(link, conn, devices, report.status.get("next_session") or 0)
    dropped = report.status.get("dropped") or 0
    if dropped:
        report.warnings.append(
            f"the dowel's log was full: {dropped} reps were not recorded. Pull more often."
        )
        link.call(MODULE, "ack_dropped", dropped)
    return report


def _renumber(link, conn, devices: set[str], next_session: int) -> None:
    """After a wiped store restarted its numbers, move the device past the host's numbers so
    its sessions keep their own numbers from now on."""
    if not devices:
        return
    highest = max(logdb.max_session(conn, d) for d in devices)
    if next_session <= highest:
        link.call(MODULE, "reserve_sessions", highest + 1)
