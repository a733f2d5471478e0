"""Issue 17 end to end: the firmware on the virtual board, one scenario, each feedback mode;
the buzzer the board recorded is what the mode says for each rep, derived from the scenario's
ground truth (which point left when, and for how long), not from the firmware's own code:

- loss and warning: every loss is cued, loss_ms after the point left;
- faded 50: the losses of every other rep (the 2nd, 4th, ...: a Bresenham share of reps);
- bandwidth: only losses that last longer than bandwidth_ms, cued that long after the loss;
- none: nothing; a probe set (the first of the day): nothing, the next set as loss mode."""

from __future__ import annotations

import json
import time

import pytest
from dowel import cues

from tests.device_on_vboard.conftest import (
    HEAP_KB,
    board_exec,
    calibrated_config,
    deploy_firmware,
    need_interpreter,
    wait_mode,
)

pytestmark = [pytest.mark.vboard, pytest.mark.slow]

BANDWIDTH_MS = 400
TICK_MS = 5


def scenario() -> dict:
    fast = {"depth_deg": 40, "lower_ms": 900, "pause_ms": 200, "rise_ms": 700, "rest_ms": 500}
    reps = [
        {},
        {"lose": "sacrum", "lose_at_deg": 25},  # lost until standing again: ~1.2 s
        {"lose": "midback", "lose_at_deg": 25, "regain_after_ms": 150},  # a brief lapse
        {"lose": "sacrum", "lose_at_deg": 22},
        {"lose": "head", "lose_at_deg": 28},
        {"lose": "midback", "lose_at_deg": 30, "regain_after_ms": 150},
    ]
    steps = [
        {"do": "released", "ms": 400},
        {"do": "pickup", "ms": 1000},
        {"do": "hold", "ms": 900},
    ]
    steps += [{"do": "hinge", **fast, **r} for r in reps]
    steps.append({"do": "put_down", "ms": 800})
    return {"name": "feedback-modes", "seed": 17, "steps": steps}


def expected(mode: str, truth: dict, loss_ms: int) -> list[tuple[int, str]]:
    """(earliest cue time, point) per cue the mode calls for, from the ground truth."""
    out = []
    for i, rep in enumerate(truth["reps"]):
        if not rep["lost"]:
            continue
        lapse = rep["regain_ms"] - rep["loss_ms"]
        if mode in ("loss", "warning") or (mode == "probe" and i >= 3):
            out.append((rep["loss_ms"] + loss_ms, rep["lost"]))
        elif mode == "faded" and i % 2 == 1:  # 50 %: the accumulator reaches 100 every 2nd rep
            out.append((rep["loss_ms"] + loss_ms, rep["lost"]))
        elif mode == "bandwidth" and lapse > BANDWIDTH_MS + loss_ms + 100:
            out.append((rep["loss_ms"] + loss_ms + BANDWIDTH_MS, rep["lost"]))
    return out


MODES = {
    "loss": {"feedback": "loss"},
    "warning": {"feedback": "warning"},
    "faded": {"feedback": "faded", "faded_pct": 50},
    "bandwidth": {"feedback": "bandwidth", "bandwidth_ms": BANDWIDTH_MS},
    "none": {"feedback": "none"},
    "probe": {"feedback": "loss", "probe": "first", "reps_per_set": 3},
}


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    need_interpreter()
    from host_tools.vboard import VirtualBoard

    b = VirtualBoard.start(flash_dir=tmp_path_factory.mktemp("flash"), heap_kb=HEAP_KB)
    try:
        deploy_firmware(b, {"/dowel.json": calibrated_config()})
        yield b
    finally:
        b.stop()


@pytest.mark.parametrize("mode", list(MODES))
def test_the_buzzer_gives_what_the_mode_says_for_each_rep(board, mode):
    cfg = json.loads(calibrated_config())
    cfg.update(MODES[mode])
    board_exec(board.port, f"from dowel import config\nconfig.write_json({json.dumps(cfg)!r})")
    board.reset()
    wait_mode(board, "main")
    played = board.play(scenario())
    while board.elapsed_ms() < played.duration_ms + 500:
        time.sleep(0.3)
    truth = board.truth()
    assert [bool(r["lost"]) for r in truth["reps"]] == [False, True, True, True, True, True]
    want = expected(mode, truth, cfg["loss_ms"])
    heard = board.cues()
    assert [p for _, p in heard] == [p for _, p in want], (mode, heard, want)
    # The early-warning ticks: in warning mode only, each loss preceded by one within the
    # contact's fall (the rendered loss ramps down through the band in ~40 ms).
    ticks = [b[0] for b in board.beeps() if b[2] == cues.WARNING_TICK_CUE[0]]
    if mode == "warning":
        assert all(any(-30 <= due - t <= 400 for t in ticks) for due, _ in want), (ticks, want)
    else:
        assert ticks == []
    for (t, _), (due, _) in zip(heard, want, strict=True):
        # The debounce's loss_ms (or the bandwidth) after the point left, within two ticks
        # and the loss ramp's half (the truth's moment is the middle of the contact's fall).
        assert due - 25 <= t <= due + 2 * TICK_MS + 25, (mode, t, due)
