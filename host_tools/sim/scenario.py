"""Scenario files: what the simulated patient does, as human-editable JSON.

    sc = load_scenario("quick")            # a name under host_tools/scenarios/, a path, or a dict
    sc["steps"][0]                         # {"do": "released", "ms": 500}

A scenario:

    {
      "name": "quick",                     # optional; defaults to the file name
      "description": "two reps, one sacrum loss, grip wobble",
      "seed": 7,                           # noise and jitter: same seed, same arrays
      "build": "average",                  # a build from builds.json, or an inline build
      "noise": {"adc_sd": 60, "grip_sd": 0.04, "pitch_sd_deg": 0.25, "gyro_sd_dps": 0.6},
      "dt_ms": 1,                          # sample spacing of the rendered timeline
      "steps": [ {"do": "released", "ms": 500}, {"do": "pickup"}, ... ]
    }

A build (the patient's body and grip): `contact_counts` and `zero_counts` (ADC counts at 11 dB,
0..65535, per sensor: an object {"head":, "midback":, "sacrum":} or one number for all),
`grip_sd` (slow grip-pressure variation, a fraction of the contact level), `stand_deg` (the
dowel's pitch when standing tall). Any build field may also be given in the scenario's "build"
object next to `"base": "weak"` to adjust a named build.

Steps (`ms` durations; angles are the dowel's pitch from vertical, in degrees; sensors are
head, midback, sacrum). Each starts where the previous one ended:

    released   {ms}                       dowel lying on a table, nobody touching it
    pickup     {ms=1200}                  lift it, set it on the back: sacrum, midback, head touch
    hold       {ms}                       standing tall, three-point contact, slight sway
    hinge      {reps=1, depth_deg=45, lower_ms=1200, pause_ms=300, rise_ms=1000, rest_ms=800,
                lose=null, lose_at_deg, regain_at_deg=null, regain_after_ms=null}
               hip hinges; with `lose`, that point leaves the dowel when the pitch passes
               `lose_at_deg` going down, and comes back at `regain_at_deg` on the way up (default:
               back at standing) or `regain_after_ms` after the loss
    wobble     {sensor, dips=1, dip_ms=60, gap_ms=400, level=0.03}
               grip-pressure dips while holding: shorter than a loss, they must not beep
    chatter    {sensor, ms=1000, level=0.5, swing=0.15, period_ms=30}
               contact hovering around the thresholds (ambiguous: no truth either way)
    press      {sensor, ms=800, gap_ms=600}
               dowel in the hands, away from the body: press one sensor (self-test)
    tilt       {to_deg, ms=1000}          tilt the dowel (self-test; contacts unchanged)
    drop       {ms=1500}                  the dowel falls: free fall, impact, lying on the floor
    put_down   {ms=800}                   take the dowel off the back and lay it down
    wait       {ms}                       keep doing what the previous step ended with
    await_host {match}                    hold still until the host sends code that matches
               the regular expression `match` (the patient follows the host: on the virtual
               board the scenario clock stops here until then)
    fault      {kind: disconnected|shorted|swapped|i2c_nodev|i2c_timeout|imu_power|clear,
                sensor | sensors: [a, b]}
               from now on: the sensor reads ~0 (wire off), 65535 (shorted), two sensors'
               signals are swapped, the IMU does not answer (I2C OSError ENODEV), the I2C bus
               hangs (ETIMEDOUT), the IMU lost power (back asleep, registers reset), or every
               fault is cleared
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from dowel.points import NAMES

from host_tools.errors import UsageError
from host_tools.paths import scenarios_dir

STEP_FIELDS: dict[str, dict[str, object]] = {
    "released": {"ms": 1000},
    "pickup": {"ms": 1200},
    "hold": {"ms": 1000},
    "hinge": {
        "reps": 1,
        "depth_deg": 45.0,
        "lower_ms": 1200,
        "pause_ms": 300,
        "rise_ms": 1000,
        "rest_ms": 800,
        "lose": None,
        "lose_at_deg": None,
        "regain_at_deg": None,
        "regain_after_ms": None,
    },
    "wobble": {"sensor": None, "dips": 1, "dip_ms": 60, "gap_ms": 400, "level": 0.03},
    "chatter": {"sensor": None, "ms": 1000, "level": 0.5, "swing": 0.15, "period_ms": 30},
    "press": {"sensor": None, "ms": 800, "gap_ms": 600},
    "tilt": {"to_deg": None, "ms": 1000},
    "drop": {"ms": 1500},
    "put_down": {"ms": 800},
    "wait": {"ms": 1000},
    "await_host": {"match": None},
    "fault": {"kind": None, "sensor": None, "sensors": None},
}
# The timeline's `i2c_fault` codes the board's I2C reads (vboard/py/_vbmachine.py, _FAULT_*).
I2C_FAULTS = {"i2c_nodev": 1, "i2c_timeout": 2, "imu_power": 3}
FAULT_KINDS = ("disconnected", "shorted", "swapped", "clear", *I2C_FAULTS)
NOISE_DEFAULTS = {"adc_sd": 60.0, "grip_sd": None, "pitch_sd_deg": 0.25, "gyro_sd_dps": 0.6}
BUILD_FIELDS = ("contact_counts", "zero_counts", "grip_sd", "stand_deg", "description")


def list_scenarios() -> list[str]:
    return sorted(p.stem for p in scenarios_dir().glob("*.json") if p.stem != "builds")


def builds() -> dict[str, dict]:
    return json.loads((scenarios_dir() / "builds.json").read_text())


def _per_sensor(value, what: str, where: str) -> list[float]:
    if isinstance(value, (int, float)):
        return [float(value)] * 3
    if isinstance(value, dict) and set(value) == set(NAMES):
        return [float(value[s]) for s in NAMES]
    if isinstance(value, list) and len(value) == 3:
        return [float(v) for v in value]
    raise UsageError(f"{where}: {what} must be a number or {{head, midback, sacrum}}")


def resolve_build(build, where: str = "scenario") -> dict:
    """A build name or object -> {name, contact_counts[3], zero_counts[3], grip_sd, stand_deg}."""
    known = builds()
    if build is None:
        build = "average"
    if isinstance(build, str):
        if build not in known:
            raise UsageError(f"{where}: unknown build {build!r}; builds: {', '.join(known)}")
        name, fields = build, dict(known[build])
    elif isinstance(build, dict):
        base = build.get("base", "average")
        if base not in known:
            raise UsageError(f"{where}: unknown base build {base!r}; builds: {', '.join(known)}")
        fields = {**known[base], **{k: v for k, v in build.items() if k != "base"}}
        name = build.get("name", f"{base}+custom")
    else:
        raise UsageError(f"{where}: build must be a name or an object")
    unknown = set(fields) - set(BUILD_FIELDS) - {"name"}
    if unknown:
        raise UsageError(f"{where}: unknown build fields {sorted(unknown)}")
    contact = _per_sensor(fields["contact_counts"], "contact_counts", where)
    zero = _per_sensor(fields["zero_counts"], "zero_counts", where)
    for s, c, z in zip(NAMES, contact, zero, strict=True):
        if not 0 <= z < c <= 65535:
            raise UsageError(f"{where}: {s} needs 0 <= zero_counts < contact_counts <= 65535")
    return {
        "name": name,
        "contact_counts": [int(c) for c in contact],
        "zero_counts": [int(z) for z in zero],
        "grip_sd": float(fields.get("grip_sd", 0.04)),
        "stand_deg": float(fields.get("stand_deg", 5.0)),
    }


def _check_sensor(value, where: str) -> str:
    if value not in NAMES:
        raise UsageError(f"{where}: sensor must be one of {', '.join(NAMES)}, not {value!r}")
    return value


def validate(sc: dict, where: str = "scenario") -> dict:
    """Check a scenario and fill in defaults; raise UsageError naming the bad step."""
    if not isinstance(sc, dict) or not isinstance(sc.get("steps"), list) or not sc["steps"]:
        raise UsageError(f"{where}: a scenario is an object with a non-empty list of steps")
    known = {"name", "description", "seed", "build", "noise", "dt_ms", "steps"}
    unknown = set(sc) - known
    if unknown:
        raise UsageError(f"{where}: unknown fields {sorted(unknown)} (known: {sorted(known)})")
    out = {
        "name": str(sc.get("name", "scenario")),
        "description": str(sc.get("description", "")),
        "seed": int(sc.get("seed", 0)),
        "build": resolve_build(sc.get("build"), where),
        "dt_ms": int(sc.get("dt_ms", 1)),
        "noise": dict(NOISE_DEFAULTS),
        "steps": [],
    }
    if not 1 <= out["dt_ms"] <= 10:
        raise UsageError(f"{where}: dt_ms must be 1..10")
    noise = sc.get("noise", {})
    if not isinstance(noise, dict) or set(noise) - set(NOISE_DEFAULTS):
        raise UsageError(f"{where}: noise takes {sorted(NOISE_DEFAULTS)}")
    out["noise"].update(noise)
    if out["noise"]["grip_sd"] is None:
        out["noise"]["grip_sd"] = out["build"]["grip_sd"]
    for i, step in enumerate(sc["steps"], 1):
        here = f"{where}, step {i}"
        if not isinstance(step, dict) or step.get("do") not in STEP_FIELDS:
            raise UsageError(f"{here}: 'do' must be one of {', '.join(STEP_FIELDS)}")
        fields = STEP_FIELDS[step["do"]]
        unknown = set(step) - set(fields) - {"do", "note"}
        if unknown:
            raise UsageError(f"{here} ({step['do']}): unknown fields {sorted(unknown)}")
        s = {"do": step["do"], **fields, **{k: v for k, v in step.items() if k != "note"}}
        if "ms" in s and (not isinstance(s["ms"], (int, float)) or s["ms"] < 0):
            raise UsageError(f"{here}: ms must be a number >= 0")
        do = s["do"]
        if do in ("wobble", "chatter", "press"):
            _check_sensor(s["sensor"], here)
        if do == "tilt" and not isinstance(s["to_deg"], (int, float)):
            raise UsageError(f"{here}: tilt needs to_deg")
        if do == "hinge":
            if s["lose"] is not None:
                _check_sensor(s["lose"], here)
                if s["lose_at_deg"] is None:
                    raise UsageError(f"{here}: lose needs lose_at_deg")
                if not out["build"]["stand_deg"] < s["lose_at_deg"] <= s["depth_deg"]:
                    raise UsageError(
                        f"{here}: lose_at_deg must lie between standing "
                        f"({out['build']['stand_deg']}) and depth_deg ({s['depth_deg']})"
                    )
            if s["depth_deg"] <= out["build"]["stand_deg"] or s["depth_deg"] > 100:
                raise UsageError(f"{here}: depth_deg must be above standing and at most 100")
            if s["reps"] < 1:
                raise UsageError(f"{here}: reps must be >= 1")
        if do == "await_host":
            try:
                re.compile(s["match"])
            except (TypeError, re.error) as exc:
                raise UsageError(
                    f"{here}: await_host needs match, a regular expression ({exc})"
                ) from None
        if do == "fault":
            if s["kind"] not in FAULT_KINDS:
                raise UsageError(f"{here}: fault kind must be one of {', '.join(FAULT_KINDS)}")
            if s["kind"] == "swapped":
                pair = s["sensors"]
                if not isinstance(pair, list) or len(pair) != 2 or pair[0] == pair[1]:
                    raise UsageError(f"{here}: swapped needs sensors: [a, b]")
                for p in pair:
                    _check_sensor(p, here)
            elif s["kind"] not in ("clear", *I2C_FAULTS):
                _check_sensor(s["sensor"], here)
        out["steps"].append(s)
    return out


def load_scenario(scenario) -> dict:
    """A validated scenario from a dict, a path to a JSON file, or a shipped scenario's name."""
    if isinstance(scenario, dict):
        return validate(scenario, "scenario " + str(scenario.get("name", "(dict)")))
    text = str(scenario)
    path = Path(text)
    if not path.suffix and not path.exists():
        path = scenarios_dir() / f"{text}.json"
        if not path.exists():
            raise UsageError(
                f"no scenario {text!r}: give a JSON file or one of {', '.join(list_scenarios())}"
            )
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise UsageError(f"cannot read scenario {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise UsageError(f"scenario {path} is not valid JSON: {exc}") from None
    if isinstance(data, dict):
        data.setdefault("name", path.stem)
    return validate(data, f"scenario {path.name}")
