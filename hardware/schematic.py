"""Draw the dowel's schematic from the pin map: python hardware/schematic.py -> schematic.svg

Every GPIO label comes from `device/dowel/pinmap.py` and the divider resistor from
`hardware/divider.py`, so the drawing cannot drift from the firmware;
`tests/hardware_docs/test_pinmap.py`
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
from dowel import pinmap, points  # noqa: E402

LED_OHMS = "330 Ω"
BATTERY_DIVIDER = (pinmap.BATTERY_R_TOP_OHMS, pinmap.BATTERY_R_BOTTOM_OHMS)
BASE_OHMS = "1 kΩ"
BLEED_OHMS = "1 kΩ"


def nets() -> dict[str, int]:
    """Function -> GPIO, the labels the drawing carries (and the test checks)."""
    pairs = zip(points.NAMES, pinmap.SENSOR_PINS, strict=True)
    out = {f"{name} FSR": pin for name, pin in pairs}
    out.update(
        {
            "LED": pinmap.LED_PIN,
            "buzzer": pinmap.BUZZER_PIN,
            "SDA": pinmap.I2C_SDA_PIN,
            "SCL": pinmap.I2C_SCL_PIN,
            "battery": pinmap.BATTERY_PIN,
        }
    )
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
        left = ["3V3", "GND"] + [net(f"{s} FSR") for s in points.NAMES] + [net("battery")]
        right = ["5V (VIN)", "GND", net("LED"), net("buzzer"), net("SDA"), net("SCL")]
        pins = [elm.IcPin(name=n, side="left") for n in reversed(left)]
        pins += [elm.IcPin(name=n, side="right") for n in reversed(right)]
        d += (
            elm.Ic(pins=pins, size=(10, 5.5), pinspacing=0.9)
            .right()
            .at((-4, -5))
            .label("U1 ESP32 DevKit (ESP32-WROOM-32)", "top")
        )
        d += elm.Label().at((1, -6.2)).label("FSRs and battery on ADC1 pins, 11 dB attenuation")

        # Three FSR dividers: 3V3 - FSR - node - R - GND; 100 nF on the node against noise.
        for k, sensor in enumerate(points.NAMES):
            x = -20 + 8 * k
            d += elm.Vdd().at((x, 8)).label("3V3")
            d += (
                fsr := elm.ResistorVar()
                .down()
                .at((x, 8))
                .label(f"FSR{k + 1} FSR 402\n{sensor}", "bottom")
            )
            node = fsr.end
            d += elm.Dot().at(node)
            d += (rdiv := elm.Resistor().down().at(node).label(f"R{k + 1}\n{r_div}", "top"))
            d += elm.Ground().at(rdiv.end)
            d += elm.Line().right(2).at(node)
            d += elm.Dot()
            d += (cap := elm.Capacitor().down().label(f"C{k + 1}\n100 nF", "bottom"))
            d += elm.Ground().at(cap.end)
            d += elm.Line().right(1).at((x + 2, node[1]))
            d += elm.Tag(width=3.6).right().label(net(f"{sensor} FSR"), fontsize=9)

        # LED.
        d += elm.Tag(width=2.8).left().at((10, 6)).label(net("LED"), fontsize=9)
        d += (r_led := elm.Resistor().right().at((10, 6)).label(f"R4 {LED_OHMS}"))
        d += (led := elm.LED().down().at(r_led.end).label("D1 LED", "top"))
        d += elm.Ground().at(led.end)

        # Buzzer: NPN low-side switch from 5 V (louder than 3.3 V); across the buzzer a bleed
        # resistor (a piezo is a capacitor: it must discharge) and a diode (a magnetic
        # "passive buzzer" kicks back).
        top = (22, 8)
        d += elm.Vdd().at(top).label("5V")
        d += (bz := elm.Crystal().down().at(top).label("BZ1 piezo\nCEP-1126", "top"))
        d += elm.Line().right(2).at(top)
        d += elm.Diode().down().reverse().label("D2 1N4148", "bottom")
        d += elm.Line().left(2)
        d += elm.Line().right(4).at(top)
        d += elm.Resistor().down().label(f"R6\n{BLEED_OHMS}", "bottom")
        d += elm.Line().left(2)
        d += elm.Line().down(0.5).at(bz.end)
        d += (
            q := elm.BjtNpn(circle=True)
            .right()
            .anchor("collector")
            .label("Q1 NPN\n2N2222 / S8050", "right")
        )
        d += elm.Ground().at(q.emitter)
        d += elm.Resistor().left().at(q.base).label(f"R5 {BASE_OHMS}")
        d += elm.Tag(width=3.2).left().label(net("buzzer"), fontsize=9)

        # MPU6050 breakout (GY-521: own pull-ups and regulator; AD0 low -> 0x68).
        mpu_pins = [elm.IcPin(name=n, side="left") for n in ("AD0", "SCL", "SDA", "GND", "VCC")]
        d += (
            mpu := elm.Ic(pins=mpu_pins, size=(4, 7), pinspacing=1.4)
            .right()
            .at((22, -6))
            .label(
                f"U2 MPU6050 / MPU-6500 (GY-521)\nI2C 0x{pinmap.MPU6050_ADDR:02X}, optional", "top"
            )
        )
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

        # RTC: a PCF8563 module with its own coin cell keeps the date while the dowel is off.
        rtc_pins = [elm.IcPin(name=n, side="left") for n in ("SCL", "SDA", "GND", "VCC")]
        d += (
            rtc := elm.Ic(pins=rtc_pins, size=(4, 5.6), pinspacing=1.4)
            .right()
            .at((32, -6))
            .label(f"U3 PCF8563 RTC\nI2C 0x{pinmap.RTC_ADDR:02X}, CR1220 (BAT2)", "top")
        )
        d += elm.Line().left(1.5).at(rtc.VCC)
        d += elm.Vdd().label("3V3")
        d += elm.Line().left(1).at(rtc.GND)
        d += elm.Ground()
        d += elm.Line().left(1).at(rtc.SDA)
        d += elm.Tag(width=2.8).left().label(net("SDA"), fontsize=9)
        d += elm.Line().left(1).at(rtc.SCL)
        d += elm.Tag(width=2.8).left().label(net("SCL"), fontsize=9)

        # Power: 18650 on the charger's B+/B- only; the load on its protected OUT+/OUT- (the
        # DW01 switches the negative side, so OUT- is the dowel's ground and B- is not); the
        # switch on OUT+; the boost into VIN through a Schottky so USB never feeds the boost.
        chg_pins = [
            elm.IcPin(name="B-", side="left", anchorname="bneg"),
            elm.IcPin(name="B+", side="left", anchorname="bpos"),
            elm.IcPin(name="OUT-", side="right", anchorname="oneg"),
            elm.IcPin(name="OUT+", side="right", anchorname="opos"),
        ]
        d += (
            chg := elm.Ic(pins=chg_pins, size=(4, 3), pinspacing=1.4)
            .right()
            .at((-17, -13))
            .label("CHG1 TP4056 + DW01\n(USB charging)", "top")
        )
        d += (bat := elm.Battery().up().at((-20, chg.bneg[1])).label("BAT1 18650", "left"))
        d += elm.Line().right().tox(chg.bneg[0]).at(bat.start)
        d += elm.Line().right().tox(chg.bpos[0]).at(bat.end)
        d += elm.Line().right(1).at(chg.oneg)
        d += elm.Ground().label("GND", "right")
        d += elm.Line().right(1).at(chg.opos)
        d += (sw := elm.Switch().right().label("SW1 power"))
        d += elm.Dot()
        d += (
            bst := elm.Ic(
                pins=[
                    elm.IcPin(side="left", anchorname="inp"),
                    elm.IcPin(side="right", anchorname="out"),
                ],
                size=(4, 2),
            )
            .right()
            .anchor("inp")
            .label("PS1 MT3608\nboost, set 5.0 V", "center")
        )
        d += elm.Line().right(1).at(bst.out)
        d += elm.Diode().right().label("D3 1N5817", "top")
        d += elm.Tag(width=2.2).right().label("5V (VIN)", fontsize=9)
        # Cell voltage divider from the switched OUT+ to the ADC; nothing drawn with SW1 off.
        d += elm.Line().down(1.5).at(sw.end)
        d += (rtop := elm.Resistor().down().label(f"R7\n{ohms_label(BATTERY_DIVIDER[0])}", "left"))
        d += elm.Dot()
        d += elm.Resistor().down().label(f"R8\n{ohms_label(BATTERY_DIVIDER[1])}", "left")
        d += elm.Ground()
        d += elm.Line().right(2).at(rtop.end)
        d += elm.Dot()
        d += (cbat := elm.Capacitor().down().label("C4\n100 nF", "right"))
        d += elm.Ground().at(cbat.end)
        d += elm.Line().right(1.5).at((rtop.end[0] + 2, rtop.end[1]))
        d += elm.Tag(width=3.2).right().label(net("battery"), fontsize=9)
        d += (
            elm.Label()
            .at((-20, -22))
            .label(
                "USB into the DevKit while SW1 is on: D3 keeps USB out of the boost, "
                "and the boost "
                "(5.0 V - 0.3 V) stays under USB's 4.75 V",
                halign="left",
            )
        )


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else HERE / "schematic.svg"
    draw(out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
