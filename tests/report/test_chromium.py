"""The report page in a real browser: headless Chromium lays it out, then screenshots it; every
plot must be on the page at a sensible size and drawn (coloured pixels where it sits).

Chromium comes from Debian's `chromium` package (scripts/test.sh installs it when missing and
it runs as root); without it these tests skip, saying so.
"""

from __future__ import annotations

import json
import re
import subprocess
from datetime import date, datetime, timezone

import numpy as np
import pytest
from matplotlib.image import imread

from host_tools.report.data import load_report_data
from host_tools.report.render import render_html
from tests.chromium import CHROMIUM, FLAGS, MISSING

UTC = timezone.utc
PLOTS = ("adherence", "outcomes", "depth", "timing", "calibration")
WIDTH = 1000
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason=MISSING)
# Measures where each plot landed; appended to a copy of the page only (the report itself has
# no script). Runs at the end of <body>, when layout is complete: inline SVG loads nothing.
LAYOUT_PROBE = """<script>
const figs = [...document.querySelectorAll('figure')].map(f => {
  const r = f.querySelector('svg').getBoundingClientRect();
  return {id: f.id, x: r.x + scrollX, y: r.y + scrollY, w: r.width, h: r.height};
});
const out = document.createElement('pre');
out.id = 'layout';
out.textContent = JSON.stringify({figs, height: document.documentElement.scrollHeight});
document.body.appendChild(out);
</script>"""


def chromium(tmp_path, *args, height=900) -> subprocess.CompletedProcess:
    profile = tmp_path / "chromium-profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            *FLAGS,
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            f"--user-data-dir={profile}",
            f"--window-size={WIDTH},{height}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def layout(tmp_path, page: str) -> dict:
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", LAYOUT_PROBE + "</body>"), encoding="utf-8")
    run = chromium(tmp_path, "--dump-dom", probe.as_uri())
    m = re.search(r'<pre id="layout">(.*?)</pre>', run.stdout, re.S)
    assert m, f"chromium printed no layout: {run.stderr[-2000:]}"
    return json.loads(m.group(1).replace("&quot;", '"'))


@pytest.fixture
def page(conn, week):
    data = load_report_data(conn, "P-0001", tz=UTC, today=date(2025, 3, 20))
    return render_html(data, datetime(2025, 3, 17, 9, 0, tzinfo=UTC))


def test_every_plot_renders_in_chromium(tmp_path, page):
    report = tmp_path / "report.html"
    report.write_text(page, encoding="utf-8")
    found = layout(tmp_path, page)
    figs = {f["id"]: f for f in found["figs"]}
    assert list(figs) == [f"fig-{k}" for k in PLOTS]

    shot = tmp_path / "report.png"
    height = int(found["height"]) + 20
    run = chromium(tmp_path, f"--screenshot={shot}", report.as_uri(), height=height)
    assert shot.exists(), run.stderr[-2000:]
    pixels = imread(shot)[..., :3]
    assert pixels.shape[:2] == (height, WIDTH)

    # Each plot: wide (most of the 880 px column), in order down the page, not overlapping,
    # and drawn, i.e. with plenty of saturated (plot-coloured) pixels inside its box.
    previous_bottom = 0.0
    for key in PLOTS:
        f = figs[f"fig-{key}"]
        assert f["w"] > 700 and 150 < f["h"] < 600, (key, f)
        assert f["y"] >= previous_bottom, key
        previous_bottom = f["y"] + f["h"]
        box = pixels[int(f["y"]) : int(f["y"] + f["h"]), int(f["x"]) : int(f["x"] + f["w"])]
        saturation = box.max(axis=2) - box.min(axis=2)
        coloured = float(np.mean(saturation > 0.25))
        assert coloured > 0.005, (key, coloured)  # an empty axes frame scores 0
        dark = float(np.mean(box.max(axis=2) < 0.3))  # axis lines and labels
        assert dark > 0.002, (key, dark)
    # Outside the plots the page is mostly white: the summary and tables, not a broken render.
    assert float(np.mean(pixels > 0.9)) > 0.6
