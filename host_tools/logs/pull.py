"""Pull the rep log off a dowel: read every segment, verify it, keep a raw copy, import it, and
only then let the device delete it.

    with api.connect(port) as link, db.connect() as conn:
        report = pull(link, conn, keep=False, progress=bar.advance)

Order per segment (an unplugged cable at any step loses nothing):
1. read it in chunks (base64 over the raw REPL);
2. check its SHA-256 against the one the device computed, and decode it (every record's CRC;
   past a damaged frame the decoder resynchronises, and corrects single flipped bits);
3. write the raw bytes to the data directory (fsync'd) and import the records (one committed
   transaction; idempotent; the same key with other content stops the pull: `ImportConflict`);
4. unless `keep`, ask the device to delete it, which it does only if the file still has the
   verified hash, and only when every byte of it is accounted for: imported, or a tail the
   store itself reports as an unfinished write (`unfinished`). Anything else (skipped bytes,
   reps that could not be placed, a corrected bit, a header that does not decode, an unknown
   format version) stays on the dowel with a warning naming the fix; `accept_damaged` (after
   the PT has checked) imports what can be read, keeps the raw copy and frees the dowel.

Before anything else the device's RTC is set from the host clock (UTC), so the sessions that
follow are dated (`api.connect` does it on every connection; a link made otherwise gets it
here). The board's ticks at that moment are kept (`clock_reads`), and after the import every
session the dowel could not date (its clock had lost power) gets an estimated start from them
(`repstore.estimate_dates`, `host_tools.store.dates`). The segment being written when the loop
stopped is pulled like any other: the loop is stopped during a pull, and the device starts a
new segment after it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from dowel import logread

from host_tools.board import api
from host_tools.board.api import ClockSync
from host_tools.errors import DeviceError
from host_tools.paths import data_dir
from host_tools.store import reps as repstore

CHUNK = 3072  # bytes per read call: 4 KB of base64, small next to the ESP32's free heap
MIN_CHUNK = 256  # the smallest read a board short of memory is asked for


@dataclass(frozen=True)
class SegmentInfo:
    name: str
    size: int
    sha256: str
    unfinished: int = -1  # where a failed write began (the store says so); -1: none (or old)


@dataclass
class PullReport:
    segments: int = 0
    payload_bytes: int = 0
    counts: repstore.ImportCounts = field(default_factory=repstore.ImportCounts)
    deleted: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    status: dict = field(default_factory=dict)
    clock: ClockSync | None = None  # what setting the board's clock told the host
    estimated: int = 0  # sessions whose start is estimated (the dowel's clock had lost it)

    def summary(self) -> str:
        """What the pull did, in one line for the PT (every face says the same)."""
        from host_tools.words import count

        c = self.counts
        return (
            f"{count(c.reps_new, 'new rep')} in {count(c.sessions_new, 'new session')} "
            f"({c.reps_seen - c.reps_new} already imported), from "
            f"{count(self.segments, 'log segment')} ({self.payload_bytes} bytes), every one "
            f"verified; {len(self.deleted)} deleted on the dowel"
            + (", kept: " + ", ".join(self.kept) if self.kept else "")
        )


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
    size = CHUNK
    while len(out) < seg.size:
        n = min(size, seg.size - len(out))
        try:
            text = api.log_read(link, seg.name, len(out), n)
        except DeviceError as exc:
            # A heap the firmware loop left fragmented may hold no block of a chunk's size
            # (measured on the virtual board's ESP32 heap: no 3 KB block free after a week's
            # log): ask for less, down to MIN_CHUNK, rather than fail the pull.
            if "MemoryError" not in str(exc) or size <= MIN_CHUNK:
                raise
            size = max(MIN_CHUNK, size // 2)
            continue
        chunk = base64.b64decode(text)
        if len(chunk) != n:
            raise DeviceError(
                f"segment {seg.name} changed size while being read; run `dowel logs pull` again"
            )
        out += chunk
        if progress:
            progress(n)
    return bytes(out)


def pull(
    link,
    conn,
    *,
    keep: bool = False,
    accept_damaged: bool = False,
    now: datetime | None = None,
    raw_base: Path | None = None,
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> PullReport:
    """Pull, verify, import and (unless `keep`) delete every segment whose bytes are all
    accounted for (or, with `accept_damaged`, every one imported as far as it reads). Device
    errors (a lost link) propagate as DeviceError, a reused key as repstore.ImportConflict;
    whatever was imported before stays imported."""
    now = now or datetime.now(timezone.utc)
    base = raw_base or raw_dir()
    report = PullReport()
    # A link from `api.connect` has just set it; set it here otherwise (and when that failed).
    clock = getattr(link, "clock", None) or api.sync_clock(link, lambda: now)
    report.clock = clock
    report.status = api.log_status(link)
    segs = [SegmentInfo(*s) for s in api.log_segments(link)]
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
        decoded = logread.decode(data, repair=True)
        if decoded.unsupported:
            report.kept.append(seg.name)
            report.warnings.append(
                f"segment {seg.name} is not readable by these host tools ({decoded.error}): "
                "kept on the dowel; update the host tools (`git pull` in a checkout, or "
                "`pip install -U` the smart-dowel package you installed them from)"
            )
            continue
        epoch = decoded.segment.epoch if decoded.segment else report.status.get("epoch") or 0
        path = save_raw(base, epoch, seg, data)
        if decoded.segment is not None:
            report.counts.add(
                repstore.import_segment(
                    conn, decoded, sha256=seg.sha256, size=seg.size, raw_path=str(path), now=now
                )
            )
            devices.update(s.device_id.hex() for s in decoded.sessions)
        problem = damage(decoded, seg)
        if problem is not None:
            if not accept_damaged or keep:
                report.kept.append(seg.name)
                report.warnings.append(
                    f"segment {seg.name} is damaged ({problem}): kept on the dowel, raw copy at "
                    f"{path}; once the PT has checked the report, free it with "
                    "`dowel logs pull --accept-damaged`"
                )
                continue
            report.warnings.append(
                f"segment {seg.name} was damaged ({problem}): freed as asked "
                f"(--accept-damaged), raw copy at {path}"
            )
        if keep:
            report.kept.append(seg.name)
            continue
        result = api.log_delete(link, [(seg.name, seg.sha256)])
        report.deleted.extend(result["deleted"] + result["missing"])
        if result["changed"]:
            report.kept.extend(result["changed"])
            report.warnings.append(f"segment {seg.name} changed on the dowel: kept")
    _renumber(link, conn, devices, report.status.get("next_session") or 0)
    for device in sorted(devices):
        repstore.record_clock_read(conn, device, clock)
        report.estimated += repstore.estimate_dates(conn, device)
    dropped = report.status.get("dropped") or 0
    if dropped:
        report.warnings.append(
            f"the dowel's log was full: {dropped} reps were not recorded. Pull more often."
        )
        api.log_ack_dropped(link, dropped)
    return report


def damage(decoded: logread.Decoded, seg: SegmentInfo) -> str | None:
    """What of the segment is not accounted for (None: every byte imported, or a tail the
    store reported as an unfinished write), in words for the PT."""
    n = seg.size
    if decoded.segment is None:
        return f"its header does not decode ({decoded.error}); nothing could be imported"
    skipped = list(decoded.skipped)
    if (
        len(skipped) == 1
        and skipped[0] == (seg.unfinished, n)
        and not decoded.unplaced
        and not decoded.repaired
    ):
        return None  # the store's own unfinished write: nothing was ever committed there
    if not decoded.damaged():
        return None
    parts = [f"{len(decoded.reps)} reps imported"]
    if skipped:
        where = ", ".join(f"{a}-{b}" for a, b in skipped[:4])
        where += " ..." if len(skipped) > 4 else ""
        parts.append(f"{decoded.skipped_bytes} bytes skipped at {where}")
        if skipped[-1][1] == n and decoded.torn:
            parts.append(
                "the tail looks like an interrupted write, but the dowel did not report one"
            )
    if decoded.unplaced:
        parts.append(f"{decoded.unplaced} whole reps after the damage could not be placed")
    if decoded.repaired:
        parts.append(f"{len(decoded.repaired)} flipped bit(s) corrected")
    return "; ".join(parts)


def _renumber(link, conn, devices: set[str], next_session: int) -> None:
    """After a wiped store restarted its numbers, move the device past the host's numbers so
    its sessions keep their own numbers from now on."""
    if not devices:
        return
    highest = max(repstore.max_session(conn, d) for d in devices)
    if next_session <= highest:
        api.log_reserve_sessions(link, highest + 1)
