"""The feedback choices the app offers (host_tools.board.feedback): each is a config the
firmware accepts, it reads back as that choice, and the dowel's feedback is said in words."""

from __future__ import annotations

import pytest
from dowel import config as dconfig

from host_tools.board import config as board_config
from host_tools.board.feedback import PRESETS, current_preset, describe, preset_pairs


@pytest.mark.parametrize("name", list(PRESETS))
@pytest.mark.parametrize("probe", [False, True])
def test_each_choice_is_a_config_the_firmware_takes_and_reads_back_as_itself(name, probe):
    base = dconfig.defaults()
    base["reps_per_set"], base["sets_per_day"] = 10, 5
    cfg = board_config.apply_assignments(base, preset_pairs(name, probe))
    assert current_preset(cfg) == name
    assert (cfg["probe"] == "first") == probe
    assert ("probe set" in describe(cfg)) == probe


def test_the_feedback_in_words():
    cfg = dconfig.defaults()
    assert describe(cfg) == "a beep at every loss"
    cfg = board_config.apply_assignments(
        cfg, preset_pairs("course", True) + [("reps_per_set", "3"), ("sets_per_day", "1")]
    )
    assert describe(cfg) == (
        "learning course: early warning (3 days), then a beep at every loss (4 days), then "
        "67 % of reps (7 days), then 33 % of reps (7 days), then only losses that last; probe "
        "set (no feedback): the first set of each day; 1 set of 3 reps a day"
    )
    cfg = dconfig.validate(dict(dconfig.defaults(), feedback="faded", faded_pct=50))
    assert describe(cfg) == "faded: 50 % of reps" and current_preset(cfg) is None
