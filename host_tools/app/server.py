"""The PT's web app: server-rendered pages on the host library, a little JavaScript for the live
parts (static/app.js), behind the token gate of host_tools.app.security.

    app = create_app(AppState(token, port))      # an ASGI app; `dowel app` serves it

Pages: the patient list (/), a patient (/patients/ID: prescription, calibration, the report
with its plots, the reps, downloads), the dowel (/dowel: ports, status, firmware, self-test,
log pull), and a job (/jobs/ID: a calibration, pull, install or self-test as it runs, its
questions as buttons). Every action is a form POST answered with a redirect, so each page also
works as plain HTML; a job page listens to /jobs/ID/events (server-sent events) to redraw its
panel and, during a calibration, its live bars.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from host_tools.app import work
from host_tools.app.jobs import Busy, Job, Jobs
from host_tools.app.security import Guard
from host_tools.board.feedback import PRESETS
from host_tools.board.ports import listed_port
from host_tools.errors import DowelError
from host_tools.report.data import POINT_LABELS
from host_tools.sim.follow import HOME_SESSIONS, SELFTEST, home_sessions
from host_tools.store import db

HERE = Path(__file__).parent
STATUS_WAIT_S = 20.0  # a board that has not answered its status by then is reported as such
EVENT_TICK_S = 0.04  # the event stream's pace: 25 live frames a second at most
PROGRESS_EVERY_S = 0.25  # a progress bar redrawn 4 times a second at most (the panel is HTML)


@dataclass
class AppState:
    token: str
    port: int
    jobs: Jobs = field(init=False)
    vboard: object | None = None  # the virtual board this app started (stopped with it)
    log: object = print  # where a bug's traceback goes (the terminal running `dowel app`)
    closing: bool = False  # set at Ctrl-C: open event streams end, so the server can stop

    def __post_init__(self) -> None:
        self.jobs = Jobs(log=self.log)  # "see the log" in a job's error means this log

    def close(self) -> None:
        self.closing = True
        self.jobs.stop_all()


def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(("html",)),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["port_name"] = _port_name
    return env


def _port_name(port: str | None) -> str:
    """How a page names `port`: the virtual board by that name, not its file's path."""
    from host_tools.board.ports import virtual_port

    return "the virtual board" if port and port == virtual_port() else str(port)


def _when(moment: datetime | str | None) -> str:
    if moment is None:
        return "never"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return moment.astimezone().strftime("%a %d %b %Y %H:%M")


def create_app(state: AppState) -> Guard:
    env = _env()

    def page(name: str, status_code: int = 200, **context) -> HTMLResponse:
        html = env.get_template(name).render(**context)
        return HTMLResponse(html, status_code=status_code)

    def likely_ports():
        from host_tools.board.ports import list_ports

        return [p for p in list_ports() if p.likely]

    def virtual_port() -> str | None:
        from host_tools.board.ports import virtual_port

        return virtual_port()

    def _virtual_board():
        """The virtual board, whose simulated patient follows the pages."""
        from host_tools.vboard import VirtualBoard

        board = VirtualBoard.running()
        if board is None:
            raise DowelError("the virtual board stopped: start it again on the dowel page")
        return board

    # ---- patients ---------------------------------------------------------------------------

    def patients_page(error: str | None = None, status_code: int = 200, typed: dict | None = None):
        """The list; `typed`: what the PT had typed into the add form (kept after a refusal)."""
        from host_tools.report.overview import overview

        with db.using(None) as conn:
            rows = overview(conn)
        return page(
            "patients.html",
            status_code,
            rows=rows,
            error=error,
            typed=typed or {},
            ports=likely_ports(),
            nav="patients",
        )

    async def index(request: Request):
        return await asyncio.to_thread(patients_page)

    async def add_patient(request: Request):
        form = await request.form()
        patient = str(form.get("patient", "")).strip()
        prescription = str(form.get("prescription", "")).strip() or "5x10/day"

        def add():
            from host_tools.store import patients

            try:
                patients.check_patient_id(patient)
                sets, reps = patients.parse_prescription(prescription)
                with db.using(None) as conn:
                    patients.set_prescription(conn, patient, sets, reps)
            except DowelError as exc:
                typed = {"patient": patient, "prescription": prescription}
                return patients_page(str(exc), 400, typed)
            return RedirectResponse(f"/patients/{patient}", status_code=303)

        return await asyncio.to_thread(add)

    def _patient_context(patient: str) -> dict:
        from host_tools.report.content import report_content
        from host_tools.report.data import load_report_data
        from host_tools.report.render import block_html
        from host_tools.store import reps as repstore

        with db.using(None) as conn:
            data = load_report_data(conn, patient)  # refuses an unknown patient
            rows = repstore.rep_rows(conn, patient)
        doc = report_content(data, datetime.now(timezone.utc))
        return {
            "info": data.patient,
            "meta": doc.meta,
            "blocks": [Markup(block_html(b)) for b in doc.blocks],
            "reps": rows,
            "labels": POINT_LABELS,  # "midback" -> "mid-back", as the report says it
        }

    async def patient_page(request: Request):
        notice = None
        if request.query_params.get("saved") == "prescription":
            notice = (
                "Prescription saved. The dowel counts it from the next calibration, or once "
                "you set its feedback on the dowel page."
            )
        return await asyncio.to_thread(patient_view, request.path_params["patient"], notice=notice)

    async def set_prescription(request: Request):
        patient = request.path_params["patient"]
        form = await request.form()

        def save():
            from host_tools.store import patients

            try:
                sets, reps = patients.parse_prescription(str(form.get("prescription", "")))
                with db.using(None) as conn:
                    patients.require_patient(conn, patient)
                    patients.set_prescription(conn, patient, sets, reps)
            except DowelError as exc:
                return patient_view(patient, str(exc))
            return RedirectResponse(f"/patients/{patient}?saved=prescription", status_code=303)

        return await asyncio.to_thread(save)

    def patient_view(
        patient: str,
        error: str | None = None,
        status_code: int | None = None,
        holder: Job | None = None,
        notice: str | None = None,
    ):
        """The patient's page; with `error` (an action's one line) at its top, a 400 unless
        `status_code` says otherwise."""
        try:
            context = _patient_context(patient)
        except DowelError as exc:
            return patients_page(str(exc), 404)
        return page(
            "patient.html",
            status_code or (400 if error else 200),
            **context,
            ports=likely_ports(),
            virtual=virtual_port(),
            error=error,
            holder=holder,
            notice=notice,
            nav="patients",
        )

    def report_data(patient: str):
        from host_tools.report.data import load_report_data

        with db.using(None) as conn:
            return load_report_data(conn, patient)

    async def report_html(request: Request):
        patient = request.path_params["patient"]

        def render():
            from host_tools.report.render import render_html

            return HTMLResponse(render_html(report_data(patient), datetime.now(timezone.utc)))

        return await _or_404(request, render)

    async def report_pdf(request: Request):
        patient = request.path_params["patient"]

        def render():
            from host_tools.report.pdf import write_pdf

            data = report_data(patient)
            with tempfile.TemporaryDirectory(prefix="dowel-report-") as tmp:
                path = Path(tmp) / "report.pdf"
                write_pdf(data, path, datetime.now(timezone.utc))
                body = path.read_bytes()
            return Response(
                body, media_type="application/pdf", headers=_attachment(patient, "pdf")
            )

        return await _or_404(request, render)

    async def fhir_json(request: Request):
        patient = request.path_params["patient"]

        def render():
            from host_tools.report.fhir import session_bundle

            with db.using(None) as conn:
                bundle = session_bundle(conn, patient)
            body = json.dumps(bundle, indent=2, ensure_ascii=False) + "\n"
            return Response(
                body, media_type="application/fhir+json", headers=_attachment(patient, "json")
            )

        return await _or_404(request, render)

    async def _or_404(request: Request, render):
        from host_tools.store.patients import check_patient_id

        def guarded():
            try:
                check_patient_id(request.path_params["patient"])
                return render()
            except DowelError as exc:
                return patients_page(str(exc), 404)

        return await asyncio.to_thread(guarded)

    # ---- the dowel --------------------------------------------------------------------------

    def dowel_page(
        port: str | None,
        error: str | None = None,
        status_code: int = 200,
        status: dict | None = None,
        busy: Job | None = None,
    ):
        from host_tools.board.ports import list_ports

        return page(
            "dowel.html",
            status_code,
            ports=list_ports(),
            port=port,
            status=status,
            busy=busy,
            error=error,
            virtual=virtual_port(),
            presets=PRESETS,
            sessions=home_sessions(),
            nav="dowel",
        )

    async def dowel(request: Request):
        asked = request.query_params.get("port")
        if not asked:
            only = await asyncio.to_thread(likely_ports)
            if len(only) == 1:  # one dowel plugged in: that is the one the PT means
                return RedirectResponse(f"/dowel?{urlencode({'port': only[0].device})}", 303)
            return await asyncio.to_thread(dowel_page, None)
        port = await asyncio.to_thread(listed_port, asked)
        if port is None:
            return await asyncio.to_thread(dowel_page, None, no_such_port(asked), 404)
        busy = state.jobs.holding(port)
        if busy is not None:
            return await asyncio.to_thread(dowel_page, port, busy=busy)
        try:
            job = state.jobs.start("status", "Read the dowel's status", port, work.board_status)
        except Busy as exc:
            return await asyncio.to_thread(dowel_page, port, str(exc), 409, busy=exc.holder)
        # Waited for here, not in a worker thread: a few dowels that never answer must not
        # take the threads every other page needs.
        await _wait_done(job, STATUS_WAIT_S)
        if job.running:
            job.stop()
            error = f"the dowel on {port} did not answer within {STATUS_WAIT_S:.0f} s"
            return await asyncio.to_thread(dowel_page, port, error, 504)
        if job.error:
            return await asyncio.to_thread(dowel_page, port, job.error, 502)
        return await asyncio.to_thread(dowel_page, port, status=job.result)

    async def start_vboard(request: Request):
        def start():
            from host_tools.vboard import VirtualBoard

            board = VirtualBoard.running()  # one started by `dowel vboard start`: use it
            if board is None:
                try:
                    board = state.vboard = VirtualBoard.start()  # stops with the app
                except DowelError as exc:
                    return dowel_page(None, str(exc), 500)
            return RedirectResponse(f"/dowel?port={board.port}", status_code=303)

        return await asyncio.to_thread(start)

    async def start_job(request: Request):
        form = await request.form()
        kind = request.path_params["kind"]
        port = str(form.get("port", ""))
        follow = form.get("follow") == "on" and port == virtual_port()
        titles = {
            "flash": ("Install the dowel firmware", work.flash),
            "selftest": (
                "Self-test",
                lambda job: work.selftest(
                    job, on_start=(lambda: _virtual_board().play(SELFTEST)) if follow else None
                ),
            ),
            "pull": ("Pull the logs", work.pull),
        }
        if kind == "home":
            scenario = str(form.get("scenario", ""))
            if port != virtual_port() or scenario not in HOME_SESSIONS:
                return await asyncio.to_thread(
                    dowel_page,
                    port or None,
                    "a session at home is played on the virtual board",
                    400,
                )
            titles["home"] = (
                "The virtual patient's session at home",
                lambda job: work.home_session(job, _virtual_board(), scenario),
            )
        if kind == "feedback":
            preset = str(form.get("preset", ""))
            if preset not in PRESETS:
                return await asyncio.to_thread(
                    dowel_page, port or None, "choose one of the feedback schedules", 400
                )
            probe = form.get("probe") == "on"
            titles["feedback"] = (
                "Set the feedback",
                lambda job: work.set_feedback(job, preset, probe),
            )
        if kind not in titles or not port:
            return await asyncio.to_thread(dowel_page, None, "choose a dowel first", 400)
        if await asyncio.to_thread(listed_port, port) != port:
            return await asyncio.to_thread(dowel_page, None, no_such_port(port), 400)
        title, body = titles[kind]
        try:
            job = state.jobs.start(kind, title, port, body)
        except Busy as exc:
            return await asyncio.to_thread(dowel_page, port, str(exc), 409, busy=exc.holder)
        return RedirectResponse(f"/jobs/{job.id}", status_code=303)

    async def start_calibration(request: Request):
        patient = request.path_params["patient"]
        form = await request.form()
        port = str(form.get("port", ""))
        follow = form.get("follow") == "on" and port == virtual_port()

        def refusal():
            """The page that refuses this calibration, or None: the patient is checked before
            the dowel is touched."""
            from host_tools.store import patients

            try:
                patients.check_patient_id(patient)
                with db.using(None) as conn:
                    patients.require_patient(conn, patient)
            except DowelError as exc:
                return patients_page(str(exc), 404)
            if not port:
                return patient_view(patient, "choose the dowel to calibrate (plug one in)")
            if listed_port(port) != port:
                return patient_view(patient, no_such_port(port))
            return None

        refused = await asyncio.to_thread(refusal)
        if refused is not None:
            return refused

        def on_start(step: int) -> None:
            from host_tools.sim.follow import calibration_step

            _virtual_board().play(calibration_step(step))

        try:
            job = state.jobs.start(
                "calibrate",
                f"Calibrate for {patient}",
                port,
                lambda job: work.calibration(job, patient, on_start=on_start if follow else None),
            )
        except Busy as exc:
            return await asyncio.to_thread(patient_view, patient, str(exc), 409, exc.holder)
        job.result["patient"] = patient
        return RedirectResponse(f"/jobs/{job.id}", status_code=303)

    # ---- jobs -------------------------------------------------------------------------------

    def find_job(request: Request) -> Job | None:
        return state.jobs.get(request.path_params["job"])

    async def job_page(request: Request):
        job = find_job(request)
        if job is None:
            return page("gone.html", 404, nav="")
        return page("job.html", job=job, nav="dowel")

    async def job_panel(request: Request):
        job = find_job(request)
        if job is None:
            return page("gone.html", 404, nav="")
        return page("_panel.html", job=job)

    async def job_answer(request: Request):
        job = find_job(request)
        if job is None:
            return page("gone.html", 404, nav="")
        form = await request.form()
        try:
            question = int(str(form.get("question", "")))
        except ValueError:
            question = -1
        job.answer(question, str(form.get("choice", "")))
        return RedirectResponse(f"/jobs/{job.id}", status_code=303)

    async def job_stop(request: Request):
        job = find_job(request)
        if job is None:
            return page("gone.html", 404, nav="")
        job.stop()
        return RedirectResponse(f"/jobs/{job.id}", status_code=303)

    async def job_events(request: Request):
        job = find_job(request)
        if job is None:
            return Response(status_code=404)

        # From the events the page was drawn with: one added between drawing the page and
        # opening this stream (a question asked then) must still redraw it.
        try:
            seen_events = max(0, int(request.query_params.get("since", "")))
        except ValueError:
            seen_events = len(job.events)

        async def stream():
            # Woken by the job itself: an open page holds no thread, so a PT's many tabs
            # cannot starve the pages of the threads they render in.
            nonlocal seen_events
            seen_live = -1
            seen_progress, progress_at = None, 0.0
            loop = asyncio.get_running_loop()
            async with _woken_by(job) as changed:
                yield "retry: 1000\n\n"
                while not state.closing:
                    changed.clear()
                    progressed = (
                        job.progress != seen_progress
                        and loop.time() - progress_at >= PROGRESS_EVERY_S
                    )
                    if len(job.events) > seen_events or progressed:
                        seen_events, seen_progress = len(job.events), job.progress
                        progress_at = loop.time()
                        yield f"event: change\ndata: {seen_events}\n\n"
                    if job.live_seq != seen_live and job.live is not None:
                        seen_live = job.live_seq
                        yield f"event: live\ndata: {json.dumps(job.live)}\n\n"
                    if not job.running:
                        yield "event: end\ndata: end\n\n"
                        return
                    try:
                        # A progress change held back above is sent at the next pass.
                        pending = job.progress != seen_progress
                        await asyncio.wait_for(
                            changed.wait(), PROGRESS_EVERY_S if pending else 1.0
                        )
                    except TimeoutError:
                        pass
                    if await request.is_disconnected():
                        return
                    await asyncio.sleep(EVENT_TICK_S)  # live frames at 25 a second at most

        return StreamingResponse(stream(), media_type="text/event-stream")

    routes = [
        Route("/", index),
        Route("/patients", add_patient, methods=["POST"]),
        Route("/patients/{patient}", patient_page),
        Route("/patients/{patient}/prescription", set_prescription, methods=["POST"]),
        Route("/patients/{patient}/calibrate", start_calibration, methods=["POST"]),
        Route("/patients/{patient}/report.html", report_html),
        Route("/patients/{patient}/report.pdf", report_pdf),
        Route("/patients/{patient}/fhir.json", fhir_json),
        Route("/dowel", dowel),
        Route("/dowel/vboard", start_vboard, methods=["POST"]),
        Route("/dowel/{kind}", start_job, methods=["POST"]),
        Route("/jobs/{job}", job_page),
        Route("/jobs/{job}/panel", job_panel),
        Route("/jobs/{job}/events", job_events),
        Route("/jobs/{job}/answer", job_answer, methods=["POST"]),
        Route("/jobs/{job}/stop", job_stop, methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return Guard(Starlette(routes=routes), state.token, state.port)


@asynccontextmanager
async def _woken_by(job: Job):
    """An asyncio.Event the job sets on each change (from its own thread); clear it, look at the
    job, then await it."""
    loop = asyncio.get_running_loop()
    changed = asyncio.Event()

    def wake() -> None:
        try:
            loop.call_soon_threadsafe(changed.set)
        except RuntimeError:
            pass  # the loop closed: the app is stopping, nobody waits any more

    job.watch(wake)
    try:
        yield changed
    finally:
        job.unwatch(wake)


async def _wait_done(job: Job, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    async with _woken_by(job) as changed:
        while job.running and (left := end - loop.time()) > 0:
            changed.clear()
            if not job.running:
                return
            try:
                await asyncio.wait_for(changed.wait(), left)
            except TimeoutError:
                return


def no_such_port(port: str) -> str:
    shown = port if len(port) <= 80 else port[:80] + "…"
    return (
        f"no dowel on {shown!r} now: pick one from the list (is it still plugged in? was the "
        "virtual board stopped?)"
    )


def _attachment(patient: str, suffix: str) -> dict[str, str]:
    day = datetime.now(timezone.utc).date().isoformat()
    kind = "report" if suffix == "pdf" else "fhir"
    # The patient id is [A-Za-z0-9_-] (checked when it was stored): safe in a header as is.
    return {"content-disposition": f'attachment; filename="dowel-{kind}-{patient}-{day}.{suffix}"'}
