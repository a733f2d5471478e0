"""A simulated patient who follows the calibration page: when the PT presses Start for a step,
the virtual board's patient does what that step asks, as a real patient would on being told.

    scenario = calibration_step(2)      # for VirtualBoard.play(): pick up, then stand tall

The moves and the patient's build come from the shipped `calibration` scenario (which plays
them on a fixed clock for `dowel calibrate --yes`); here each step starts when the PT says.
The pick-up is quick because the page records the hold half a second after Start
(`INTERACTIVE_STEPS.move_ms`), and every step lasts longer than the page records it.
"""

from __future__ import annotations

from host_tools.sim.scenario import load_scenario

LONG_MS = 60_000  # longer than any step: the patient keeps still until the next one


def calibration_step(step: int) -> dict:
    """The scenario for step 1 (released), 2 (neutral hold) or 3 (slow hinges)."""
    base = load_scenario("calibration")
    hinge = next(s for s in base["steps"] if s["do"] == "hinge")
    moves = {
        1: [{"do": "released", "ms": LONG_MS}],
        2: [{"do": "pickup", "ms": 300}, {"do": "hold", "ms": LONG_MS}],
        3: [
            {"do": "pickup", "ms": 300},
            {"do": "hold", "ms": 700},
            dict(hinge, reps=2),
            {"do": "hold", "ms": LONG_MS},
        ],
    }
    if step not in moves:
        raise ValueError(f"calibration has steps 1 to 3, not {step}")
    return load_scenario(
        {
            "name": f"calibration-step-{step}",
            "description": f"step {step} of the calibration, as the page asks for it",
            "seed": base.get("seed", 0) + step,
            "build": base.get("build", "average"),
            "steps": moves[step],
        }
    )
