"""One pin map: the firmware (`dowel.pinmap`), the wiring doc, the schematic and the BOM must
agree, and every FSR must sit on ADC1."""

from __future__ import annotations

import csv
import importlib.util
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from dowel import pinmap, points

from host_tools.paths import repo_root

HW = repo_root() / "hardware"
DEVICE = repo_root() / "device"

# ESP32 datasheet (v4.x), "Peripheral Pin Configurations": ADC1 is GPIO32-39, ADC2 is shared
# with Wi-Fi. Written out here, not taken from pinmap, so the pin map cannot vouch for itself.
ESP32_ADC1 = {32, 33, 34, 35, 36, 37, 38, 39}
ESP32_ADC2 = {0, 2, 4, 12, 13, 14, 15, 25, 26, 27}
INPUT_ONLY = {34, 35, 36, 37, 38, 39}
SPI_FLASH = {6, 7, 8, 9, 10, 11}  # wired to the module's flash chip
EXPLAINED_NOT_USED = {36, 39}  # WIRING.md says why they are avoided


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, HW / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(HW))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(HW))
    return module


@pytest.fixture(scope="module")
def schematic():
    return load("schematic")


@pytest.fixture(scope="module")
def divider():
    return load("divider")


@pytest.fixture(scope="module")
def fresh_svg(schematic, tmp_path_factory):
    path = tmp_path_factory.mktemp("schematic") / "schematic.svg"
    schematic.draw(path)
    return path


def expected_nets() -> dict[str, int]:
    nets = {f"{s} FSR": p for s, p in zip(points.NAMES, pinmap.SENSOR_PINS, strict=True)}
    nets.update(
        LED=pinmap.LED_PIN,
        buzzer=pinmap.BUZZER_PIN,
        SDA=pinmap.I2C_SDA_PIN,
        SCL=pinmap.I2C_SCL_PIN,
        battery=pinmap.BATTERY_PIN,
    )
    return nets


def test_fsrs_are_on_adc1_not_adc2():
    assert len(pinmap.SENSOR_PINS) == len(points.NAMES) == 3
    for name, pin in zip(points.NAMES, pinmap.SENSOR_PINS, strict=True):
        assert pin in ESP32_ADC1, f"{name} FSR on GPIO{pin}: not an ADC1 pin"
        assert pin not in ESP32_ADC2, f"{name} FSR on GPIO{pin}: ADC2 stops with Wi-Fi on"
    assert set(pinmap.ADC1_PINS) == ESP32_ADC1
    assert pinmap.BATTERY_PIN in ESP32_ADC1 - EXPLAINED_NOT_USED, "the cell divider needs ADC1"


def test_pins_are_distinct_and_fit_their_use():
    pins = list(expected_nets().values())
    assert len(pins) == len(set(pins)), "two functions share a GPIO"
    outputs = [pinmap.LED_PIN, pinmap.BUZZER_PIN, pinmap.I2C_SDA_PIN, pinmap.I2C_SCL_PIN]
    assert not set(outputs) & INPUT_ONLY, "an output on an input-only pin"
    assert not set(pins) & SPI_FLASH


def test_firmware_takes_every_pin_from_the_pin_map():
    literal_pin = re.compile(r"\bPin\(\s*\d")
    for path in sorted((DEVICE / "dowel").glob("*.py")):
        if path.name != "pinmap.py":
            assert not literal_pin.search(path.read_text()), f"{path.name} hard-codes a pin"


def wiring_table() -> dict[str, int]:
    rows = {}
    for line in (HW / "WIRING.md").read_text().splitlines():
        m = re.match(r"\|\s*([^|]+?)\s*\|\s*GPIO(\d+)\s*\|", line)
        if m:
            assert m.group(1) not in rows, f"{m.group(1)} twice in WIRING.md"
            rows[m.group(1)] = int(m.group(2))
    return rows


def test_wiring_doc_table_matches_the_pin_map():
    assert wiring_table() == expected_nets()


def test_docs_mention_no_other_gpio():
    allowed = set(expected_nets().values()) | EXPLAINED_NOT_USED
    for path in sorted(HW.glob("*.md")):
        for m in re.finditer(r"GPIO(\d+)", path.read_text()):
            assert int(m.group(1)) in allowed, f"{path.name} mentions GPIO{m.group(1)}"


def svg_labels(path: Path) -> list[str]:
    root = ET.parse(path).getroot()
    return ["".join(el.itertext()).strip() for el in root.iter() if el.tag.endswith("tspan")]


def net_labels(labels: list[str]) -> list[tuple[str, int]]:
    found = []
    for label in labels:
        m = re.fullmatch(r"GPIO(\d+) \((.+)\)", label)
        if m:
            found.append((m.group(2), int(m.group(1))))
    return found


def test_schematic_generator_uses_the_pin_map(schematic):
    assert schematic.nets() == expected_nets()


def test_regenerated_schematic_labels_match_pin_map_and_committed_svg(fresh_svg):
    labels = svg_labels(fresh_svg)
    nets = net_labels(labels)
    # each net is drawn at both ends: the ESP32's pin and the part it goes to; the I2C bus
    # goes to two parts, the IMU and the RTC
    for function, pin in expected_nets().items():
        ends = 3 if function in ("SDA", "SCL") else 2
        assert nets.count((function, pin)) == ends, (function, pin, nets)
    assert set(nets) == set(expected_nets().items())
    committed = svg_labels(HW / "schematic.svg")
    assert sorted(committed) == sorted(labels), (
        "hardware/schematic.svg is stale: run `python hardware/schematic.py`"
    )


def test_schematic_shows_the_divider_resistor(schematic, divider, fresh_svg):
    r_label = schematic.ohms_label(divider.choose_resistor())
    labels = svg_labels(fresh_svg)
    assert labels.count(r_label) == 3
    assert labels.count(schematic.ohms_label(pinmap.BATTERY_R_TOP_OHMS)) == 2  # R7, R8
    text = " ".join(labels)
    for part in (
        "MPU6050",
        "MPU-6500",
        "PCF8563",
        f"0x{pinmap.RTC_ADDR:02X}",
        "1N5817",
        "OUT+",
        "OUT-",
        "B+",
        "B-",
        "CEP-1126",
    ):
        assert part in text, part


def test_divider_result_is_in_the_wiring_doc(divider):
    report = divider.report()
    assert report in (HW / "WIRING.md").read_text(), (
        "WIRING.md's divider block is stale: paste `python hardware/divider.py` into it"
    )


def test_divider_choice_fits_the_linear_range(divider):
    r = divider.choose_resistor()
    lo, hi = divider.FORCE_RANGE_N
    assert divider.LINEAR_MV[0] <= divider.node_mv(lo, r)
    assert divider.node_mv(hi, r) <= divider.LINEAR_MV[1]
    bigger = min(v for v in divider.e12_values() if v > r)
    assert divider.node_mv(hi, bigger) > divider.LINEAR_MV[1]  # it is the largest that fits
    # the curve goes through its published points
    for force, ohms in divider.CURVE:
        assert divider.fsr_ohms(force) == pytest.approx(ohms)


def bom() -> list[dict]:
    with open(HW / "BOM.csv", newline="") as f:
        return list(csv.DictReader(f))


def bom_total(rows) -> float:
    return round(sum(int(r["qty"]) * float(r["unit_usd"]) for r in rows), 2)


def test_bom_total_is_stated_with_the_prices_it_assumes():
    rows = bom()
    assert {"part", "qty", "description", "example_part_number", "unit_usd", "price_basis"} <= set(
        rows[0]
    )
    assert all(r["price_basis"].strip() for r in rows), "every price says what it assumes"
    total = bom_total(rows)
    assert 0 < total < 50, total
    stated = re.search(r"USD (\d+\.\d\d) in total", (HW / "ASSEMBLY.md").read_text())
    assert stated, "ASSEMBLY.md states the BOM's total as 'USD xx.xx in total'"
    assert float(stated.group(1)) == total, (stated.group(1), total)


def test_bom_has_the_reference_build(divider, schematic):
    text = " ".join(" ".join(r.values()) for r in bom()).lower()
    for part in (
        "esp32",
        "fsr 402",
        "mpu6050",
        "mpu-6500",
        "piezo",
        "cep-1126",
        "npn",
        "led",
        "pvc",
        "foam",
        "18650",
        "velcro",
        "heat-shrink",
        "wire",
        "pcf8563",
        "cr1220",
        "1n5817",
        "schottky",
        "tp4056",
        "out+/out-",
        "mt3608",
    ):
        assert part in text, part
    fsr = next(r for r in bom() if "FSR 402" in r["example_part_number"])
    assert int(fsr["qty"]) == len(points.NAMES)
    divider_row = next(r for r in bom() if r["part"] == "Divider resistor")
    assert (
        schematic.ohms_label(divider.choose_resistor()).replace("Ω", "Ohm")
        in (divider_row["description"])
    )
    assert int(divider_row["qty"]) == len(points.NAMES)
    cell_row = next(r for r in bom() if r["part"] == "Battery divider resistors")
    assert int(cell_row["qty"]) == 2
    for ohms in (pinmap.BATTERY_R_TOP_OHMS, pinmap.BATTERY_R_BOTTOM_OHMS):
        assert f"{ohms // 1000} kOhm" in cell_row["description"]
    assert f"GPIO{pinmap.BATTERY_PIN}" in cell_row["description"]
