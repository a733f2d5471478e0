"""Report periods through `dowel report`: a period no report can be about is refused in one line
that names the fix (exit 2, nothing written); one that overhangs what the host knows is
written and says so.

The fortnight (`weekdata`): P-0001 from 3 to 16 Mar 2025, pulled on 17 Mar with nothing
practised that day, so the logs cover 3 to 16 Mar; P-0002 calibrated, never pulled.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from host_tools import cli


@pytest.fixture
def here(tmp_path, monkeypatch):
    """An empty working folder for the report (DOWEL_HOME is beside it)."""
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    return tmp_path / "work"


@pytest.fixture
def run(week, here, capsys):

    def run(*args: str, out: str = "r.html"):
        rc = cli.main(["report", *args, "--out", out])
        captured = capsys.readouterr()
        return rc, captured.out, captured.err

    return run


def refused(run, here, *args: str, patient: str = "P-0001") -> str:
    """The one-line message of a refused period; checks exit 2 and that nothing was written."""
    for out in ("r.html", "r.pdf"):
        rc, stdout, err = run("--patient", patient, *args, out=out)
        assert rc == 2, (args, stdout, err)
        assert stdout == ""
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("dowel: "), err
        assert "Traceback" not in err
    assert list(here.iterdir()) == []
    return lines[0]


def test_since_in_the_future(run, here):
    later = date.today() + timedelta(days=2)
    err = refused(run, here, "--since", later.isoformat())
    assert f"--since {later} is in the future" in err and "up to today" in err


def test_until_in_the_future(run, here):
    later = date.today() + timedelta(days=30)
    err = refused(run, here, "--since", "2025-03-03", "--until", later.isoformat())
    assert f"--until {later} is in the future" in err


def test_since_in_1900(run, here):
    err = refused(run, here, "--since", "1900-01-01")
    assert "before any dowel could log" in err and "leave it out" in err


def test_since_after_the_last_pull(run, here):
    err = refused(run, here, "--since", "2025-03-20")
    assert "no logs for P-0001 after 2025-03-16" in err
    assert "`dowel logs pull`" in err and "2025-03-03 to 2025-03-16" in err


def test_until_before_anything_was_recorded(run, here):
    err = refused(run, here, "--until", "2025-02-01")
    assert "nothing recorded for P-0001 before 2025-03-03" in err
    assert "--until in 2025-03-03 to 2025-03-16" in err


def test_a_period_for_a_patient_never_pulled(run, here):
    err = refused(run, here, "--since", "2025-03-01", patient="P-0002")
    assert "no practice logs pulled for P-0002" in err and "`dowel logs pull`" in err


def test_until_before_since_is_refused_before_anything_is_read(run, here):
    err = refused(run, here, "--since", "2025-03-10", "--until", "2025-03-01")
    assert "swap them" in err


def test_a_period_before_the_first_session_is_written_and_says_so(run, here):
    rc, stdout, err = run("--patient", "P-0001", "--since", "2025-03-01")
    assert rc == 0 and err == ""
    note = (
        "The period starts 2 days before this patient's first session or calibration "
        "(3 Mar 2025): those days show as not practised."
    )
    assert stdout.splitlines() == ["wrote r.html", f"note: {note}"]
    page = (here / "r.html").read_text(encoding="utf-8")
    summary = re.search(r'<ul class="summary" id="summary"><li>(.*?)</li>', page)
    assert summary and summary.group(1) == note.replace("'", "&#x27;")
    assert "Period: 1 Mar 2025 to 16 Mar 2025." in page
    assert "12 of 16 days practised (1 Mar to 16 Mar)" in page


def test_a_period_past_the_last_pull_is_written_and_says_so(run, here):
    rc, stdout, _ = run(
        "--patient", "P-0001", "--since", "2025-03-10", "--until", "2025-03-18", out="r.pdf"
    )
    assert rc == 0
    wrote, note = stdout.splitlines()
    assert re.fullmatch(r"wrote r\.pdf \(\d A4 pages?\)", wrote)
    assert note == (
        "note: The period ends 2 days after the last day the pulled logs cover "
        "(16 Mar 2025): those days show as not practised until the dowel's logs are pulled "
        "(dowel logs pull)."
    )
    assert (here / "r.pdf").read_bytes().startswith(b"%PDF-")


def test_a_known_day_without_practice_is_reported_as_such(run, here):
    """12 Mar: within the pulled logs, no session: the report says so, it is no error."""
    rc, stdout, _ = run("--patient", "P-0001", "--since", "2025-03-12", "--until", "2025-03-12")
    assert rc == 0 and stdout == "wrote r.html\n"
    page = (here / "r.html").read_text(encoding="utf-8")
    assert "No practice sessions recorded on 12 Mar." in page
