"""The early-warning cue on rendered traces (host_tools.sim.render): its tick rate follows the
pressure as `dowel.feedback.Warner` specifies, and a grip wobble the debounce ignores never
ticks. Thresholds come from the calibration rule (host_tools.calibrate.rule) on the build's
levels, so the band is where a calibrated dowel would put it."""

import statistics

import pytest
from dowel import config, cues, feedback
from dowel.engine import Engine

from host_tools.calibrate.rule import propose, stats
from host_tools.sim.render import render
from host_tools.sim.scenario import validate

STAIRS = (0.70, 0.60, 0.50, 0.40, 0.32)  # head pressure, fraction of its contact level
STAIR_MS = 2500


def calibrated_cfg(tl, **extra):
    """Thresholds and levels by the calibration rule from the build's zero and contact."""
    b = tl.truth["build"]
    zero = [stats([z] * 50) for z in b["zero_counts"]]
    contact = [stats([c] * 50) for c in b["contact_counts"]]
    proposal = propose(zero, contact)
    assert proposal.ok
    sensors = {s.name: {"on": s.on, "off": s.off, "level": s.level} for s in proposal.sensors}
    return config.validate({"sensors": sensors, **extra})


def scenario(steps, grip_sd=0.01):
    return validate(
        {
            "seed": 5,
            "build": "average",
            "noise": {"grip_sd": grip_sd},
            "dt_ms": 5,
            "steps": [{"do": "released", "ms": 300}, {"do": "pickup"}, {"do": "hold", "ms": 1200}]
            + steps,
        }
    )


def replay(tl, cfg):
    """Run the engine over the timeline; return (tick times, [(t, pattern)] of other cues)."""
    e = Engine(cfg, True)
    played = []
    base_play = e.play

    def play(pattern):
        played.append((t, pattern))
        base_play(pattern)

    e.play = play
    dt = tl.dt_ms
    for i in range(tl.n):
        t = i * dt
        e.step(tl.head[i], tl.midback[i], tl.sacrum[i], tl.pitch_cdeg[i] // 10, dt)
    ticks = [t for t, p in played if p is cues.WARNING_TICK_CUE]
    return ticks, [(t, p) for t, p in played if p is not cues.WARNING_TICK_CUE]


def test_tick_rate_follows_the_pressure_like_a_parking_sensor():
    steps = [
        {"do": "chatter", "sensor": "head", "ms": STAIR_MS, "level": lv, "swing": 0.0}
        for lv in STAIRS
    ]
    steps.append({"do": "chatter", "sensor": "head", "ms": 1000, "level": 0.03, "swing": 0.0})
    tl = render(scenario(steps))
    cfg = calibrated_cfg(tl, feedback="warning")
    ticks, others = replay(tl, cfg)
    warner = feedback.Warner(cfg)
    off, top = warner.off0, warner.top0
    start = 300 + 1200 + 1200  # released, pickup, hold
    zero, contact = tl.truth["build"]["zero_counts"][0], tl.truth["build"]["contact_counts"][0]
    medians = []
    for k, lv in enumerate(STAIRS):
        t0, t1 = start + k * STAIR_MS, start + (k + 1) * STAIR_MS
        on_stair = [t for t in ticks if t0 <= t < t1]
        reading = zero + lv * (contact - zero)
        if reading >= top:
            assert on_stair == [], lv  # above the band: silent
            continue
        if not medians:  # the first stair in the band: silent until it has lasted loss_ms
            assert cfg["loss_ms"] <= on_stair[0] - t0 <= cfg["loss_ms"] + 60
        gaps = [b - a for a, b in zip(on_stair, on_stair[1:], strict=False)]
        expected = feedback.interval_ms(feedback._frac(int(reading), off, top))
        got = statistics.median(gaps)
        # The loop's 5 ms tick and the ADC noise: within two ticks of the specified interval.
        assert got == pytest.approx(expected, abs=10), (lv, gaps, expected)
        medians.append(got)
    assert len(medians) >= 4
    assert medians == sorted(medians, reverse=True) and medians[0] > 2 * medians[-1]
    # Then the point is lost: its beep, as in loss mode, and no tick after it.
    lost_at = start + len(STAIRS) * STAIR_MS
    heads = [t for t, p in others if p is cues.HEAD_CUE]
    assert len(heads) == 1 and lost_at < heads[0] <= lost_at + cfg["loss_ms"] + 60
    assert not [t for t in ticks if t > heads[0]]


@pytest.mark.parametrize("level", [0.03, 0.5])
def test_grip_wobble_the_debounce_ignores_never_ticks(level):
    steps = [
        {"do": "wobble", "sensor": s, "dips": 6, "dip_ms": 80, "gap_ms": 300, "level": level}
        for s in ("head", "midback", "sacrum")
    ]
    tl = render(scenario(steps, grip_sd=0.04))
    ticks, others = replay(tl, calibrated_cfg(tl, feedback="warning"))
    assert ticks == []
    assert [p for _, p in others if p in cues.LOST_CUES] == []


def test_a_sag_longer_than_the_debounce_does_tick():
    # The same dips held 4x longer (over loss_ms) in the band: the warning speaks.
    steps = [
        {"do": "wobble", "sensor": "head", "dips": 3, "dip_ms": 480, "gap_ms": 300, "level": 0.5}
    ]
    tl = render(scenario(steps, grip_sd=0.04))
    ticks, _ = replay(tl, calibrated_cfg(tl, feedback="warning"))
    assert len(ticks) >= 3
