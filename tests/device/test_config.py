"""Config validation names every bad field; load falls back with a reason; saves are atomic."""

import json
import os

import pytest
from dowel import config
from hypothesis import given
from hypothesis import strategies as st


def errors_of(obj):
    with pytest.raises(config.ConfigError) as info:
        config.validate(obj)
    return dict(info.value.errors)


def test_issue_contract_example_is_valid():
    cfg = config.validate(
        {
            "version": 1,
            "patient": "P-0001",
            "loss_ms": 120,
            "regain_ms": 200,
            "arm_ms": 500,
            "sensors": {
                "head": {"on": 20000, "off": 16000},
                "midback": {"on": 21000, "off": 17000},
                "sacrum": {"on": 22000, "off": 15000},
            },
        }
    )
    assert cfg["sensors"]["midback"] == {"on": 21000, "off": 17000, "level": 0}
    assert cfg["feedback"] == "loss"


def test_every_bad_field_is_named_at_once():
    errs = errors_of(
        {
            "version": 2,
            "patient": "bad id!",
            "loss_ms": 10,
            "regain_ms": 2001,
            "arm_ms": "500",
            "feedback": "sometimes",
            "chime": 1,
            "colour": "red",
            "sensors": {
                "head": {"on": 100, "off": 200},
                "midback": {"on": 70000, "off": 1},
                "sacrum": {"on": 20000, "off": 0},
                "neck": {},
            },
        }
    )
    assert set(errs) == {
        "version",
        "patient",
        "loss_ms",
        "regain_ms",
        "arm_ms",
        "feedback",
        "chime",
        "colour",
        "sensors.head",
        "sensors.midback.on",
        "sensors.sacrum",
        "sensors.neck",
    }
    assert "20 to 1000" in errs["loss_ms"] and "20 to 2000" in errs["regain_ms"]
    assert "0 < off < on" in errs["sensors.head"]


@pytest.mark.parametrize(
    "field,value",
    [
        ("loss_ms", 19),
        ("loss_ms", 1001),
        ("regain_ms", 19),
        ("regain_ms", 2001),
        ("loss_ms", True),
        ("loss_ms", 1.5),
    ],
)
def test_window_bounds(field, value):
    assert field in errors_of({field: value})


@given(st.text(min_size=0, max_size=40))
def test_patient_id_rule(patient):
    ok = 1 <= len(patient) <= 32 and all(
        c.isascii() and (c.isalnum() or c in "_-") for c in patient
    )
    try:
        config.validate({"patient": patient})
        assert ok
    except config.ConfigError as exc:
        assert not ok and [f for f, _ in exc.errors] == ["patient"]


@given(off=st.integers(-5, 70000), on=st.integers(-5, 70000))
def test_threshold_rule(off, on):
    obj = {"sensors": {"sacrum": {"on": on, "off": off}}}
    if 0 < off < on <= 65535:
        assert config.validate(obj)["sensors"]["sacrum"]["on"] == on
    else:
        assert any(f.startswith("sensors.sacrum") for f in errors_of(obj))


def test_set_field_parses_and_validates():
    cfg = config.set_field(config.defaults(), "sensors.head.on", "21000")
    assert cfg["sensors"]["head"]["on"] == 21000
    assert config.set_field(cfg, "chime", "true")["chime"] is True
    with pytest.raises(config.ConfigError, match="loss_ms: must be an integer from 20 to 1000"):
        config.set_field(cfg, "loss_ms", "5")
    with pytest.raises(config.ConfigError, match="unknown field"):
        config.set_field(cfg, "sensors.neck.on", "1")
    with pytest.raises(config.ConfigError, match="not 'abc'"):
        config.set_field(cfg, "arm_ms", "abc")


def test_load_missing_corrupt_and_out_of_range(tmp_path):
    path = str(tmp_path / "dowel.json")
    assert config.load(path) == (config.defaults(), None)
    with open(path, "w") as f:
        f.write("{not json")
    cfg, reason = config.load(path)
    assert cfg == config.defaults() and "rejected" in reason
    with open(path, "w") as f:
        json.dump({"loss_ms": 5000}, f)
    cfg, reason = config.load(path)
    assert cfg == config.defaults() and "loss_ms" in reason


def test_save_is_atomic_and_round_trips(tmp_path, monkeypatch):
    path = str(tmp_path / "dowel.json")
    first = config.save(config.set_field(config.defaults(), "patient", "P-0001"), path)
    assert config.load(path) == (first, None)
    # A power cut while writing the new file leaves the old config intact.
    real_open = open

    def failing_open(name, mode="r", *args, **kwargs):
        f = real_open(name, mode, *args, **kwargs)
        if name.endswith(".tmp") and "w" in mode:
            f.write('{"patient": "P-00')
            f.close()
            raise OSError("power cut")
        return f

    monkeypatch.setattr("builtins.open", failing_open)
    with pytest.raises(OSError):
        config.save(config.set_field(first, "patient", "P-0002"), path)
    monkeypatch.undo()
    assert config.load(path) == (first, None)


def test_save_cut_between_remove_and_rename_recovers_from_tmp(tmp_path):
    # The FAT path: old file removed, power lost before the rename.
    path = str(tmp_path / "dowel.json")
    cfg = config.set_field(config.defaults(), "patient", "P-0003")
    with open(path + ".tmp", "w") as f:
        f.write(config.canonical(cfg))
    assert not os.path.exists(path)
    assert config.load(path) == (cfg, None)


def test_save_refuses_invalid_and_writes_nothing(tmp_path):
    path = str(tmp_path / "dowel.json")
    bad = config.defaults()
    bad["loss_ms"] = 0
    with pytest.raises(config.ConfigError):
        config.save(bad, path)
    assert not os.path.exists(path) and not os.path.exists(path + ".tmp")


def test_hash_ignores_key_order():
    a = config.defaults()
    b = json.loads(json.dumps(a, sort_keys=True))
    assert config.config_hash(a) == config.config_hash(b)
    assert len(config.config_hash(a)) == 8
    assert config.config_hash(config.set_field(a, "loss_ms", "121")) != config.config_hash(a)
