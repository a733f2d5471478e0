"""The simulated patient on the board: play(), outputs() and truth() on one timeline. A small
beep-on-loss loop (standing in for the firmware) hears the scenario's losses one for one and
stays silent through the grip wobble; the readings reach the pins and axes of the pin map."""

from __future__ import annotations

import time

import pytest

from host_tools.sim import builds
from host_tools.vboard import VirtualBoard

from .conftest import mpremote, need_interpreter

pytestmark = pytest.mark.vboard

BEEPER = """\
import asyncio, time
from machine import ADC, PWM, Pin

ON = {on}
OFF = {off}

async def main():
    adcs = [ADC(Pin(p), atten=ADC.ATTN_11DB) for p in (34, 35, 32)]
    bz = PWM(Pin(25), freq=2000, duty_u16=0)
    led = Pin(2, Pin.OUT, value=0)
    touching, high, low = [False] * 3, [0] * 3, [0] * 3
    beep_ms = 0
    last = time.ticks_ms()
    try:
        while True:
            await asyncio.sleep_ms(5)
            now = time.ticks_ms()
            dt = time.ticks_diff(now, last)
            last = now
            lost = -1
            for i in range(3):
                v = adcs[i].read_u16()
                if v >= ON[i]:
                    high[i] += dt
                    low[i] = 0
                elif v < OFF[i]:
                    low[i] += dt
                    high[i] = 0
                if not touching[i] and high[i] >= 200:
                    touching[i] = True
                elif touching[i] and low[i] >= 120:
                    touching[i] = False
                    lost = i
            # A point lost while the other two still press: a form error, beep.
            if lost >= 0 and all(touching[j] and low[j] == 0 for j in range(3) if j != lost):
                bz.duty_u16(32768)
                led.value(1)
                beep_ms = 150
            elif beep_ms > 0:
                beep_ms -= dt
                if beep_ms <= 0:
                    bz.duty_u16(0)
                    led.value(0)
    finally:
        bz.duty_u16(0)

asyncio.run(main())
"""


def beeper(build: str = "average") -> str:
    contact = [builds()[build]["contact_counts"][s] for s in ("head", "midback", "sacrum")]
    return BEEPER.format(
        on=tuple(int(c * 0.55) for c in contact), off=tuple(int(c * 0.4) for c in contact)
    )


def test_beeps_match_the_losses_one_for_one(flash):
    need_interpreter()
    from host_tools.vboard import flashimg

    flashimg.write(flash, {"main.py": beeper()})
    with VirtualBoard.start(flash_dir=flash) as board:
        timeline = board.play("quick")
        time.sleep(timeline.duration_ms / 1000 + 0.4)
        truth = board.truth()
        beeps = board.beeps()
        leds = board.outputs(("led",))
    losses = truth["losses"]
    assert [s for _, s in losses] == ["sacrum", "midback"]
    assert len(beeps) == len(losses), (beeps, losses)
    for (start, end, hz), (t_loss, _) in zip(beeps, losses, strict=True):
        assert t_loss < start < t_loss + 350  # the 120 ms debounce after the point left
        assert hz == 2000 and 100 <= end - start <= 250
    for w_start, w_end, _ in truth["wobbles"]:
        assert not any(w_start <= b[0] <= w_end + 300 for b in beeps)
    assert [v for _, _, v in leds[1:]] == [1, 0] * len(beeps)  # the LED follows the buzzer
    assert leds[0] == (0, "led", 0)  # the state at play()


def test_readings_reach_the_pin_map_and_the_imu_axes(flash):
    need_interpreter()
    steady = {
        "name": "steady",
        "seed": 1,
        "build": "strong",
        "steps": [
            {"do": "released", "ms": 100},
            {"do": "pickup", "ms": 600},
            {"do": "hold", "ms": 5000},
        ],
    }
    with VirtualBoard.start(flash_dir=flash) as board:
        board.play(steady)
        time.sleep(1.0)  # into the hold
        out = mpremote(
            board.port,
            "exec",
            """
import math
from machine import ADC, I2C, Pin
print([ADC(Pin(p), atten=ADC.ATTN_11DB).read_u16() for p in (34, 35, 32)])
print(ADC(Pin(34)).read_u16())  # default attenuation (0 dB): saturates
i2c = I2C(0, scl=Pin(22), sda=Pin(21))
i2c.writeto_mem(0x68, 0x6B, b'\\x00')
b = i2c.readfrom_mem(0x68, 0x3B, 6)
s = [(b[i] << 8 | b[i + 1]) - (65536 if b[i] & 0x80 else 0) for i in (0, 2, 4)]
print(s[0] > 0, round(math.degrees(math.atan2(s[2], s[0]))))
""",
        ).stdout.splitlines()
    counts = eval(out[0])  # noqa: S307 - our own board's output
    contact = builds()["strong"]["contact_counts"]
    for value, name in zip(counts, ("head", "midback", "sacrum"), strict=True):
        assert abs(value - contact[name]) < 0.2 * contact[name]
    assert out[1] == "65535"
    standing, pitch = out[2].split()
    assert standing == "True" and abs(int(pitch) - builds()["strong"]["stand_deg"]) <= 3
