"""The three points, defined once (`dowel.points`): the order of readings, pins, config keys,
mask bits, first_lost codes and cues all follow it."""

import pytest
from dowel import config, cues, pinmap, points
from dowel.engine import Engine
from dowel.rep import EV_FAULT


def test_first_lost_is_one_plus_the_lowest_bit():
    assert points.first_lost(0) == 0
    for mask in range(1, 8):
        lowest = (mask & -mask).bit_length() - 1
        assert points.first_lost(mask) == lowest + 1


def test_one_entry_per_point_in_every_table():
    n = len(points.NAMES)
    assert n == 3 and len(points.LABELS) == len(points.WHERE) == len(pinmap.SENSOR_PINS) == n
    assert list(config.defaults()["sensors"]) == list(points.NAMES)
    assert cues.LOST_CUES[1:] == (cues.HEAD_CUE, cues.MIDBACK_CUE, cues.SACRUM_CUE)
    assert [getattr(cues, name.upper() + "_CUE") for name in points.NAMES] == list(
        cues.LOST_CUES[1:]
    )


@pytest.mark.parametrize("i", range(3))
def test_losing_point_i_sets_bit_i_first_lost_i_plus_1_and_its_cue(i):
    cfg = config.defaults()
    for name in points.NAMES:
        cfg["sensors"][name].update(on=20000, off=16000)
    engine = Engine(cfg, has_imu=False)
    touching = [30000, 30000, 30000]
    for _ in range(200):  # all three in contact long enough to arm
        engine.step(*touching, 0, 5)
    touching[i] = 0
    fault = 0
    for _ in range(100):
        fault |= engine.step(*touching, 0, 5) & EV_FAULT
        if fault:
            break
    assert fault
    assert engine.reps.new_faults == 1 << i
    assert engine.reps.first_lost == i + 1
    assert engine.player.pattern == cues.LOST_CUES[i + 1]


def test_config_names_the_sensors_it_expects():
    with pytest.raises(config.ConfigError) as info:
        config.validate({"sensors": []})
    assert dict(info.value.errors)["sensors"] == "must be an object with head, midback and sacrum"
