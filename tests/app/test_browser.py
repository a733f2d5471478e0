"""The PT's app end to end in a real browser: `dowel app` (the real command, a server process)
driven by Playwright in Debian's headless Chromium, against the virtual board running the
real firmware.

One PT's visit, as the issue's done-when lists it: start the virtual board from the page (no
dowel plugged in), install the firmware with its progress bar, run the guided self-test (the
simulated patient pressing the pads when asked), add a patient, calibrate at the patient's
side (the simulated patient following the page, the live bars redrawing: `make bench` times
them), let the patient do the `quick` scenario at home (started from the dowel page), pull
the logs, and find on the patient's page the reps the scenario's ground truth says; then the
PDF and the FHIR export.
Each page is screenshot at 1280x800 into docs/screenshots/ (the README shows them).

Chromium comes from Debian's `chromium` package (scripts/test.sh installs it when missing and
it runs as root, as in CI); without it this test skips, saying so.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.chromium import CHROMIUM, FLAGS, MISSING

pytestmark = [pytest.mark.vboard, pytest.mark.slow]

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}
# Every wait below is on a board over its serial link, on a machine that may run other tests:
# Playwright's 5 s default for a web page is too short for a calibration step (3.5 s of
# samples after the stream starts) on a loaded two-core runner.
EXPECT_TIMEOUT_MS = 30_000


@pytest.fixture
def slow_expect():
    expect = pytest.importorskip("playwright.sync_api").expect
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    yield
    expect.set_options(timeout=5_000)  # Playwright's default, for the other browser tests


@pytest.fixture
def app_server(tmp_path, monkeypatch):
    """`dowel app --no-browser` in its own process; yields (base address with token, output)."""
    if CHROMIUM is None:
        pytest.skip(MISSING)
    pytest.importorskip("playwright.sync_api", reason="playwright is in the dev dependencies")
    from host_tools.vboard.interp import require_interpreter

    require_interpreter()
    home = tmp_path / "home"
    monkeypatch.setenv("DOWEL_HOME", str(home))
    out = tmp_path / "app.out"
    dowel = Path(sys.executable).with_name("dowel")
    with open(out, "wb") as sink:
        proc = subprocess.Popen(
            [str(dowel), "app", "--no-browser"], stdout=sink, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30
        url = None
        while url is None and time.monotonic() < deadline:
            found = re.search(rb"(http://127\.0\.0\.1:\d+/\?token=\S+)", out.read_bytes())
            url = found.group(1).decode() if found else None
            assert proc.poll() is None, out.read_text()
            time.sleep(0.1)
        assert url, "dowel app printed no address: " + out.read_text()
        yield url, out, proc
    finally:
        proc.terminate()  # Ctrl-C's SIGINT ends it as cleanly; terminate is the same path
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        from host_tools.vboard import VirtualBoard

        board = VirtualBoard.running()
        if board is not None:  # the app stops its own board; this only catches a crash
            board.stop()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def click(page, text: str) -> None:
    page.get_by_role("button", name=text).click()


def nav(page, name: str) -> None:
    page.get_by_role("navigation").get_by_role("link", name=name).click()


def answer(page, choice: str, timeout_s: float = 60) -> None:
    """Press `choice` on the job's question once it is asked."""
    try:
        page.locator("#question").get_by_role("button", name=choice).click(
            timeout=timeout_s * 1000
        )
    except Exception:
        page.screenshot(path="/tmp/dbg.png", full_page=True)
        open("/tmp/dbg.html", "w").write(page.content())
        raise


def test_a_visit_end_to_end(app_server, slow_expect, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    from host_tools.vboard import VirtualBoard

    url, out, proc = app_server
    base = url.split("?")[0].rstrip("/")
    patient = "P-E2E"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_context(viewport=VIEWPORT, accept_downloads=True).new_page()
        page.set_default_timeout(30_000)
        page.goto(url)
        assert page.url == base + "/"  # the token left the address bar for a cookie
        expect(page.get_by_text("No patients yet")).to_be_visible()

        # No dowel plugged in: the dowel page offers the virtual board; it has no firmware.
        nav(page, "The dowel")
        click(page, "Start the virtual board")
        expect(page.locator("#problem")).to_contain_text("dowel flash")
        board = VirtualBoard.running()
        assert board is not None and board.port in page.content()
        click(page, "Install the dowel firmware")
        expect(page.locator("#progress")).to_be_visible()
        expect(page.locator("#result")).to_contain_text("dowel firmware", timeout=120_000)
        page.get_by_role("link", name="Back to the dowel").click()
        expect(page.locator("#status")).to_contain_text("up to date")

        # The guided self-test, the virtual patient pressing the pads when the page asks; the
        # PT answers what they hear and see.
        click(page, "Self-test")
        for _ in range(4):  # lying still; the beep; the cues apart; the LED
            answer(page, "Yes")
        checks = page.locator("#checks tbody tr")
        expect(page.locator("#result")).to_contain_text("The dowel passed", timeout=60_000)
        results = dict(
            zip(
                checks.locator("td:nth-child(1)").all_inner_texts(),
                checks.locator("td:nth-child(2)").all_inner_texts(),
                strict=True,
            )
        )
        pressed = [item for item in results if item.endswith("pressed")]
        assert len(pressed) == 3 and all(results[p] == "PASS" for p in pressed), results
        assert page.locator("#checks tr.fail").count() == 0
        shot(page, "selftest")
        page.get_by_role("link", name="Back to the dowel").click()

        # A patient with a prescription; the list shows them.
        nav(page, "Patients")
        page.get_by_label("Patient ID").fill(patient)
        page.get_by_label("Prescription").fill("1x3/day")
        click(page, "Add patient")
        assert page.url == f"{base}/patients/{patient}"
        expect(page.locator("h1")).to_have_text(f"Patient {patient}")

        # Calibration at the patient's side: the page's three steps, the patient following.
        click(page, "Start calibration")
        expect(page.locator(".step")).to_contain_text("Step 1 of 3")
        answer(page, "Start")
        expect(page.locator(".step")).to_contain_text("Step 2 of 3: neutral hold")
        answer(page, "Start")
        expect(page.locator(".step")).to_contain_text("Step 3 of 3: check")
        expect(page.locator(".proposal")).to_contain_text("ok")
        answer(page, "Start")
        expect(page.locator("#live-phase")).to_contain_text("Step 3")
        # The bars redraw as the samples come (how often: `make bench`, section 6).
        frames_before = page.evaluate("window.dowelLiveFrames")
        time.sleep(1.0)
        assert page.evaluate("window.dowelLiveFrames") > frames_before
        # Both thresholds drawn on every bar.
        assert page.locator(".mark.off:not([hidden])").count() == 3
        assert page.locator(".mark.on:not([hidden])").count() == 3
        time.sleep(3.0)  # into the first hinge
        shot(page, "calibration")
        answer(page, "Accept", timeout_s=40)
        expect(page.locator("#result")).to_contain_text(f"stored for {patient}")
        expect(page.locator("#result")).to_contain_text("Calibration #1")
        expect(page.locator(".log")).to_contain_text("counts 1 set of 3 reps a day")

        # The feedback for home: the learning course, the first set of each day a probe set.
        page.goto(f"{base}/dowel?port={board.port}")
        page.get_by_label("learning course", exact=False).check()
        page.get_by_label("is a probe set", exact=False).check()
        click(page, "Set the feedback")
        expect(page.locator("#result")).to_contain_text("The dowel now gives: learning course")
        page.get_by_role("link", name="Back to the dowel").click()
        expect(page.locator("#feedback")).to_contain_text("probe set (no feedback)")
        shot(page, "dowel")

        # A week at home, compressed: the virtual patient does the `quick` scenario, started
        # from the dowel page.
        page.get_by_label("three quick hinges", exact=False).check()
        click(page, "Play the session")
        expect(page.locator("#progress")).to_be_visible()
        expect(page.locator("#result")).to_contain_text("The virtual patient did 3 hinges")
        truth = board.truth()
        assert truth["name"] == "quick"
        page.get_by_role("link", name="Back to the dowel").click()
        expect(page.locator("#status")).to_contain_text(patient)
        click(page, "Pull the logs")
        expect(page.locator("#summary")).to_contain_text(
            f"{len(truth['reps'])} new reps", timeout=60_000
        )
        shot(page, "pull")
        page.get_by_role("link", name=f"Open {patient}").click()

        # The patient's page: the reps the ground truth says, in order, with their outcome.
        rows = page.locator("#reps tr.rep")
        expect(rows).to_have_count(len(truth["reps"]))
        outcomes = [r.get_attribute("data-outcome") for r in rows.all()]
        assert outcomes == [t["lost"] or "clean" for t in truth["reps"]]
        assert "mid-back lost" in rows.locator("td.outcome").all_inner_texts()  # PT's words
        expect(page.locator(".report")).to_contain_text("Adherence")
        # The three reps were the day's probe set: the learning section says so.
        expect(page.locator(".report")).to_contain_text("Without feedback (probe sets)")
        assert page.locator(".report svg").count() >= 3  # the report's own plots
        shot(page, "patient")

        with page.expect_download() as download:
            page.locator("#pdf").click()
        pdf = Path(download.value.path()).read_bytes()
        assert pdf.startswith(b"%PDF") and download.value.suggested_filename.endswith(".pdf")
        with page.expect_download() as download:
            page.locator("#fhir").click()
        assert b'"resourceType": "Bundle"' in Path(download.value.path()).read_bytes()

        nav(page, "Patients")
        row = page.locator("#patients tbody tr", has_text=patient)
        expect(row).to_contain_text(f"{len(truth['reps'])} of 21 reps")
        shot(page, "patients")

        # Ctrl-C while a job runs: the app stops at once and cleanly, and the job's page says
        # it is gone instead of "working…" for ever.
        page.goto(f"{base}/dowel?port={board.port}")
        page.get_by_label("nine hinges", exact=False).check()
        click(page, "Play the session")
        expect(page.locator("#progress")).to_be_visible()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(15) == 0
        expect(page.locator("#lost")).to_contain_text("The app is not answering")
        expect(page.get_by_role("button", name="Stop")).to_be_hidden()
        browser.close()
    text = out.read_text()
    assert text.rstrip().endswith("The dowel app stopped.") and "Traceback" not in text, text
    # The token is printed once, in the address; no request line repeats it.
    token = url.split("token=")[1]
    assert text.count(token) == 1, text
