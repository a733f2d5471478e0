"""The simulated patient who follows the calibration page (host_tools.sim.follow): each step's
scenario renders, lasts longer than the page records it, and does what the step says, by the
rendered ground truth."""

from __future__ import annotations

import pytest

from host_tools.calibrate.session import INTERACTIVE_STEPS
from host_tools.sim import render
from host_tools.sim.follow import calibration_step


def contact(timeline, t_ms: int) -> tuple[int, ...]:
    return tuple(timeline.at(t_ms)[:3])


def test_released_then_hold_then_hinges():
    steps = INTERACTIVE_STEPS
    released = render(calibration_step(1))
    assert released.duration_ms > steps.released_ms
    assert max(contact(released, steps.released_ms // 2)) < 3000  # nothing touches

    hold = render(calibration_step(2))
    assert hold.duration_ms > steps.move_ms + steps.hold_ms
    # On the back by the time the page starts recording the hold (move_ms after Start).
    assert min(contact(hold, steps.move_ms)) > 10000
    assert hold.truth["reps"] == []

    check = render(calibration_step(3))
    assert check.duration_ms > steps.check_ms
    reps = check.truth["reps"]
    assert len(reps) >= 2 and all(r["end_ms"] < steps.check_ms for r in reps)
    assert all(r["lost"] is None for r in reps)  # slow clean hinges: nothing must fire


def test_only_three_steps():
    with pytest.raises(ValueError, match="steps 1 to 3"):
        calibration_step(4)
