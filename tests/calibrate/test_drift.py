"""The host's reading of the board's drift report (`host_tools.calibrate.drift`): findings only
against the levels the board is calibrated with now. The device's tracker is tested in
tests/device/test_drift.py, the prompt after a calibration in test_session.py."""

from host_tools.calibrate.drift import drift_findings


def test_host_findings_only_against_the_current_levels():
    report = {
        "levels": [20000, 30000, 40000],
        "current": [14000, 30000, 40000],
        "armed_ms": 30000,
        "drift_pct": 25,
        "moved": 1,
    }
    cfg = {
        "sensors": {
            "head": {"level": 20000},
            "midback": {"level": 30000},
            "sacrum": {"level": 40000},
        }
    }
    (finding,) = drift_findings(report, cfg)
    assert (finding.sensor, finding.calibrated, finding.current) == ("head", 20000, 14000)
    assert "-30%" in finding.message() and "head" in finding.message()
    cfg["sensors"]["head"]["level"] = 21000  # recalibrated since: the report is stale
    assert drift_findings(report, cfg) == []
    assert drift_findings(None, cfg) == []
