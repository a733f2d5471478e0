"""Scenario files and their rendering (pure Python, no board): deterministic per seed, a ground
truth that agrees with the arrays, the shipped scenarios do what their names promise, bad
files are refused with the step named, and the replay trace is well formed."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from host_tools.errors import UsageError
from host_tools.sim import builds, list_scenarios, load_scenario, render

SENSORS = ("head", "midback", "sacrum")


def arrays(tl):
    return [
        list(getattr(tl, k))
        for k in ("head", "midback", "sacrum", "pitch_cdeg", "gyro_mdps", "gmag_milli")
    ]


def test_same_seed_same_arrays_other_seed_other_noise():
    a, b = render(load_scenario("quick")), render(load_scenario("quick"))
    assert arrays(a) == arrays(b) and a.truth == b.truth
    c = render(load_scenario("quick"), seed=99)
    assert arrays(c)[0] != arrays(a)[0]
    assert [s for _, s in c.truth["losses"]] == [s for _, s in a.truth["losses"]]


def test_shipped_scenarios_do_what_they_say():
    assert {"demo", "quick", "selftest", "calibration"} <= set(list_scenarios())
    assert {"weak", "strong", "average"} <= set(builds())
    demo = render(load_scenario("demo")).truth
    assert demo["duration_ms"] <= 45000 and 9 <= len(demo["reps"]) <= 11
    assert {s for _, s in demo["losses"]} == set(SENSORS)
    assert demo["wobbles"] and all(end - start < 100 for start, end, _ in demo["wobbles"])
    quick = render(load_scenario("quick")).truth
    assert quick["duration_ms"] <= 10000 and len(quick["reps"]) >= 2 and quick["losses"]
    selftest = render(load_scenario("selftest")).truth
    assert [s for _, _, s in selftest["presses"]] == list(SENSORS)
    assert any(abs(to - 45) < 1 for _, _, to in selftest["tilts"])
    cal = render(load_scenario("calibration")).truth
    assert 2 <= len(cal["reps"]) <= 3 and not cal["losses"]


def test_truth_agrees_with_the_rendered_counts():
    tl = render(load_scenario("demo"))
    contact = tl.truth["build"]["contact_counts"]
    for t, sensor in tl.truth["losses"]:
        k = SENSORS.index(sensor)
        before, after = tl.at(t - 60)[k], tl.at(t + 60)[k]
        assert before > 0.6 * contact[k] and after < 0.2 * contact[k], (t, sensor)
    for start, end, sensor in tl.truth["wobbles"]:
        k = SENSORS.index(sensor)
        assert min(tl.at(t)[k] for t in range(start, end)) < 0.2 * contact[k]
        assert tl.at(start - 50)[k] > 0.6 * contact[k] and tl.at(end + 50)[k] > 0.6 * contact[k]
    for rep in tl.truth["reps"]:
        assert abs(tl.at(rep["bottom_ms"] + 50)[3] - rep["depth_deg"]) < 3  # pitch at the bottom


def test_builds_change_the_levels():
    def hold_level(build):
        tl = render(load_scenario("calibration"), build=build)
        t = tl.truth["pickups"][0] + 1000
        return tl.at(t)[1]

    assert hold_level("weak") < hold_level("average") < hold_level("strong")


def test_faults_and_drop():
    tl = render(load_scenario("faults"))
    faults = {kind: t for t, kind, _ in tl.truth["faults"] if kind != "clear"}
    assert tl.at(faults["disconnected"] + 500)[2] < 100
    assert tl.at(faults["shorted"] + 500)[1] == 65535
    head, _, sacrum, _ = tl.at(faults["swapped"] + 300)
    assert head > sacrum * 1.4  # the sacrum's stronger signal arrives on the head's channel
    drop_t = tl.truth["releases"][-1][0]
    assert tl.truth["releases"][-1][1] == "drop"
    i = (drop_t + 100) // tl.dt_ms
    assert tl.gmag_milli[i] < 100  # free fall
    assert abs(tl.at(drop_t + 1000)[3] - 90) < 2  # then lying flat


def test_bad_scenarios_name_the_problem(tmp_path):
    def bad(steps, match):
        with pytest.raises(UsageError, match=match):
            load_scenario({"name": "bad", "steps": steps})

    bad([{"do": "jump"}], "step 1: 'do' must be one of")
    bad(
        [{"do": "pickup"}, {"do": "hinge", "depth_deg": 30, "lose": "sacrum", "lose_at_deg": 40}],
        "step 2: lose_at_deg must lie between",
    )
    bad([{"do": "wobble", "sensor": "knee"}], "sensor must be one of")
    bad([{"do": "hold", "mss": 5}], "unknown fields")
    with pytest.raises(UsageError, match="add a pickup step"):
        render(load_scenario({"name": "x", "steps": [{"do": "hinge"}]}))
    with pytest.raises(UsageError, match="no scenario 'nope'"):
        load_scenario("nope")
    path = tmp_path / "broken.json"
    path.write_text("{ not json")
    with pytest.raises(UsageError, match="not valid JSON"):
        load_scenario(path)


def test_replay_trace_from_the_command_line(tmp_path):
    out = tmp_path / "trace.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "host_tools.sim", "render", "quick", "--out", str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "2 losses" in proc.stdout
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["t_ms", "head", "midback", "sacrum", "pitch_deg"]
    t = [int(r[0]) for r in rows[1:]]
    assert all(b - a == 5 for a, b in zip(t, t[1:], strict=False))
    tl = render(load_scenario("quick"))
    assert len(t) == -(-tl.duration_ms // 5)
    assert [int(x) for x in rows[101][1:4]] == list(tl.at(500)[:3])
    truth = json.loads(
        subprocess.run(
            [sys.executable, "-m", "host_tools.sim", "truth", "quick"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert truth["losses"] == tl.truth["losses"]
