"""Parsing the board's live-reading lines, whatever the chunking."""

import pytest
from dowel import info
from hypothesis import given
from hypothesis import strategies as st

from host_tools.board import api
from host_tools.board.livestream import StreamParser, stream
from host_tools.errors import DeviceError

TEXT = b"S 10 1\n0 100 200 300 -5\n10 101 201 301 -6\n20 102 202 302 -7\nE 3 0\n"


@given(st.lists(st.integers(1, 20), max_size=40))
def test_any_chunking_gives_the_same_samples(cuts):
    parser = StreamParser()
    i = 0
    for n in cuts:
        parser.feed(TEXT[i : i + n])
        i += n
    parser.feed(TEXT[i:])
    assert [s.t_ms for s in parser.samples] == [0, 10, 20]
    assert parser.samples[2].counts == (102, 202, 302)
    assert parser.samples[2].pitch_ddeg == -7
    assert parser.ended and parser.reported_count == 3 and parser.late == 0


def test_no_imu_gives_no_pitch():
    parser = StreamParser()
    parser.feed(b"S 10 0\n0 1 2 3 0\nE 1 0\n")
    assert parser.samples[0].pitch_ddeg is None


def test_samples_reach_the_callback_as_they_arrive():
    seen = []
    parser = StreamParser(seen.append)
    parser.feed(b"S 10 0\n0 1 2 3 0\n5 1")
    assert len(seen) == 1


class _Transport:
    def __init__(self, out, err=b""):
        self.out, self.err = out, err

    def exec_raw_no_follow(self, code):
        assert "_s.run(500, 10, 0)" in code

    def follow(self, timeout, data_consumer=None):
        data_consumer(self.out)
        return b"", self.err


class _Link:
    """A link whose firmware `api.check_firmware` already asked (the stream asks it first)."""

    port = "test"
    firmware = api.FirmwareVersion(*info.version())

    def __init__(self, transport):
        self.transport = transport


def test_stream_returns_every_sample():
    assert len(stream(_Link(_Transport(TEXT)), 500)) == 3


def test_a_cut_stream_is_an_error_not_a_short_list():
    with pytest.raises(DeviceError, match="cut short"):
        stream(_Link(_Transport(TEXT[:-8])), 500)


def test_a_device_error_names_the_fix():
    with pytest.raises(DeviceError, match="dowel flash"):
        stream(_Link(_Transport(b"", b"ImportError: no module named 'dowel.stream'")), 500)
