"""The report and the FHIR export from stored device logs: a week written by the firmware's own
log store (`dowel.logstore`), pulled by the host's importer (`host_tools.logs.pull.pull` over
the fake link), then checked against what was written (expected figures from `logweek`'s Python
lists, never from the database). Run with the firmware's segment size and with tiny segments,
so sessions also continue across segment files."""

from __future__ import annotations

import json
import re
import statistics
from datetime import date, datetime, timedelta, timezone

import pytest
from dowel import logread, logstore

from host_tools.report import write_report
from host_tools.report.data import load_report_data
from host_tools.report.fhir import CODE_SYSTEM, CODES, MDC_TIME_ABS, fhir_instant, session_bundle
from host_tools.report.figures import adherence_figure, depth_figure, outcomes_figure
from host_tools.report.summary import summarize
from host_tools.store import db
from host_tools.store.patients import set_prescription
from tests.report.fhir_rules import check_bundle
from tests.report.logweek import (
    DEVICE_HEX,
    FINAL_PULL,
    FIRST_DAY,
    LAST_DAY,
    PATIENT,
    POINTS,
    REPS_PER_SET,
    SETS,
    Session,
    live_week,
    plan_week,
)
from tests.report.weekdata import calibrate

UTC = timezone.utc
ALL_PLOTS = ("adherence", "outcomes", "depth", "timing", "calibration")
TARGET = SETS * REPS_PER_SET


@pytest.fixture(scope="module", params=[logstore.SEGMENT_BYTES, 300], ids=["32k", "tiny"])
def pulled(request, tmp_path_factory):
    """The week on the dowel, pulled into a fresh DOWEL_HOME; yields (week, conn, flash)."""
    base = tmp_path_factory.mktemp(f"from_logs_{request.param}")
    mp = pytest.MonkeyPatch()
    mp.setenv("DOWEL_HOME", str(base / "home"))
    conn = db.connect()
    # The visit: calibrated on this computer, prescription set.
    calibrate(
        conn,
        PATIENT,
        DEVICE_HEX,
        "2025-03-03T08:40:00+00:00",
        {"head": 30000, "midback": 36000, "sacrum": 40000},
    )
    conn.commit()
    set_prescription(conn, PATIENT, SETS, REPS_PER_SET)
    flash = base / "flash" / "logs"
    week = live_week(plan_week(), flash, conn, segment_bytes=request.param)
    yield week, conn, flash, request.param
    conn.close()
    mp.undo()


@pytest.fixture(scope="module")
def data(pulled):
    week, conn, _, _ = pulled
    return load_report_data(conn, PATIENT, tz=UTC, today=FINAL_PULL.date())


# ---- expected figures, from what was written ----


def first_lost(s: Session, point: str) -> int:
    return sum(1 for r in s.reps if r[4] == POINTS.index(point) + 1)


def any_lost(s: Session, point: str) -> int:
    return sum(1 for r in s.reps if r[3] & (1 << POINTS.index(point)))


def clean(s: Session) -> int:
    return sum(1 for r in s.reps if r[3] == 0)


def degrees(s: Session, field: int, only=lambda r: True) -> list[float]:
    return [r[field] / 10 for r in s.reps if r[field] is not None and only(r)]


def millis(s: Session, field: int) -> list[int]:
    return [r[field] for r in s.reps if r[field] is not None]


def check_spread(spread, values) -> None:
    assert spread.n == len(values)
    if not values:
        assert spread.median is None
        return
    assert spread.median == pytest.approx(statistics.median(values))
    assert spread.mean == pytest.approx(statistics.fmean(values))
    if len(values) > 1:
        q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
        assert (spread.q1, spread.q3) == pytest.approx((q1, q3))


# ---- the import ----


def test_every_written_rep_and_session_was_pulled(pulled):
    week, conn, flash, segment_bytes = pulled
    visit, midweek, final = week.pulls
    assert visit.segments == 0 and visit.counts.reps_seen == 0
    n_reps = sum(len(s.reps) for s in week.sessions)
    assert midweek.counts.reps_new + final.counts.reps_new == n_reps
    assert midweek.counts.sessions_new + final.counts.sessions_new == len(week.sessions) == 13
    assert not any(p.warnings or p.kept for p in week.pulls)
    assert list(flash.glob("*.dwl")) == []  # every segment verified, imported, then deleted
    # Session numbers as the dowel gave them (never reused), so the keys below are the logs'.
    assert [s.number for s in week.sessions] == list(range(1, 14))
    raws = sorted((flash.parent / "raw").rglob("*.dwl"))
    continued = [s for p in raws for s in logread.decode(p.read_bytes()).sessions if s.continued]
    if segment_bytes < 1000:
        assert len(raws) > 5 and continued  # sessions ran across segment files
    else:
        assert continued == []


# ---- the report's data layer ----


def test_period_and_days_match_the_logs(data, pulled):
    week = pulled[0]
    # First day: the visit and first session; last: the day before the final pull (nothing
    # practised on the pull's day), so the skipped Sunday counts as a missed day.
    assert (data.start, data.end) == (FIRST_DAY, LAST_DAY)
    assert [d.day for d in data.days] == [FIRST_DAY + timedelta(days=i) for i in range(7)]
    for d in data.days:
        todays = [s for s in week.sessions if s.day == d.day]
        assert d.sessions == len(todays), d.day
        assert d.reps == sum(len(s.reps) for s in todays), d.day
        assert d.clean == sum(clean(s) for s in todays), d.day
        assert d.target_reps == TARGET
        assert d.met == (d.reps >= TARGET)
    practised = {s.day for s in week.sessions if s.reps}
    assert data.days_practised == len(practised) == 5
    assert {d.day for d in data.days if not d.practised} == {date(2025, 3, 5), date(2025, 3, 9)}
    # The session after the battery ran flat has no date from the dowel: the host estimated it
    # (from the ticks at the final pull) and it counts on its day, marked estimated.
    assert data.undated_sessions == 0
    assert [s.key for s in data.estimated_sessions] == [
        s.key for s in week.sessions if not s.dated
    ]
    assert data.total_reps == sum(len(s.reps) for s in week.sessions)
    assert data.total_clean == sum(clean(s) for s in week.sessions)


def test_sessions_match_the_logs(data, pulled):
    week = pulled[0]
    assert [s.key for s in data.sessions] == [s.key for s in week.sessions]
    for got, s in zip(data.sessions, week.sessions, strict=True):
        # The RTC reading, to the second; the estimated one from ticks, as close.
        assert got.started == s.started, s.key
        assert got.estimated == (not s.dated)
        assert got.has_imu == s.has_imu
        assert got.reps == len(s.reps)
        assert got.clean == clean(s)
        assert got.clean_share == (clean(s) / len(s.reps) if s.reps else None)
        for p in POINTS:
            assert got.first_lost[p] == first_lost(s, p), (s.key, p)
            assert got.any_lost[p] == any_lost(s, p), (s.key, p)
            assert got.lost_share(p) == (first_lost(s, p) / len(s.reps) if s.reps else None)
        check_spread(got.depth, degrees(s, 7))
        check_spread(got.loss_pitch, degrees(s, 6))
        check_spread(got.clean_depth, degrees(s, 7, lambda r: r[3] == 0))
        check_spread(got.lower_ms, millis(s, 8))
        check_spread(got.pause_ms, millis(s, 9))
        check_spread(got.rise_ms, millis(s, 10))
    # Losses of each point, including a second point lost later in a rep, actually occurred.
    assert all(sum(first_lost(s, p) for s in week.dated) for p in POINTS)
    assert any(sum(got.any_lost.values()) > got.reps - got.clean for got in data.sessions)
    imu_keys = [s.key for s in week.sessions if s.has_imu and s.reps]
    assert [s.key for s in data.imu_sessions] == imu_keys


def test_summary_counts_match_the_logs(data, pulled):
    week = pulled[0]
    lines = summarize(data)
    assert lines[0].startswith("5 of 7 days practised (3 Mar to 9 Mar)")
    n_reps = sum(len(s.reps) for s in week.sessions)
    share = round(100 * sum(clean(s) for s in week.sessions) / n_reps)
    assert lines[1].startswith(f"{n_reps} reps in {len(week.sessions)} sessions; {share}% clean")
    assert any(line.startswith("1 session has an estimated date") for line in lines)
    assert not any("no date" in line for line in lines)


# ---- the rendered report ----


def test_plots_draw_the_logs_figures(data, pulled):
    week = pulled[0]
    ax = adherence_figure(data).axes[0]
    heights = [p.get_height() for c in ax.containers for p in c.patches]
    assert heights == [
        sum(len(s.reps) for s in week.sessions if s.day == d.day) for d in data.days
    ]
    with_reps = [s for s in week.sessions if s.reps]
    containers = outcomes_figure(data).axes[0].containers
    for i, s in enumerate(with_reps):
        shares = [c.patches[i].get_height() for c in containers]
        n = len(s.reps)
        assert shares == pytest.approx([clean(s) / n] + [first_lost(s, p) / n for p in POINTS])
    depth_line = depth_figure(data).axes[0].containers[0].lines[0]
    imu = [s for s in with_reps if s.has_imu]
    assert list(depth_line.get_ydata()) == pytest.approx(
        [statistics.median(degrees(s, 7)) for s in imu]
    )


def test_html_report_has_every_plot_and_a_row_per_session(pulled, tmp_path):
    week = pulled[0]
    # Through the command's own path: the database found by DOWEL_HOME, not a passed conn.
    written = write_report(PATIENT, out=tmp_path / "week.html", tz=UTC)
    assert written.pages is None and written.notes == []
    page = written.path.read_text(encoding="utf-8")
    for key in ALL_PLOTS:
        block = re.search(rf'<figure id="fig-{key}">(.*?)</figure>', page, re.S)
        assert block, key
        assert "<svg" in block.group(1) and "<path" in block.group(1), key
    table = re.search(r'<table id="sessions">.*?<tbody>(.*?)</tbody>', page, re.S)
    assert table
    rows = re.findall(r"<tr>(.*?)</tr>", table.group(1), re.S)
    assert len(rows) == len(week.sessions)
    for row, s in zip(rows, week.sessions, strict=True):
        cells = re.findall(r"<td>(.*?)</td>", row)
        assert cells[0].endswith(s.started.strftime("%H:%M"))
        assert cells[0].startswith("~") == (not s.dated)  # an estimated date is marked
        assert int(cells[1]) == len(s.reps)
        assert cells[2].split(" ")[0] == str(clean(s))
        assert [int(c) for c in cells[3:6]] == [first_lost(s, p) for p in POINTS]
        assert cells[8] == ("yes" if s.has_imu else "no")
    assert 'id="estimated-note"' in page and "estimated date" in page


# ---- the FHIR export ----


def test_fhir_bundle_counts_match_the_logs(pulled):
    week, conn, _, _ = pulled
    bundle = json.loads(json.dumps(session_bundle(conn, PATIENT, now=FINAL_PULL)))
    assert check_bundle(bundle, CODE_SYSTEM, set(CODES)) == []
    observations = {}
    stamps = []
    for entry in bundle["entry"]:
        res = entry["resource"]
        if res["resourceType"] != "Observation":
            continue  # the dowel (Device, DeviceMetric) and the prescription (ServiceRequest)
        if res["code"]["coding"][0]["code"] == MDC_TIME_ABS:
            stamps.append(res)  # the dowel's clock against the host's at a pull
            continue
        (ident,) = res["identifier"]
        observations[ident["value"]] = res
    # Every pull read the dowel's clock before setting it: one coincident time stamp each.
    reads = conn.execute(
        "SELECT read_utc, board_utc FROM clock_reads WHERE board_utc IS NOT NULL ORDER BY read_utc"
    ).fetchall()
    assert len(stamps) == len(reads) > 0
    for stamp, (read, board) in zip(stamps, reads, strict=True):
        assert stamp["effectiveDateTime"] == fhir_instant(datetime.fromisoformat(read))
        assert stamp["valueDateTime"] == fhir_instant(datetime.fromisoformat(board))
    # One Observation per session written: the undated one and the empty one too.
    assert sorted(observations) == sorted(s.key for s in week.sessions)
    for s in week.sessions:
        obs = observations[s.key]
        comp = {}
        for c in obs["component"]:
            comp[c["code"]["coding"][0]["code"]] = c.get("valueInteger", c.get("valueQuantity"))
        assert comp["reps"] == len(s.reps), s.key
        assert comp["clean-reps"] == clean(s), s.key
        for p in POINTS:
            assert comp["lost-" + p] == first_lost(s, p), (s.key, p)
        depths = degrees(s, 7)
        if depths:
            assert comp["depth-median"]["value"] == round(statistics.median(depths), 1)
            assert comp["loss-pitch-median"]["value"] == round(statistics.median(degrees(s, 6)), 1)
            assert comp["pause-median"]["value"] == round(statistics.median(millis(s, 9)), 1)
        else:
            assert not {"depth-median", "loss-pitch-median", "pause-median"} & set(comp)
        assert obs["effectiveDateTime"] == s.started.strftime("%Y-%m-%dT%H:%M:%SZ")
        marks = [e for e in obs.get("extension", []) if e["url"].endswith("effective-estimated")]
        if s.dated:
            assert not marks and "note" not in obs
        else:
            (mark,) = marks
            assert mark["valuePeriod"]["start"] <= obs["effectiveDateTime"]
            assert obs["effectiveDateTime"] <= mark["valuePeriod"]["end"]
            assert "estimated" in obs["note"][0]["text"]
        assert obs["subject"]["identifier"]["value"] == PATIENT
