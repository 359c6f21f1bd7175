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

Hostile input (issue #24; ``docs/operator/service-security.md``): every body is capped and
has deadlines before a route reads it, every answer carries the security headers
(:mod:`grader.serve.protect`); failed sign-ins are throttled per learner and per client
address, sessions are bounded (:mod:`grader.serve.sessions`); every refusal is a 4xx with
``details.learnerMessage``, and writes nothing.
"""
from __future__ import annotations

import asyncio
import hmac
import json
import math
import secrets
import time
from pathlib import Path

from ..report.html import render_page
from ..report.table import gradebook_csv
from . import views
from .policy import Refused, duration
from .protect import BodyGuard, SecurityHeaders, content_security_policy, refusal, with_nonce
from .queue import RESULT_FILE, refuse_unknown
from .sessions import PER_ADDRESS, PER_LEARNER, SESSION_S, FailureThrottle, Sessions
from .store import serve_folder, submission_folder
from .tokens import authenticate
from .upload import body_limit, check_notebook, parse, too_large

COOKIE = "grader_session"
SUBMIT_PATHS = ("/submit", "/api/onDemandProgrammingScriptSubmissions.v1")
FORM_LIMIT = 16 * 1024    # POST /me: an email and a token
OTHER_LIMIT = 4 * 1024    # every other route reads no body; a small one is let through unread


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


def same_secret(given: str, expected: str) -> bool:
    """``given == expected`` in constant time, for any text (``secrets.compare_digest`` raises
    TypeError on a str that is not ASCII: a key typed with an accent must be a 403, not a 500)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


def _throttled(wait: float, whose: str) -> Refused:
    at = time.strftime("%H:%M UTC", time.gmtime(time.time() + wait))
    return Refused(429, f"Too many failed sign-ins {whose}: try again in {duration(math.ceil(wait))} (after "
                        f"{at}). Check the email and the token you were sent; ask your instructor for a new "
                        f"token if it no longer works.", code="throttled", retry_after=wait)


def build_app(service, *, public_url: str = "", request_timeout: float = 30.0):
    """The Starlette application of ``service`` (a :class:`grader.serve.service.GradingService`);
    ``request_timeout``: the longest wait for a request body's next bytes (408 after it)."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
    from starlette.middleware import Middleware
    from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
    from starlette.routing import Route

    out, assignment = service.out, service.assignment
    key = instructor_key(out)
    sessions = Sessions()
    per_learner, per_address = FailureThrottle(*PER_LEARNER), FailureThrottle(*PER_ADDRESS)
    title = assignment.title or assignment.id

    def base(request) -> str:
        return (public_url or str(request.base_url)).rstrip("/")

    def html(request, text: str, *, status: int = 200, framed: bool = False, retry_after=None) -> HTMLResponse:
        """A page under the answer's CSP (``framed``: the learner's page may frame it)."""
        nonce = request.state.csp_nonce
        headers = ({"content-security-policy": content_security_policy(nonce, framed_by_self=True),
                    "x-frame-options": "SAMEORIGIN"} if framed else {})
        if retry_after is not None:
            headers["retry-after"] = str(max(1, math.ceil(retry_after)))
        return HTMLResponse(with_nonce(text, nonce), status_code=status, headers=headers)

    def page(request, template: str, *, http_status: int = 200, retry_after=None, **context) -> HTMLResponse:
        return html(request, render_page(template, **context), status=http_status, retry_after=retry_after)

    def message_page(request, title_: str, error: Refused) -> HTMLResponse:
        return page(request, "serve_message.html.j2", http_status=error.status, retry_after=error.retry_after,
                    title=title_, message=error.message)

    def set_session(request, response, role: str, learner: str = "") -> None:
        # Secure when learners reach the service over https (--public-url, or a trusted proxy's
        # X-Forwarded-Proto, which uvicorn's proxy headers turn into the request's scheme).
        secure = public_url.lower().startswith("https://") or request.url.scheme == "https"
        response.set_cookie(COOKIE, sessions.open(role, learner), max_age=SESSION_S, httponly=True,
                            samesite="lax", secure=secure)

    def session(request) -> tuple[str, str]:
        return sessions.of(request.cookies.get(COOKIE, ""))

    # --- failed sign-ins ---------------------------------------------------------------------

    def address(request) -> str:
        return request.client.host if request.client else "-"

    def check_address(request) -> None:
        wait = per_address.wait(address(request))
        if wait > 0:
            raise _throttled(wait, "from your network address")

    def check_learner(whose: str) -> None:
        wait = per_learner.wait(whose) if whose else 0.0
        if wait > 0:
            raise _throttled(wait, f"for {whose[:100]}")

    def failed(request, whose: str = "") -> None:
        """Count a failed sign-in; the failure that reaches a limit is logged (once a window)."""
        here = address(request)
        for throttle, counted, what in ((per_address, here, f"from {here}"),
                                        (per_learner, whose, f"for {whose[:100]}")):
            if counted:
                throttle.failed(counted)
                wait = throttle.wait(counted)
                if wait > 0:   # (a throttled key is refused before it is checked: this is the one)
                    service.log(f"sign-ins {what} throttled for {duration(math.ceil(wait))} after "
                                f"{throttle.limit} failures (the last from {here})")

    # Sign-ins are checked one at a time: the limits are exact however many arrive at once (each
    # is one indexed SQLite read, about a millisecond), and one learner's simultaneous
    # submissions with the right token are not mistaken for guesses.
    signing_in = asyncio.Lock()

    async def signed_in(request, email, token):
        """The learner these credentials are, or :class:`Refused` (401, 403; 429 past the limits)."""
        whose = email.strip().lower() if isinstance(email, str) else ""
        async with signing_in:
            check_address(request)
            check_learner(whose)
            try:
                learner = await run_in_threadpool(authenticate, out, email, token)
            except Refused:
                failed(request, whose)
                raise
        per_learner.forget(whose)
        return learner

    # --- submitting ----------------------------------------------------------------------------

    def take(learner, upload):
        check_notebook(upload, assignment)
        return service.queue.accept(learner, upload)

    async def submit(request):
        try:
            check_address(request)
            body = await request.body()   # capped and timed by BodyGuard
            upload = await run_in_threadpool(parse, body, assignment)
            learner = await signed_in(request, upload.email, upload.token)
            accepted = await run_in_threadpool(take, learner, upload)
        except Refused as error:
            return refusal(error)
        url = f"{base(request)}/submissions/{accepted.id}?key={accepted.key}"
        when = accepted.timing.label + (f", {accepted.timing.penalty:.0%} late penalty"
                                        if accepted.timing.penalty else "")
        ahead = max(0, accepted.position - 1)
        message = (f"Submitted {upload.file_name} for grading ({title}): attempt {accepted.attempt}, {when}. "
                   + (f"{ahead} submission(s) ahead of it. " if ahead else "")
                   + f"Follow its grading and see your result at {url}")
        service.log(f"accepted {learner.learner}: submission {accepted.id}, attempt {accepted.attempt}, {when}")
        return JSONResponse({"id": accepted.id, "status": "queued", "attempt": accepted.attempt,
                             "timing": accepted.timing.label, "penalty": accepted.timing.penalty,
                             "position": accepted.position, "received_at": accepted.received_at,
                             "url": url, "learnerMessage": message}, status_code=201)

    # --- a submission's pages ------------------------------------------------------------------

    def allowed(request, row) -> bool:
        role, learner = session(request)
        if role == "instructor" or (role == "learner" and row is not None and row["learner"] == learner):
            return True
        return row is not None and service.queue.opens(row["id"], request.query_params.get("key", "")) is not None

    async def find(request):
        """The submission the path names, if this request may see it; :class:`Refused` otherwise
        (404 for unknown and not yours alike; a wrong key counts as a failed sign-in)."""
        keyed = bool(request.query_params.get("key"))
        if keyed:
            check_address(request)
        row = await run_in_threadpool(service.queue.row, request.path_params["id"])
        if not await run_in_threadpool(allowed, request, row):
            if keyed:
                failed(request)
            refuse_unknown(None)
        return row

    def _key_param(request) -> str:
        return f"?key={request.query_params['key']}" if request.query_params.get("key") else ""

    def not_found(request, error: Refused) -> HTMLResponse:
        return message_page(request, "Not found" if error.status == 404 else "Not now", error)

    async def submission_page(request):
        try:
            row = await find(request)
        except Refused as error:
            return not_found(request, error)
        data = await run_in_threadpool(views.submission, service, row)
        return page(request, "serve_submission.html.j2", s=data, key=_key_param(request),
                    status_json=json.dumps(data))

    async def submission_status(request):
        try:
            row = await find(request)
        except Refused as error:
            return refusal(error)
        return JSONResponse(await run_in_threadpool(views.submission, service, row))

    async def submission_feedback(request):
        try:
            row = await find(request)
        except Refused as error:
            return not_found(request, error)
        return html(request, await run_in_threadpool(_feedback, row), framed=True)

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

    # --- a learner's own submissions -----------------------------------------------------------

    async def me(request):
        if request.method == "POST":
            try:
                check_address(request)
                form = _form(await request.body())   # capped and timed by BodyGuard
                who = await signed_in(request, form.get("email", ""), form.get("token", ""))
            except Refused as error:
                return page(request, "serve_learner.html.j2", http_status=error.status,
                            retry_after=error.retry_after, title=title, message=error.message, learner="", rows=[])
            response = RedirectResponse("/me", status_code=303)
            set_session(request, response, "learner", who.learner)
            return response
        role, learner = session(request)
        rows = []
        if role == "learner":
            rows = await run_in_threadpool(lambda: [dict(r) for r in service.queue.of_learner(learner)])
        return page(request, "serve_learner.html.j2", title=title, message="",
                    learner=learner if role == "learner" else "", rows=rows)

    # --- the instructor's pages ----------------------------------------------------------------

    def instructor_only(request) -> bool:
        """Whether the request is the instructor's (the key, or a session the key opened);
        :class:`Refused` (429) after too many wrong keys from its address."""
        given = request.query_params.get("key", "")
        if given:
            check_address(request)
            if same_secret(given, key):
                return True
            failed(request)
        return session(request)[0] == "instructor"

    def instructors_only() -> Refused:
        return Refused(403, "Instructors only: open the instructor link grader serve printed (it carries the "
                            "key in OUT/serve/instructor.key).", code="instructors-only")

    async def instructor_page(request):
        try:
            if not instructor_only(request):
                raise instructors_only()
        except Refused as error:
            return message_page(request, "Instructors only", error)
        status = await run_in_threadpool(views.instructor, service)
        columns, rows = await run_in_threadpool(views.gradebook, service)
        shown = [c for c in columns if c not in ("submission", "max_total", "failed_parts", "grader_total",
                                                 "overridden") and "@" not in c]
        response = page(request, "serve_instructor.html.j2", title=title, status=status, columns=shown,
                        rows=rows, status_json=json.dumps(status))
        if request.query_params.get("key") and session(request)[0] != "instructor":
            set_session(request, response, "instructor")
        return response

    async def instructor_status(request):
        try:
            if not instructor_only(request):
                raise instructors_only()
        except Refused as error:
            return refusal(error)
        return JSONResponse(await run_in_threadpool(views.instructor, service))

    async def instructor_gradebook(request):
        try:
            if not instructor_only(request):
                raise instructors_only()
        except Refused as error:
            return refusal(error)
        columns, rows = await run_in_threadpool(views.gradebook, service)
        return Response(gradebook_csv(columns, rows), media_type="text/csv")

    # --- the rest ------------------------------------------------------------------------------

    async def health(request):
        from starlette.responses import PlainTextResponse

        if service.failure is not None:
            return PlainTextResponse(f"grading stopped: {service.failure}\n", status_code=503)
        return PlainTextResponse("ok\n")

    async def home(request):
        return page(request, "serve_message.html.j2", title=title,
                    message=f"This server grades \u201c{title}\u201d. Submit from your notebook with "
                            f"grader.submit(email, token); see your submissions at /me.")

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

    def limit_of(path: str) -> int:
        if path in SUBMIT_PATHS:
            return body_limit(assignment)
        return FORM_LIMIT if path == "/me" else OTHER_LIMIT

    def too_large_for(path: str) -> Refused:
        if path in SUBMIT_PATHS:
            return too_large(assignment)
        return Refused(413, "This request is larger than this address accepts: use the sign-in form of "
                            "/me, or the links grader.submit printed.", code="too-large")

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
    ]
    middleware = [Middleware(SecurityHeaders),
                  Middleware(BodyGuard, limit_of=limit_of, too_large=too_large_for,
                             request_timeout=request_timeout)]
    return Starlette(routes=routes, middleware=middleware, exception_handlers={HTTPException: http_error})


def _form(body: bytes) -> dict:
    from urllib.parse import parse_qs

    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", errors="replace")).items()}
