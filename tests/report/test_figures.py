"""The plots' axes: nothing drawn is cut by the frame, and calibration visits sit over the label
of their own local day."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import date2num

from host_tools.report.data import load_report_data
from host_tools.report.figures import build_figures, calibration_figure, depth_figure
from host_tools.store import db
from tests.report.test_summary import add_session
from tests.report.weekdata import calibrate

UTC = timezone.utc
TOLERANCE_PX = 0.5


def drawn(fig):
    """Draw the figure as for the page (layout included); returns its renderer."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def clipped(fig) -> list[str]:
    """Everything of the figure the frame would cut: markers (with their size), error bars and
    bars outside their axes, or text outside the figure. Artists drawn with clip_on=False
    (the adherence plot's x on the axis line) cannot be cut, so are not checked."""
    renderer = drawn(fig)
    out: list[str] = []
    for ax in fig.axes:
        box = ax.get_window_extent(renderer)

        def outside(x, y, r, what, box=box):
            if not (
                box.x0 - TOLERANCE_PX <= x - r
                and x + r <= box.x1 + TOLERANCE_PX
                and box.y0 - TOLERANCE_PX <= y - r
                and y + r <= box.y1 + TOLERANCE_PX
            ):
                out.append(f"{what} at ({x:.1f}, {y:.1f}) r={r:.1f} outside {box.bounds}")

        for line in ax.lines:
            if not line.get_clip_on() or line.get_marker() in (None, "None", "", " "):
                continue
            radius = line.get_markersize() / 2 * fig.dpi / 72
            for x, y in line.get_transform().transform(line.get_xydata()):
                outside(x, y, radius, f"marker of {line.get_label()!r}")
        for coll in ax.collections:  # error bars
            for path in coll.get_paths():
                for x, y in coll.get_transform().transform(path.vertices):
                    outside(x, y, 0, "error bar end")
        for container in ax.containers:
            for patch in getattr(container, "patches", []):
                ext = patch.get_window_extent(renderer)
                outside(ext.x0, ext.y0, 0, "bar corner")
                outside(ext.x1, ext.y1, 0, "bar corner")
        fig_box = fig.bbox
        for text in ax.texts:
            ext = text.get_window_extent(renderer)
            if not (fig_box.x0 <= ext.x0 and ext.x1 <= fig_box.x1 and ext.y1 <= fig_box.y1):
                out.append(f"text {text.get_text()!r} outside the figure")
    return out


def one_session(conn, patient, reps, started=datetime(2025, 4, 2, 9, tzinfo=UTC)):
    add_session(conn, patient, 1, started, reps)
    return load_report_data(conn, patient, tz=UTC, today=date(2025, 4, 20))


def test_no_plot_of_the_fortnight_is_cut(conn, week):
    for patient in ("P-0001", "P-0002", "P-0003"):
        data = load_report_data(conn, patient, tz=UTC, today=date(2025, 3, 20))
        for plot in build_figures(data):
            assert clipped(plot.figure) == [], (patient, plot.key)


def test_depth_marker_of_equal_reps_is_not_cut(home):
    """One session whose reps all reach 58 degrees: no spread, so the limits come from the
    markers alone, with room for them above the top one."""
    conn = db.connect()
    data = one_session(conn, "P-0200", [("sacrum", 57.0, 58.0)] * 4 + [("clean", None, 58.0)] * 6)
    fig = depth_figure(data)
    assert clipped(fig) == []
    bottom, top = fig.axes[0].get_ylim()
    assert bottom == 0 and top > 58


def test_a_loss_while_standing_shows_below_zero(home):
    conn = db.connect()
    reps = [("head", -4.0, 30.0), ("head", -2.0, 35.0), ("clean", None, 40.0)]
    fig = depth_figure(one_session(conn, "P-0201", reps))
    assert clipped(fig) == []
    assert fig.axes[0].get_ylim()[0] < -4


def test_every_plot_of_a_tiny_record_is_not_cut(home):
    """The demo's size: one session of nine reps, one calibration."""
    conn = db.connect()
    levels = {"head": 30000, "midback": 30000, "sacrum": 30000}  # one level: a flat y range
    calibrate(conn, "P-0202", "d1", "2025-04-02T08:00:00+00:00", levels)
    reps = [("clean", None, 45.0)] * 6 + [(p, 30.0, 40.0) for p in ("head", "midback", "sacrum")]
    data = one_session(conn, "P-0202", reps)
    plots = build_figures(data)
    assert [p.key for p in plots] == ["adherence", "outcomes", "depth", "timing", "calibration"]
    for plot in plots:
        assert clipped(plot.figure) == [], plot.key


@pytest.mark.parametrize("hours", [-5, 0, 9])
def test_calibration_ticks_name_the_local_day(conn, week, hours):
    """Visits late in the evening or early in the morning, read in zones where the local day
    differs from the UTC one: each point lies over the label of its local day, inside that day
    (from the label's noon, less than half a day either way)."""
    levels = {"head": 29000, "midback": 34000, "sacrum": 36000}
    calibrate(conn, "P-0001", "dowel-a1", "2025-03-14T02:30:00+00:00", levels)
    calibrate(conn, "P-0001", "dowel-a1", "2025-03-15T22:30:00+00:00", levels)
    tz = timezone(timedelta(hours=hours))
    data = load_report_data(conn, "P-0001", tz=tz, today=date(2025, 3, 20))
    fig = calibration_figure(data)
    drawn(fig)
    ax = fig.axes[0]
    ticks = {" ".join(t.get_text().split()): t.get_position()[0] for t in ax.get_xticklabels()}
    moments = [c.taken for c in data.calibrations] + [d.seen for d in data.drift_prompts]
    assert len(moments) == 5
    for moment in moments:
        local = moment.astimezone(tz)
        x = date2num(local.replace(tzinfo=None))
        label = f"{local.day} {local:%b}"
        assert label in ticks, (moment, sorted(ticks))
        assert abs(x - ticks[label]) < 0.5, (moment, label)
        nearest = min(ticks, key=lambda t: abs(ticks[t] - x))
        assert nearest == label, (moment, nearest)
    # The points are the ones plotted (the head's contact levels, in time order).
    head = next(line for line in ax.lines if line.get_label().startswith("head contact"))
    assert [round(float(x), 6) for x in date2num(head.get_xdata())] == [
        round(float(date2num(c.taken.astimezone(tz).replace(tzinfo=None))), 6)
        for c in data.calibrations
    ]
