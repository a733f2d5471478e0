"""FHIR R4 export: a patient's dowels, prescription and sessions as a Bundle (type collection):
Device and DeviceMetric resources, a ServiceRequest and one Observation per session.

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
from host_tools.store.patients import prescription_words, require_patient

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
    # Device, DeviceMetric and ServiceRequest codes
    "smart-dowel": "Smart dowel hip-hinge trainer (three contact sensors, optional IMU)",
    "firmware": "Firmware version",
    "contact-head": "Contact sensor at the back of the head",
    "contact-midback": "Contact sensor between the shoulder blades",
    "contact-sacrum": "Contact sensor at the sacrum",
    "hinge-practice": "Hip-hinge practice at home with the smart dowel",
}
# Device.deviceName.type, DeviceMetric enumerations (R4 required bindings).
DEVICE_NAME_TYPE = "user-friendly-name"
# The Personal Health Device IG's coincident time stamp: the device's clock (value) at a moment
# of the host's clock (effective), code MDC_ATTR_TIME_ABS of ISO/IEEE 11073-10101.
MDC_SYSTEM = "urn:iso:std:iso:11073:10101"
MDC_TIME_ABS = "67975"
COINCIDENT_PROFILE = (
    "http://hl7.org/fhir/uv/phd/StructureDefinition/PhdCoincidentTimeStampObservation"
)


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


def _uuid(key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, key))


def device_resources(
    conn: sqlite3.Connection, patient: str, sessions: list[SessionStats]
) -> list[dict[str, Any]]:
    """A Device per dowel the patient used or was calibrated on (serial: the board's unique
    id; version: the firmware of its latest session), and a DeviceMetric per contact sensor
    with its calibration state and time (the latest calibration on that dowel)."""
    firmware: dict[str, str] = {}
    for s in sessions:
        firmware[s.device_id] = s.firmware  # sessions are oldest first: the latest wins
    calibrated: dict[str, str] = {}
    for row in conn.execute(
        "SELECT device_id, MAX(taken_utc) FROM calibrations WHERE patient = ? GROUP BY device_id",
        (patient,),
    ):
        calibrated[row[0]] = row[1]
    out: list[dict[str, Any]] = []
    for device_id in sorted(set(firmware) | set(calibrated)):
        device: dict[str, Any] = {
            "resourceType": "Device",
            "id": _uuid(f"device/{device_id}"),
            "identifier": [{"system": DEVICE_ID_SYSTEM, "value": device_id}],
            "status": "active",
            "serialNumber": device_id,
            "deviceName": [{"name": "Smart dowel", "type": DEVICE_NAME_TYPE}],
            "type": _coding("smart-dowel"),
            "patient": subject_reference(patient),
        }
        if device_id in firmware:
            device["version"] = [{"type": _coding("firmware"), "value": firmware[device_id]}]
        out.append(device)
        for point in POINTS:
            metric: dict[str, Any] = {
                "resourceType": "DeviceMetric",
                "id": _uuid(f"device/{device_id}/{point}"),
                "identifier": [{"system": DEVICE_ID_SYSTEM, "value": f"{device_id}/{point}"}],
                "type": _coding("contact-" + point),
                "source": {"reference": f"urn:uuid:{device['id']}"},
                "operationalStatus": "on",
                "category": "measurement",
            }
            taken = calibrated.get(device_id)
            if taken is not None:
                moment = datetime.fromisoformat(taken.replace("Z", "+00:00"))
                calibration = {"type": "two-point", "state": "calibrated"}
                metric["calibration"] = [{**calibration, "time": fhir_instant(moment)}]
            else:
                metric["calibration"] = [{"type": "two-point", "state": "not-calibrated"}]
            out.append(metric)
    return out


def coincident_time_stamps(
    conn: sqlite3.Connection, patient: str, devices: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """At each pull, the dowel's clock against the host's: an Observation per clock read
    (PHD IG PhdCoincidentTimeStampObservation), so a receiver can judge every time the dowel
    logged."""
    out = []
    for device in devices:
        if device["resourceType"] != "Device":
            continue
        for read_utc, board_utc in conn.execute(
            "SELECT read_utc, board_utc FROM clock_reads WHERE device_id = ? AND board_utc IS "
            "NOT NULL ORDER BY read_utc",
            (device["serialNumber"],),
        ):
            host = datetime.fromisoformat(read_utc)
            board = datetime.fromisoformat(board_utc)
            out.append(
                {
                    "resourceType": "Observation",
                    "id": _uuid(f"coincident/{device['serialNumber']}/{read_utc}"),
                    "meta": {"profile": [COINCIDENT_PROFILE]},
                    "status": "final",
                    "code": {
                        "coding": [
                            {
                                "system": MDC_SYSTEM,
                                "code": MDC_TIME_ABS,
                                "display": "MDC_ATTR_TIME_ABS: Absolute time",
                            }
                        ],
                        "text": "The dowel's clock when the host read its log",
                    },
                    "subject": subject_reference(patient),
                    "effectiveDateTime": fhir_instant(host),
                    "valueDateTime": fhir_instant(board),
                    "device": {"reference": f"urn:uuid:{device['id']}"},
                }
            )
    return out


def prescription_request(patient: str, sets: int, reps: int) -> dict[str, Any]:
    """The prescription as a ServiceRequest: `sets` a day (occurrenceTiming), `reps` each."""
    return {
        "resourceType": "ServiceRequest",
        "id": _uuid(f"prescription/{patient}"),
        "status": "active",
        "intent": "order",
        "code": _coding("hinge-practice"),
        "subject": subject_reference(patient),
        "occurrenceTiming": {"repeat": {"frequency": sets, "period": 1, "periodUnit": "d"}},
        "quantityQuantity": {
            "value": reps,
            "unit": "repetitions a set",
            "system": UCUM,
            "code": "{rep}",
        },
        "note": [{"text": prescription_words(sets, reps)}],
    }


def session_bundle(
    conn: sqlite3.Connection, patient: str, now: datetime | None = None
) -> dict[str, Any]:
    """The patient's dowels (Device, a DeviceMetric per sensor), the prescription
    (ServiceRequest) and every session (Observation, oldest first) as a FHIR R4 collection
    Bundle.

    Raises DowelError naming `dowel patients` for an unknown patient."""
    info = require_patient(conn, patient)
    now = now or datetime.now(timezone.utc)
    sessions = load_sessions(conn, patient)
    entries = []
    devices = device_resources(conn, patient, sessions)
    for res in [
        *devices,
        *coincident_time_stamps(conn, patient, devices),
        prescription_request(patient, info.sets_per_day, info.reps_per_set),
    ]:
        entries.append({"fullUrl": f"urn:uuid:{res['id']}", "resource": res})
    for s in sessions:
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
