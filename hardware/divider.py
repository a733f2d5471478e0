"""Pick the FSR divider resistor: python hardware/divider.py (its output is in WIRING.md).

Circuit (one per sensor): 3V3 -- FSR -- node -- R -- GND, node -> an ADC1 pin at 11 dB.
V_node = 3.3 V * R / (R + R_fsr(F)) rises with force F.

FSR 402 resistance-force curve: points read off the force-resistance curve of the Interlink
Electronics "FSR 400 Series Data Sheet" (figure "Resistance vs. Force"), as tabulated in
Adafruit's guide "Force Sensitive Resistor (FSR)" (learn.adafruit.com/force-sensitive-resistor-
fsr, "Using an FSR"): 0.2 N -> 30 kOhm, 1 N -> 6 kOhm, 10 N -> 1 kOhm, 100 N -> 250 Ohm,
open (no touch) > 10 MOhm. Between the points we interpolate on log-log axes (the curve is a
power law there). Part-to-part spread is about +-6 % (datasheet), and the foam pad and the
curvature of the dowel shift it further: that is why every patient is calibrated.

Force assumption: the patient holds the dowel on the back with both hands; the occiput,
thoracic spine and sacrum press on it with roughly 0.5 N (a dowel resting on the back: a
1-inch PVC dowel weighs about 0.4 kg, shared by hands and three points) up to about 30 N
(pressing it firmly into the back). Below 0.5 N we call it "no contact"; above 30 N we do not
care how hard. ESP32 ADC at 11 dB is linear from about 150 to 2450 mV (Espressif ESP-IDF ADC
docs), so: the largest standard resistor that keeps 30 N at or under 2450 mV (the most
sensitive choice at the light end), then check that 0.5 N lands above 150 mV.
"""

from __future__ import annotations

import math

SUPPLY_MV = 3300
LINEAR_MV = (150, 2450)  # ESP32 ADC, 11 dB attenuation
FORCE_RANGE_N = (0.5, 30.0)
CURVE = ((0.2, 30_000.0), (1.0, 6_000.0), (10.0, 1_000.0), (100.0, 250.0))  # N, Ohm
E12 = (1.0, 1.2, 1.5, 1.8, 2.2, 2.7, 3.3, 3.9, 4.7, 5.6, 6.8, 8.2)
# read_u16 at 11 dB: 65535 at about 3.1 V, where the ESP32's ADC saturates (uncalibrated:
# the gain varies by about +-6 % between parts; the virtual board uses the same scale).
ADC_FULL_SCALE_MV = 3100
COUNTS_PER_MV = 65535 / ADC_FULL_SCALE_MV


def fsr_ohms(force_n: float) -> float:
    """FSR 402 resistance at `force_n`, log-log interpolated (extrapolated at the ends)."""
    pts = CURVE
    if force_n <= pts[0][0]:
        (f0, r0), (f1, r1) = pts[0], pts[1]
    elif force_n >= pts[-1][0]:
        (f0, r0), (f1, r1) = pts[-2], pts[-1]
    else:
        i = next(i for i in range(len(pts) - 1) if pts[i][0] <= force_n <= pts[i + 1][0])
        (f0, r0), (f1, r1) = pts[i], pts[i + 1]
    slope = math.log(r1 / r0) / math.log(f1 / f0)
    return r0 * (force_n / f0) ** slope


def node_mv(force_n: float, r_ohms: float) -> float:
    return SUPPLY_MV * r_ohms / (r_ohms + fsr_ohms(force_n))


def e12_values(lo: float = 100, hi: float = 100_000) -> list[float]:
    values = []
    decade = 1.0
    while decade <= hi:
        values += [round(m * decade, 6) for m in E12 if lo <= m * decade <= hi]
        decade *= 10
    return values


def choose_resistor() -> float:
    """Largest E12 resistor that keeps the top of the force range inside the linear window."""
    f_lo, f_hi = FORCE_RANGE_N
    fits = [r for r in e12_values() if node_mv(f_hi, r) <= LINEAR_MV[1]]
    best = max(fits)
    assert node_mv(f_lo, best) >= LINEAR_MV[0], "no E12 value covers the force range"
    return best


def contact_force_n(r_ohms: float) -> float:
    """The force at which the node reaches the bottom of the linear window (bisection)."""
    lo, hi = 0.01, 100.0
    for _ in range(60):
        mid = math.sqrt(lo * hi)
        if node_mv(mid, r_ohms) < LINEAR_MV[0]:
            lo = mid
        else:
            hi = mid
    return hi


def fmt_ohms(r: float) -> str:
    return f"{r / 1000:.3g} kOhm" if r >= 1000 else f"{r:.3g} Ohm"


def report() -> str:
    r = choose_resistor()
    f_lo, f_hi = FORCE_RANGE_N
    lines = [
        f"FSR 402 divider at {SUPPLY_MV} mV, ESP32 ADC 11 dB linear {LINEAR_MV[0]}-"
        f"{LINEAR_MV[1]} mV, force range {f_lo:g}-{f_hi:g} N",
        "",
        "candidates (E12): R -> mV at the range ends",
    ]
    for cand in [c for c in e12_values(470, 10_000)]:
        lo_mv, hi_mv = node_mv(f_lo, cand), node_mv(f_hi, cand)
        ok = LINEAR_MV[0] <= lo_mv and hi_mv <= LINEAR_MV[1]
        mark = "  <- chosen" if cand == r else ("" if ok else "  (outside)")
        lines.append(f"  {fmt_ohms(cand):>9}: {lo_mv:6.0f} mV .. {hi_mv:6.0f} mV{mark}")
    lines += [
        "",
        f"chosen R = {fmt_ohms(r)} (1 %, 1/4 W); contact registers from about "
        f"{contact_force_n(r):.2f} N; current at most {SUPPLY_MV / r:.1f} mA per sensor",
        "",
        "  force    FSR        node     read_u16 (approx.)",
    ]
    for force in (0.2, 0.5, 1, 2, 5, 10, 20, 30):
        mv = node_mv(force, r)
        lines.append(
            f"  {force:5g} N  {fmt_ohms(fsr_ohms(force)):>10}  {mv:6.0f} mV  "
            f"{mv * COUNTS_PER_MV:7.0f}"
        )
    lines.append("  no touch  >10 MOhm        0 mV        0")
    return "\n".join(lines)


if __name__ == "__main__":
    print(report())
