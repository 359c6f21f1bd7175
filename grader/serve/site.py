"""What every route of ``grader serve`` shares: the service, the keys, the sessions, the throttles.

:class:`Site` lives on the Starlette application (``app.state.site``); the endpoints
(:mod:`grader.serve.app`) are module-level functions that read it from their request.  It
signs learners and instructors in (with the failed-sign-in throttles of
:mod:`grader.serve.sessions`), decides who may see a submission, and renders pages under
the answer's Content-Security-Policy (:mod:`grader.serve.protect`).
"""
from __future__ import annotations

import asyncio
import hmac
import math
import secrets
import time
from pathlib import Path

from ..report.html import render_page
from .policy import Refused, duration
from .protect import content_security_policy, with_nonce
from .queue import refuse_unknown
from .sessions import PER_ADDRESS, PER_LEARNER, SESSION_S, FailureThrottle, Sessions
from .store import serve_folder
from .tokens import authenticate
from .upload import body_limit, too_large

COOKIE = "grader_session"
SUBMIT_PATHS = ("/submit", "/api/onDemandProgrammingScriptSubmissions.v1")
FORM_LIMIT = 16 * 1024    # POST /me: an email and a token
OTHER_LIMIT = 4 * 1024    # every other route reads no body; a small one is let through unread


def _loopback(host: str | None) -> bool:
    from ..post.destinations.base import _loopback as loopback

    return bool(host) and loopback(host.strip("[]"))


def framed_cookie(response, name: str, value: str, *, max_age: int, path: str = "/") -> None:
    """A cookie for inside the LMS's frame: ``HttpOnly; SameSite=None; Secure; Partitioned`` (CHIPS).
    Written by hand: Starlette writes ``Partitioned`` only on Python 3.14's ``http.cookies``.  The
    value is URL-safe base64 (a session or state token), so it needs no quoting."""
    response.headers.append("set-cookie", f"{name}={value}; Max-Age={max_age}; Path={path}; HttpOnly; "
                                          f"SameSite=None; Secure; Partitioned")


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


def instructors_only() -> Refused:
    return Refused(403, "Instructors only: open the instructor link grader serve printed (it carries the "
                        "key in OUT/serve/instructor.key).", code="instructors-only")


class Tickets(dict):
    """ticket -> (session cookie, page, monotonic expiry); at most :data:`TICKETS_MAX`, expired ones
    dropped first (an LTI launch's page, opened once: :mod:`grader.serve.lti_app`)."""

    def __setitem__(self, key, value):
        now = time.monotonic()
        for old in [k for k, v in self.items() if v[2] < now]:
            del self[old]
        while len(self) >= TICKETS_MAX:
            del self[next(iter(self))]
        super().__setitem__(key, value)


TICKETS_MAX = 10_000


class Site:
    """The state of one service's web side (see the module docstring)."""

    def __init__(self, service, *, public_url: str = ""):
        self.service, self.public_url = service, public_url
        self.out, self.assignment = service.out, service.assignment
        self.title = (self.assignment.title or self.assignment.id) if not service.course else \
            "Course of " + ", ".join(service.slots)
        self.key = instructor_key(self.out)
        self.sessions = Sessions()
        self.per_learner, self.per_address = FailureThrottle(*PER_LEARNER), FailureThrottle(*PER_ADDRESS)
        # Sign-ins are checked one at a time: the limits are exact however many arrive at once (each
        # is one indexed SQLite read, about a millisecond), and one learner's simultaneous
        # submissions with the right token are not mistaken for guesses.
        self.signing_in = asyncio.Lock()
        self._origins: tuple[float, list[str]] | None = None
        from .lti import KeyCache

        self.lti_keys = KeyCache()   # the LMSs' public keys, fetched when a kid is new
        self.tickets = Tickets()     # a launch's page, opened once (grader.serve.lti_app)
        self.assignments = dict(service.assignments)

    # --- assignments -----------------------------------------------------------------------------

    def assignment_of_link(self, name: str):
        """The assignment an LTI link names (its custom ``assignment``); without a name, the service's
        only assignment; None when there is no such assignment."""
        if name:
            return self.assignments.get(name)
        return next(iter(self.assignments.values())) if len(self.assignments) == 1 else None

    def assignment_of_row(self, row) -> str:
        return row["assignment"] or self.assignment.id

    def results_folder(self, assignment_id: str) -> Path:
        return self.service.folder_of(assignment_id)

    def base(self, request) -> str:
        return (self.public_url or str(request.base_url)).rstrip("/")

    # --- pages -----------------------------------------------------------------------------------

    def html(self, request, text: str, *, status: int = 200, framed: bool = False, retry_after=None,
             form_action: tuple[str, ...] = (), lms_framed: bool = False):
        """A page under the answer's CSP (``framed``: the learner's page may frame it).

        Framing, per route: no page may be framed by another site, except by the LMS an LTI launch
        came from (the origin of its registration, :mod:`grader.serve.lti`), for the pages of the
        session that launch opened; the feedback page, framed by the learner's page, by its own
        origin (and so inside the LMS's frame, by the registered LMSs too)."""
        from starlette.responses import HTMLResponse

        nonce = request.state.csp_nonce
        lms = self.session_data(request).get("frame_origin", "")
        if lms_framed:   # a launch's own pages, before its session: any registered LMS may frame them
            headers = {"content-security-policy": content_security_policy(
                nonce, framed_by=tuple(self.lms_origins()) or (lms,) if (self.lms_origins() or lms) else (),
                form_action=form_action)}
            if not (self.lms_origins() or lms):
                headers["x-frame-options"] = "DENY"
        elif framed:
            headers = {"content-security-policy": content_security_policy(
                nonce, framed_by_self=True, framed_by=tuple(self.lms_origins()), form_action=form_action)}
            if not self.lms_origins():
                headers["x-frame-options"] = "SAMEORIGIN"
        elif lms or form_action:
            headers = {"content-security-policy": content_security_policy(
                nonce, framed_by=(lms,) if lms else (), form_action=form_action)}
            if not lms:
                headers["x-frame-options"] = "DENY"
        else:
            headers = {}
        if retry_after is not None:
            headers["retry-after"] = str(max(1, math.ceil(retry_after)))
        return HTMLResponse(with_nonce(text, nonce), status_code=status, headers=headers)

    def page(self, request, template: str, *, http_status: int = 200, retry_after=None, lms_framed: bool = False,
             form_action: tuple[str, ...] = (), **context):
        return self.html(request, render_page(template, **context), status=http_status, retry_after=retry_after,
                         lms_framed=lms_framed, form_action=form_action)

    def message_page(self, request, title: str, error: Refused):
        return self.page(request, "serve_message.html.j2", http_status=error.status,
                         retry_after=error.retry_after, title=title, message=error.message)

    # --- sessions --------------------------------------------------------------------------------

    def secure(self, request) -> bool:
        """Whether the browser reaches the service over https (--public-url, or a trusted proxy's
        X-Forwarded-Proto, which uvicorn's proxy headers turn into the request's scheme)."""
        return self.public_url.lower().startswith("https://") or request.url.scheme == "https"

    def set_session(self, request, response, role: str, learner: str = "", data: dict | None = None, *,
                    framed: bool = False) -> str:
        """Open a session and set its cookie; returns the cookie's value.

        ``framed``: the session of an LTI launch, used inside the LMS's frame, where the service is a
        third party: its cookie is ``SameSite=None; Secure; Partitioned`` (CHIPS: kept in a jar of the
        LMS's site only, which browsers that block third-party cookies still allow).  ``Secure``
        needs https, or a loopback address (browsers treat those as secure): elsewhere the cookie
        is a plain first-party one, and the launch continues in a window of its own
        (``docs/operator/lti.md``)."""
        token = self.sessions.open(role, learner, data)
        if framed and (self.secure(request) or _loopback(request.url.hostname)):
            framed_cookie(response, COOKIE, token, max_age=SESSION_S)
        else:
            response.set_cookie(COOKIE, token, max_age=SESSION_S, httponly=True, samesite="lax",
                                secure=self.secure(request))
        return token

    def session(self, request) -> tuple[str, str]:
        """(role, learner) of the request's session; ("", "") without one."""
        return self.sessions.of(request.cookies.get(COOKIE, ""))

    def session_data(self, request) -> dict:
        """What the request's session carries besides who it is ({} without one)."""
        return self.sessions.get(request.cookies.get(COOKIE, ""))[2]

    def lms_origins(self) -> list[str]:
        """The registered LMSs' origins (read again after 5 s: a new registration needs no restart)."""
        now = time.monotonic()
        if self._origins is None or self._origins[0] < now:
            from .lti import origins

            self._origins = (now + 5, origins(self.out))
        return self._origins[1]

    # --- failed sign-ins -------------------------------------------------------------------------

    @staticmethod
    def address(request) -> str:
        return request.client.host if request.client else "-"

    def check_address(self, request) -> None:
        """:class:`Refused` (429) when the request's address has failed to sign in too often."""
        wait = self.per_address.wait(self.address(request))
        if wait > 0:
            raise _throttled(wait, "from your network address")

    def check_learner(self, whose: str) -> None:
        wait = self.per_learner.wait(whose) if whose else 0.0
        if wait > 0:
            raise _throttled(wait, f"for {whose[:100]}")

    def failed(self, request, whose: str = "") -> None:
        """Count a failed sign-in; the failure that reaches a limit is logged (once a window)."""
        here = self.address(request)
        for throttle, counted, what in ((self.per_address, here, f"from {here}"),
                                        (self.per_learner, whose, f"for {whose[:100]}")):
            if counted:
                throttle.failed(counted)
                wait = throttle.wait(counted)
                if wait > 0:   # (a throttled key is refused before it is checked: this is the one)
                    self.service.log(f"sign-ins {what} throttled for {duration(math.ceil(wait))} after "
                                     f"{throttle.limit} failures (the last from {here})")

    async def signed_in(self, request, email, token):
        """The learner these credentials are, or :class:`Refused` (401, 403; 429 past the limits).

        Checked on the event loop's thread, one at a time (the limits are exact however many
        arrive at once): one indexed read of the event loop's own SQLite connection (WAL: never
        waits for a writer), a fraction of a millisecond.  Through the thread pool instead, a
        burst of 200 submissions queued each sign-in behind the others' uploads and fsyncs, and
        the lock made them wait in turn: seconds at the p99 (bench/bench_serve.py)."""
        whose = email.strip().lower() if isinstance(email, str) else ""
        async with self.signing_in:
            self.check_address(request)
            self.check_learner(whose)
            try:
                learner = authenticate(self.out, email, token)
            except Refused:
                self.failed(request, whose)
                raise
        self.per_learner.forget(whose)
        return learner

    # --- who may see what ------------------------------------------------------------------------

    def allowed(self, request, row) -> bool:
        role, learner = self.session(request)
        if role == "instructor" or (role == "learner" and row is not None and row["learner"] == learner):
            return True
        return row is not None and \
            self.service.queue.opens(row["id"], request.query_params.get("key", "")) is not None

    async def find(self, request):
        """The submission the path names, if this request may see it; :class:`Refused` otherwise
        (404 for unknown and not yours alike; a wrong key counts as a failed sign-in)."""
        from starlette.concurrency import run_in_threadpool

        keyed = bool(request.query_params.get("key"))
        if keyed:
            self.check_address(request)
        row = await run_in_threadpool(self.service.queue.row, request.path_params["id"])
        if not await run_in_threadpool(self.allowed, request, row):
            if keyed:
                self.failed(request)
            refuse_unknown(None)
        return row

    def instructor(self, request) -> bool:
        """Whether the request is the instructor's (the key, or a session the key opened);
        :class:`Refused` (429) after too many wrong keys from its address."""
        given = request.query_params.get("key", "")
        if given:
            self.check_address(request)
            if same_secret(given, self.key):
                return True
            self.failed(request)
        return self.session(request)[0] == "instructor"

    def require_instructor(self, request) -> None:
        """:class:`Refused` (403, or 429) unless the request is the instructor's."""
        if not self.instructor(request):
            raise instructors_only()

    # --- bodies ----------------------------------------------------------------------------------

    def limit_of(self, path: str) -> int:
        """The largest body a route reads (:class:`grader.serve.protect.BodyGuard`)."""
        if path in SUBMIT_PATHS:
            return max(body_limit(a) for a in self.assignments.values())
        from .lti import BODY_LIMITS

        if path in BODY_LIMITS:
            return BODY_LIMITS[path]
        if path.startswith("/assignments/") and path.endswith("/upload"):
            found = self.assignments.get(path.split("/")[2])
            return int((found or self.assignment).submissions.max_upload_mb * 1024 * 1024) + 1
        return FORM_LIMIT if path == "/me" else OTHER_LIMIT

    def too_large_for(self, path: str) -> Refused:
        if path in SUBMIT_PATHS:
            return too_large(self.assignment)
        if path.startswith("/assignments/") and path.endswith("/upload"):
            return too_large(self.assignments.get(path.split("/")[2]) or self.assignment)
        return Refused(413, "This request is larger than this address accepts: use the sign-in form of "
                            "/me, or the links grader.submit printed.", code="too-large")
