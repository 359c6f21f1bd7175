"""What the HTTP side of ``grader serve`` refuses before a route runs, and the headers of every answer.

* :class:`BodyGuard` (ASGI middleware): every request body is capped before it is read - refused
  at once (413) when its ``Content-Length`` says it is too large, counted as it streams otherwise
  (413 as soon as it passes the cap) - and must keep arriving: nothing new for ``request_timeout``
  seconds, or a body slower on the whole than :data:`MIN_RATE`, is a 408.  Both answers close the
  connection, so the rest of such a body is never read.  Starlette and uvicorn have no body cap
  and no body deadline of their own (uvicorn times out only idle keep-alive connections).
* :class:`SecurityHeaders` (ASGI middleware): a Content-Security-Policy with a nonce per answer
  (the pages' inline ``<script>`` and ``<style>`` carry it: :func:`with_nonce`) that forbids
  framing (``frame-ancestors 'none'``; the feedback page, framed by the learner's page, allows its
  own origin), and ``X-Frame-Options`` for browsers without CSP.
* :data:`SERVER_HEADERS`: the headers that never change (``nosniff``, no Referer - the pages'
  addresses carry keys -, ``Cache-Control: no-store`` - every page but the home page holds a
  learner's or the class's data -), given to uvicorn (``Config(headers=...)``), which adds them
  to every answer it sends, its own 503 and 500 included.
* :func:`http_protocol`: uvicorn's HTTP/1.1 protocol (httptools) with a deadline on a request's
  headers (a client that opens a connection and sends its headers a byte at a time, "slowloris",
  would otherwise hold the connection for ever: uvicorn has no such timeout) and a cap on their
  size (httptools has none).

Refusals have the service's error body: ``{"errorCode", "message", "details": {"learnerMessage"}}``.
"""
from __future__ import annotations

import asyncio
import secrets
from typing import Callable

from .policy import Refused

MIN_RATE = 32 * 1024   # bytes/s: a body may take request_timeout plus one second per 32 kB received
                       # (a 27 MB upload: 14 min at most; a learner's slowest uplink is far faster)

SERVER_HEADERS = [
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-store"),
]

_CSP = ("default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; img-src 'self' data:; "
        "connect-src 'self'; frame-src 'self'; form-action {form_action}; base-uri 'none'; "
        "frame-ancestors {ancestors}")


def content_security_policy(nonce: str, *, framed_by_self: bool = False, framed_by: tuple[str, ...] = (),
                            form_action: tuple[str, ...] = ()) -> str:
    """The CSP of an answer: framed by nobody, by its own origin (``framed_by_self``), or by its own
    origin and the LMS origins ``framed_by`` (the pages an LTI launch opens inside the LMS's frame);
    forms post to this origin only, plus ``form_action`` (a deep-linking answer posts to its LMS)."""
    ancestors = " ".join(["'self'", *framed_by]) if (framed_by_self or framed_by) else "'none'"
    return _CSP.format(nonce=nonce, ancestors=ancestors, form_action=" ".join(["'self'", *form_action]))


def with_nonce(html: str, nonce: str) -> str:
    """A rendered page whose inline ``<script>`` and ``<style>`` carry the answer's CSP nonce.

    Only the templates' own tags are written ``<script>`` / ``<style>``: every template is
    autoescaped, so no learner text can hold a ``<`` that reaches the page unescaped.
    """
    return html.replace("<script>", f'<script nonce="{nonce}">').replace("<style>", f'<style nonce="{nonce}">')


def refusal(error: Refused, *, close: bool = False):
    """The JSON answer of a refusal (``close``: and the connection is closed after it)."""
    from starlette.responses import JSONResponse

    headers = {"connection": "close"} if close else {}
    if error.retry_after is not None:
        headers["retry-after"] = str(max(1, int(error.retry_after + 0.999)))
    return JSONResponse({"errorCode": error.code, "message": error.message,
                         "details": {"learnerMessage": error.message}},
                        status_code=error.status, headers=headers)


def stalled(timeout: float) -> Refused:
    return Refused(408, f"The upload stopped arriving (nothing for {timeout:g} s, or too slow to finish): "
                        f"check your connection and submit again.", code="timeout")


class _BodyRefused(Exception):
    def __init__(self, error: Refused):
        self.error = error


def _declared_length(scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


class BodyGuard:
    """Caps and deadlines of request bodies (see the module docstring).

    ``limit_of(path)``: the most bytes a body of that route may have; ``too_large(path)``: the
    refusal that says so.
    """

    def __init__(self, app, *, limit_of: Callable[[str], int], too_large: Callable[[str], Refused],
                 request_timeout: float):
        self.app, self.limit_of, self.too_large, self.timeout = app, limit_of, too_large, request_timeout

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, limit = scope["path"], self.limit_of(scope["path"])
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await refusal(self.too_large(path), close=True)(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        started, received, finished, answering = loop.time(), 0, False, False

        async def guarded_receive():
            nonlocal received, finished
            if finished:
                return await receive()   # after the body: what the app asks (a disconnect), as it is
            wait = min(self.timeout, started + self.timeout + received / MIN_RATE - loop.time())
            try:
                if wait <= 0:
                    raise TimeoutError
                async with asyncio.timeout(wait):   # (wait_for would start a task per message)
                    message = await receive()
            except TimeoutError:
                raise _BodyRefused(stalled(self.timeout)) from None
            if message["type"] != "http.request":
                finished = True
                return message
            received += len(message.get("body", b""))
            if received > limit:
                raise _BodyRefused(self.too_large(path))
            finished = not message.get("more_body", False)
            return message

        async def tracked_send(message):
            nonlocal answering
            answering = answering or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, guarded_receive, tracked_send)
        except _BodyRefused as refused:
            if answering:   # cannot happen: every route reads its body before it answers
                raise
            await refusal(refused.error, close=True)(scope, receive, send)


class SecurityHeaders:
    """A CSP nonce per request (``request.state.csp_nonce``) and the headers that use it, added to
    every answer that has not set its own (the feedback page sets a CSP that lets its own origin
    frame it; the pages of an LTI launch, one that lets the LMS frame them, and no
    ``X-Frame-Options``, which cannot name an origin: browsers that know CSP ignore it then)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        scope.setdefault("state", {})["csp_nonce"] = nonce

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                own_policy = b"content-security-policy" in present
                for name, value in ((b"content-security-policy", content_security_policy(nonce)),
                                    (b"x-frame-options", "DENY")):
                    if name not in present and not (own_policy and name == b"x-frame-options"):
                        headers.append((name, value.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


_LATE_TEXT = b"The request's headers took too long to arrive.\n"
_HEADERS_LATE = (b"HTTP/1.1 408 Request Timeout\r\n"
                 b"content-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
                 + f"content-length: {len(_LATE_TEXT)}\r\n".encode()
                 + b"".join(f"{name}: {value}\r\n".encode() for name, value in SERVER_HEADERS)
                 + b"\r\n" + _LATE_TEXT)


MAX_HEAD = 16 * 1024   # the most bytes of a request line and headers: past it, 400


def http_protocol(request_timeout: float):
    """uvicorn's HTTP/1.1 protocol on httptools (llhttp, in C) whose connections must send a
    request's headers within ``request_timeout`` seconds of opening, or of the previous answer
    (else 408 and closed), in at most :data:`MAX_HEAD` bytes (else uvicorn's 400 "Invalid HTTP
    request received.", closed).  uvicorn's pure-Python h11 protocol cost a burst of submissions
    a third of its time (bench/bench_serve.py); httptools has no cap on a head of its own."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class GuardedProtocol(HttpToolsProtocol):
        _deadline: asyncio.TimerHandle | None = None
        _head = 0             # bytes of the request line and headers so far (0: between requests)
        _in_head = True       # the current request's head is not complete yet
        _parsed = 0           # of the current request's head, as the parser read it

        def connection_made(self, transport):
            super().connection_made(transport)
            self._arm()

        def data_received(self, data):
            if self._in_head and self._head > MAX_HEAD:
                return   # refused already (the 400 below); what more comes is not read
            before = self._head
            super().data_received(data)
            if self._in_head and not self.transport.is_closing():
                self._head = before + len(data)
                if self._head > MAX_HEAD:   # a head that never ends within the cap
                    self.send_400_response("Invalid HTTP request received.")

        def on_url(self, url):
            super().on_url(url)
            self._head_size(len(url))

        def on_header(self, name, value):
            super().on_header(name, value)
            self._head_size(len(name) + len(value) + 4)

        def on_headers_complete(self):
            self._in_head = False
            super().on_headers_complete()

        def on_response_complete(self):
            super().on_response_complete()
            self._head, self._in_head = 0, True
            self._arm()

        def connection_lost(self, exc):
            self._disarm()
            super().connection_lost(exc)

        def _head_size(self, more: int) -> None:
            """The head's size as the parser reads it (a head that ends within one large read)."""
            self._parsed += more
            if self._parsed > MAX_HEAD:
                raise ValueError("request head too large")   # httptools: HttpParserCallbackError -> 400

        def on_message_begin(self):
            self._parsed = 0
            super().on_message_begin()

        def _arm(self):
            self._disarm()
            if not self.transport.is_closing():
                self._deadline = self.loop.call_later(request_timeout, self._headers_late)

        def _disarm(self):
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _headers_late(self):
            self._deadline = None
            if self.transport.is_closing():
                return
            if self.cycle is not None and not self.cycle.response_complete:
                return   # a request is being answered: its body has BodyGuard's deadlines
            if self._head:
                self.transport.write(_HEADERS_LATE)   # part of a request came: say why it ends
            self.transport.close()                    # nothing came: close, as an idle keep-alive

    return GuardedProtocol
