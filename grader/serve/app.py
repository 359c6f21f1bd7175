"""The HTTP side of ``grader serve``: the submission API and the pages (a Starlette app).

==============================================  ==========================================
``POST /submit``                                a learner's ``grader.submit``: 201 with the
(also the course's ``/api/onDemandProgramming   submission's id, its page and a message;
ScriptSubmissions.v1``)                         4xx with ``details.learnerMessage``
``GET /submissions/ID?key=KEY``                 the learner's page: queued, live progress,
                                                then the feedback page
``GET /submissions/ID/status?key=KEY``          the same as JSON
``GET /submissions/ID/feedback?key=KEY``        that submission's feedback page
``GET|POST /me``                                a learner's own submissions (email + token)
``GET /instructor?key=KEY``                     queue, throughput, class gradebook so far
``GET /instructor/status``, ``/gradebook.csv``  the same as JSON, the gradebook as CSV
``GET /healthz``                                ``ok`` while the grading side runs
==============================================  ==========================================

A submission's page opens with its key (in the link the learner's ``submit``
printed) or with the learner's own session (``/me``); the instructor's pages
with the instructor key (``OUT/serve/instructor.key``, printed at start).  An
unknown submission and someone else's look alike: 404.  A submission's work on the
event loop is small (a notebook of up to ``INLINE`` bytes parsed, one indexed read to sign
in); larger bodies and the pages' reads run in Starlette's thread pool, and the
queue's committer records a burst's submissions together (:mod:`grader.serve.queue`),
so one slow upload never holds the others.

Hostile input (issue #24; ``docs/operator/service-security.md``): every body is capped and
has deadlines before a route reads it, every answer carries the security headers
(:mod:`grader.serve.protect`); failed sign-ins are throttled per learner and per client
address, sessions are bounded (:mod:`grader.serve.sessions`); every refusal is a 4xx with
``details.learnerMessage``, and writes nothing.
"""
from __future__ import annotations

import json
import time

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from ..report.html import render_page
from ..report.table import gradebook_csv
from . import lti_app, views
from .policy import Refused
from .protect import BodyGuard, SecurityHeaders, refusal
from .queue import RESULT_FILE
from .site import SUBMIT_PATHS, Site
from .store import submission_folder
from .upload import check_notebook, parse


def build_app(service, *, public_url: str = "", request_timeout: float = 30.0):
    """The Starlette application of ``service`` (a :class:`grader.serve.service.GradingService`);
    ``request_timeout``: the longest wait for a request body's next bytes (408 after it)."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.routing import Route

    site = Site(service, public_url=public_url)
    import nbformat.reader  # noqa: F401 - now, not in an answer (half a second): older notebooks need it

    routes = [
        Route("/", home),
        *(Route(path, submit, methods=["POST"]) for path in SUBMIT_PATHS),
        Route("/submissions/{id}", submission_page),
        Route("/submissions/{id}/status", submission_status),
        Route("/submissions/{id}/feedback", submission_feedback),
        Route("/me", me, methods=["GET", "POST"]),
        Route("/instructor", instructor_page),
        Route("/instructor/status", instructor_status),
        Route("/instructor/gradebook.csv", instructor_gradebook),
        Route("/healthz", health),
        *lti_app.routes(),
    ]
    middleware = [Middleware(SecurityHeaders),
                  Middleware(BodyGuard, limit_of=site.limit_of, too_large=site.too_large_for,
                             request_timeout=request_timeout)]
    app = Starlette(routes=routes, middleware=middleware, exception_handlers={HTTPException: http_error})
    app.state.site = site
    return app


def _site(request) -> Site:
    return request.app.state.site


# --- submitting ------------------------------------------------------------------------------------

async def submit(request):
    """``POST /submit``: a learner's notebook, checked, signed in, queued; 201 or a refusal."""
    site = _site(request)
    clock = _Phases()
    try:
        site.check_address(request)
        body = await request.body()   # capped and timed by BodyGuard
        clock.lap("read")
        # A notebook's JSON of up to INLINE bytes is parsed on the event loop (about a millisecond):
        # through the thread pool, a burst's parsing waited for threads busy with others' writes.
        upload = (parse(body, site.assignment, site.assignments) if len(body) <= INLINE else
                  await run_in_threadpool(parse, body, site.assignment, site.assignments))
        clock.lap("parse")
        learner = await site.signed_in(request, upload.email, upload.token)
        clock.lap("signin")
        assignment = _checked(site, learner, upload) if len(body) <= INLINE else \
            await run_in_threadpool(_checked, site, learner, upload)
        clock.lap("check")
        accepted = await site.service.accept_async(learner, upload, assignment, clock=clock)
    except Refused as error:
        return refusal(error)
    url = f"{site.base(request)}/submissions/{accepted.id}?key={accepted.key}"
    when = accepted.timing.label + (f", {accepted.timing.penalty:.0%} late penalty"
                                    if accepted.timing.penalty else "")
    ahead = max(0, accepted.position - 1)
    title = (site.assignments.get(upload.assignment) or site.assignment).title or upload.assignment
    message = (f"Submitted {upload.file_name} for grading ({title}): attempt {accepted.attempt}, {when}. "
               + (f"{ahead} submission(s) ahead of it. " if ahead else "")
               + f"Follow its grading and see your result at {url}")
    site.service.log(f"accepted {learner.learner}: submission {accepted.id}, attempt {accepted.attempt}, {when}")
    # Server-Timing: the service's own time for this submission, from its first byte read to its
    # commit, and its phases (what a client's latency adds to it is the network's, and the client's own).
    return JSONResponse({"id": accepted.id, "status": "queued", "attempt": accepted.attempt,
                         "timing": accepted.timing.label, "penalty": accepted.timing.penalty,
                         "position": accepted.position, "received_at": accepted.received_at,
                         "url": url, "learnerMessage": message}, status_code=201,
                        headers={"server-timing": clock.header("accept")})


class _Phases:
    """A submission's time on the service, phase by phase (for its ``Server-Timing`` header)."""

    def __init__(self):
        self.started = self.last = time.monotonic()
        self.laps: list[tuple[str, float]] = []

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self.laps.append((name, now - self.last))
        self.last = now

    def header(self, total: str) -> str:
        return ", ".join(f"{name};dur={seconds * 1000:.1f}" for name, seconds in
                         [(total, time.monotonic() - self.started), *self.laps])


INLINE = 256 * 1024   # bodies parsed and checked on the event loop; larger ones in the thread pool


def _checked(site: Site, learner, upload):
    """The assignment ``upload`` is for, once the learner may submit it and it is a notebook of it."""
    from .lti_services import left_course

    gone = left_course(site.out, learner.learner)   # an LMS course's learner who left it
    if gone is not None:
        raise gone
    assignment = site.assignments.get(upload.assignment) or site.assignment
    check_notebook(upload, assignment)
    return assignment


# --- a submission's pages -------------------------------------------------------------------------

def _key_param(request) -> str:
    return f"?key={request.query_params['key']}" if request.query_params.get("key") else ""


def _not_found(request, error: Refused):
    return _site(request).message_page(request, "Not found" if error.status == 404 else "Not now", error)


async def submission_page(request):
    """``GET /submissions/ID``: queued, live progress, then the feedback page."""
    site = _site(request)
    try:
        row = await site.find(request)
    except Refused as error:
        return _not_found(request, error)
    data = await run_in_threadpool(views.submission, site.service, row)
    return site.page(request, "serve_submission.html.j2", s=data, key=_key_param(request),
                     status_json=json.dumps(data))


async def submission_status(request):
    """``GET /submissions/ID/status``: the submission's page as JSON."""
    site = _site(request)
    try:
        row = await site.find(request)
    except Refused as error:
        return refusal(error)
    return JSONResponse(await run_in_threadpool(views.submission, site.service, row))


async def submission_feedback(request):
    """``GET /submissions/ID/feedback``: that submission's feedback page (framed by its page)."""
    site = _site(request)
    try:
        row = await site.find(request)
    except Refused as error:
        return _not_found(request, error)
    return site.html(request, await run_in_threadpool(_feedback, site, row), framed=True)


def _feedback(site: Site, row) -> str:
    from ..batch.engine import load_result
    from ..corrections import Corrections
    from ..report.html import feedback_page, notebook_images
    from .store import executed_folder

    result = load_result(submission_folder(site.out, row["id"]) / RESULT_FILE)
    if result is None:
        return render_page("serve_message.html.j2", title="Not graded yet",
                           message="This submission is not graded yet: its page shows its progress.")
    images = notebook_images(executed_folder(site.out) / f"{row['id']}.ipynb")
    slot = site.service.slot(row)
    return feedback_page(result, assignment_title=slot.title, images=images,
                         corrections=Corrections.load(slot.folder))


# --- a learner's own submissions ------------------------------------------------------------------

async def me(request):
    """``GET /me``: a learner's submissions; ``POST /me``: sign in with email and token."""
    site = _site(request)
    if request.method == "POST":
        try:
            site.check_address(request)
            form = _form(await request.body())   # capped and timed by BodyGuard
            who = await site.signed_in(request, form.get("email", ""), form.get("token", ""))
        except Refused as error:
            return site.page(request, "serve_learner.html.j2", http_status=error.status,
                             retry_after=error.retry_after, title=site.title, message=error.message,
                             learner="", rows=[], assignments=[])
        response = RedirectResponse("/me", status_code=303)
        import secrets

        site.set_session(request, response, "learner", who.learner, {"csrf": secrets.token_urlsafe(24)})
        return response
    role, learner = site.session(request)
    rows = []
    if role == "learner":
        rows = await run_in_threadpool(lambda: [dict(r) for r in site.service.queue.of_learner(learner)])
    return site.page(request, "serve_learner.html.j2", title=site.title, message="",
                     learner=learner if role == "learner" else "", rows=rows,
                     assignments=[{"id": i, "title": slot.title} for i, slot in site.service.slots.items()])


def _form(body: bytes) -> dict:
    from urllib.parse import parse_qs

    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", errors="replace")).items()}


# --- the instructor's pages -----------------------------------------------------------------------

async def instructor_page(request):
    """``GET /instructor``: the queue, throughput and the class gradebook so far."""
    site = _site(request)
    try:
        site.require_instructor(request)
    except Refused as error:
        return site.message_page(request, "Instructors only", error)
    status = await run_in_threadpool(views.instructor, site.service)
    books = []
    for assignment_id, slot in site.service.slots.items():
        columns, rows = await run_in_threadpool(views.gradebook, site.service, assignment_id)
        shown = [c for c in columns if c not in ("submission", "max_total", "failed_parts", "grader_total",
                                                 "overridden") and "@" not in c]
        books.append({"id": assignment_id, "title": slot.title, "columns": shown, "rows": rows})
    response = site.page(request, "serve_instructor.html.j2", title=site.title, status=status, books=books,
                         course=site.service.course, status_json=json.dumps(status))
    if request.query_params.get("key") and site.session(request)[0] != "instructor":
        site.set_session(request, response, "instructor")
    return response


async def instructor_status(request):
    """``GET /instructor/status``: the instructor's page as JSON."""
    site = _site(request)
    try:
        site.require_instructor(request)
    except Refused as error:
        return refusal(error)
    return JSONResponse(await run_in_threadpool(views.instructor, site.service))


async def instructor_gradebook(request):
    """``GET /instructor/gradebook.csv``: the class gradebook so far."""
    site = _site(request)
    try:
        site.require_instructor(request)
    except Refused as error:
        return refusal(error)
    assignment_id = request.query_params.get("assignment") or site.assignment.id
    if assignment_id not in site.service.slots:
        return refusal(Refused(404, f"No assignment {assignment_id[:80]!r} in this service: one of "
                                    f"{', '.join(site.service.slots)}.", code="not-found"))
    columns, rows = await run_in_threadpool(views.gradebook, site.service, assignment_id)
    return Response(gradebook_csv(columns, rows), media_type="text/csv")


# --- the rest --------------------------------------------------------------------------------------

async def health(request):
    """``GET /healthz``: ``ok`` while the grading side runs."""
    service = _site(request).service
    if service.failure is not None:
        return PlainTextResponse(f"grading stopped: {service.failure}\n", status_code=503)
    return PlainTextResponse("ok\n")


async def home(request):
    site = _site(request)
    titles = ", ".join(f"\u201c{slot.title}\u201d" for slot in site.service.slots.values())
    return site.page(request, "serve_message.html.j2", title=site.title,
                     message=f"This server grades {titles}. Submit from your notebook with "
                             f"grader.submit(email, token), or from your assignment's page (open it from your "
                             f"LMS, or sign in at /me).")


async def http_error(request, exc: HTTPException):
    """An unknown address or a method a route does not take: the error body of every refusal."""
    code = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "refused")
    text = {404: "There is nothing at this address: submit with grader.submit(email, token), and "
                 "open the links it printed.",
            405: f"{request.method} is not how this address is used: submit with grader.submit(email, "
                 f"token), and open the links it printed."}.get(exc.status_code, str(exc.detail))
    response = refusal(Refused(exc.status_code, text, code=code))
    response.headers.update(exc.headers or {})   # 405: Allow
    return response
