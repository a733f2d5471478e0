"""Live readings from the board: runs `dowel.stream.run` over the raw REPL and parses its lines.

    with api.connect(port) as link:
        samples = stream(link, 2000, on_sample=lambda s: print(s.counts))
        # -> dowel.stream.run(500, 10, 0), then run(500, 10, 1) x 3: one schedule, t from 0

Each Sample holds the time since the stream started, the three raw counts (head, midback,
sacrum) and the IMU pitch in deci-degrees (None without an IMU). The bytes arrive through
mpremote's own `follow(data_consumer=...)`, so samples reach `on_sample` as the board prints
them, for a live display.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from host_tools.board import api
from host_tools.errors import DeviceError

DEFAULT_PERIOD_MS = 10  # 100 Hz: twice the 50 Hz floor, a quarter of the UART's bandwidth
# Short calls: the live view updates at least this often even where the board's output only
# leaves when a call ends (the virtual board); each call costs a slot or two (~15 ms).
DEFAULT_CHUNK_MS = 500


@dataclass(frozen=True)
class Sample:
    t_ms: int
    counts: tuple[int, int, int]
    pitch_ddeg: int | None


class StreamParser:
    """Turns the stream's bytes into Samples; `feed` takes any chunking, down to one byte."""

    def __init__(self, on_sample: Callable[[Sample], None] | None = None):
        self.on_sample = on_sample
        self.samples: list[Sample] = []
        self.period_ms: int | None = None
        self.has_imu = False
        self.ended = False
        self.reported_count: int | None = None
        self.late = 0
        self.junk: list[str] = []  # lines that are none of ours (stray prints), for the error
        self._buf = bytearray()

    def feed(self, data: bytes) -> None:
        self._buf += data
        while True:
            end = self._buf.find(b"\n")
            if end < 0:
                return
            line = self._buf[:end].decode(errors="replace").strip()
            del self._buf[: end + 1]
            if line:
                self._line(line)

    def _line(self, line: str) -> None:
        parts = line.split()
        try:
            if parts[0] == "S" and len(parts) == 3:
                self.period_ms, self.has_imu = int(parts[1]), parts[2] == "1"
            elif parts[0] == "E" and len(parts) == 3:
                self.ended = True
                self.reported_count, self.late = int(parts[1]), int(parts[2])
            elif len(parts) == 5 and self.period_ms is not None and not self.ended:
                t, h, m, s, p = (int(x) for x in parts)
                sample = Sample(t, (h, m, s), p if self.has_imu else None)
                self.samples.append(sample)
                if self.on_sample:
                    self.on_sample(sample)
            else:
                self.junk.append(line)
        except ValueError:
            self.junk.append(line)


def stream(
    link,
    duration_ms: int,
    on_sample: Callable[[Sample], None] | None = None,
    period_ms: int = DEFAULT_PERIOD_MS,
    chunk_ms: int = DEFAULT_CHUNK_MS,
) -> list[Sample]:
    """Stream `duration_ms` of readings; return every sample (also passed to `on_sample`).
    The board streams in calls of `chunk_ms` that resume one schedule, so t_ms runs on from
    0 on the board's clock; the few slots between two calls are skipped."""
    samples: list[Sample] = []
    done = 0
    while done < duration_ms:
        ms = min(chunk_ms, duration_ms - done)
        samples += _stream_call(link, ms, period_ms, resume=done > 0, on_sample=on_sample)
        done += ms
    return samples


def _stream_call(link, duration_ms, period_ms, resume, on_sample) -> list[Sample]:
    from mpremote.transport import TransportError

    parser = StreamParser(on_sample)
    code = api.stream_code(link, duration_ms, period_ms, resume)
    try:
        link.transport.exec_raw_no_follow(code)
        # The timeout is between characters: a board silent this long is gone.
        _, err = link.transport.follow(3 + duration_ms / 1000, data_consumer=parser.feed)
    except TransportError as exc:
        raise DeviceError(
            f"lost the live readings from the board on {link.port}: {exc}. Check the USB cable."
        ) from None
    if err:
        text = err.decode(errors="replace").strip()
        if api.firmware_missing(text):
            raise api.missing_error(link, "dowel.stream")
        raise DeviceError(f"the board could not stream its readings: {text}")
    if not parser.ended or parser.reported_count != len(parser.samples):
        raise DeviceError(
            f"the live readings from the board on {link.port} were cut short "
            f"({len(parser.samples)} samples; board said {parser.reported_count}). "
            "Check the USB cable and try again."
        )
    return parser.samples
