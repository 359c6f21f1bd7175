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
unknown submission and someone else's look alike: 404.  Blocking work (SQLite,
files, parsing a notebook) runs in Starlette's thread pool, so one slow upload
never holds the others.
"""
from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

from ..report.html import render_page
from ..report.table import gradebook_csv
from . import views
from .policy import Refused
from .queue import RESULT_FILE, refuse_unknown
from .store import serve_folder, submission_folder
from .tokens import authenticate
from .upload import body_limit, check_notebook, parse, too_large

COOKIE = "grader_session"
SESSION_S = 12 * 3600
_DRAIN_LIMIT = 1024 * 1024 * 1024   # an oversized body is read and dropped up to this, so that the
                                    # learner's client gets the 413 rather than a broken connection


def instructor_key(out: Path) -> str:
    """The instructor key of ``out``'s service (made on first use, owner-only)."""
    import os

    path = serve_folder(out) / "instructor.key"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(24))
    return path.read_text().strip()


class Sessions:
    """Browser sessions after a login (in memory: a restart asks to log in again)."""

    def __init__(self):
        self._sessions: dict[str, tuple[str, str, float]] = {}

    def open(self, role: str, learner: str = "") -> str:
        token = secrets.token_urlsafe(24)
        self._sessions[token] = (role, learner, time.time() + SESSION_S)
        return token

    def of(self, request) -> tuple[str, str]:
        found = self._sessions.get(request.cookies.get(COOKIE, ""))
        if found is None or found[2] < time.time():
            return "", ""
        return found[0], found[1]


def build_app(service, *, public_url: str = ""):
    """The Starlette application of ``service`` (a :class:`grader.serve.service.GradingService`)."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
    from starlette.routing import Route

    out, assignment = service.out, service.assignment
    key = instructor_key(out)
    sessions = Sessions()
    title = assignment.title or assignment.id

    def refused(error: Refused) -> JSONResponse:
        return JSONResponse({"errorCode": error.code, "message": error.message,
                             "details": {"learnerMessage": error.message}}, status_code=error.status)

    def base(request) -> str:
        return (public_url or str(request.base_url)).rstrip("/")

    async def read_body(request) -> bytes:
        limit = body_limit(assignment)
        declared = request.headers.get("content-length", "")
        chunks, size, dropping = [], 0, declared.isdigit() and int(declared) > limit
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                dropping = True
            if size > _DRAIN_LIMIT:
                break
            if not dropping:
                chunks.append(chunk)
        if dropping:
            raise too_large(assignment)
        return b"".join(chunks)

    def accept(body: bytes) -> dict:
        upload = parse(body, assignment)
        learner = authenticate(out, upload.email, upload.token)
        check_notebook(upload, assignment)
        accepted = service.queue.accept(learner, upload)
        return {"learner": learner.learner, "upload": upload, "accepted": accepted}

    async def submit(request):
        try:
            body = await read_body(request)
            done = await run_in_threadpool(accept, body)
        except Refused as error:
            return refused(error)
        accepted, upload = done["accepted"], done["upload"]
        url = f"{base(request)}/submissions/{accepted.id}?key={accepted.key}"
        when = accepted.timing.label + (f", {accepted.timing.penalty:.0%} late penalty"
                                        if accepted.timing.penalty else "")
        ahead = max(0, accepted.position - 1)
        message = (f"Submitted {upload.file_name} for grading ({title}): attempt {accepted.attempt}, {when}. "
                   + (f"{ahead} submission(s) ahead of it. " if ahead else "")
                   + f"Follow its grading and see your result at {url}")
        service.log(f"accepted {done['learner']}: submission {accepted.id}, attempt {accepted.attempt}, {when}")
        return JSONResponse({"id": accepted.id, "status": "queued", "attempt": accepted.attempt,
                             "timing": accepted.timing.label, "penalty": accepted.timing.penalty,
                             "position": accepted.position, "received_at": accepted.received_at,
                             "url": url, "learnerMessage": message}, status_code=201)

    def allowed(request, row) -> bool:
        role, learner = sessions.of(request)
        if role == "instructor" or (role == "learner" and row is not None and row["learner"] == learner):
            return True
        return row is not None and service.queue.opens(row["id"], request.query_params.get("key", "")) is not None

    def find(request):
        row = service.queue.row(request.path_params["id"])
        if not allowed(request, row):
            refuse_unknown(None)
        return row

    def _key_param(request) -> str:
        return f"?key={request.query_params['key']}" if request.query_params.get("key") else ""

    def not_found(error: Refused) -> HTMLResponse:
        return HTMLResponse(render_page("serve_message.html.j2", title="Not found", message=error.message),
                            status_code=404)

    async def submission_page(request):
        try:
            row = await run_in_threadpool(find, request)
        except Refused as error:
            return not_found(error)
        data = await run_in_threadpool(views.submission, service, row)
        return HTMLResponse(render_page("serve_submission.html.j2", s=data, key=_key_param(request),
                                        status_json=json.dumps(data)))

    async def submission_status(request):
        try:
            row = await run_in_threadpool(find, request)
        except Refused as error:
            return refused(error)
        return JSONResponse(await run_in_threadpool(views.submission, service, row))

    async def submission_feedback(request):
        try:
            row = await run_in_threadpool(find, request)
        except Refused as error:
            return not_found(error)
        return HTMLResponse(await run_in_threadpool(_feedback, row))

    def _feedback(row) -> str:
        from ..batch.engine import load_result
        from ..ledger import Corrections
        from ..report.html import feedback_page, notebook_images
        from .store import executed_folder

        result = load_result(submission_folder(out, row["id"]) / RESULT_FILE)
        if result is None:
            return render_page("serve_message.html.j2", title="Not graded yet",
                               message="This submission is not graded yet: its page shows its progress.")
        images = notebook_images(executed_folder(out) / f"{row['id']}.ipynb")
        return feedback_page(result, assignment_title=title, images=images, corrections=Corrections.load(out))

    async def me(request):
        message, rows, learner = "", [], ""
        if request.method == "POST":
            form = _form(await request.body())
            try:
                who = await run_in_threadpool(authenticate, out, form.get("email", ""), form.get("token", ""))
            except Refused as error:
                return HTMLResponse(render_page("serve_learner.html.j2", title=title, message=error.message,
                                                learner="", rows=[]), status_code=error.status)
            response = RedirectResponse("/me", status_code=303)
            response.set_cookie(COOKIE, sessions.open("learner", who.learner), max_age=SESSION_S,
                                httponly=True, samesite="lax")
            return response
        role, learner = sessions.of(request)
        if role == "learner":
            rows = await run_in_threadpool(lambda: [dict(r) for r in service.queue.of_learner(learner)])
        return HTMLResponse(render_page("serve_learner.html.j2", title=title, message=message,
                                        learner=learner if role == "learner" else "", rows=rows))

    def instructor_only(request):
        if secrets.compare_digest(request.query_params.get("key", ""), key):
            return True
        return sessions.of(request)[0] == "instructor"

    async def instructor_page(request):
        if not instructor_only(request):
            return HTMLResponse(render_page("serve_message.html.j2", title="Instructors only",
                                            message="Open the instructor link grader serve printed "
                                                    "(it carries the key in OUT/serve/instructor.key)."),
                                status_code=403)
        status = await run_in_threadpool(views.instructor, service)
        columns, rows = await run_in_threadpool(views.gradebook, service)
        shown = [c for c in columns if c not in ("submission", "max_total", "failed_parts", "grader_total",
                                                 "overridden") and "@" not in c]
        response = HTMLResponse(render_page("serve_instructor.html.j2", title=title, status=status,
                                            columns=shown, rows=rows, status_json=json.dumps(status)))
        if request.query_params.get("key"):
            response.set_cookie(COOKIE, sessions.open("instructor"), max_age=SESSION_S, httponly=True,
                                samesite="lax")
        return response

    async def instructor_status(request):
        if not instructor_only(request):
            return JSONResponse({"message": "instructors only"}, status_code=403)
        return JSONResponse(await run_in_threadpool(views.instructor, service))

    async def instructor_gradebook(request):
        if not instructor_only(request):
            return PlainTextResponse("instructors only\n", status_code=403)
        columns, rows = await run_in_threadpool(views.gradebook, service)
        return Response(gradebook_csv(columns, rows), media_type="text/csv")

    async def health(request):
        if service.failure is not None:
            return PlainTextResponse(f"grading stopped: {service.failure}\n", status_code=503)
        return PlainTextResponse("ok\n")

    async def home(request):
        return HTMLResponse(render_page("serve_message.html.j2", title=title,
                                        message=f"This server grades \u201c{title}\u201d. Submit from your "
                                                f"notebook with grader.submit(email, token); see your "
                                                f"submissions at /me."))

    routes = [
        Route("/", home),
        Route("/submit", submit, methods=["POST"]),
        Route("/api/onDemandProgrammingScriptSubmissions.v1", submit, methods=["POST"]),
        Route("/submissions/{id}", submission_page),
        Route("/submissions/{id}/status", submission_status),
        Route("/submissions/{id}/feedback", submission_feedback),
        Route("/me", me, methods=["GET", "POST"]),
        Route("/instructor", instructor_page),
        Route("/instructor/status", instructor_status),
        Route("/instructor/gradebook.csv", instructor_gradebook),
        Route("/healthz", health),
    ]
    return Starlette(routes=routes)


def _form(body: bytes) -> dict:
    from urllib.parse import parse_qs

    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", errors="replace")).items()}
