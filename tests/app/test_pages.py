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


@pytest.fixture
def no_ports(monkeypatch):
    import host_tools.board.ports as ports

    monkeypatch.setattr(ports, "list_ports", lambda *a, **k: [])
    monkeypatch.setattr(ports, "virtual_port", lambda: None)


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


def test_a_busy_dowel_says_so(client, app_state, no_ports):
    release = threading.Event()
    holder = app_state.jobs.start(
        "pull", "Pull the logs", "/dev/ttyUSB0", lambda j: release.wait(10)
    )
    try:
        answer = client.post("/dowel/selftest", data={"port": "/dev/ttyUSB0"}, headers=ORIGIN)
        assert answer.status_code == 409
        assert "busy: Pull the logs" in answer.text
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


def test_feedback_must_be_one_of_the_schedules(client, app_state, no_ports, monkeypatch):
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
