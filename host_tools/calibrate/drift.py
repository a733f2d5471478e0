"""Drift: the board tracks each sensor's contact level during the neutral hold; when it moved
from the calibrated level, the host asks the PT to recalibrate (once per distinct reading).

    findings = check_drift(link)          # [] when nothing drifted
    if findings:
        say(drift_prompt(findings, patient))
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from host_tools.board import api
from host_tools.calibrate.rule import SAY, SENSORS
from host_tools.store import calibrations


@dataclass(frozen=True)
class DriftFinding:
    sensor: str
    calibrated: int
    current: int

    def message(self) -> str:
        pct = 100 * (self.current - self.calibrated) / self.calibrated
        return (
            f"{SAY[self.sensor]}: contact level moved {pct:+.0f}% since calibration "
            f"({self.calibrated} -> {self.current} counts)"
        )


def drift_findings(report: dict | None, cfg: dict) -> list[DriftFinding]:
    """Sensors the device says have drifted, against the levels of the config it runs now.
    A report taken against other levels (an older calibration) says nothing about this one."""
    if not report or not report.get("moved"):
        return []
    findings = []
    for i, name in enumerate(SENSORS):
        level = cfg["sensors"][name]["level"]
        if report["moved"] & (1 << i) and level and report["levels"][i] == level:
            findings.append(DriftFinding(name, level, report["current"][i]))
    return findings


def check_drift(
    link, conn: sqlite3.Connection | None = None, cfg: dict | None = None
) -> list[DriftFinding]:
    """Ask the board whether its contact levels drifted; record what it says in
    `drift_prompts` (once per distinct reading) and return the findings for a prompt."""
    if cfg is None:
        cfg, _ = api.read_config(link)
    findings = drift_findings(api.drift_report(link), cfg)
    if not findings:
        return []
    calibrations.record_drift(conn, cfg["patient"], api.unique_id(link), findings)
    return findings


def drift_prompt(findings: list[DriftFinding], patient: str) -> str:
    lines = "\n".join("  - " + f.message() for f in findings)
    return (
        f"Recalibration recommended: the contact level drifted since the last calibration\n"
        f"{lines}\nRun `dowel calibrate --patient {patient}` at this visit."
    )
