"""The Li-ion cell: pin voltage to cell voltage, a charge estimate, and a low-battery alarm that
does not chatter.

    mon = Monitor()
    cell_mv = cell_mv_from_pin_mv(adc.read_uv() // 1000)   # or cell_mv_from_counts(read_u16)
    if mon.update(cell_mv):         # True once, when the cell has just become low
        player.play(cues.LOW_BATTERY_CUE)
    mon.mv, mon.low, percent(mon.mv)

Pure: numbers in, numbers out (no `machine`, no clock), so it runs under CPython and on the
board alike; `update` allocates nothing.

The divider (`dowel.pinmap`: BATTERY_R_TOP_OHMS over BATTERY_R_BOTTOM_OHMS, 100 k / 100 k)
halves the cell: 4.2 V full reads 2.1 V at the pin, 3.0 V empty reads 1.5 V, all inside the
ESP32 ADC's linear range at 11 dB (about 150-2450 mV, the ESP-IDF ADC documentation; the same
window `hardware/divider.py` uses). `ADC.read_uv()` on MicroPython's esp32 port returns the
pin voltage corrected by the IDF's calibration scheme (ports/esp32/adc.c,
`madcblock_read_uv_helper`): use it when you can. `read_u16` is uncalibrated: 65535 is about
3.1 V at 11 dB, +-6 % from part to part, which is +-250 mV on a full cell.
"""

try:
    from micropython import const
except ImportError:  # CPython: the host runs these same files

    def const(x):
        return x


from dowel.pinmap import BATTERY_R_BOTTOM_OHMS, BATTERY_R_TOP_OHMS

ADC_FULL_SCALE_MV = const(3100)  # read_u16 65535 at 11 dB (as hardware/divider.py)

# Thresholds on the cell voltage under the dowel's load (~100 mA from the boost, 0.04 C on a
# 2600 mAh cell, so close to the open-circuit curve below).
LOW_MV = const(3500)  # under this: the low-battery cue (about 5 % left: an hour or less)
RECOVER_MV = const(3650)  # back over this (charged, or a reading that dipped): low clears
ABSENT_MV = const(2500)  # under this no cell is switched in (the DW01 cuts off near 2.4 V)
# A cell under load sags on every beep (the boost draws more) and recovers 50-100 mV when
# the load drops: the 150 mV between LOW_MV and RECOVER_MV and the moving average keep the
# alarm from switching on and off with it.
_AVG_SHIFT = const(3)  # moving average over about 8 readings

# Charge left against cell voltage for a typical LiCoO2/NMC 18650 at a light load: our
# approximation of the shape of the manufacturers' discharge curves (steep above 4.0 V and
# below 3.6 V, flat between). Percent figures are a guide; LOW_MV is what the alarm uses.
CURVE = (  # (mV, percent), falling
    (4200, 100),
    (4060, 90),
    (3980, 80),
    (3920, 70),
    (3870, 60),
    (3820, 50),
    (3790, 40),
    (3770, 30),
    (3740, 20),
    (3680, 10),
    (3450, 5),
    (3000, 0),
)


def cell_mv_from_pin_mv(pin_mv):
    """Cell voltage from the voltage at the ADC pin, through the divider."""
    return pin_mv * (BATTERY_R_TOP_OHMS + BATTERY_R_BOTTOM_OHMS) // BATTERY_R_BOTTOM_OHMS


def cell_mv_from_counts(counts):
    """Cell voltage from a `read_u16` reading at 11 dB (uncalibrated)."""
    return cell_mv_from_pin_mv(counts * ADC_FULL_SCALE_MV // 65535)


def percent(cell_mv):
    """Charge left, 0..100, interpolated on CURVE; 0 when no cell is switched in."""
    if cell_mv >= CURVE[0][0]:
        return 100
    for i in range(1, len(CURVE)):
        mv, pct = CURVE[i]
        if cell_mv >= mv:
            mv0, pct0 = CURVE[i - 1]
            return pct + (pct0 - pct) * (cell_mv - mv) // (mv0 - mv)
    return 0


class Monitor:
    """Low-battery state with hysteresis, on a moving average of the cell voltage.

    `update(cell_mv)` returns True only when the state has just become low, so the cue plays
    once per discharge; `low` stays set until the average is back over RECOVER_MV. A reading
    under ABSENT_MV (on USB with the switch off) means no cell: the state resets, no alarm."""

    def __init__(self, low_mv=LOW_MV, recover_mv=RECOVER_MV):
        self.low_mv = low_mv
        self.recover_mv = recover_mv
        self.mv = 0  # moving average, mV; 0 while no cell is switched in
        self.low = False

    def present(self):
        return self.mv != 0

    def update(self, cell_mv):
        if cell_mv < ABSENT_MV:
            self.mv = 0
            self.low = False
            return False
        if self.mv == 0:
            self.mv = cell_mv  # first reading: no history to average with
        else:
            self.mv += (cell_mv - self.mv) >> _AVG_SHIFT
        if self.low:
            if self.mv >= self.recover_mv:
                self.low = False
            return False
        if self.mv < self.low_mv:
            self.low = True
            return True
        return False
