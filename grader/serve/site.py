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


class Site:
    """The state of one service's web side (see the module docstring)."""

    def __init__(self, service, *, public_url: str = ""):
        self.service, self.public_url = service, public_url
        self.out, self.assignment = service.out, service.assignment
        self.title = self.assignment.title or self.assignment.id
        self.key = instructor_key(self.out)
        self.sessions = Sessions()
        self.per_learner, self.per_address = FailureThrottle(*PER_LEARNER), FailureThrottle(*PER_ADDRESS)
        # Sign-ins are checked one at a time: the limits are exact however many arrive at once (each
        # is one indexed SQLite read, about a millisecond), and one learner's simultaneous
        # submissions with the right token are not mistaken for guesses.
        self.signing_in = asyncio.Lock()

    def base(self, request) -> str:
        return (self.public_url or str(request.base_url)).rstrip("/")

    # --- pages -----------------------------------------------------------------------------------

    def html(self, request, text: str, *, status: int = 200, framed: bool = False, retry_after=None):
        """A page under the answer's CSP (``framed``: the learner's page may frame it)."""
        from starlette.responses import HTMLResponse

        nonce = request.state.csp_nonce
        headers = ({"content-security-policy": content_security_policy(nonce, framed_by_self=True),
                    "x-frame-options": "SAMEORIGIN"} if framed else {})
        if retry_after is not None:
            headers["retry-after"] = str(max(1, math.ceil(retry_after)))
        return HTMLResponse(with_nonce(text, nonce), status_code=status, headers=headers)

    def page(self, request, template: str, *, http_status: int = 200, retry_after=None, **context):
        return self.html(request, render_page(template, **context), status=http_status, retry_after=retry_after)

    def message_page(self, request, title: str, error: Refused):
        return self.page(request, "serve_message.html.j2", http_status=error.status,
                         retry_after=error.retry_after, title=title, message=error.message)

    # --- sessions --------------------------------------------------------------------------------

    def set_session(self, request, response, role: str, learner: str = "") -> None:
        # Secure when learners reach the service over https (--public-url, or a trusted proxy's
        # X-Forwarded-Proto, which uvicorn's proxy headers turn into the request's scheme).
        secure = self.public_url.lower().startswith("https://") or request.url.scheme == "https"
        response.set_cookie(COOKIE, self.sessions.open(role, learner), max_age=SESSION_S, httponly=True,
                            samesite="lax", secure=secure)

    def session(self, request) -> tuple[str, str]:
        """(role, learner) of the request's session; ("", "") without one."""
        return self.sessions.of(request.cookies.get(COOKIE, ""))

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
        """The learner these credentials are, or :class:`Refused` (401, 403; 429 past the limits)."""
        from starlette.concurrency import run_in_threadpool

        whose = email.strip().lower() if isinstance(email, str) else ""
        async with self.signing_in:
            self.check_address(request)
            self.check_learner(whose)
            try:
                learner = await run_in_threadpool(authenticate, self.out, email, token)
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
            return body_limit(self.assignment)
        return FORM_LIMIT if path == "/me" else OTHER_LIMIT

    def too_large_for(self, path: str) -> Refused:
        if path in SUBMIT_PATHS:
            return too_large(self.assignment)
        return Refused(413, "This request is larger than this address accepts: use the sign-in form of "
                            "/me, or the links grader.submit printed.", code="too-large")
