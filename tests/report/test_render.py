"""The rendering layer: the plots draw the data layer's numbers, the page is self-contained
and carries the summary, every plot and the tables (the PDF: test_pdf.py)."""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from host_tools.errors import UsageError
from host_tools.report import write_report
from host_tools.report.data import POINTS, load_report_data
from host_tools.report.figures import (
    adherence_figure,
    build_figures,
    depth_figure,
    outcomes_figure,
    timing_figure,
)
from host_tools.report.render import render_html
from host_tools.report.summary import summarize

UTC = timezone.utc
GENERATED = datetime(2025, 3, 17, 9, 0, tzinfo=UTC)
ALL_PLOTS = ("adherence", "outcomes", "depth", "timing", "calibration")


@pytest.fixture
def data(conn, week):
    return load_report_data(conn, "P-0001", tz=UTC, today=date(2025, 3, 20))


def bars(fig):
    """Bar rectangles of the figure's first axes, in drawing order (legend patches excluded)."""
    ax = fig.axes[0]
    return [p for c in ax.containers for p in c.patches]


def test_adherence_bars_are_the_reps_per_day(data, week):
    fig = adherence_figure(data)
    heights = [p.get_height() for p in bars(fig)]
    assert heights == [week.reps_on(d.day) for d in data.days]
    dashed = [line for line in fig.axes[0].lines if line.get_linestyle() == "--"]
    assert dashed[0].get_ydata()[0] == 50  # the prescription line


def test_outcome_bars_are_the_shares_per_session(data):
    fig = outcomes_figure(data)
    containers = fig.axes[0].containers
    assert [c.get_label() for c in containers] == [
        "clean",
        "head lost",
        "mid-back lost",
        "sacrum lost",
    ]
    for i, s in enumerate(data.sessions):
        shares = [c.patches[i].get_height() for c in containers]
        expected = [s.clean / s.reps] + [s.first_lost[p] / s.reps for p in POINTS]
        assert shares == pytest.approx(expected)
        assert sum(shares) == pytest.approx(1.0)


def test_depth_plot_shows_median_and_middle_half(data):
    fig = depth_figure(data)
    ax = fig.axes[0]
    depth_line, loss_line = (c.lines[0] for c in ax.containers)
    imu = data.imu_sessions
    assert list(depth_line.get_ydata()) == pytest.approx([s.depth.median for s in imu])
    assert list(loss_line.get_ydata()) == pytest.approx(
        [s.loss_pitch.median for s in imu if s.loss_pitch.n]
    )


def test_timing_bars_are_median_seconds(data):
    fig = timing_figure(data)
    lower, pause, rise = fig.axes[0].containers
    for i, s in enumerate(data.imu_sessions):
        assert lower.patches[i].get_height() == pytest.approx(s.lower_ms.median / 1000)
        assert pause.patches[i].get_height() == pytest.approx(s.pause_ms.median / 1000)
        assert rise.patches[i].get_height() == pytest.approx(s.rise_ms.median / 1000)


def test_every_plot_for_a_patient_with_imu(data):
    assert [p.key for p in build_figures(data)] == list(ALL_PLOTS)


def test_page_is_self_contained_and_has_every_plot(data):
    page = render_html(data, GENERATED)
    for key in ALL_PLOTS:
        block = re.search(rf'<figure id="fig-{key}">(.*?)</figure>', page, re.S)
        assert block, key
        assert "<svg" in block.group(1) and "<path" in block.group(1)
    # Nothing to fetch: no scripts, stylesheets, images or fonts from anywhere, and every
    # SVG reference points inside the page.
    assert "<script" not in page and "<link" not in page and "<img" not in page
    assert "@import" not in page and "@font-face" not in page
    assert not re.search(r"\ssrc=", page)
    for ref in re.findall(r'href="([^"]*)"', page):
        assert ref.startswith("#"), ref
    for ref in re.findall(r"url\(([^)]*)\)", page):
        assert ref.startswith("#"), ref
    # Ids stay unique across the five inline plots, and every internal reference resolves.
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    refs = re.findall(r'href="#([^"]+)"', page) + re.findall(r"url\(#([^)]+)\)", page)
    assert refs and set(refs) <= set(ids)


def test_page_carries_summary_and_tables(data):
    page = render_html(data, GENERATED)
    for line in summarize(data):
        assert line.split("(")[0].replace("'", "&#x27;") in page
    # sessions, calibrations, drift, the 30-day monitoring window (head + one row)
    assert page.count("<tr>") == 1 + len(data.sessions) + 1 + 2 + 1 + 1 + 1 + 1
    assert "Patient P-0001" in page or "patient P-0001" in page


def test_page_without_imu_says_so(conn, week):
    data = load_report_data(conn, "P-0003", tz=UTC, today=date(2025, 3, 20))
    page = render_html(data, GENERATED)
    assert 'id="fig-adherence"' in page and 'id="fig-outcomes"' in page
    assert 'id="fig-depth"' not in page and 'id="fig-timing"' not in page
    assert 'id="no-depth"' in page and "No depth or tempo" in page
    assert "No calibration recorded for this patient." in page


def test_page_with_no_sessions(conn, week):
    data = load_report_data(conn, "P-0002", tz=UTC, today=date(2025, 3, 20))
    page = render_html(data, GENERATED)
    assert 'id="no-adherence"' in page and 'id="no-outcomes"' in page
    assert 'id="fig-calibration"' in page
    assert "No practice sessions pulled from the dowel yet" in page


def test_html_report_file(conn, week, tmp_path):
    out = write_report("P-0001", out=tmp_path / "r.html", tz=UTC, conn=conn).path
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_report_refuses_other_suffixes(conn, week, tmp_path):
    with pytest.raises(UsageError, match=r"\.html or \.pdf"):
        write_report("P-0001", out=Path(tmp_path / "r.docx"), conn=conn)
