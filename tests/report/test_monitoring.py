"""Remote-monitoring figures (host_tools.report.monitoring) on the fortnight of
tests/report/weekdata: days with data per 30-day window and each session's start, in the
report and in `dowel sessions --json`, against the rows the fortnight wrote."""

from __future__ import annotations

import json
from datetime import UTC, date

from host_tools import cli
from host_tools.report.content import report_content
from host_tools.report.data import load_report_data
from host_tools.report.monitoring import monitoring_windows
from tests.report.weekdata import END, START


def test_days_with_data_and_session_starts_per_30_days(conn, week):
    dated = [s for s in week.dated if s.reps]
    data = load_report_data(conn, "P-0001", since=date(2025, 2, 10), tz=UTC, today=END)
    first, second = monitoring_windows(data)
    assert (first.first, first.last, first.days) == (date(2025, 2, 10), date(2025, 3, 11), 30)
    assert (second.first, second.last, second.days) == (date(2025, 3, 12), END, 5)
    for w in (first, second):
        inside = [s for s in dated if w.first <= s.day <= w.last]
        assert w.days_with_data == len({s.day for s in inside})
        assert w.session_starts == sorted(s.started for s in inside)
    assert first.days_with_data + second.days_with_data == 12  # 14 days, 2 without practice
    blocks = report_content(data, data.sessions[0].started).blocks
    note = next(b for b in blocks if getattr(b, "id", None) == "monitoring-note")
    assert note.text.startswith(f"Data on {first.days_with_data} of 30 days from 10 Feb 2025")
    assert f"{second.days_with_data} of 5 days" in note.text and "so far" in note.text


def test_sessions_json_has_each_patients_windows(conn, week, capsys):
    assert cli.main(["sessions", "--patient", "P-0001", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert len(listed["sessions"]) == len(week.sessions)
    (window,) = [w for w in listed["monitoring"] if w["patient"] == "P-0001"][:1]
    assert window["window_start"] == START.isoformat() and window["days_with_data"] == 12
    assert window["sessions"] == len([s for s in week.dated if s.reps])
