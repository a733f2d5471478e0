"""FHIR R4 export: a patient's sessions as a Bundle (type collection) of Observations.

    with db.connect() as conn:
        bundle = session_bundle(conn, "P-0001")   # a dict, ready for json.dumps

One Observation per session, coded with the local code system `CODE_SYSTEM` (no LOINC or
SNOMED CT code describes a dowel hip-hinge session or its contact losses); every code is listed
in `CODES` and documented in docs/fhir.md. The patient is referenced by the pseudonymous ID
only: a `Patient/<ID>` literal reference (when the ID is a valid FHIR id) plus a logical
identifier, so the receiving system maps the pseudonym to its own record. No Patient resource
is exported: the host holds no demographics.
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from datetime import datetime, timezone
from typing import Any

from host_tools.report.data import POINTS, SessionStats, load_sessions
from host_tools.store.patients import require_patient

CODE_SYSTEM = "urn:dowel:codes"
PATIENT_ID_SYSTEM = "urn:dowel:patient-id"
DEVICE_ID_SYSTEM = "urn:dowel:device-id"
SESSION_ID_SYSTEM = "urn:dowel:session"
# On an Observation whose effectiveDateTime the host estimated (the dowel's clock had lost the
# date, `host_tools.store.dates`): valuePeriod is where the true start lies.
ESTIMATED_EXTENSION = "urn:dowel:extension:effective-estimated"
CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
UCUM = "http://unitsofmeasure.org"
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
# uuid5 namespace for Observation ids: the same session always gets the same id, so a
# re-export updates rather than duplicates in a receiving store.
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, CODE_SYSTEM)

# code -> display. The session code is Observation.code; the rest are component codes.
CODES = {
    "hinge-session": "Hip-hinge practice session with the smart dowel",
    "reps": "Repetitions performed",
    "clean-reps": "Repetitions with all three contact points kept",
    "lost-head": "Repetitions where the head contact was lost first",
    "lost-midback": "Repetitions where the mid-back contact was lost first",
    "lost-sacrum": "Repetitions where the sacrum contact was lost first",
    "depth-median": "Median deepest trunk pitch of the session's repetitions",
    "loss-pitch-median": "Median trunk pitch when the first contact was lost",
    "lower-median": "Median lowering time of a repetition",
    "pause-median": "Median pause at the bottom of a repetition",
    "rise-median": "Median rising time of a repetition",
}


def _coding(code: str) -> dict[str, Any]:
    return {
        "coding": [{"system": CODE_SYSTEM, "code": code, "display": CODES[code]}],
        "text": CODES[code],
    }


def _count(code: str, value: int) -> dict[str, Any]:
    return {"code": _coding(code), "valueInteger": int(value)}


def _quantity(code: str, value: float, unit: str) -> dict[str, Any]:
    # UCUM: "deg" is the plane-angle degree, "ms" the millisecond.
    return {
        "code": _coding(code),
        "valueQuantity": {
            "value": round(float(value), 1),
            "unit": unit,
            "system": UCUM,
            "code": unit,
        },
    }


def subject_reference(patient: str) -> dict[str, Any]:
    ref: dict[str, Any] = {"identifier": {"system": PATIENT_ID_SYSTEM, "value": patient}}
    if FHIR_ID.fullmatch(patient):
        ref = {"reference": f"Patient/{patient}", **ref}
    return ref


def fhir_instant(moment: datetime) -> str:
    """A FHIR dateTime with seconds and a zone, as R4 requires when a time is given."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def session_observation(patient: str, s: SessionStats) -> dict[str, Any]:
    components = [
        _count("reps", s.reps),
        _count("clean-reps", s.clean),
        *(_count("lost-" + p, s.first_lost[p]) for p in POINTS),
    ]
    for attr, code, unit in (
        ("depth", "depth-median", "deg"),
        ("loss_pitch", "loss-pitch-median", "deg"),
        ("lower_ms", "lower-median", "ms"),
        ("pause_ms", "pause-median", "ms"),
        ("rise_ms", "rise-median", "ms"),
    ):
        spread = getattr(s, attr)
        if spread.n:
            components.append(_quantity(code, spread.median, unit))
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": str(uuid.uuid5(NAMESPACE, f"{patient}/{s.device_id}/{s.session}")),
        "identifier": [{"system": SESSION_ID_SYSTEM, "value": f"{s.device_id}/{s.session}"}],
        "status": "final",
        "category": [
            {"coding": [{"system": CATEGORY_SYSTEM, "code": "activity", "display": "Activity"}]}
        ],
        "code": _coding("hinge-session"),
        "subject": subject_reference(patient),
    }
    if s.estimated and s.earliest is not None and s.latest is not None:
        obs = {
            "resourceType": obs.pop("resourceType"),
            "id": obs.pop("id"),
            "extension": [
                {
                    "url": ESTIMATED_EXTENSION,
                    "valuePeriod": {
                        "start": fhir_instant(s.earliest),
                        "end": fhir_instant(s.latest),
                    },
                }
            ],
            **obs,
        }
    if s.started is not None:
        obs["effectiveDateTime"] = fhir_instant(s.started)
    obs["device"] = {
        "identifier": {"system": DEVICE_ID_SYSTEM, "value": s.device_id},
        "display": f"Smart dowel, firmware {s.firmware}" + (" with IMU" if s.has_imu else ""),
    }
    if s.started is None:
        obs["note"] = [{"text": "Session start unknown: the dowel's clock was not set."}]
    elif s.estimated:
        window = ""
        if s.earliest is not None and s.latest is not None:
            window = f" It began between {fhir_instant(s.earliest)} and {fhir_instant(s.latest)}."
        obs["note"] = [
            {
                "text": "Session start estimated by the host: the dowel's clock had lost the "
                "date (it was switched off), so the start was placed from the order of the "
                f"sessions and the dowel's running time.{window}"
            }
        ]
    obs["component"] = components
    return obs


def session_bundle(
    conn: sqlite3.Connection, patient: str, now: datetime | None = None
) -> dict[str, Any]:
    """Every session of `patient` as a FHIR R4 collection Bundle (oldest first).

    Raises DowelError naming `dowel patients` for an unknown patient."""
    require_patient(conn, patient)
    now = now or datetime.now(timezone.utc)
    entries = []
    for s in load_sessions(conn, patient):
        obs = session_observation(patient, s)
        entries.append({"fullUrl": f"urn:uuid:{obs['id']}", "resource": obs})
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": fhir_instant(now),
    }
    if entries:  # FHIR allows no empty arrays: a patient without sessions gets no `entry`
        bundle["entry"] = entries
    return bundle
