"""The firmware's console event lines as the host reads them (the demo's live view)."""

from host_tools.board.console import LineReader, parse_line


def test_parse_fault_line_names_the_points():
    event = parse_line("@dowel fault lost=5 rep=2 cued=1 pitch_ddeg=321 state=fault\r")
    assert event is not None
    assert event.event == "fault"
    assert event.fields == {"lost": 5, "rep": 2, "cued": 1, "pitch_ddeg": 321, "state": "fault"}
    assert event.points() == ["head", "sacrum"]


def test_other_console_output_is_not_an_event():
    for line in ("", ">>> ", "Traceback (most recent call last):", "@dowel", "dowel armed"):
        assert parse_line(line) is None


def test_reader_joins_lines_split_across_reads():
    reader = LineReader()
    assert reader.feed(b"MicroPython v1.27\r\n@dowel boot firmware=0.1.0 im") == []
    events = reader.feed(b"u=1 config=ok patient=P-1\r\n@dowel armed state=armed\r\n@dow")
    assert [(e.event, e.fields.get("state")) for e in events] == [
        ("boot", None),
        ("armed", "armed"),
    ]
    assert events[0].fields["patient"] == "P-1" and events[0].fields["imu"] == 1
