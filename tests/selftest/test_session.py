"""`dowel selftest`: the pure judging functions, and the guided flow against a fake board
running the real `dowel.selftest` on the board's virtual clock, pressed by a scripted patient
(tests/fakes/patient.py: selftest_board). The same flow on the virtual board is in
test_vboard.py."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from host_tools.board.link import Link
from host_tools.errors import DeviceError
from host_tools.selftest import session as stt
from host_tools.selftest.session import FAIL, PASS, SKIP, WARN, Check, Press
from tests.fakes.patient import board_seconds, selftest_board

HEAD, MID, SACRUM = 0, 1, 2
# A scripted patient: each pad pressed for a second, in order, whatever the prompts say.
IN_ORDER = [(HEAD, 1.0, 2.0), (MID, 3.0, 4.0), (SACRUM, 5.0, 6.0)]


class ScriptedUi:
    def __init__(self, answers=()):
        self.lines: list[str] = []
        self.answers = list(answers)
        self.questions: list[str] = []

    def say(self, text):
        self.lines.append(text)

    def confirm(self, question):
        self.questions.append(question)
        return self.answers.pop(0)


@pytest.fixture
def dowel(tmp_path):
    """A built dowel: `dowel(touches, **faults)`, see `selftest_board`."""
    return lambda touches=(), **kw: selftest_board(tmp_path / "flash", touches, **kw)


def run(board, ui=None, *, yes=True, timeout_s=10.0):
    return stt.run_selftest(
        Link(board, "fake"),
        ui or ScriptedUi(),
        yes=yes,
        timeout_s=timeout_s,
        clock=board_seconds(board),
    )


def cues_played(board) -> list[str]:
    return [name for name, _gap in board.args_of("dowel.selftest", "cue")]


def by_item(checks):
    return {c.item: c for c in checks}


def statuses(checks):
    return {c.item: c.status for c in checks}


# -- pure judging ---------------------------------------------------------------------------


def test_judge_rest_pass_preload_and_float():
    checks = stt.judge_rest((800, 500, 0), (1200, 20000, 39000))
    assert [c.status for c in checks] == [PASS, FAIL, FAIL]
    assert "strap too tight" in checks[1].fix and "GPIO35" in checks[1].fix
    # a floating pin that happens to stay under the rest limit still wanders
    checks = stt.judge_rest((0, 0, 0), (900, 3900, 900))
    assert [c.status for c in checks] == [PASS, FAIL, PASS]
    assert "1.2 kOhm resistor from it to GND" in checks[1].fix


def test_pad_to_pin_examples():
    p = lambda i: Press(i, 35000)  # noqa: E731
    assert stt.pad_to_pin([p(0), p(1), p(2)]) == {0: 0, 1: 1, 2: 2}
    assert stt.pad_to_pin([p(1), p(0), p(2)]) == {0: 1, 1: 0, 2: 2}
    # head dead: interactive (head timed out) and scripted (the next press came early) agree
    assert stt.pad_to_pin([None, p(1), p(2)]) == {0: None, 1: 1, 2: 2}
    assert stt.pad_to_pin([p(1), p(2), None]) == {0: None, 1: 1, 2: 2}
    assert stt.pad_to_pin([None, None, None]) == {0: None, 1: None, 2: None}


@given(st.permutations([0, 1, 2]), st.lists(st.integers(0, 3), max_size=3))
def test_pad_to_pin_recovers_any_wiring_whatever_timed_out(wiring, gaps):
    presses: list[Press | None] = [Press(wiring[pad], 30000) for pad in range(3)]
    for at in gaps:  # timeouts (None) anywhere do not change the diagnosis
        presses.insert(min(at, len(presses)), None)
    assert stt.pad_to_pin(presses) == {pad: wiring[pad] for pad in range(3)}


@given(st.sets(st.integers(0, 2)))
def test_pad_to_pin_names_exactly_the_dead_pads(dead):
    presses = [None if pad in dead else Press(pad, 30000) for pad in range(3)]
    mapping = stt.pad_to_pin(presses)
    assert {pad for pad, pin in mapping.items() if pin is None} == dead


def test_judge_presses_swapped_pair_names_both_and_the_fix():
    checks = stt.judge_presses([Press(MID, 35000), Press(HEAD, 35000), Press(SACRUM, 35000)])
    assert [c.status for c in checks] == [FAIL, FAIL, PASS]
    head, mid = checks[0], checks[1]
    assert "midback (GPIO35) rose instead" in head.detail
    assert "head and midback are swapped" in head.fix
    assert "GPIO34" in head.fix and "GPIO35" in head.fix
    assert "midback and head are swapped" in mid.fix


def test_judge_presses_rotation_without_a_pair():
    checks = stt.judge_presses([Press(MID, 30000), Press(SACRUM, 30000), Press(HEAD, 30000)])
    assert all(c.status == FAIL for c in checks)
    assert "wired to GPIO35: move it to GPIO34" in checks[0].fix


def test_judge_presses_clipping_is_a_warning():
    checks = stt.judge_presses([Press(HEAD, 65535), Press(MID, 40000), Press(SACRUM, 40000)])
    assert [c.status for c in checks] == [WARN, PASS, PASS]
    assert "1.2 kOhm" in checks[0].fix


def test_judge_imu_and_tilt():
    assert stt.judge_imu(False, 0).status == SKIP
    assert stt.judge_imu(True, 1010).status == PASS
    bad = stt.judge_imu(True, 2600)
    assert bad.status == FAIL and "2.60 g" in bad.detail
    assert stt.judge_tilt(450).status == PASS
    assert stt.judge_tilt(-300).status == PASS
    assert stt.judge_tilt(50).status == FAIL
    assert stt.judge_tilt(None).status == FAIL


def test_judge_imu_names_the_chip_and_its_who_am_i():
    ok = stt.judge_imu(True, 1000, (0x70, "MPU-6500"))
    assert ok.status == PASS and "MPU-6500, WHO_AM_I 0x70" in ok.detail
    bad = stt.judge_imu(True, 300, (0x68, "MPU6050"))
    assert bad.status == FAIL and "MPU6050, WHO_AM_I 0x68" in bad.detail


def test_judge_battery():
    assert stt.judge_battery(False, 0, 0).status == SKIP
    ok = stt.judge_battery(True, 3920, 70)
    assert ok.status == PASS and "3.92 V, about 70 %" in ok.detail
    low = stt.judge_battery(True, 3400, 4)
    assert low.status == WARN and "charge it" in low.fix
    wrong = stt.judge_battery(True, 6200, 100)  # a divider of the wrong ratio
    assert wrong.status == FAIL and "100 kOhm" in wrong.fix and "GPIO33" in wrong.fix


def test_every_cue_is_played_and_described(dowel):
    from dowel import cues

    assert set(stt.CUE_WORDS) == set(cues.NAMES)
    board = dowel(IN_ORDER)
    ui = ScriptedUi()
    checks = run(board, ui)
    assert cues_played(board) == list(cues.NAMES)  # every cue, lost points first
    for name in cues.NAMES:
        assert f"  {stt.CUE_WORDS[name]}" in ui.lines
    assert statuses(checks)["cues (GPIO25)"] == SKIP  # --yes: not asked


def test_cues_not_told_apart_fail_with_the_fix(dowel):
    checks = run(dowel(IN_ORDER), ScriptedUi(answers=[True, True, False, True]), yes=False)
    c = by_item(checks)["cues (GPIO25)"]
    assert c.status == FAIL and "CEP-1126" in c.fix


def test_battery_and_imu_chip_are_in_the_table(dowel):
    checks = run(dowel(IN_ORDER, who_am_i=0x70, battery_mv=3450))
    assert by_item(checks)["battery (GPIO33)"].status == WARN
    imu = by_item(checks)["IMU (I2C 0x68)"]
    assert imu.status == PASS and "MPU-6500, WHO_AM_I 0x70" in imu.detail
    checks = run(dowel(IN_ORDER, battery_mv=None))
    assert by_item(checks)["battery (GPIO33)"].status == SKIP
    assert not stt.failed(checks)


def test_judge_answer():
    assert stt.judge_answer("x", None, "beeped", "fix").status == SKIP
    assert stt.judge_answer("x", True, "beeped", "fix").status == PASS
    no = stt.judge_answer("x", False, "beeped", "fix it")
    assert no.status == FAIL and no.fix == "fix it"


# -- the guided flow ------------------------------------------------------------------------


def test_healthy_dowel_passes_and_prompts_each_pad_in_order(dowel):
    board = dowel(IN_ORDER)
    ui = ScriptedUi(answers=[True, True, True, True])
    checks = run(board, ui, yes=False)
    assert not stt.failed(checks), checks
    assert all(c.status == PASS for c in checks), checks
    prompts = [line for line in ui.lines if line.startswith("Press the")]
    assert [p.split()[2] for p in prompts] == ["HEAD", "MID-BACK", "SACRUM"]
    assert ui.questions == [
        "Is the dowel lying still, with nothing touching the pads?",
        "Did you hear a beep?",
        "Could you hear every cue, and tell the head, mid-back and sacrum ones apart?",
        "Is the LED on?",
    ]
    assert board.args_of("dowel.selftest", "beep") == [(stt.BEEP_HZ, stt.BEEP_MS)]
    leds = board.args_of("dowel.selftest", "led")
    assert leds == [(True,), (False,)]  # the LED is switched off again
    assert by_item(checks)["tilt"].status == PASS


def test_yes_skips_the_questions_but_still_passes(dowel):
    checks = run(dowel(IN_ORDER), yes=True)
    assert not stt.failed(checks)
    assert statuses(checks)["buzzer (GPIO25)"] == SKIP
    assert statuses(checks)["LED (GPIO2)"] == SKIP


@pytest.mark.parametrize(
    "touches",
    [
        IN_ORDER,  # a scripted patient: carries on while the host waits for the dead pad
        [(MID, 11.0, 12.0), (SACRUM, 13.0, 14.0)],  # a person: nothing for head, then the others
    ],
)
def test_disconnected_sensor_is_named_and_does_not_blame_the_others(dowel, touches):
    checks = run(dowel(touches, dead={HEAD}))
    s = statuses(checks)
    assert s["head FSR (GPIO34) pressed"] == FAIL
    assert "disconnected" in by_item(checks)["head FSR (GPIO34) pressed"].fix
    assert s["midback FSR (GPIO35) pressed"] == PASS
    assert s["sacrum FSR (GPIO32) pressed"] == PASS
    assert stt.failed(checks)


def test_swapped_sensors_are_named(dowel):
    checks = run(dowel(IN_ORDER, wiring=(MID, HEAD, SACRUM)))
    s = statuses(checks)
    assert s["head FSR (GPIO34) pressed"] == FAIL
    assert s["midback FSR (GPIO35) pressed"] == FAIL
    assert s["sacrum FSR (GPIO32) pressed"] == PASS
    assert "head and midback are swapped" in by_item(checks)["head FSR (GPIO34) pressed"].fix


def test_every_wiring_permutation_is_diagnosed(dowel):
    for wiring in itertools.permutations(range(3)):
        checks = run(dowel(IN_ORDER, wiring=wiring))
        for pad in range(3):
            item = f"{stt.label(pad)} pressed"
            assert statuses(checks)[item] == (PASS if wiring[pad] == pad else FAIL), wiring


def test_preloaded_pad_at_rest_fails(dowel):
    checks = run(dowel(IN_ORDER, preload={SACRUM: 20000}))
    assert statuses(checks)["sacrum FSR (GPIO32) at rest"] == FAIL


def test_led_not_seen_fails_with_the_fix(dowel):
    checks = run(dowel(IN_ORDER), ScriptedUi(answers=[True, True, True, False]), yes=False)
    led = by_item(checks)["LED (GPIO2)"]
    assert led.status == FAIL and "polarity" in led.fix
    assert stt.failed(checks)


def test_no_imu_is_optional(dowel):
    checks = run(dowel(IN_ORDER, imu=None))
    assert statuses(checks)["IMU (I2C 0x68)"] == SKIP
    assert "tilt" not in statuses(checks)
    assert not stt.failed(checks)


def test_imu_that_never_tilts_fails(dowel):
    checks = run(dowel(IN_ORDER, imu=(1000, None)), timeout_s=3)
    assert statuses(checks)["tilt"] == FAIL


def test_insane_imu_fails_without_asking_to_tilt(dowel):
    ui = ScriptedUi()
    checks = run(dowel(IN_ORDER, imu=(3000, 1.0)), ui)
    assert statuses(checks)["IMU (I2C 0x68)"] == FAIL
    assert "tilt" not in statuses(checks)
    assert not any("Tilt" in line for line in ui.lines)


def test_firmware_without_selftest_says_flash(dowel):
    with pytest.raises(DeviceError, match="dowel flash"):
        run(dowel(IN_ORDER, has_selftest=False))


# -- the command ----------------------------------------------------------------------------


def command(monkeypatch, board):
    class SimLink:
        def __enter__(self):
            return Link(board, "fake")

        def __exit__(self, *exc):
            return None

    monkeypatch.setattr(Link, "open", staticmethod(lambda port, **_kw: SimLink()))
    monkeypatch.setattr("host_tools.commands.selftest.resolve_port", lambda p: p or "fake")
    monkeypatch.setenv("COLUMNS", "240")


def test_command_passes_on_a_healthy_dowel(dowel, monkeypatch, capsys):
    from host_tools.cli import main

    command(monkeypatch, dowel(IN_ORDER))
    assert main(["selftest", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "Self-test passed" in out and "PASS" in out


def test_command_fails_and_names_the_fix(dowel, monkeypatch, capsys):
    from host_tools.cli import main

    command(monkeypatch, dowel(IN_ORDER, wiring=(MID, HEAD, SACRUM)))
    assert main(["selftest", "--yes", "--timeout", "8"]) == 1
    out = capsys.readouterr().out
    assert "Self-test failed" in out
    assert "head and midback are swapped" in out


def test_check_is_a_plain_record():
    c = Check("x", PASS, "fine")
    assert c.fix == ""


def test_rest_levels_wait_until_the_pt_says_the_dowel_lies_still(dowel):
    board = dowel(IN_ORDER)
    ui = ScriptedUi(answers=[False, False, True, True, True, True])
    run(board, ui, yes=False)
    assert ui.questions[:3] == ["Is the dowel lying still, with nothing touching the pads?"] * 3
    assert ui.lines.count("Lay it down flat on a table, hands off, then answer yes.") == 2
