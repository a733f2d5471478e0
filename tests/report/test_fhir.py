"""`dowel export fhir`: the Bundle parses, meets the R4 structure rules, passes the fhir.resources
models, documents its codes, and its counts match the database."""

from __future__ import annotations

import copy
import json
import re
import statistics
from datetime import datetime, timezone
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from host_tools.errors import DowelError
from host_tools.report.fhir import CODE_SYSTEM, CODES, session_bundle, subject_reference
from tests.report.fhir_rules import check_bundle

NOW = datetime(2025, 3, 17, 9, 0, tzinfo=timezone.utc)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "fhir.md"


@pytest.fixture
def bundle(conn, week):
    # Through JSON and back, as a receiver would read the file.
    return json.loads(json.dumps(session_bundle(conn, "P-0001", now=NOW)))


def components(obs) -> dict:
    out = {}
    for c in obs["component"]:
        (coding,) = c["code"]["coding"]
        assert coding["system"] == CODE_SYSTEM
        out[coding["code"]] = c.get("valueInteger", c.get("valueQuantity"))
    return out


def check(b):
    return check_bundle(b, CODE_SYSTEM, set(CODES))


def of_type(b, kind: str) -> list[dict]:
    return [e["resource"] for e in b.get("entry", []) if e["resource"]["resourceType"] == kind]


def first_obs(b) -> int:
    return next(
        i for i, e in enumerate(b["entry"]) if e["resource"]["resourceType"] == "Observation"
    )


def test_bundle_meets_the_r4_rules(bundle):
    assert check(bundle) == []
    assert bundle["type"] == "collection" and bundle["timestamp"] == "2025-03-17T09:00:00Z"


def test_rule_checker_catches_broken_bundles(bundle):
    def broken(edit):
        b = copy.deepcopy(bundle)
        edit(b)
        return check(b)

    obs = first_obs(bundle)

    def set_(path, value):
        def edit(b):
            target = b["entry"][obs]["resource"]
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value

        return edit

    assert broken(set_(["status"], "done"))
    assert broken(set_(["effectiveDateTime"], "2025-03-03T07:20:00"))  # no zone
    assert broken(set_(["subject"], {"reference": "P-0001"}))
    assert broken(set_(["component", 0, "valueInteger"], "10"))
    assert broken(set_(["component", 0, "valueString"], "ten"))
    assert broken(set_(["component", 5, "valueQuantity", "code"], "degrees"))
    assert broken(set_(["code", "coding", 0, "code"], "squat"))
    assert broken(set_(["note"], []))
    assert broken(lambda b: b["entry"][obs]["resource"].pop("status"))
    assert broken(lambda b: b["entry"].append(b["entry"][0]))
    # The dowel's resources too: a metric's calibration state, a dangling source, the timing.
    metric = next(
        i for i, e in enumerate(bundle["entry"]) if e["resource"]["resourceType"] == "DeviceMetric"
    )
    assert broken(lambda b: b["entry"][metric]["resource"]["calibration"][0].update(state="fine"))
    assert broken(
        lambda b: b["entry"][metric]["resource"].update(
            source={"reference": "urn:uuid:" + "0" * 8 + "-0000-0000-0000-" + "0" * 12}
        )
    )
    req = next(
        i
        for i, e in enumerate(bundle["entry"])
        if e["resource"]["resourceType"] == "ServiceRequest"
    )
    assert broken(
        lambda b: b["entry"][req]["resource"]["occurrenceTiming"]["repeat"].update(
            periodUnit="day"
        )
    )


def test_bundle_passes_the_fhir_resources_models(bundle):
    parsed = Bundle.model_validate(bundle)
    assert parsed.type == "collection" and len(parsed.entry) == len(bundle["entry"])
    # The models are not a rubber stamp: a wrongly typed or missing element fails them.
    i = first_obs(bundle)
    bad = copy.deepcopy(bundle)
    bad["entry"][i]["resource"]["component"][0]["valueInteger"] = "ten"
    with pytest.raises(ValidationError):
        Bundle.model_validate(bad)
    bad = copy.deepcopy(bundle)
    del bad["entry"][i]["resource"]["status"]
    with pytest.raises(ValidationError):
        Bundle.model_validate(bad)


def test_one_observation_per_session_with_counts_from_the_database(conn, bundle):
    sessions = conn.execute(
        "SELECT device_id, session, started_utc FROM sessions WHERE patient = 'P-0001'"
    ).fetchall()
    assert len(of_type(bundle, "Observation")) == len(sessions) == 58
    by_key = {f"{r['device_id']}/{r['session']}": r for r in sessions}
    seen = set()
    for obs in of_type(bundle, "Observation"):
        (ident,) = obs["identifier"]
        key = ident["value"]
        seen.add(key)
        device, number = key.split("/")
        counts = dict(
            conn.execute(
                "SELECT outcome, COUNT(*) FROM reps WHERE device_id = ? AND session = ? "
                "GROUP BY outcome",
                (device, int(number)),
            ).fetchall()
        )
        comp = components(obs)
        assert comp["reps"] == sum(counts.values())
        assert comp["clean-reps"] == counts.get("clean", 0)
        for point in ("head", "midback", "sacrum"):
            assert comp["lost-" + point] == counts.get(point, 0)
        depths = [
            r[0]
            for r in conn.execute(
                "SELECT depth_deg FROM reps WHERE device_id = ? AND session = ? AND depth_deg "
                "IS NOT NULL",
                (device, int(number)),
            )
        ]
        if depths:
            assert comp["depth-median"] == {
                "value": round(statistics.median(depths), 1),
                "unit": "deg",
                "system": "http://unitsofmeasure.org",
                "code": "deg",
            }
            assert comp["pause-median"]["code"] == "ms"
        else:
            assert "depth-median" not in comp and "pause-median" not in comp
        started = by_key[key]["started_utc"]
        if started is None:
            assert "effectiveDateTime" not in obs and "clock" in obs["note"][0]["text"]
        else:
            assert obs["effectiveDateTime"] == started
        assert obs["subject"] == {
            "reference": "Patient/P-0001",
            "identifier": {"system": "urn:dowel:patient-id", "value": "P-0001"},
        }
        assert obs["status"] == "final"
        assert obs["category"][0]["coding"][0]["code"] == "activity"
    assert seen == set(by_key)
    total = sum(components(o)["reps"] for o in of_type(bundle, "Observation"))
    assert (
        total == conn.execute("SELECT COUNT(*) FROM reps WHERE patient = 'P-0001'").fetchone()[0]
    )


def test_ids_are_stable_across_exports(conn, week):
    a = session_bundle(conn, "P-0001", now=NOW)
    b = session_bundle(conn, "P-0001", now=NOW)
    assert [e["fullUrl"] for e in a["entry"]] == [e["fullUrl"] for e in b["entry"]]
    assert len({e["fullUrl"] for e in a["entry"]}) == len(a["entry"])


def test_patient_without_sessions_gives_the_dowel_and_prescription_only(conn, week):
    b = session_bundle(conn, "P-0002", now=NOW)  # calibrated, never practised
    assert of_type(b, "Observation") == []
    assert [d["serialNumber"] for d in of_type(b, "Device")] == ["dowel-c3"]
    assert "version" not in of_type(b, "Device")[0]  # no session: no firmware known
    assert len(of_type(b, "ServiceRequest")) == 1
    assert check(b) == []


def test_ids_that_are_not_fhir_ids_go_by_identifier_only():
    assert subject_reference("p_1") == {
        "identifier": {"system": "urn:dowel:patient-id", "value": "p_1"}
    }


def test_unknown_patient_names_the_list_command(conn, week):
    with pytest.raises(DowelError, match="dowel patients"):
        session_bundle(conn, "P-4242")


def test_docs_list_every_code():
    text = DOCS.read_text(encoding="utf-8")
    assert CODE_SYSTEM in text
    table = text[text.index("## Local code system") : text.index("## Validation")]
    documented = set(re.findall(r"^\| `([a-z-]+)` \|", table, re.M))
    assert documented == set(CODES)
