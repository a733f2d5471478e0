"""The PT's app: how often the calibration's live bars redraw in a real browser (issue 16: >= 20
updates a second), against what the app sent in the same window.

    rows = run(quick=False)    # [(figure, value, compared against, target)], printed by -m bench

The real `dowel app` in its own process, a virtual board started from its page, the firmware
installed from its page, a patient added and calibrated at the check step with the simulated
patient following the page, in Debian's headless Chromium driven by Playwright (as
tests/app/test_browser.py, which checks the same visit's results). Over WINDOW_S of the check
step: frames the page drew (`window.dowelLiveFrames`, one per live snapshot it received) and
the live snapshots the app sent, counted by a second listener on the same event stream.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_FPS = 20  # issue 16: live bars at >= 20 updates a second
WINDOW_S = 4.0  # inside the check step (15 s)

# Counts the live snapshots the app sends this page: a listener of its own on the job's stream.
COUNT_SENT = """() => {
  const job = document.getElementById("panel").dataset.job;
  window.benchSent = 0;
  const es = new EventSource(`/jobs/${job}/events`);
  es.addEventListener("live", () => { window.benchSent += 1; });
}"""


def measure(window_s: float = WINDOW_S) -> dict:
    from playwright.sync_api import expect, sync_playwright

    from tests.chromium import CHROMIUM, FLAGS

    home = Path(tempfile.mkdtemp(prefix="dowel-bench-app-"))
    env = dict(os.environ, DOWEL_HOME=str(home))
    out = home / "app.out"
    dowel = Path(sys.executable).with_name("dowel")
    with open(out, "wb") as sink:
        proc = subprocess.Popen(
            [str(dowel), "app", "--no-browser"], stdout=sink, stderr=subprocess.STDOUT, env=env
        )
    try:
        url = None
        deadline = time.monotonic() + 30
        while url is None and time.monotonic() < deadline:
            found = re.search(rb"(http://127\.0\.0\.1:\d+/\?token=\S+)", out.read_bytes())
            url = found.group(1).decode() if found else None
            time.sleep(0.1)
        if url is None:
            raise RuntimeError("dowel app printed no address: " + out.read_text())
        expect.set_options(timeout=120_000)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(url)
            page.goto(url.split("?")[0] + "dowel")
            page.get_by_role("button", name="Start the virtual board").click()
            page.get_by_role("button", name="Install the dowel firmware").click()
            expect(page.locator("#result")).to_contain_text("dowel firmware")
            page.goto(url.split("?")[0])
            page.get_by_label("Patient ID").fill("P-BENCH")
            page.get_by_role("button", name="Add patient").click()
            page.get_by_role("button", name="Start calibration").click()
            for step in ("Step 2 of 3", "Step 3 of 3", None):
                page.locator("#question").get_by_role("button", name="Start").click(
                    timeout=120_000
                )
                if step:
                    expect(page.locator(".step")).to_contain_text(step)
            expect(page.locator("#live-phase")).to_contain_text("Step 3")
            page.evaluate(COUNT_SENT)
            time.sleep(0.5)  # the counting stream is open
            drawn0, sent0 = page.evaluate("[window.dowelLiveFrames, window.benchSent]")
            t0 = time.monotonic()
            time.sleep(window_s)
            drawn1, sent1 = page.evaluate("[window.dowelLiveFrames, window.benchSent]")
            elapsed = time.monotonic() - t0
            browser.close()
        return {"drawn_fps": (drawn1 - drawn0) / elapsed, "sent_fps": (sent1 - sent0) / elapsed}
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        subprocess.run(
            [str(dowel), "vboard", "stop"], env=env, capture_output=True, check=False, timeout=30
        )


def run(quick: bool = False) -> list[tuple[str, str, str, str]]:
    from bench.run import met
    from host_tools.app.server import EVENT_TICK_S
    from tests.chromium import CHROMIUM, MISSING

    figure = "calibration's live bars in Chromium"
    if quick:
        return [(figure, "not run (quick)", "tests/app/test_browser.py drives the visit", "-")]
    if CHROMIUM is None:
        return [(figure, "not measured", MISSING, "-")]
    m = measure()
    return [
        (
            figure,
            f"{m['drawn_fps']:.1f} frames/s",
            f"{m['sent_fps']:.1f} live snapshots/s sent by the app in the same window (it "
            f"sends at most {1 / EVENT_TICK_S:.0f}/s)",
            f">= {TARGET_FPS}/s: {met(m['drawn_fps'] >= TARGET_FPS)}",
        )
    ]
