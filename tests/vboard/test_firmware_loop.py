"""The real firmware loop on the virtual board: deploy it as `dowel flash` does, give it the
thresholds the calibration rule sets for the simulated patient, let a scenario play, interrupt
it with the real `mpremote`, and find one cue per true loss (the right point's cue, soon after
the loss) and none for the grip wobble."""

from __future__ import annotations

import time

import pytest

from tests.vboard.conftest import calibrated_config, mpremote

pytestmark = pytest.mark.vboard

LOSS_LATENCY_MS = (100, 400)  # loss_ms (120) after the force crosses off, within a tick or two


def test_firmware_beeps_once_per_true_loss_and_never_for_wobble(board):

    from host_tools.board.link import Link
    from host_tools.firmware.deploy import deploy
    from host_tools.sim import load_scenario, render

    scenario = load_scenario("quick")
    timeline = render(scenario)
    # What a calibration measures on this patient: zero and contact levels, a little noise.
    cfg = calibrated_config(timeline.truth["build"], "P-LOOP")

    link = Link.open(board.port)
    try:
        deploy(link)
        link.call("dowel.config", "write_json", cfg)
    finally:
        link.close()  # soft reset: main.py starts the loop on the new config
    time.sleep(0.5)
    played = board.play(scenario)
    while board.elapsed_ms() < played.duration_ms + 300:
        time.sleep(0.2)
    # Interrupt it the way a developer would: the real mpremote (Ctrl-C, raw REPL).
    code = "import dowel.running as r; print('reps', r.app.engine.reps.seq)"
    out = mpremote(board.port, "resume", "exec", code)  # resume: no soft reset first
    assert out.stdout.split() == ["reps", "2"]  # the loop ran all three reps (0..2)

    truth = board.truth()
    cues = board.cues()
    losses = [(t, sensor) for t, sensor in truth["losses"]]
    assert [p for _, p in cues] == [s for _, s in losses]  # one for one, in order
    for (cue_t, _), (loss_t, _) in zip(cues, losses, strict=True):
        assert LOSS_LATENCY_MS[0] <= cue_t - loss_t <= LOSS_LATENCY_MS[1]
    for start, end, _sensor in truth["wobbles"]:
        assert not any(start <= t <= end + 400 for t, _ in cues)


def test_watchdog_is_fed_between_mpremote_commands_after_the_firmware_ran(board):
    """The ESP32's watchdog outlives a soft reset and every mpremote command soft-resets:
    `/boot.py` keeps it fed while no loop runs, so the board does not reset under a developer."""
    from host_tools.board.link import Link
    from host_tools.firmware.deploy import deploy

    link = Link.open(board.port)
    try:
        deploy(link)
    finally:
        link.close()  # the firmware loop runs, with the watchdog started
    time.sleep(1.0)
    mpremote(board.port, "exec", "print('one')")  # Ctrl-C, soft reset into the raw REPL
    time.sleep(7.0)  # longer than the 5 s watchdog
    out = mpremote(board.port, "resume", "exec", "import machine; print(machine.reset_cause())")
    assert out.returncode == 0
    assert not [row for row in board.outputs(("reset",)) if row[2] == "wdt"]
