"""BOM, wiring, schematic and assembly agree with each other and with the firmware: every
electrical part of the BOM is drawn and named where it is wired, every I2C address and the
power rules are the same everywhere, the cues fit the listed transducer, and the docs state the
loop rate the firmware aims for. (Pins against the pin map: test_pinmap.py.)"""

from __future__ import annotations

import csv
import re

import pytest
from dowel import cues, imu, pinmap, rtc8563

from tests.hardware_docs.test_pinmap import HW, fresh_svg, load, schematic, svg_labels  # noqa: F401

MECHANICAL = {"BH1", "DOWEL", "PADS", "STRAP", "WIRE", "HS", "PCB"}  # not on a schematic


def bom_rows() -> list[dict]:
    with open(HW / "BOM.csv", newline="") as f:
        return list(csv.DictReader(f))


def refs(ref: str) -> list[str]:
    """'R1-3' -> R1, R2, R3; 'U2' -> U2."""
    m = re.fullmatch(r"([A-Z]+)(\d+)-(\d+)", ref)
    if not m:
        return [ref]
    return [f"{m.group(1)}{n}" for n in range(int(m.group(2)), int(m.group(3)) + 1)]


def label_tokens(labels: list[str]) -> set[str]:
    return {t for label in labels for t in re.split(r"[\s(),]+", label) if t}


def doc(name: str) -> str:
    return (HW / name).read_text()


def test_every_electrical_bom_part_is_on_the_schematic(fresh_svg):  # noqa: F811
    tokens = label_tokens(svg_labels(fresh_svg))
    for row in bom_rows():
        if row["ref"] in MECHANICAL:
            continue
        for ref in refs(row["ref"]):
            assert ref in tokens, f"BOM {ref} ({row['part']}) is not on the schematic"
        assert int(row["qty"]) == len(refs(row["ref"])), row["ref"]


def test_every_bom_part_is_named_where_it_is_built():
    text = doc("WIRING.md") + doc("ASSEMBLY.md") + doc("MOUNTING.md")
    for row in bom_rows():
        if row["ref"] in MECHANICAL:
            continue
        named = [r for r in refs(row["ref"]) if re.search(rf"\b{r}\b", text)]
        number = row["example_part_number"].split()[0]
        assert (
            named or row["ref"] in text or number in text or row["part"].lower() in (text.lower())
        ), f"{row['ref']} {row['part']} is in the BOM but nowhere in the docs"


def test_i2c_addresses_agree_with_the_drivers_and_do_not_clash(fresh_svg):  # noqa: F811
    assert pinmap.MPU6050_ADDR == imu.ADDR == 0x68
    assert pinmap.RTC_ADDR == rtc8563.ADDR == 0x51
    labels = " ".join(svg_labels(fresh_svg))
    wiring = doc("WIRING.md")
    for addr in (pinmap.MPU6050_ADDR, pinmap.RTC_ADDR):
        assert f"I2C 0x{addr:02X}" in labels
        assert f"0x{addr:02x}" in wiring.lower()
    assert "DS3231" in wiring  # why not the usual RTC: it sits at 0x68 too


def test_power_rules_are_the_same_in_bom_wiring_schematic_and_assembly(fresh_svg):  # noqa: F811
    tokens = label_tokens(svg_labels(fresh_svg))
    assert {"B+", "B-", "OUT+", "OUT-", "D3", "1N5817", "SW1"} <= tokens
    charger = next(r for r in bom_rows() if r["ref"] == "CHG1")
    assert "OUT+/OUT-" in charger["description"]
    for name in ("WIRING.md", "ASSEMBLY.md"):
        text = doc(name)
        assert "OUT+" in text and "OUT-" in text and "B+/B-" in text, name
        assert "1N5817" in text or "D3" in text, name
    # the old wiring, load on B+/B-, is gone from the build steps
    assert "TP4056 (B+/B-) -> switch" not in doc("ASSEMBLY.md")
    assert "switch the battery off when the dowel is plugged" not in doc("MOUNTING.md")


def test_cues_fit_the_listed_transducer():
    buzzer = next(r for r in bom_rows() if r["ref"] == "BZ1")
    assert "CEP-1126" in buzzer["example_part_number"]
    assert "CEP-1126" in doc("WIRING.md") and "Typical Frequency Response Curve" in doc(
        "WIRING.md"
    )
    lo, hi = cues.BAND_HZ
    for name in cues.NAMES:
        pattern = getattr(cues, name)
        for f in pattern[0::2]:
            assert f == 0 or lo <= f <= hi, (name, f)


def test_lost_point_cues_differ_by_pitch_and_count_and_no_other_cue_borrows_their_pitch():
    lost = [cues.HEAD_CUE, cues.MIDBACK_CUE, cues.SACRUM_CUE]
    pitches = [p[0] for p in lost]
    assert pitches == sorted(pitches, reverse=True)  # head highest, sacrum lowest
    for a, b in zip(pitches, pitches[1:], strict=False):
        assert a / b >= 2 ** (3 / 12), (a, b)  # at least a minor third apart
    counts = [sum(1 for f in p[0::2] if f) for p in lost]
    assert counts == [1, 2, 3]
    for p in lost:
        assert {f for f in p[0::2] if f} == {p[0]}  # one pitch per point
    others = [getattr(cues, n) for n in cues.NAMES if getattr(cues, n) not in lost]
    for p in others:
        assert not set(p[0::2]) & set(pitches), p


def test_docs_state_the_200_hz_loop_rate():
    for path in sorted(HW.glob("*.md")):
        text = path.read_text()
        assert not re.search(r"\b(250|100) Hz\b", text), f"{path.name} states another loop rate"
    assert "200 Hz" in doc("WIRING.md")


@pytest.mark.parametrize("name", ["schematic", "divider"])
def test_generators_load(name):
    assert load(name)
