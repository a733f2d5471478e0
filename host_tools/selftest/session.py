"""Host half of `dowel selftest`: drive the board's `dowel.selftest` calls, judge what comes
back, and name anything to fix.

    checks = run_selftest(link, ui)          # ui: say(text), confirm(question) -> bool
    failed = any(c.status == FAIL for c in checks)

The judging functions are pure (readings in, `Check`s out) so they are tested without a
board. Counts are raw `read_u16` readings; the thresholds come from the divider worked out in
`hardware/divider.py` (1.2 kOhm, 3.3 V, 65535 at 3.1 V): an untouched FSR 402 reads ~0,
0.5 N about 6300, a firm thumb (10-20 N) 38000-45000.

Which pad is on which pin is judged from the *order* in which sensors rise, not from which
prompt was showing: a pad that never rises (a cut wire) then cannot shift the blame onto the
next pad pressed, whether a person or a scripted virtual patient does the pressing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from dowel import battery, cues
from dowel.pinmap import (
    BATTERY_PIN,
    BUZZER_PIN,
    I2C_SCL_PIN,
    I2C_SDA_PIN,
    LED_PIN,
    MPU6050_ADDR,
    SENSOR_PINS,
)
from dowel.points import LABELS, NAMES, WHERE

from host_tools.board import api

PASS, WARN, FAIL, SKIP = "PASS", "WARN", "FAIL", "SKIP"

REST_MAX_COUNTS = 4000  # ~190 mV, ~0.3 N: more at rest is a preloaded pad or a wiring fault
NOISE_MAX_COUNTS = 3000  # spread at rest; a floating input (no resistor to GND) wanders far more
RISE_MIN_COUNTS = 8000  # ~380 mV, ~0.65 N above rest counts as pressed
SATURATED_COUNTS = 62000  # ~2.9 V, near clipping: with 1.2 kOhm a short or a wrong resistor
G_MILLI_RANGE = (800, 1200)  # a still accelerometer measures 1 g
TILT_MIN_DDEG = 200  # 20 degrees of pitch change when asked to tilt

REST_MS = 400
POLL_MS = 150
BEEP_HZ = 2800  # the transducer's rated frequency (CUI CEP-1126: 2.8 kHz), mid-band of the cues
BEEP_MS = 400
CUE_GAP_MS = 700  # silence after each cue, so no two run together
CELL_MAX_MV = 4300  # a Li-ion cell never reads more: above it the divider is wrong

# What each cue sounds like, in the order the self-test plays them (`dowel.cues.NAMES`).
CUE_WORDS = {
    "HEAD_CUE": "HEAD lost: one high beep",
    "MIDBACK_CUE": "MID-BACK lost: two middle beeps",
    "SACRUM_CUE": "SACRUM lost: three low beeps",
    "READY_CUE": "ready (three points in contact): a rising chirp",
    "GOOD_REP_CUE": "clean rep (optional chime): two rising notes",
    "CONFIG_FAULT_CUE": "config rejected at boot: a two-tone warble",
    "LOG_FULL_CUE": "log full: one long low tone",
    "LOW_BATTERY_CUE": "battery low: three slow falling notes",
}


@dataclass(frozen=True)
class Check:
    item: str
    status: str  # PASS, WARN, FAIL, SKIP
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class Press:
    sensor: int  # index into NAMES of the pin that rose
    peak: int  # highest reading during the press, counts


class Ui(Protocol):
    def say(self, text: str) -> None: ...

    def confirm(self, question: str) -> bool: ...


def label(i: int) -> str:
    return f"{NAMES[i]} FSR (GPIO{SENSOR_PINS[i]})"


def judge_rest(lo: tuple, hi: tuple) -> list[Check]:
    """Untouched pads: each should read near zero and hold still."""
    checks = []
    for i in range(len(NAMES)):
        if hi[i] > REST_MAX_COUNTS:
            checks.append(
                Check(
                    f"{label(i)} at rest",
                    FAIL,
                    f"reads up to {hi[i]} untouched",
                    f"take the pressure off the {NAMES[i]} pad (strap too tight?); if it stays "
                    f"high, the FSR and its 1.2 kOhm resistor are swapped or GPIO{SENSOR_PINS[i]} "
                    "touches 3V3",
                )
            )
        elif hi[i] - lo[i] > NOISE_MAX_COUNTS:
            checks.append(
                Check(
                    f"{label(i)} at rest",
                    FAIL,
                    f"wanders {lo[i]}-{hi[i]} untouched",
                    f"GPIO{SENSOR_PINS[i]} floats: fit the 1.2 kOhm resistor from it to GND",
                )
            )
        else:
            checks.append(Check(f"{label(i)} at rest", PASS, f"{lo[i]}-{hi[i]}"))
    return checks


def pad_to_pin(presses: list[Press | None]) -> dict[int, int | None]:
    """Which pin rose for each pad, from the order of rises. Pads whose pin never rose -> None.

    The pads were pressed in NAMES order. Pins that never rose are left out of that order,
    so [None, midback, sacrum] and [midback, sacrum, None] both mean: head dead, rest fine.
    """
    order = list(dict.fromkeys(p.sensor for p in presses if p is not None))
    dead = [i for i in range(len(NAMES)) if i not in order]
    live = [i for i in range(len(NAMES)) if i not in dead]
    mapping: dict[int, int | None] = {i: None for i in dead}
    mapping.update(zip(live, order, strict=True))
    return mapping


def judge_presses(presses: list[Press | None]) -> list[Check]:
    """One check per pad: did its own pin rise, and to a plausible level?"""
    mapping = pad_to_pin(presses)
    peaks: dict[int, int] = {}
    for p in presses:
        if p is not None:
            peaks[p.sensor] = max(p.peak, peaks.get(p.sensor, 0))
    checks = []
    for pad, pin in sorted(mapping.items()):
        item = f"{label(pad)} pressed"
        if pin is None:
            checks.append(
                Check(
                    item,
                    FAIL,
                    "no reading rose",
                    f"the {NAMES[pad]} FSR looks disconnected: check both of its wires and its "
                    f"joint to GPIO{SENSOR_PINS[pad]} and the 1.2 kOhm resistor",
                )
            )
        elif pin != pad:
            back = mapping.get(pin) == pad
            fix = (
                f"{NAMES[pad]} and {NAMES[pin]} are swapped: move the {NAMES[pad]} FSR's "
                f"wire to GPIO{SENSOR_PINS[pad]} and the {NAMES[pin]} FSR's to "
                f"GPIO{SENSOR_PINS[pin]} (or swap the two pads on the dowel)"
                if back
                else f"the {NAMES[pad]} FSR is wired to GPIO{SENSOR_PINS[pin]}: move it to "
                f"GPIO{SENSOR_PINS[pad]}"
            )
            checks.append(
                Check(
                    item,
                    FAIL,
                    f"{NAMES[pin]} (GPIO{SENSOR_PINS[pin]}) rose instead",
                    fix,
                )
            )
        elif peaks[pin] >= SATURATED_COUNTS:
            checks.append(
                Check(
                    item,
                    WARN,
                    f"peak {peaks[pin]}: the ADC clips",
                    "check the divider resistor is 1.2 kOhm (a 10 kOhm clips on a firm press) and "
                    "that the FSR's leads do not touch each other",
                )
            )
        else:
            checks.append(Check(item, PASS, f"peak {peaks[pin]}"))
    return checks


def judge_answer(item: str, answer: bool | None, done: str, fix: str) -> Check:
    if answer is None:
        return Check(item, SKIP, f"{done}; not asked (--yes)")
    return Check(item, PASS, done) if answer else Check(item, FAIL, done + ", not noticed", fix)


def judge_imu(present: bool, g_milli: int, chip: tuple[int, str] = (-1, "")) -> Check:
    """`chip`: (WHO_AM_I, name) as the board's `dowel.imu` identified it."""
    item = f"IMU (I2C 0x{MPU6050_ADDR:02X})"
    who, name = chip
    ident = f"{name}, WHO_AM_I 0x{who:02X}: " if who >= 0 else ""
    if not present:
        return Check(
            item,
            SKIP,
            "not found (optional: the dowel works without tilt cues)",
            f"if you fitted one: check VCC 3V3, GND, SDA GPIO{I2C_SDA_PIN}, SCL GPIO{I2C_SCL_PIN}",
        )
    lo, hi = G_MILLI_RANGE
    if not lo <= g_milli <= hi:
        return Check(
            item,
            FAIL,
            f"{ident}measures {g_milli / 1000:.2f} g held still (expected 1 g)",
            "hold the dowel still and retry; if it persists the breakout is faulty or not an "
            "MPU6050 / MPU-6500",
        )
    return Check(item, PASS, f"{ident}{g_milli / 1000:.2f} g at rest")


def judge_battery(present: bool, cell_mv: int, pct: int) -> Check:
    """The cell as the board reads it through its divider on BATTERY_PIN."""
    item = f"battery (GPIO{BATTERY_PIN})"
    if not present:
        return Check(
            item,
            SKIP,
            "no cell switched in (on USB with the power switch off)",
            "switch the dowel on to check the cell; if it is on, check the 100 kOhm divider "
            f"from the switched OUT+ to GPIO{BATTERY_PIN} and the TP4056's OUT+/OUT- wiring",
        )
    if cell_mv > CELL_MAX_MV:
        return Check(
            item,
            FAIL,
            f"reads {cell_mv / 1000:.2f} V, more than a Li-ion cell can hold",
            f"the divider on GPIO{BATTERY_PIN} must be two 100 kOhm resistors (top to the "
            "switched OUT+, bottom to GND)",
        )
    if cell_mv < battery.LOW_MV:
        return Check(
            item,
            WARN,
            f"{cell_mv / 1000:.2f} V, about {pct} %: low",
            "charge it through the TP4056's USB socket before the patient takes it home",
        )
    return Check(item, PASS, f"{cell_mv / 1000:.2f} V, about {pct} %")


def judge_cues(heard: bool | None) -> Check:
    return judge_answer(
        f"cues (GPIO{BUZZER_PIN})",
        heard,
        f"{len(cues.NAMES)} cues played",
        "a cue you could not hear or tell apart: check the transducer is the CEP-1126 (or "
        "another piezo rated at 2-4 kHz), fitted behind a hole in the box, and driven from 5V",
    )


def judge_tilt(change_ddeg: int | None) -> Check:
    if change_ddeg is None or abs(change_ddeg) < TILT_MIN_DDEG:
        seen = 0 if change_ddeg is None else abs(change_ddeg)
        return Check(
            "tilt",
            FAIL,
            f"pitch changed {seen / 10:.0f} deg (need {TILT_MIN_DDEG // 10})",
            "the MPU6050 must be fixed to the dowel (not hanging on its wires), its X axis "
            "along the dowel",
        )
    return Check("tilt", PASS, f"pitch changed {abs(change_ddeg) / 10:.0f} deg")


def wait_press(link, rest_hi: tuple, timeout_s: float, clock: Callable[[], float]) -> Press | None:
    """Poll until a pin rises RISE_MIN above its rest maximum, then follow it until release."""
    deadline = clock() + timeout_s
    pressed = None
    peak = 0
    while clock() < deadline:
        _lo, hi = api.fsr_window(link, POLL_MS)
        rises = [hi[i] - rest_hi[i] for i in range(len(NAMES))]
        if pressed is None:
            best = max(range(len(NAMES)), key=lambda i: rises[i])
            if rises[best] >= RISE_MIN_COUNTS:
                pressed = best
                peak = hi[best]
        else:
            peak = max(peak, hi[pressed])
            if max(rises) < RISE_MIN_COUNTS // 2:
                return Press(pressed, peak)
    return None if pressed is None else Press(pressed, peak)


def wait_tilt(link, start_ddeg: int, timeout_s: float, clock: Callable[[], float]) -> int:
    """The largest pitch change from `start_ddeg` seen before it reaches the target or time out."""
    deadline = clock() + timeout_s
    biggest = 0
    while clock() < deadline:
        _present, pitch, _g = api.imu_reading(link)
        change = pitch - start_ddeg
        if abs(change) > abs(biggest):
            biggest = change
        if abs(biggest) >= TILT_MIN_DDEG:
            break
    return biggest


def run_selftest(
    link,
    ui: Ui,
    *,
    yes: bool = False,
    timeout_s: float = 10.0,
    clock: Callable[[], float] = time.monotonic,
) -> list[Check]:
    """The guided self-test; returns the checks in the order they ran."""
    from dowel.version import FIRMWARE

    board = api.check_firmware(link)
    checks = [
        Check(
            "firmware",
            PASS if board.firmware == FIRMWARE else WARN,
            f"dowel {board.firmware}",
            "" if board.firmware == FIRMWARE else f"host tools expect {FIRMWARE}: `dowel flash`",
        )
    ]

    ui.say("Lay the dowel down and keep your hands off the three pads.")
    # The rest levels are the baseline every later press is judged against: sample them only
    # once the PT says the dowel lies still (with --yes the script has laid it down already).
    while not yes and not ui.confirm("Is the dowel lying still, with nothing touching the pads?"):
        ui.say("Lay it down flat on a table, hands off, then answer yes.")
    lo, hi = api.fsr_window(link, REST_MS)
    checks += judge_rest(lo, hi)

    presses: list[Press | None] = []
    for label, where in zip(LABELS, WHERE, strict=True):
        ui.say(f"Press the {label.upper()} pad ({where}) firmly, then let go.")
        press = wait_press(link, hi, timeout_s, clock)
        if press is None:
            ui.say(f"  nothing rose within {timeout_s:g} s; moving on")
        presses.append(press)
    checks += judge_presses(presses)

    ui.say("Listen: the buzzer beeps now.")
    api.beep(link, BEEP_HZ, BEEP_MS)
    heard = None if yes else ui.confirm("Did you hear a beep?")
    checks.append(
        judge_answer(
            f"buzzer (GPIO{BUZZER_PIN})",
            heard,
            f"{BEEP_HZ} Hz for {BEEP_MS} ms",
            f"check the piezo is a passive one, the NPN transistor's pins, and its 1 kOhm base "
            f"resistor to GPIO{BUZZER_PIN}",
        )
    )

    ui.say("Listen: each cue the dowel makes, one after the other.")
    for name in cues.NAMES:
        ui.say(f"  {CUE_WORDS[name]}")
        api.play_cue(link, name, CUE_GAP_MS)
    apart = (
        None
        if yes
        else ui.confirm(
            "Could you hear every cue, and tell the head, mid-back and sacrum ones apart?"
        )
    )
    checks.append(judge_cues(apart))

    api.set_led(link, True)
    try:
        lit = None if yes else ui.confirm("Is the LED on?")
    finally:
        api.set_led(link, False)
    checks.append(
        judge_answer(
            f"LED (GPIO{LED_PIN})",
            lit,
            "switched on",
            f"check the LED's polarity (long leg to the resistor from GPIO{LED_PIN}) and its "
            "330 Ohm resistor",
        )
    )

    checks.append(judge_battery(*api.battery(link)))

    present, pitch, g_milli = api.imu_reading(link)
    imu_check = judge_imu(present, g_milli, api.imu_chip(link))
    checks.append(imu_check)
    if present and imu_check.status == PASS:
        ui.say("Tilt the dowel about 45 degrees, then back.")
        checks.append(judge_tilt(wait_tilt(link, pitch, timeout_s, clock)))
    return checks


def failed(checks: list[Check]) -> bool:
    return any(c.status == FAIL for c in checks)
