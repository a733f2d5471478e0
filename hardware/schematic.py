"""Draw the dowel's schematic from the pin map: python hardware/schematic.py -> schematic.svg

Every GPIO label comes from `device/dowel/pinmap.py` and the divider resistor from
`hardware/divider.py`, so the drawing cannot drift from the firmware; `tests/test_pinmap.py`
regenerates it and compares the labels. Nets are joined by name, as on most schematics: a tag
"GPIO34 (head FSR)" at the ESP32 pin and the same tag at the divider are one wire.

    python hardware/schematic.py            # writes hardware/schematic.svg
    python hardware/schematic.py out.svg
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "device")]

import divider  # noqa: E402
import schemdraw  # noqa: E402
import schemdraw.elements as elm  # noqa: E402
from dowel import pinmap  # noqa: E402

LED_OHMS = "330 Ω"
BASE_OHMS = "1 kΩ"
BLEED_OHMS = "1 kΩ"


def nets() -> dict[str, int]:
    """Function -> GPIO, the labels the drawing carries (and the test checks)."""
    pairs = zip(pinmap.SENSORS, pinmap.SENSOR_PINS, strict=True)
    out = {f"{name} FSR": pin for name, pin in pairs}
    out.update({
        "LED": pinmap.LED_PIN,
        "buzzer": pinmap.BUZZER_PIN,
        "SDA": pinmap.I2C_SDA_PIN,
        "SCL": pinmap.I2C_SCL_PIN,
    })
    return out


def net(function: str) -> str:
    return f"GPIO{nets()[function]} ({function})"


def ohms_label(r: float) -> str:
    return f"{r / 1000:g} kΩ" if r >= 1000 else f"{r:g} Ω"


def draw(path: Path) -> None:
    schemdraw.use("svg")
    schemdraw.svgconfig.text = "text"  # searchable labels (the test reads them)
    r_div = ohms_label(divider.choose_resistor())
    with schemdraw.Drawing(file=str(path), show=False) as d:
        d.config(fontsize=11, unit=2.5)

        # ESP32 DevKit: every signal pin carries its net name.
        left = ["3V3", "GND"] + [net(f"{s} FSR") for s in pinmap.SENSORS]
        right = ["5V (VIN)", "GND", net("LED"), net("buzzer"), net("SDA"), net("SCL")]
        pins = [elm.IcPin(name=n, side="left") for n in reversed(left)]
        pins += [elm.IcPin(name=n, side="right") for n in reversed(right)]
        d += (elm.Ic(pins=pins, size=(10, 5.5), pinspacing=0.9).right().at((-4, -5))
              .label("ESP32 DevKit (ESP32-WROOM-32)", "top"))
        d += elm.Label().at((1, -6.2)).label("FSRs on ADC1 pins, 11 dB attenuation")

        # Three FSR dividers: 3V3 - FSR - node - R - GND; 100 nF on the node against noise.
        for k, sensor in enumerate(pinmap.SENSORS):
            x = -20 + 8 * k
            d += elm.Vdd().at((x, 8)).label("3V3")
            d += (fsr := elm.ResistorVar().down().at((x, 8)).label(f"FSR 402\n{sensor}", "bottom"))
            node = fsr.end
            d += elm.Dot().at(node)
            d += (rdiv := elm.Resistor().down().at(node).label(r_div, "top"))
            d += elm.Ground().at(rdiv.end)
            d += elm.Line().right(2).at(node)
            d += elm.Dot()
            d += (cap := elm.Capacitor().down().label("100 nF", "bottom"))
            d += elm.Ground().at(cap.end)
            d += elm.Line().right(1).at((x + 2, node[1]))
            d += elm.Tag(width=3.6).right().label(net(f"{sensor} FSR"), fontsize=9)

        # LED.
        d += elm.Tag(width=2.8).left().at((10, 6)).label(net("LED"), fontsize=9)
        d += (r_led := elm.Resistor().right().at((10, 6)).label(LED_OHMS))
        d += (led := elm.LED().down().at(r_led.end).label("LED", "top"))
        d += elm.Ground().at(led.end)

        # Buzzer: NPN low-side switch from 5 V (louder than 3.3 V); across the buzzer a bleed
        # resistor (a piezo is a capacitor: it must discharge) and a diode (a magnetic
        # "passive buzzer" kicks back).
        top = (22, 8)
        d += elm.Vdd().at(top).label("5V")
        d += (bz := elm.Crystal().down().at(top).label("passive\npiezo", "top"))
        d += elm.Line().right(2).at(top)
        d += elm.Diode().down().reverse().label("1N4148", "bottom")
        d += elm.Line().left(2)
        d += elm.Line().right(4).at(top)
        d += elm.Resistor().down().label(BLEED_OHMS, "bottom")
        d += elm.Line().left(2)
        d += elm.Line().down(0.5).at(bz.end)
        d += (q := elm.BjtNpn(circle=True).right().anchor("collector")
              .label("NPN\n2N2222 / S8050", "right"))
        d += elm.Ground().at(q.emitter)
        d += elm.Resistor().left().at(q.base).label(BASE_OHMS)
        d += elm.Tag(width=3.2).left().label(net("buzzer"), fontsize=9)

        # MPU6050 breakout (GY-521: own pull-ups and regulator; AD0 low -> 0x68).
        mpu_pins = [elm.IcPin(name=n, side="left") for n in ("AD0", "SCL", "SDA", "GND", "VCC")]
        d += (mpu := elm.Ic(pins=mpu_pins, size=(4, 7), pinspacing=1.4).right().at((22, -6))
              .label(f"MPU6050 (GY-521)\nI2C 0x{pinmap.MPU6050_ADDR:02X}, optional", "top"))
        d += elm.Line().left(1.5).at(mpu.VCC)
        d += elm.Vdd().label("3V3")
        d += elm.Line().left(1).at(mpu.GND)
        d += elm.Ground()
        d += elm.Line().left(1).at(mpu.SDA)
        d += elm.Tag(width=2.8).left().label(net("SDA"), fontsize=9)
        d += elm.Line().left(1).at(mpu.SCL)
        d += elm.Tag(width=2.8).left().label(net("SCL"), fontsize=9)
        d += elm.Line().left(1).at(mpu.AD0)
        d += elm.Ground()

        # Power: 18650 -> charger/protection -> switch -> 5 V boost -> VIN. Or instead: a USB
        # power bank into the DevKit's USB socket.
        d += (bat := elm.Battery().up().at((-20, -12)).label("18650\n3.7 V", "top"))
        d += elm.Line().down(0.5).at(bat.start)
        d += elm.Ground()
        d += elm.Line().right(1.5).at(bat.end)
        d += (chg := elm.Ic(pins=[elm.IcPin(side="left", anchorname="inp"),
                                  elm.IcPin(side="right", anchorname="out")], size=(4, 2))
              .right().anchor("inp").label("TP4056 charger\n+ protection", "center"))
        d += elm.Line().right(1).at(chg.out)
        d += elm.Switch().right().label("power")
        d += (bst := elm.Ic(pins=[elm.IcPin(side="left", anchorname="inp"),
                                  elm.IcPin(side="right", anchorname="out")], size=(4, 2))
              .right().anchor("inp").label("MT3608\nboost to 5 V", "center"))
        d += elm.Line().right(1).at(bst.out)
        d += elm.Tag(width=2.2).right().label("5V (VIN)", fontsize=9)
        d += elm.Label().at((-20, -15)).label(
            "or: a USB power bank into the DevKit's USB socket", halign="left")


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else HERE / "schematic.svg"
    draw(out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
