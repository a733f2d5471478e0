"""A simulated patient who follows the app's pages on the virtual board: when the PT presses
Start for a calibration step, the patient does what that step asks, as a real patient would on
being told; in a self-test the patient presses the pads when asked; and a session at home is a
shipped scenario played while the PT waits.

    scenario = calibration_step(2)      # for VirtualBoard.play(): pick up, then stand tall
    board.play(SELFTEST)                # waits for the self-test's calls, then presses and tilts
    truth_words(board.truth())          # "3 hinges: 1 clean, sacrum lost 1, ..." (the truth)

The moves and the patient's build come from the shipped `calibration` scenario (which plays
them on a fixed clock for `dowel calibrate --yes`); here each step starts when the PT says.
The pick-up is quick because the page records the hold half a second after Start
(`INTERACTIVE_STEPS.move_ms`), and every step lasts longer than the page records it.
"""

from __future__ import annotations

from collections import Counter

from dowel.points import LABELS, NAMES

from host_tools.sim.scenario import load_scenario
from host_tools.words import count

LONG_MS = 60_000  # longer than any step: the patient keeps still until the next one
# The shipped self-test scenario waits for the host's first self-test call, so it may start
# before the PT answers the page's first question.
SELFTEST = "selftest"
# Shipped scenarios that are a patient's session at home (the others are for calibration, the
# self-test and the firmware's edge cases).
HOME_SESSIONS = ("quick", "demo")


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


def home_sessions() -> list[tuple[str, str]]:
    """(name, description) of each scenario the app offers as a session at home."""
    return [(name, load_scenario(name)["description"]) for name in HOME_SESSIONS]


def truth_words(truth: dict) -> str:
    """What the simulated patient really did, in the words of the patient's page: the figures
    a pull should find."""
    reps = truth.get("reps", [])
    lost = Counter(r["lost"] for r in reps if r["lost"])
    clean = len(reps) - sum(lost.values())
    parts = [f"{clean} clean"] + [
        f"{label} lost {lost[name]}"
        for name, label in zip(NAMES, LABELS, strict=True)
        if lost[name]
    ]
    wobbles = len(truth.get("wobbles", []))
    said = f"{count(len(reps), 'hinge')}: " + ", ".join(parts)
    if wobbles:
        said += f"; {count(wobbles, 'grip wobble')}, which must not beep"
    return said
