"""The feedback a PT prescribes, as choices a PT can make without writing JSON: a few schedules
(`PRESETS`) and probe sets on or off, turned into the config fields the firmware validates
(`dowel.feedback` says what each mode does), and the dowel's current feedback in words.

    pairs = preset_pairs("course", probe=True)     # for board.config.set_fields
    describe(cfg)   # 'learning course: early warning (3 days), then ...; probe set: the first ...'

The course follows the motor-learning findings the firmware's modes are built on: concurrent
(early-warning) feedback first, then every loss, then faded to 67 % and 33 % of reps
(Winstein & Schmidt 1990), then bandwidth feedback only for losses that last (Sherwood 1988).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from host_tools.store.patients import prescription_words
from host_tools.words import count


@dataclass(frozen=True)
class Preset:
    label: str  # what the PT picks
    fields: dict = field(default_factory=dict)  # config fields it sets (schedule as a list)


COURSE = [
    {"mode": "warning", "days": 3},
    {"mode": "loss", "days": 4},
    {"mode": "faded", "pct": 67, "days": 7},
    {"mode": "faded", "pct": 33, "days": 7},
    {"mode": "bandwidth"},
]
PRESETS = {
    "loss": Preset("a beep at every loss (the default)", {"feedback": "loss", "schedule": []}),
    "course": Preset(
        "learning course: early warning 3 days, every loss 4 days, 2 in 3 reps 7 days, "
        "1 in 3 reps 7 days, then only losses that last",
        {"feedback": "loss", "schedule": COURSE},
    ),
    "warning": Preset(
        "early warning ticks, then the beep at every loss",
        {"feedback": "warning", "schedule": []},
    ),
    "none": Preset(
        "no fault feedback (a retention check: what the patient does alone)",
        {"feedback": "none", "schedule": []},
    ),
}
MODE_WORDS = {
    "loss": "a beep at every loss",
    "warning": "early warning",
    "faded": "faded",
    "bandwidth": "only losses that last",
    "none": "no fault feedback",
}


def preset_pairs(name: str, probe: bool) -> list[tuple[str, str]]:
    """The KEY=VALUE assignments for preset `name` (a KeyError names a preset that is not)."""
    preset = PRESETS[name]
    pairs = [
        (key, json.dumps(value) if isinstance(value, list) else str(value))
        for key, value in preset.fields.items()
    ]
    return pairs + [("probe", "first" if probe else "off")]


def _stage_words(stage: dict) -> str:
    mode = stage["mode"]
    words = MODE_WORDS.get(mode, mode)
    if mode == "faded":
        words = f"{stage.get('pct', '?')} % of reps"
    if "days" in stage:
        n = stage["days"]
        return f"{words} ({count(n, 'day')})"
    if "sessions" in stage:
        n = stage["sessions"]
        return f"{words} ({count(n, 'session')})"
    if "until" in stage:
        u = stage["until"]
        return f"{words} (until under {u['fault_below_pct']} % faults in {u['last_reps']} reps)"
    return words


def describe(cfg: dict) -> str:
    """The feedback `cfg` (a validated config) gives, in a PT's words."""
    schedule = cfg.get("schedule") or []
    if schedule:
        text = ", then ".join(_stage_words(s) for s in schedule)
        if schedule == COURSE:
            text = "learning course: " + text
    elif cfg["feedback"] == "faded":
        text = f"faded: {cfg['faded_pct']} % of reps"
    elif cfg["feedback"] == "bandwidth":
        text = f"only losses that last over {cfg['bandwidth_ms']} ms"
    else:
        text = MODE_WORDS.get(cfg["feedback"], cfg["feedback"])
    if cfg.get("probe") == "first":
        text += "; probe set (no feedback): the first set of each day"
    elif cfg.get("probe") == "every":
        text += f"; probe set (no feedback): every {cfg['probe_every']}th set"
    if cfg.get("reps_per_set"):
        text += "; " + prescription_words(cfg["sets_per_day"], cfg["reps_per_set"])
    return text


def current_preset(cfg: dict) -> str | None:
    """The preset `cfg` follows (its fields as the preset sets them), or None."""
    for name, preset in PRESETS.items():
        if all(cfg.get(key) == value for key, value in preset.fields.items()):
            return name
    return None
