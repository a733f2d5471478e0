"""Long operations of the web app (a calibration, a log pull, a firmware install, the self-test)
as jobs: each runs in a thread of its own, reports what happens as events, asks the PT through
questions the page answers, and holds its dowel for as long as it runs.

    job = jobs.start("pull", "Pull the logs", port, lambda job: do_pull(job, port))
    job.say("3 segments")              # in the job's thread: an event the page shows
    choice = job.ask("Ready?", ("Start", "Stop"))   # blocks until the page answers

A second job on a dowel that is busy is refused with `Busy`, naming what holds it, so two
actions never share one board's REPL. Nothing here knows a board or a page: the job bodies are
in `host_tools.app.work`, the pages in `host_tools.app.server`.
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from host_tools.errors import DowelError

RUNNING, DONE, FAILED, STOPPED = "running", "done", "failed", "stopped"
IDLE_S = 60.0  # well inside the dowel's 300 s without a host call (dowel.hal.HOST_IDLE_MS)


class Busy(DowelError):
    """The dowel already runs another job: `holder`."""

    def __init__(self, message: str, holder: Job):
        super().__init__(message)
        self.holder = holder


class Stopped(DowelError):
    """The PT stopped the job (at a question, or with its Stop button)."""


@dataclass
class Question:
    id: int
    text: str
    choices: tuple[str, ...]
    answer: str | None = None


@dataclass
class Job:
    id: str
    kind: str  # "calibrate", "pull", "flash", "selftest", "status"
    title: str
    port: str
    started: float = field(default_factory=time.monotonic)
    state: str = RUNNING
    events: list[dict[str, Any]] = field(default_factory=list)
    question: Question | None = None
    live: dict[str, Any] | None = None  # the latest live snapshot (calibration bars)
    live_seq: int = 0
    progress: tuple[int, int] | None = None  # (done, total)
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    stop_requested: bool = False
    # What keeps the job's dowel from giving up on its host while a question waits (a dowel
    # left a few minutes without a host call resets itself: dowel.hal.keepalive).
    idle: Callable[[], None] | None = field(default=None, repr=False)
    _cond: threading.Condition = field(default_factory=threading.Condition, repr=False)
    _questions: itertools.count = field(default_factory=lambda: itertools.count(1), repr=False)
    _watchers: set[Callable[[], None]] = field(default_factory=set, repr=False)

    def _changed(self) -> None:
        """Under the lock: wake the threads waiting on the job and tell its watchers."""
        self._cond.notify_all()
        for wake in self._watchers:
            wake()

    def watch(self, wake: Callable[[], None]) -> None:
        """Call `wake` (from whichever thread changes the job; it must not block) on every
        change: how a page's event stream waits without holding a thread."""
        with self._cond:
            self._watchers.add(wake)

    def unwatch(self, wake: Callable[[], None]) -> None:
        with self._cond:
            self._watchers.discard(wake)

    # ---- called from the job's thread ---------------------------------------------------------

    def emit(self, kind: str, **data: Any) -> None:
        with self._cond:
            self.events.append({"kind": kind, **data})
            self._changed()

    def say(self, text: str) -> None:
        self.emit("line", text=text)

    def set_progress(self, done: int, total: int) -> None:
        self.check_stop()
        with self._cond:
            self.progress = (done, total)
            self._changed()

    def set_live(self, snapshot: dict[str, Any]) -> None:
        with self._cond:
            self.live = snapshot
            self.live_seq += 1
            self._changed()

    def ask(self, text: str, choices: tuple[str, ...]) -> str:
        """Block until the page answers with one of `choices`; Stopped if the PT stops. While
        it waits, `idle` (if the job set one) runs every IDLE_S in the job's thread."""
        with self._cond:
            q = self.question = Question(next(self._questions), text, choices)
            self.events.append({"kind": "question", "id": q.id, "text": text})
            self._changed()
            while q.answer is None and not self.stop_requested:
                if not self._cond.wait(IDLE_S) and self.idle is not None:
                    self._cond.release()
                    try:
                        self.idle()
                    finally:
                        self._cond.acquire()
            self.question = None
            self._changed()
            if q.answer is None:
                raise Stopped("stopped by the PT")
            return q.answer

    def check_stop(self) -> None:
        if self.stop_requested:
            raise Stopped("stopped by the PT")

    # ---- called from the pages ----------------------------------------------------------------

    def answer(self, question_id: int, choice: str) -> bool:
        """Answer the open question; False when it is no longer open (answered already: a
        double click, another tab, a stale page) or `choice` is not one of its choices."""
        with self._cond:
            q = self.question
            if q is None or q.id != question_id or q.answer is not None or choice not in q.choices:
                return False
            q.answer = choice
            # Closed now, not when the job's thread wakes: the page this answer redirects to
            # must not offer the answered question again.
            self.question = None
            self._changed()
            return True

    def stop(self) -> None:
        with self._cond:
            self.stop_requested = True
            self._changed()

    @property
    def running(self) -> bool:
        return self.state == RUNNING

    @property
    def age_s(self) -> float:
        return time.monotonic() - self.started


class Jobs:
    """Every job of this app, and which dowel each running one holds."""

    def __init__(self, log: Callable[[str], None] | None = None):
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._log = log or (lambda _text: None)

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def holding(self, port: str) -> Job | None:
        with self._lock:
            return self._holder(port)

    def _holder(self, port: str) -> Job | None:
        """Under the lock: the running job that holds `port`."""
        return next((j for j in self._jobs.values() if j.port == port and j.running), None)

    def stop_all(self) -> None:
        """Ask every running job to stop (the app is closing)."""
        with self._lock:
            running = [j for j in self._jobs.values() if j.running]
        for job in running:
            job.stop()

    def start(self, kind: str, title: str, port: str, body: Callable[[Job], dict | None]) -> Job:
        with self._lock:
            busy = self._holder(port)
            if busy is not None:
                raise Busy(
                    f"the dowel on {port} is busy: {busy.title} (started "
                    f"{busy.age_s:.0f} s ago). Wait for it to finish, or stop it on its page.",
                    busy,
                )
            job = Job(secrets.token_hex(8), kind, title, port)
            self._jobs[job.id] = job
        threading.Thread(target=self._run, args=(job, body), daemon=True, name=kind).start()
        return job

    def _run(self, job: Job, body: Callable[[Job], dict | None]) -> None:
        state, error = DONE, None
        try:
            job.result = body(job) or {}
        except Stopped as exc:
            state, error = STOPPED, str(exc)
        except DowelError as exc:
            state, error = FAILED, str(exc)
        except Exception as exc:  # a bug: the page says so in one line, the log has the rest
            state, error = FAILED, f"unexpected error ({type(exc).__name__}: {exc}); see the log"
            self._log(traceback.format_exc())
        with job._cond:
            job.state, job.error = state, error
            job.question = None
            job._changed()
