"""The record format: round trips, sizes, CRC, and a decoder that never crashes and never
invents a record."""

from __future__ import annotations

import binascii
import random

import pytest
from dowel import logfmt
from hypothesis import given, settings
from hypothesis import strategies as st

from .fakes import random_sessions


def encode_log(sessions: list[list[tuple]], epoch: int = 0x1234ABCD,
               has_imu: bool = True) -> tuple[bytes, list[int], list[tuple]]:
    """A segment holding `sessions`; also the end offset of every frame and the reps in order."""
    data = bytearray(logfmt.segment_header(epoch, 7))
    ends = [len(data)]
    reps = []
    packer = logfmt.RepPacker()
    for number, session in enumerate(sessions, start=1):
        data += logfmt.session_header(number, b"\x01\x02\x03\x04\x05\x06", "0.1.0", b"h" * 8,
                                      "P-0001", (2025, 3, 4, 5, 6, 7), 123456, has_imu)
        ends.append(len(data))
        packer.base(-1, 0)
        for rep in session:
            n = packer.pack(*rep)
            data += packer.buf[packer.start : packer.start + n]
            ends.append(len(data))
            reps.append((number, rep))
    return bytes(data), ends, reps


def decoded_reps(d: logfmt.Decoded) -> list[tuple]:
    return [(r.session.number, r.fields()) for r in d.reps]


def test_crc_is_crc16_ccitt_false():
    for data in (b"", b"123456789", bytes(range(256)), b"\xff" * 40):
        assert logfmt.crc16(data) == binascii.crc_hqx(data, 0xFFFF)
    assert logfmt.crc16(b"123456789") == 0x29B1  # the catalogue check value


@pytest.mark.parametrize(
    ("rep", "size"),
    [
        ((0, 0, 4000, 0, 0, None, None, 720, 1500, 600, 1900), 12),  # clean, IMU
        ((0, 0, 4000, 4, 3, 2100, 450, 720, 1500, 600, 1900), 15),  # sacrum lost, IMU
        ((0, 0, 4000, 0, 0, None, None, None, None, None, None), 8),  # clean, no IMU
        ((0, 0, 4000, 2, 2, 300, None, None, None, None, None), 9),  # mid-back lost, no IMU
        ((0, 9000, 4000, 0, 0, None, None, 720, 1500, 600, 1900), 13),  # 9 s gap: wide
        ((0, 9000, 4000, 4, 3, 2100, 450, 720, 1500, 600, 1900), 16),
    ],
)
def test_short_rep_sizes(rep, size):
    p = logfmt.RepPacker()
    assert p.pack(*rep) == size


def test_reps_that_break_the_short_form_take_the_long_form():
    p = logfmt.RepPacker()
    p.pack(0, 0, 4000, 0, 0, None, None, 720, 1500, 600, 1900)
    for rep in (
        (5, 4000, 4000, 0, 0, None, None, 720, 1500, 600, 1900),  # seq jumped
        (6, 10 ** 7, 4000, 0, 0, None, None, 720, 1500, 600, 1900),  # gap > 35 min
        (7, 10 ** 7 + 4000, 20000, 0, 0, None, None, 720, 1500, 600, 1000),  # long rep
        (8, 10 ** 7 + 24000, 4000, 0, 0, None, None, 720, 1500, 600, 1234),  # phases not summing
        (9, 10 ** 7 + 28000, 4000, 0, 0, None, None, 1500, None, None, None),  # partial IMU
    ):
        p.pack(*rep)
        assert p.buf[p.start] >> 5 == logfmt.K_REP_LONG


ddeg = st.one_of(st.none(), st.integers(-(2**29), 2**29), st.integers(-1100, 1100))
ms = st.one_of(st.integers(0, 20000), st.integers(-(2**29), 2**29))  # the long form: |v| < 2**30


@st.composite
def reps_strategy(draw):
    """Any add_rep arguments the format must carry exactly (short or long form)."""
    out, seq, t = [], draw(st.integers(-5, 5)), 0
    for _ in range(draw(st.integers(1, 12))):
        seq += draw(st.sampled_from([1, 1, 1, 2, -3, 1000]))
        t += draw(st.sampled_from([0, 1, 5000, 9000, 3_000_000])) + draw(st.integers(0, 3))
        duration = draw(st.one_of(st.integers(0, 16383), ms))
        lost_mask = draw(st.integers(0, 7))
        first = draw(st.integers(0, 3)) if draw(st.booleans()) else (
            (lost_mask & -lost_mask).bit_length())
        loss_at = draw(st.one_of(st.none(), st.integers(0, 16383), ms)) if lost_mask else None
        if draw(st.booleans()):
            lower = draw(st.one_of(st.none(), st.integers(0, 8191)))
            pause = draw(st.one_of(st.none(), st.integers(0, 8191)))
            rise = (duration - lower - pause if lower is not None and pause is not None
                    and draw(st.booleans()) else draw(st.one_of(st.none(), ms)))
            depth, pitch = draw(ddeg), draw(ddeg)
        else:
            lower = pause = rise = depth = pitch = None
        out.append((seq, t, duration, lost_mask, first, loss_at, pitch, depth, lower, pause,
                    rise))
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(reps_strategy(), min_size=1, max_size=4))
def test_round_trip(sessions):
    data, ends, reps = encode_log(sessions)
    d = logfmt.decode(data)
    assert d.error is None
    assert d.good_bytes == len(data)
    assert decoded_reps(d) == reps


def test_session_header_round_trip():
    for rtc in (None, (2025, 12, 31, 23, 59, 58)):
        for base in (None, (41, 123456)):
            data = logfmt.segment_header(0xDEADBEEF, 3) + logfmt.session_header(
                9, b"\xa4\xcf\x12\x34\x56\x78", "0.1.0", b"\x00" * 8, "P-7", rtc, 2**30 - 1,
                False, base)
            d = logfmt.decode(data)
            assert d.error is None
            assert (d.segment.epoch, d.segment.number, d.segment.version) == (0xDEADBEEF, 3, 1)
            s = d.sessions[0]
            assert (s.number, s.device_id, s.firmware, s.config_hash, s.patient, s.rtc,
                    s.ticks_ms, s.has_imu, s.base) == (
                9, b"\xa4\xcf\x12\x34\x56\x78", "0.1.0", b"\x00" * 8, "P-7", rtc, 2**30 - 1,
                False, base)


SAMPLE, SAMPLE_ENDS, SAMPLE_REPS = encode_log(random_sessions(random.Random(4), 3, 8))


def reps_before(offset: int) -> int:
    """Reps whose frames lie wholly within data[:offset]."""
    return sum(1 for e in SAMPLE_ENDS[1:] if e <= offset) - sum(
        1 for i, e in enumerate(SAMPLE_ENDS[1:]) if e <= offset and _is_session(i))


def _is_session(frame_index: int) -> bool:
    return SAMPLE[SAMPLE_ENDS[frame_index]] >> 5 == logfmt.K_SESSION


def test_every_truncation_keeps_exactly_the_whole_records():
    for cut in range(len(SAMPLE) + 1):
        d = logfmt.decode(SAMPLE[:cut])
        whole = max([e for e in SAMPLE_ENDS if e <= cut], default=0)
        assert d.good_bytes == whole
        assert decoded_reps(d) == SAMPLE_REPS[: reps_before(cut)]
        if cut not in SAMPLE_ENDS and cut:
            assert d.torn and d.error
        quick = logfmt.decode(SAMPLE[:cut], reps=False)  # the device's boot scan
        assert (quick.good_bytes, quick.torn, quick.rep_count) == (
            d.good_bytes, d.torn, len(d.reps))


def test_every_single_byte_error_is_caught_at_its_frame():
    """Exhaustive: each byte of the sample XORed with 8 patterns. The decoder must stop at
    the damaged frame (CRC-16 catches every burst up to 16 bits) or, if the damage hit a
    header byte, still return only records from before it."""
    for pos in range(len(SAMPLE)):
        frame_start = max(e for e in [0, *SAMPLE_ENDS] if e <= pos)
        for mask in (1, 2, 4, 0x10, 0x80, 0x11, 0x5A, 0xFF):
            data = bytearray(SAMPLE)
            data[pos] ^= mask
            d = logfmt.decode(bytes(data))
            assert d.good_bytes == frame_start
            assert decoded_reps(d) == SAMPLE_REPS[: reps_before(frame_start)]


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_never_crash_and_make_no_records(data):
    d = logfmt.decode(data)
    assert d.reps == [] and d.sessions == []
    assert d.good_bytes == 0
    assert d.tail_bytes == len(data)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(SAMPLE)), st.binary(max_size=80))
def test_garbage_after_a_prefix_only_loses_records(cut, garbage):
    """Whatever follows a cut (a torn write leaves stale bytes): only records of the valid
    prefix come out, in order."""
    d = logfmt.decode(SAMPLE[:cut] + garbage)
    got = decoded_reps(d)
    assert got == SAMPLE_REPS[: len(got)]
    assert len(got) >= reps_before(cut)


@pytest.mark.parametrize("fill", [b"\x00", b"\xff"])
def test_erased_tail_is_torn_not_damage(fill):
    d = logfmt.decode(SAMPLE + fill * 100)
    assert d.torn and decoded_reps(d) == SAMPLE_REPS


def test_damage_in_the_middle_is_not_torn():
    data = bytearray(SAMPLE)
    data[SAMPLE_ENDS[3] + 2] ^= 0x40
    d = logfmt.decode(bytes(data))
    assert d.error and not d.torn


def test_other_format_version_is_flagged():
    p = bytearray(logfmt.MAGIC) + bytes([2, 0, 0, 0, 0, 1])
    d = logfmt.decode(logfmt.frame(logfmt.K_SEGMENT, p) + SAMPLE[SAMPLE_ENDS[0]:])
    assert d.unsupported and d.reps == []


def test_bad_rep_fields_are_refused():
    p = logfmt.RepPacker()
    with pytest.raises(ValueError):
        p.pack(0, 0, 100, 8, 0, None, None, None, None, None, None)
    with pytest.raises(ValueError):
        p.pack(5, 0, 2**31, 0, 0, None, None, None, None, None, None)
