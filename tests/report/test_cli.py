"""The four commands through `dowel`'s own entry point: output, files, exit codes, messages."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest

from host_tools import cli
from host_tools.errors import UsageError
from host_tools.store.patients import parse_prescription


def test_patients_json_lists_everyone_with_last_session(week, capsys):
    assert cli.main(["patients", "--json"]) == 0
    rows = {r["patient"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {"P-0001", "P-0002", "P-0003"}
    assert rows["P-0001"]["last_session_utc"] == max(s.started for s in week.dated).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    assert rows["P-0001"]["sessions"] == 58
    assert rows["P-0001"]["prescription"] == "5x10/day" and rows["P-0001"]["default_prescription"]
    assert rows["P-0002"]["last_session_utc"] is None
    assert rows["P-0002"]["last_calibration_utc"] == "2025-03-05T10:00:00Z"  # stored with +00:00
    assert rows["P-0003"]["prescription"] == "3x8/day"


def test_patients_table(week, capsys):
    assert cli.main(["patients"]) == 0
    out = capsys.readouterr().out
    assert "P-0001" in out and "5x10/day (default)" in out and "2025-03-16" in out
    assert "3x8/day" in out


def test_patients_when_there_are_none(home, capsys):
    assert cli.main(["patients"]) == 0
    assert "no patients yet" in capsys.readouterr().out


def test_patient_set_then_list(week, capsys):
    assert cli.main(["patient", "set", "P-0001", "--prescription", "3x12/day"]) == 0
    assert "P-0001: prescription 3x12/day (36 reps a day)" in capsys.readouterr().out
    assert cli.main(["patient", "set", "P-0042", "--prescription", "2x15"]) == 0
    assert "new patient P-0042" in capsys.readouterr().out
    cli.main(["patients", "--json"])
    rows = {r["patient"]: r for r in json.loads(capsys.readouterr().out)}
    assert (
        rows["P-0001"]["prescription"] == "3x12/day" and not rows["P-0001"]["default_prescription"]
    )
    assert rows["P-0042"]["prescription"] == "2x15/day" and rows["P-0042"]["sessions"] == 0


@pytest.mark.parametrize(
    "text", ["5 sets", "5x", "x10/day", "5x10/week", "0x10/day", "5x1000/day", ""]
)
def test_bad_prescription_shows_the_form(home, capsys, text):
    assert cli.main(["patient", "set", "P-0001", "--prescription", text]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dowel: ") and "5x10/day" in err


@pytest.mark.parametrize(
    "text, expected", [("5x10/day", (5, 10)), ("3X8", (3, 8)), (" 2 x 15 / day ", (2, 15))]
)
def test_prescription_forms(text, expected):
    assert parse_prescription(text) == expected


def test_bad_patient_id(home, capsys):
    assert cli.main(["patient", "set", "Jane Doe", "--prescription", "5x10/day"]) == 2
    assert "never a name" in capsys.readouterr().err
    with pytest.raises(UsageError):
        parse_prescription("five by ten")


def test_report_default_file_name(week, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["report", "--patient", "P-0001"]) == 0
    out = capsys.readouterr().out.strip()
    m = re.fullmatch(r"wrote dowel-report-P-0001-(\d{4}-\d\d-\d\d)\.html", out)
    assert m, out
    assert abs(date.fromisoformat(m.group(1)) - date.today()) <= timedelta(days=1)
    written = tmp_path / out.removeprefix("wrote ")
    assert "<svg" in written.read_text(encoding="utf-8")


def test_report_pdf_and_since(week, tmp_path, capsys):
    out = tmp_path / "p1.pdf"
    assert (
        cli.main(["report", "--patient", "P-0001", "--since", "2025-03-10", "--out", str(out)])
        == 0
    )
    assert out.read_bytes().startswith(b"%PDF-")
    assert re.fullmatch(
        rf"wrote {re.escape(str(out))} \(\d A4 pages?\)\n", capsys.readouterr().out
    )


def test_report_unknown_patient(week, capsys):
    assert cli.main(["report", "--patient", "P-9999"]) == 1
    err = capsys.readouterr().err
    assert "P-9999" in err and "`dowel patients`" in err


def test_report_bad_date_and_suffix(week, tmp_path, capsys):
    assert cli.main(["report", "--patient", "P-0001", "--since", "10/03/2025"]) == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err
    assert cli.main(["report", "--patient", "P-0001", "--out", str(tmp_path / "r.txt")]) == 2
    assert ".html or .pdf" in capsys.readouterr().err
    assert (
        cli.main(
            ["report", "--patient", "P-0001", "--since", "2025-03-10", "--until", "2025-03-01"]
        )
        == 2
    )
    assert "before" in capsys.readouterr().err


def test_export_fhir_file_and_stdout(week, tmp_path, capsys):
    out = tmp_path / "p1.json"
    assert cli.main(["export", "fhir", "--patient", "P-0001", "--out", str(out)]) == 0
    assert f"wrote {out}: 58 session observations, 2 dowels with their sensors" in (
        capsys.readouterr().out
    )
    bundle = json.loads(out.read_text(encoding="utf-8"))
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert bundle["resourceType"] == "Bundle" and kinds.count("Observation") == 58
    assert kinds.count("Device") == 2 and kinds.count("DeviceMetric") == 6
    assert cli.main(["export", "fhir", "--patient", "P-0003", "--out", "-"]) == 0
    printed = json.loads(capsys.readouterr().out)
    kinds = [e["resource"]["resourceType"] for e in printed["entry"]]
    assert kinds.count("Observation") == 1 and kinds.count("ServiceRequest") == 1


def test_export_fhir_unknown_patient(week, capsys):
    assert cli.main(["export", "fhir", "--patient", "nobody"]) == 1
    assert "`dowel patients`" in capsys.readouterr().err
