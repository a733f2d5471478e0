"""The app's pages (host_tools.app.server) through its gate with Starlette's TestClient, on the
fortnight of tests/report/weekdata: what each page shows comes from the rows written, the
actions answer with a redirect or one line naming the fix, and a job's page follows its job."""

from __future__ import annotations

import re
import threading
import time

import pytest

from host_tools.store import db
from tests.app.conftest import ORIGIN
from tests.report.weekdata import build_week


@pytest.fixture
def week(dowel_home):
    conn = db.connect()
    try:
        yield build_week(conn)
    finally:
        conn.close()


def test_patient_list_and_page(client, week, no_ports):
    listing = client.get("/")
    assert listing.status_code == 200
    for patient in ("P-0001", "P-0002", "P-0003"):
        assert f'href="/patients/{patient}"' in listing.text
    assert "not calibrated yet" in listing.text  # P-0003
    page = client.get("/patients/P-0001")
    assert page.status_code == 200
    reps = sum(len(s.reps) for s in week.sessions)
    assert len(re.findall(r'<tr class="rep"', page.text)) == reps
    assert page.text.count("<svg") >= 4  # the report's own plots, inline
    assert "Adherence" in page.text and "Calibration" in page.text
    assert "start the virtual board" in page.text  # no dowel to calibrate with


def test_prescription_is_set_or_refused_in_one_line(client, week, no_ports):
    answer = client.post(
        "/patients/P-0002/prescription", data={"prescription": "3x8"}, headers=ORIGIN
    )
    assert answer.status_code == 303
    assert "3x8/day" in client.get("/").text
    saved = client.get(answer.headers["location"])
    assert "Prescription saved. The dowel counts it from the next calibration" in saved.text
    bad = client.post(
        "/patients/P-0002/prescription", data={"prescription": "lots"}, headers=ORIGIN
    )
    assert bad.status_code == 400 and "e.g. 5x10/day" in bad.text


def test_unknown_patient_names_the_fix(client, week, no_ports):
    page = client.get("/patients/P-9999")
    assert page.status_code == 404 and "P-9999" in page.text


def test_pdf_and_fhir_downloads(client, week):
    pdf = client.get("/patients/P-0001/report.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert re.match(
        r'attachment; filename="dowel-report-P-0001-\d{4}-\d\d-\d\d\.pdf"',
        pdf.headers["content-disposition"],
    )
    fhir = client.get("/patients/P-0001/fhir.json")
    from fhir.resources.R4B.bundle import Bundle

    bundle = Bundle.model_validate_json(fhir.content)
    observations = [e for e in bundle.entry if e.resource.__resource_type__ == "Observation"]
    assert len(observations) == len(week.sessions)  # one Observation a session
    html = client.get("/patients/P-0001/report.html")
    assert html.status_code == 200 and "<figure" in html.text


def test_dowel_page_offers_the_virtual_board_when_nothing_is_plugged_in(client, no_ports):
    page = client.get("/dowel")
    assert "No dowel is plugged in" in page.text
    assert 'action="/dowel/vboard"' in page.text


def test_a_busy_dowel_says_so(client, app_state, one_dowel):
    release = threading.Event()
    holder = app_state.jobs.start(
        "pull", "Pull the logs", "/dev/ttyUSB0", lambda j: release.wait(10)
    )
    try:
        answer = client.post("/dowel/selftest", data={"port": "/dev/ttyUSB0"}, headers=ORIGIN)
        assert answer.status_code == 409
        assert "busy: Pull the logs" in answer.text
        assert f'href="/jobs/{holder.id}"' in answer.text  # the refusal links to the holder
        page = client.get("/dowel?port=/dev/ttyUSB0")
        assert f'href="/jobs/{holder.id}"' in page.text  # follow the job that holds it
    finally:
        release.set()


def test_a_job_page_asks_and_takes_the_answer(client, app_state):
    job = app_state.jobs.start(
        "selftest",
        "Self-test",
        "p",
        lambda j: {"checks": [], "failed": j.ask("Beep?", ("Yes", "No")) == "No"},
    )
    while job.question is None:
        time.sleep(0.005)
    page = client.get(f"/jobs/{job.id}")
    assert "Beep?" in page.text and 'value="Yes"' in page.text
    q = job.question.id
    answer = client.post(
        f"/jobs/{job.id}/answer", data={"question": q, "choice": "No"}, headers=ORIGIN
    )
    assert answer.status_code == 303 and answer.headers["location"] == f"/jobs/{job.id}"
    while job.running:
        time.sleep(0.005)
    panel = client.get(f"/jobs/{job.id}/panel")
    assert "Some checks failed" in panel.text
    events = client.get(f"/jobs/{job.id}/events")
    assert events.headers["content-type"].startswith("text/event-stream")
    assert "event: end" in events.text
    # A page drawn before the question was asked, whose stream opened after: it still redraws.
    assert "event: change" not in events.text
    assert "event: change" in client.get(f"/jobs/{job.id}/events?since=0").text
    assert 'data-events="' in page.text
    assert client.get("/jobs/nope").status_code == 404


def test_feedback_must_be_one_of_the_schedules(client, app_state, one_dowel, monkeypatch):
    from host_tools.app import work

    answer = client.post(
        "/dowel/feedback", data={"port": "/dev/ttyUSB0", "preset": "<script>"}, headers=ORIGIN
    )
    assert answer.status_code == 400 and "choose one of the feedback schedules" in answer.text
    assert "<script>" not in answer.text
    chosen = []
    monkeypatch.setattr(
        work, "set_feedback", lambda job, preset, probe: chosen.append((preset, probe)) or {}
    )
    answer = client.post(
        "/dowel/feedback",
        data={"port": "/dev/ttyUSB0", "preset": "course", "probe": "on"},
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"].startswith("/jobs/")
    job = app_state.jobs.get(answer.headers["location"].rsplit("/", 1)[1])
    while job.running:
        time.sleep(0.01)
    assert chosen == [("course", True)]


def test_a_bug_in_a_job_reaches_the_apps_log():
    from host_tools.app.server import AppState

    said: list[str] = []
    state = AppState(token="t", port=1, log=said.append)
    job = state.jobs.start("pull", "Pull the logs", "p", lambda j: 1 / 0)
    while job.running:
        time.sleep(0.005)
    assert "see the log" in job.error
    assert "ZeroDivisionError" in said[0] and "Traceback" in said[0]


def test_open_job_pages_hold_no_threads_the_other_pages_need(app_state):
    """A PT's many tabs on a job: each keeps an event stream open. With one worker thread for
    the whole app, the patient list must still answer while a dozen streams wait; a stream
    that waited in a thread would hold it for a second at a time, a dozen in a row."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from host_tools.app.security import cookie_name
    from host_tools.app.server import create_app
    from tests.app.conftest import PORT

    guard = create_app(app_state)
    release = threading.Event()

    def calibrating(j):  # a calibration between two live frames
        j.set_live({"step": 3})
        release.wait(30)

    job = app_state.jobs.start("calibrate", "Calibrate", "p", calibrating)
    headers = [
        (b"host", f"127.0.0.1:{PORT}".encode()),
        (b"cookie", f"{cookie_name(PORT)}={guard.session}".encode()),
    ]

    def scope(path: str) -> dict:
        return {
            "type": "http",
            "method": "GET",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "headers": headers,
            "scheme": "http",
            "server": ("127.0.0.1", PORT),
            "client": ("127.0.0.1", 5555),
            "http_version": "1.1",
            "root_path": "",
        }

    async def visit():
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ThreadPoolExecutor(max_workers=1))
        never = asyncio.Event()  # the tabs never close

        async def receive():
            await never.wait()

        async def tab():
            async def send(message):
                pass

            await guard(scope(f"/jobs/{job.id}/events"), receive, send)

        tabs = [asyncio.create_task(tab()) for _ in range(12)]
        await asyncio.sleep(0.3)  # every stream open and waiting
        status = []

        async def send(message):
            if message["type"] == "http.response.start":
                status.append(message["status"])

        async def receive_once():
            return {"type": "http.request", "body": b"", "more_body": False}

        try:
            await asyncio.wait_for(guard(scope("/"), receive_once, send), 5)
        finally:
            release.set()
            for t in tabs:
                t.cancel()
            await asyncio.gather(*tabs, return_exceptions=True)
        return status

    assert asyncio.run(visit()) == [200]


def test_a_progress_bar_moves_without_other_news(client, app_state):
    # A session at home reports only progress: the page must redraw its bar all the same.
    def body(j):
        for done in range(1, 4):
            j.set_progress(done, 3)
            time.sleep(0.4)

    job = app_state.jobs.start("home", "Home", "p", body)
    events = client.get(f"/jobs/{job.id}/events?since=0").text
    assert not job.events and events.count("event: change") >= 3, events


def test_after_a_redo_the_panel_shows_only_the_new_attempt():
    from host_tools.app.jobs import Job, Question
    from host_tools.app.server import _env

    def proposal(level: str) -> dict:
        row = {"point": "sacrum", "released": "300 ±20", "contact": level, "problem": None}
        return {"kind": "proposal", "rows": [{**row, "off": 1, "on": 2}]}

    job = Job("j", "calibrate", "Calibrate", "p")
    job.events = [
        {"kind": "step", "step": 2, "title": "neutral hold", "text": "Stand tall."},
        proposal("OLD-LEVEL"),
        {"kind": "refused", "problems": ["OLD-PROBLEM"]},
        {"kind": "redo"},
        proposal("NEW-LEVEL"),
    ]
    job.question = Question(3, "Write these thresholds to the dowel?", ("Accept", "Redo"))
    html = _env().get_template("_panel.html").render(job=job)
    assert "NEW-LEVEL" in html and html.count('class="list proposal"') == 1
    assert "OLD-LEVEL" not in html and "OLD-PROBLEM" not in html


def test_a_refused_new_patient_keeps_what_was_typed(client, no_ports):
    answer = client.post(
        "/patients", data={"patient": "P-0042", "prescription": "lots"}, headers=ORIGIN
    )
    assert answer.status_code == 400 and "e.g. 5x10/day" in answer.text
    assert 'value="P-0042"' in answer.text and 'value="lots"' in answer.text


def test_the_only_dowel_plugged_in_is_the_one_shown(client, one_dowel):
    from urllib.parse import quote

    from tests.app.conftest import DOWEL_PORT

    answer = client.get("/dowel")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/dowel?port=" + quote(DOWEL_PORT, safe="")
