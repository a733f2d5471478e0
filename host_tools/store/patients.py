"""Patients as the host knows them: pseudonymous IDs, prescriptions, last session.

    with db.connect() as conn:
        set_prescription(conn, "P-0001", parse_prescription("5x10/day"))
        for p in list_patients(conn): print(p.patient, p.prescription, p.last_session_utc)

A patient is known once it has a row in `patients` (a prescription was set, or another tool
registered it), a session, or a calibration. Without a `patients` row the prescription is the
schema default, 5 sets of 10 reps a day.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone

from host_tools.errors import DowelError, UsageError
from host_tools.store import audit
from host_tools.words import count

DEFAULT_SETS_PER_DAY = 5
DEFAULT_REPS_PER_SET = 10
# The same rule as the firmware's config (`dowel.config`): 1..32 of A-Z a-z 0-9 _ -.
PATIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
PRESCRIPTION = re.compile(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*(?:/\s*day)?\s*")
PRESCRIPTION_FORM = "SETSxREPS/day, e.g. 5x10/day (5 sets of 10 reps a day)"


@dataclass(frozen=True)
class PatientInfo:
    patient: str
    sets_per_day: int
    reps_per_set: int

    @property
    def prescription(self) -> str:
        return f"{self.sets_per_day}x{self.reps_per_set}/day"

    @property
    def is_default(self) -> bool:
        """The schema's default prescription (set or not: `dowel calibrate` registers patients
        with it, so a row in `patients` does not mean a PT chose it)."""
        return (self.sets_per_day, self.reps_per_set) == (
            DEFAULT_SETS_PER_DAY,
            DEFAULT_REPS_PER_SET,
        )


@dataclass(frozen=True)
class PatientSummary(PatientInfo):
    sessions: int = 0
    last_session_utc: str | None = None  # ISO 8601 UTC, YYYY-MM-DDTHH:MM:SSZ
    last_calibration_utc: str | None = None


def check_patient_id(patient: str) -> str:
    if not PATIENT_ID.fullmatch(patient):
        raise UsageError(
            f"patient ID {patient!r} is not valid: use 1 to 32 characters from A-Z a-z 0-9 _ - "
            "(a pseudonym such as P-0001, never a name)"
        )
    return patient


def parse_prescription(text: str) -> tuple[int, int]:
    """'5x10/day' -> (5, 10). Raises UsageError showing the expected form."""
    m = PRESCRIPTION.fullmatch(text)
    if not m:
        raise UsageError(f"prescription {text!r} is not understood: write {PRESCRIPTION_FORM}")
    sets, reps = int(m.group(1)), int(m.group(2))
    if not (1 <= sets <= 50 and 1 <= reps <= 100):
        raise UsageError(
            f"prescription {text!r} is out of range: 1 to 50 sets of 1 to 100 reps a day "
            f"({PRESCRIPTION_FORM})"
        )
    return sets, reps


def _known(conn: sqlite3.Connection, patient: str) -> bool:
    row = conn.execute(
        "SELECT EXISTS(SELECT 1 FROM sessions WHERE patient = ?) "
        "OR EXISTS(SELECT 1 FROM calibrations WHERE patient = ?)",
        (patient, patient),
    ).fetchone()
    return bool(row[0])


def get_patient(conn: sqlite3.Connection, patient: str) -> PatientInfo | None:
    row = conn.execute(
        "SELECT sets_per_day, reps_per_set FROM patients WHERE patient = ?", (patient,)
    ).fetchone()
    if row is not None:
        return PatientInfo(patient, row["sets_per_day"], row["reps_per_set"])
    if _known(conn, patient):
        return PatientInfo(patient, DEFAULT_SETS_PER_DAY, DEFAULT_REPS_PER_SET)
    return None


def prescription_of(conn: sqlite3.Connection, patient: str | None) -> tuple[int, int]:
    """(sets a day, reps a set) the PT prescribed `patient`; the default one for a patient the
    host does not know (or None), as the report assumes."""
    info = get_patient(conn, patient) if patient else None
    if info is None:
        return DEFAULT_SETS_PER_DAY, DEFAULT_REPS_PER_SET
    return info.sets_per_day, info.reps_per_set


def prescription_words(sets: int, reps: int) -> str:
    """'5 sets of 10 reps a day', in the words the report, the dowel page and the FHIR note use."""
    return f"{count(sets, 'set')} of {count(reps, 'rep')} a day"


def require_patient(conn: sqlite3.Connection, patient: str) -> PatientInfo:
    info = get_patient(conn, patient)
    if info is None:
        raise DowelError(
            f"no patient {patient!r} in the database: `dowel patients` lists the known IDs "
            "(a patient appears once calibrated, once their logs are pulled, or with "
            "`dowel patient set`)"
        )
    return info


def set_prescription(conn: sqlite3.Connection, patient: str, sets: int, reps: int) -> None:
    check_patient_id(patient)
    old = conn.execute(
        "SELECT sets_per_day, reps_per_set FROM patients WHERE patient = ?", (patient,)
    ).fetchone()
    was = f" (was {old[0]}x{old[1]}/day)" if old else " (a new patient)"
    audit.record(conn, "prescription", patient, f"{sets}x{reps}/day{was}")
    conn.execute(
        "INSERT INTO patients (patient, sets_per_day, reps_per_set) VALUES (?, ?, ?) "
        "ON CONFLICT(patient) DO UPDATE SET sets_per_day = excluded.sets_per_day, "
        "reps_per_set = excluded.reps_per_set",
        (patient, sets, reps),
    )
    conn.commit()


def _utc_text(stored: str | None) -> str | None:
    """Stored ISO 8601 text (tools write `Z` or `+00:00`) as one form: 2025-03-03T07:20:00Z."""
    if stored is None:
        return None
    value = datetime.fromisoformat(stored.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def list_patients(conn: sqlite3.Connection) -> list[PatientSummary]:
    rows = conn.execute(
        """
        WITH ids AS (
            SELECT patient FROM patients
            UNION SELECT patient FROM sessions
            UNION SELECT patient FROM calibrations
        )
        SELECT ids.patient,
               p.sets_per_day, p.reps_per_set,
               (SELECT COUNT(*) FROM sessions s WHERE s.patient = ids.patient) AS n_sessions,
               (SELECT MAX(started_utc) FROM sessions s WHERE s.patient = ids.patient) AS last,
               (SELECT MAX(taken_utc) FROM calibrations c WHERE c.patient = ids.patient) AS cal
        FROM ids LEFT JOIN patients p ON p.patient = ids.patient
        ORDER BY ids.patient
        """
    ).fetchall()
    return [
        PatientSummary(
            patient=r["patient"],
            sets_per_day=r["sets_per_day"] or DEFAULT_SETS_PER_DAY,
            reps_per_set=r["reps_per_set"] or DEFAULT_REPS_PER_SET,
            sessions=r["n_sessions"],
            last_session_utc=_utc_text(r["last"]),
            last_calibration_utc=_utc_text(r["cal"]),
        )
        for r in rows
    ]
