"""The firmware's console event lines, parsed: `@dowel <event> key=value ...` (see
`dowel.app.App._announce`). A serial monitor shows them as they are; `dowel demo` reads them to
show the dowel's state and beeps live.

    parse_line("@dowel fault lost=4 rep=2 cued=1 pitch_ddeg=321 state=fault")
    # -> ConsoleEvent(event="fault", fields={"lost": 4, "rep": 2, ...})
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dowel.points import NAMES

PREFIX = "@dowel "


@dataclass
class ConsoleEvent:
    event: str
    fields: dict[str, int | str] = field(default_factory=dict)

    def points(self, key: str = "lost") -> list[str]:
        """The point names of a bit-mask field (bit 0 head, 1 mid-back, 2 sacrum)."""
        mask = self.fields.get(key, 0)
        return [
            name for bit, name in enumerate(NAMES) if isinstance(mask, int) and mask >> bit & 1
        ]


def parse_line(line: str) -> ConsoleEvent | None:
    """The event on a console line, or None for any other output (tracebacks, the REPL)."""
    line = line.strip()
    if not line.startswith(PREFIX):
        return None
    words = line[len(PREFIX) :].split()
    if not words:
        return None
    fields: dict[str, int | str] = {}
    for word in words[1:]:
        key, sep, value = word.partition("=")
        if not sep:
            continue
        try:
            fields[key] = int(value)
        except ValueError:
            fields[key] = value
    return ConsoleEvent(words[0], fields)


class LineReader:
    """Splits a byte stream into lines; feeds whole ones to `parse_line`."""

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, data: bytes) -> list[ConsoleEvent]:
        self._buf += data
        *lines, self._buf = self._buf.split(b"\n")
        events = []
        for raw in lines:
            event = parse_line(raw.decode(errors="replace"))
            if event is not None:
                events.append(event)
        return events
