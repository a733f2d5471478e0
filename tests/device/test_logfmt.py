"""The record format: round trips, sizes, CRC, and a decoder that never crashes and never
invents a record."""

from __future__ import annotations

import binascii
import random

import pytest
from dowel import logfmt, logread
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fakes.logs import random_sessions


def encode_log(
    sessions: list[list[tuple]], epoch: int = 0x1234ABCD, has_imu: bool = True
) -> tuple[bytes, list[int], list[tuple]]:
    """A segment holding `sessions`; also the end offset of every frame and the reps in order."""
    data = bytearray(logfmt.segment_header(epoch, 7))
    ends = [len(data)]
    reps = []
    packer = logfmt.RepPacker()
    for number, session in enumerate(sessions, start=1):
        data += logfmt.session_header(
            number,
            b"\x01\x02\x03\x04\x05\x06",
            "0.1.0",
            b"h" * 8,
            "P-0001",
            (2025, 3, 4, 5, 6, 7),
            123456,
            has_imu,
            boot=0x600D + number,
        )
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
        (6, 10**7, 4000, 0, 0, None, None, 720, 1500, 600, 1900),  # gap > 35 min
        (7, 10**7 + 4000, 20000, 0, 0, None, None, 720, 1500, 600, 1000),  # long rep
        (8, 10**7 + 24000, 4000, 0, 0, None, None, 720, 1500, 600, 1234),  # phases not summing
        (9, 10**7 + 28000, 4000, 0, 0, None, None, 1500, None, None, None),  # partial IMU
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
        first = (
            draw(st.integers(0, 3))
            if draw(st.booleans())
            else ((lost_mask & -lost_mask).bit_length())
        )
        loss_at = draw(st.one_of(st.none(), st.integers(0, 16383), ms)) if lost_mask else None
        if draw(st.booleans()):
            lower = draw(st.one_of(st.none(), st.integers(0, 8191)))
            pause = draw(st.one_of(st.none(), st.integers(0, 8191)))
            rise = (
                duration - lower - pause
                if lower is not None and pause is not None and draw(st.booleans())
                else draw(st.one_of(st.none(), ms))
            )
            depth, pitch = draw(ddeg), draw(ddeg)
        else:
            lower = pause = rise = depth = pitch = None
        out.append((seq, t, duration, lost_mask, first, loss_at, pitch, depth, lower, pause, rise))
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(reps_strategy(), min_size=1, max_size=4))
def test_round_trip(sessions):
    data, ends, reps = encode_log(sessions)
    d = logread.decode(data)
    assert d.error is None
    assert d.good_bytes == len(data)
    assert decoded_reps(d) == reps


def test_session_header_round_trip():
    for rtc in (None, (2025, 12, 31, 23, 59, 58)):
        for base in (None, (41, 123456)):
            for battery in (None, 0, 57, 100):
                data = logfmt.segment_header(0xDEADBEEF, 3) + logfmt.session_header(
                    9,
                    b"\xa4\xcf\x12\x34\x56\x78",
                    "0.1.0",
                    b"\x00" * 8,
                    "P-7",
                    rtc,
                    2**30 - 1,
                    False,
                    base,
                    boot=0x7FFFFFFF,
                    battery_pct=battery,
                )
                d = logread.decode(data)
                assert d.error is None
                assert (d.segment.epoch, d.segment.number, d.segment.version) == (
                    0xDEADBEEF,
                    3,
                    logfmt.FORMAT_VERSION,
                )
                s = d.sessions[0]
                assert (
                    s.number,
                    s.device_id,
                    s.firmware,
                    s.config_hash,
                    s.patient,
                    s.rtc,
                    s.ticks_ms,
                    s.has_imu,
                    s.base,
                    s.boot,
                    s.battery_pct,
                ) == (
                    9,
                    b"\xa4\xcf\x12\x34\x56\x78",
                    "0.1.0",
                    b"\x00" * 8,
                    "P-7",
                    rtc,
                    2**30 - 1,
                    False,
                    base,
                    0x7FFFFFFF,
                    battery,
                )


def test_battery_costs_one_byte_per_session_and_none_per_rep():
    args = (9, b"\xa4\xcf\x12\x34\x56\x78", "0.1.0", b"\x00" * 8, "P-7", None, 5, True)
    with_level = logfmt.session_header(*args, boot=1, battery_pct=80)
    unknown = logfmt.session_header(*args, boot=1)
    assert len(with_level) == len(unknown)  # the byte is always there: 255 means unknown
    for bad in (-1, 101, 255):
        with pytest.raises(ValueError):
            logfmt.session_header(*args, boot=1, battery_pct=bad)
    # A v3 header whose battery byte is 101..254 is damage, not a level.
    seg = logfmt.segment_header(1, 1)
    payload = bytearray(with_level[1:-2])
    payload[-1] = 101
    d = logread.decode(seg + logfmt.frame(logfmt.K_SESSION, bytes(payload)))
    assert d.sessions == [] and d.error


SAMPLE, SAMPLE_ENDS, SAMPLE_REPS = encode_log(random_sessions(random.Random(4), 3, 8))


def reps_before(offset: int) -> int:
    """Reps whose frames lie wholly within data[:offset]."""
    return sum(1 for e in SAMPLE_ENDS[1:] if e <= offset) - sum(
        1 for i, e in enumerate(SAMPLE_ENDS[1:]) if e <= offset and _is_session(i)
    )


def _is_session(frame_index: int) -> bool:
    return SAMPLE[SAMPLE_ENDS[frame_index]] >> 5 == logfmt.K_SESSION


def test_every_truncation_keeps_exactly_the_whole_records():
    for cut in range(len(SAMPLE) + 1):
        d = logread.decode(SAMPLE[:cut])
        whole = max([e for e in SAMPLE_ENDS if e <= cut], default=0)
        assert d.good_bytes == whole
        assert decoded_reps(d) == SAMPLE_REPS[: reps_before(cut)]
        if cut not in SAMPLE_ENDS and cut:
            assert d.torn and d.error
        quick = logread.decode(SAMPLE[:cut], reps=False)  # the device's boot scan
        assert (quick.good_bytes, quick.torn, quick.rep_count) == (
            d.good_bytes,
            d.torn,
            len(d.reps),
        )


def frame_index(pos: int) -> int:
    """Index (in SAMPLE_ENDS order: 0 the segment header) of the frame holding byte pos."""
    return sum(1 for e in SAMPLE_ENDS if e <= pos)


def readable_after_damage(k: int) -> list[tuple]:
    """The reps a resynchronising decoder can place when frame k is destroyed: those before
    it, and those after the next session header (a short rep needs the one before it)."""
    before = SAMPLE_REPS[: reps_before(SAMPLE_ENDS[k - 1])] if k else []
    if k == 0:
        return []
    nxt = next((i for i in range(k + 1, len(SAMPLE_ENDS)) if _is_session(i - 1)), None)
    return before + ([] if nxt is None else SAMPLE_REPS[reps_before(SAMPLE_ENDS[nxt - 1]) :])


def test_every_single_byte_error_costs_only_its_frame_and_context():
    """Exhaustive: each byte of the sample XORed with 8 patterns. Without repair the decoder
    skips the damaged frame, resynchronises at the next one, and places reps again from the
    next session header on: exactly those, never a wrong one; the rest are `unplaced`."""
    for pos in range(len(SAMPLE)):
        k = frame_index(pos)
        frame_start = SAMPLE_ENDS[k - 1] if k else 0
        want = readable_after_damage(k)
        for mask in (1, 2, 4, 0x10, 0x80, 0x11, 0x5A, 0xFF):
            data = bytearray(SAMPLE)
            data[pos] ^= mask
            d = logread.decode(bytes(data))
            assert d.good_bytes == frame_start, (pos, mask)
            assert decoded_reps(d) == want, (pos, mask)
            if k:
                assert d.skipped == [(frame_start, SAMPLE_ENDS[k])], (pos, mask)
                assert d.error
                assert not d.torn or SAMPLE_ENDS[k] == len(SAMPLE)  # only the last can look so
                assert len(want) + d.unplaced + (not _is_session(k - 1)) == len(SAMPLE_REPS)


def test_every_single_bit_flip_is_repaired_and_no_multi_bit_error_makes_a_wrong_rep():
    for pos in range(len(SAMPLE)):
        for bit in range(8):
            data = bytearray(SAMPLE)
            data[pos] ^= 1 << bit
            d = logread.decode(bytes(data), repair=True)
            assert decoded_reps(d) == SAMPLE_REPS, (pos, bit)
            assert d.repaired == [(pos, bit)] and d.damaged() and not d.skipped
        for mask in (0x11, 0x5A, 0xFF):
            data = bytearray(SAMPLE)
            data[pos] ^= mask
            d = logread.decode(bytes(data), repair=True)
            assert not d.repaired  # two or more bits: never "corrected" into something else
            got = iter(SAMPLE_REPS)
            assert all(r in got for r in decoded_reps(d)), (pos, mask)  # a subsequence


def test_damage_far_apart_costs_each_region_only():
    data = bytearray(SAMPLE)
    hits = [SAMPLE_ENDS[3] + 1, SAMPLE_ENDS[len(SAMPLE_ENDS) // 2] + 1]
    for h in hits:
        data[h] ^= 0x24
    d = logread.decode(bytes(data))
    assert [a for a, _ in d.skipped] == [SAMPLE_ENDS[3], SAMPLE_ENDS[len(SAMPLE_ENDS) // 2]]
    got = iter(SAMPLE_REPS)
    assert all(r in got for r in decoded_reps(d))
    assert d.sessions[-1].number == 3  # the last session header was found past both


def old_segment(sessions, version: int) -> bytes:
    """A segment as format version 1 (no `boot`, no battery in session headers) or 2 (no
    battery) wrote it."""
    v3, _, _ = encode_log(sessions)
    d = logread.decode(v3)
    out = bytearray()
    pos = 0
    while pos < len(v3):
        b0 = v3[pos]
        head, length = (2, v3[pos + 1]) if b0 & 31 == 31 else (1, b0 & 31)
        payload = bytes(v3[pos + head : pos + head + length])
        kind = b0 >> 5
        if kind == logfmt.K_SEGMENT:
            payload = payload[:3] + bytes([version]) + payload[4:]
        elif kind == logfmt.K_SESSION:
            payload = payload[: -5 if version == 1 else -1]
        out += logfmt.frame(kind, payload)
        pos += head + length + 2
    assert d.error is None
    return bytes(out)


@pytest.mark.parametrize("version", [1, 2])
def test_older_format_segments_still_decode(version):
    sessions = random_sessions(random.Random(40), 2, 5)
    d = logread.decode(old_segment(sessions, version))
    assert d.error is None and d.segment.version == version
    assert [s.boot is None for s in d.sessions] == [version == 1] * 2
    assert [s.battery_pct for s in d.sessions] == [None, None]
    assert [r.fields() for r in d.reps] == [r for s in sessions for r in s]


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_never_crash_and_make_no_records(data):
    d = logread.decode(data)
    assert d.reps == [] and d.sessions == []
    assert d.good_bytes == 0
    assert d.tail_bytes == len(data)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(SAMPLE)), st.binary(max_size=80))
def test_garbage_after_a_prefix_only_loses_records(cut, garbage):
    """Whatever follows a cut (a torn write leaves stale bytes): only records of the valid
    prefix come out, in order."""
    d = logread.decode(SAMPLE[:cut] + garbage)
    got = decoded_reps(d)
    assert got == SAMPLE_REPS[: len(got)]
    assert len(got) >= reps_before(cut)


@pytest.mark.parametrize("fill", [b"\x00", b"\xff"])
def test_erased_tail_is_torn_not_damage(fill):
    d = logread.decode(SAMPLE + fill * 100)
    assert d.torn and decoded_reps(d) == SAMPLE_REPS


def test_damage_in_the_middle_is_not_torn():
    data = bytearray(SAMPLE)
    data[SAMPLE_ENDS[3] + 2] ^= 0x40
    d = logread.decode(bytes(data))
    assert d.error and not d.torn


def test_other_format_version_is_flagged():
    p = bytearray(logfmt.MAGIC) + bytes([logfmt.FORMAT_VERSION + 1, 0, 0, 0, 0, 1])
    d = logread.decode(logfmt.frame(logfmt.K_SEGMENT, p) + SAMPLE[SAMPLE_ENDS[0] :])
    assert d.unsupported and d.reps == []


def test_bad_rep_fields_are_refused():
    p = logfmt.RepPacker()
    with pytest.raises(ValueError):
        p.pack(0, 0, 100, 8, 0, None, None, None, None, None, None)
    with pytest.raises(ValueError):
        p.pack(5, 0, 2**31, 0, 0, None, None, None, None, None, None)


# ---- version 4: the feedback frame ----------------------------------------------------------


def _feedback_frame(state: int) -> bytes:
    buf = bytearray(logfmt.FEEDBACK_FRAME)
    return bytes(buf[: logfmt.pack_feedback(buf, state)])


def _session(number: int = 1) -> bytes:
    return logfmt.session_header(number, b"\x01" * 6, "0.1.0", b"\x02" * 8, "P-1", None, 0, True)


def _rep(packer: logfmt.RepPacker, seq: int, lost: bool = False) -> bytes:
    if lost:
        n = packer.pack(seq, seq * 6000, 4000, 4, 3, 2000, 300, 700, 1500, 500, 2000)
    else:
        n = packer.pack(seq, seq * 6000, 4000, 0, 0, None, None, 700, 1500, 500, 2000)
    return bytes(packer.buf[packer.start : packer.start + n])


def test_feedback_frames_set_the_feedback_of_the_reps_after_them():
    p = logfmt.RepPacker()
    warning = logfmt.feedback_state(0, 1, 0, False)
    probe = logfmt.feedback_state(2, 2, 67, True)
    data = (
        logfmt.segment_header(1, 1)
        + _session()
        + _rep(p, 0)  # before any feedback frame: not logged
        + _feedback_frame(warning)
        + _rep(p, 1)
        + _rep(p, 2, lost=True)
        + _feedback_frame(probe)
        + _rep(p, 3)
    )
    p.base(-1, 0)
    data += _session(2) + _rep(p, 0)  # a new session states its own: unknown until it does
    d = logread.decode(data)
    assert d.error is None and d.segment.version == 4
    assert [r.feedback for r in d.reps] == [
        None,
        (0, 1, 0, False),
        (0, 1, 0, False),
        (2, 2, 67, True),
        None,
    ]
    assert len(_feedback_frame(probe)) == 7
    assert d.rep_count == 5  # feedback frames are not reps, in the boot scan either
    assert logread.decode(data, reps=False).rep_count == 5


def test_a_feedback_frame_in_an_older_log_or_out_of_range_is_damage():
    p = logfmt.RepPacker()
    old = bytearray(logfmt.segment_header(1, 1))
    old[4] = 3  # format version 3 (then the segment header's CRC again)
    old = logfmt.frame(logfmt.K_SEGMENT, bytes(old[1:-2]))
    fb = _feedback_frame(logfmt.feedback_state(0, 0, 0, False))
    d = logread.decode(old + _session() + fb + _rep(p, 0))
    assert d.segment.version == 3 and "feedback record in a version 3 log" in d.error
    bad = bytearray(_feedback_frame(logfmt.feedback_state(0, 2, 101, False)))
    c = logfmt.crc16(bad, 0, 5)
    bad[5], bad[6] = c >> 8, c & 0xFF
    p.base(-1, 0)
    d = logread.decode(logfmt.segment_header(1, 1) + _session() + bytes(bad) + _rep(p, 0))
    assert "bad feedback record" in d.error
