"""grader serve under hostile input (issue #24): a table of attacks on a real service on 127.0.0.1.

Each case sends its request(s) and checks the answer: the expected status, the message (the
``details.learnerMessage`` of the service's error body, or the page's text), the security
headers every answer carries, that nothing was written (the rows of the service's database and
every file under OUT, compared before and after), and that the server still answers.  Cases marked
``held`` held before the issue's fixes too; they stay in the table so that they keep holding.

One service serves the whole module (``--request-timeout 1``, so that the stalled-request cases
take a second).  Its only accepted submission comes from the first attack - 20 simultaneous
submissions of one learner - and is graded before the table runs (one kernel, a few seconds), so
that OUT is quiet while the cases compare it.  Every case comes from a client address of its own
(``X-Forwarded-For``, which uvicorn trusts from 127.0.0.1, as from a reverse proxy on the same
machine), so that one case's failed sign-ins never throttle another's.

The last tests fuzz ``/submit`` and ``/me`` with Hypothesis (no 5xx, nothing written, ever), then
check the queue and stop the service with SIGTERM: exit 143, nothing left running.
"""
from __future__ import annotations

import base64
import csv
import hashlib
import io
import itertools
import json
import os
import signal
import socket
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import urlencode

import pytest
import requests

from tests.serve.harness import COURSE_KEY, SOLUTION, Service, assignment_copy, body

pytestmark = [pytest.mark.kernel]

# A notebook name that is a spreadsheet formula and an HTML injection at once (no "/": a name is
# its last path component); the notebook's nearest_mean_predict raises with the same markup, so
# that it reaches the part's message, the feedback page and the instructor's gradebook too.
INJECTED = "<img src=x onerror=alert(1)>"
NAME = f'=HYPERLINK("http:evil.example";"{INJECTED}") x.ipynb'


def hostile_notebook() -> bytes:
    import nbformat

    notebook = nbformat.read(SOLUTION, as_version=4)
    (cell,) = [c for c in notebook.cells if c.source.startswith("def nearest_mean_predict")]
    cell.source = f"def nearest_mean_predict(X):\n    raise ValueError({INJECTED!r})"
    return nbformat.writes(notebook).encode()
LEARNERS = ["ann", "ben", "rev", "exp", "thr", "thr2", "fuz"]


@dataclass
class Answer:
    status: int
    headers: dict
    text: str
    closed: bool | None = None   # raw socket answers: whether the server closed the connection

    @classmethod
    def of(cls, response: requests.Response) -> "Answer":
        return cls(response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.text)

    def learner_message(self) -> str:
        return json.loads(self.text)["details"]["learnerMessage"]


@dataclass
class Target:
    """The service under attack, and what the cases need of it."""

    served: Service
    tokens: dict
    instructor_key: str
    submission: dict = field(default_factory=dict)   # ann's accepted submission: id, key, url
    cookies: dict = field(default_factory=dict)      # learner -> a signed-in session
    notebook: bytes = b""                            # what ann submitted (hostile_notebook)
    first_attack: list = field(default_factory=list) # the answers to the 20 simultaneous submissions
    addresses: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def url(self) -> str:
        return self.served.url

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def client(self) -> dict:
        """Headers of a client address no other request used."""
        number = next(self.addresses)
        return {"X-Forwarded-For": f"10.24.{number // 250}.{number % 250 + 1}"}

    def get(self, path: str, **kwargs) -> Answer:
        headers = {**self.client(), **kwargs.pop("headers", {})}
        return Answer.of(requests.get(self.url + path, headers=headers, timeout=30, allow_redirects=False,
                                      **kwargs))

    def post(self, path: str, data, **kwargs) -> Answer:
        headers = {**self.client(), **kwargs.pop("headers", {})}
        return Answer.of(requests.post(self.url + path, data=data, headers=headers, timeout=60,
                                       allow_redirects=False, **kwargs))

    def request(self, method: str, path: str, **kwargs) -> Answer:
        headers = {**self.client(), **kwargs.pop("headers", {})}
        return Answer.of(requests.request(method, self.url + path, headers=headers, timeout=30,
                                          allow_redirects=False, **kwargs))

    def raw(self, data: bytes, *, drip: bytes = b"", every: float = 0.0, wait: float = 10.0) -> Answer:
        """Send ``data`` on a socket of its own (then ``drip`` a byte every ``every`` seconds), and
        read what comes back until the server closes the connection or ``wait`` runs out."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=wait) as sock:
            try:
                sock.sendall(data)
            except OSError:
                pass   # the server refused before the end of it: its answer may be there to read
            received, closed, deadline = b"", False, time.monotonic() + wait
            for byte in drip:
                time.sleep(every)
                try:
                    sock.sendall(bytes([byte]))
                except OSError:
                    break   # the server answered and closed
                sock.setblocking(False)
                try:
                    chunk = sock.recv(65536)
                    received += chunk
                    if not chunk:
                        closed = True
                        break
                except BlockingIOError:
                    pass
                finally:
                    sock.setblocking(True)
            while not closed and time.monotonic() < deadline:
                sock.settimeout(max(0.05, deadline - time.monotonic()))
                try:
                    chunk = sock.recv(65536)
                except socket.timeout:
                    break
                except ConnectionResetError:
                    closed = True
                    break
                received += chunk
                closed = not chunk
        head, _, text = received.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1]) if lines[0].startswith("HTTP/") else 0
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        return Answer(status, headers, text.decode("utf-8", "replace"), closed)


# --- what "nothing written" means -------------------------------------------------------------

def snapshot(target: Target) -> tuple:
    """The service's rows, and every file under OUT with its size and time (SQLite's -wal and -shm
    change with reads: the rows stand for the database)."""
    out = target.served.out
    db = sqlite3.connect(out / "serve" / "serve.sqlite", timeout=30)
    try:
        rows = (db.execute("SELECT * FROM submissions ORDER BY seq").fetchall(),
                db.execute("SELECT * FROM learners ORDER BY learner").fetchall())
    finally:
        db.close()
    files = {str(p.relative_to(out)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(out.rglob("*"))
             if p.is_file() and not p.name.endswith(("-wal", "-shm"))}
    return rows, files


def still_answering(target: Target) -> None:
    health = requests.get(target.url + "/healthz", timeout=10)
    assert (health.status_code, health.text) == (200, "ok\n")


APP_HEADERS = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "cache-control": "no-store"}


def check_headers(answer: Answer, kind: str) -> None:
    """``page``: every answer of the app; ``framed``: the feedback page, framed by the learner's
    page; ``server``: an answer the server writes before the app (no CSP: no page); ``bare``: the
    one answer uvicorn writes with no header at all (its 400 for a request h11 cannot parse)."""
    if kind == "bare":
        return
    for name, value in APP_HEADERS.items():
        assert answer.headers.get(name) == value, (name, answer.headers)
    if kind == "server":
        return
    policy = answer.headers.get("content-security-policy", "")
    assert "default-src 'none'" in policy and "script-src 'nonce-" in policy and "'unsafe-inline'" not in policy
    ancestors, frame = ("'self'", "SAMEORIGIN") if kind == "framed" else ("'none'", "DENY")
    assert f"frame-ancestors {ancestors}" in policy and answer.headers.get("x-frame-options") == frame
    assert "access-control-allow-origin" not in answer.headers   # no CORS grant, anywhere


# --- the table ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    name: str
    send: Callable[[Target], Answer]
    status: int
    message: str             # in details.learnerMessage (JSON answers), else in the answer's text
    code: str = ""           # the error body's errorCode, for JSON refusals
    headers: str = "page"    # see check_headers
    held: bool = False       # held before the issue's fixes too


CASES: list[Case] = []


def case(name: str, status: int, message: str, *, code: str = "", headers: str = "page", held: bool = False):
    def register(send):
        CASES.append(Case(name, send, status, message, code, headers, held))
        return send
    return register


def _submit(target: Target, email: str, token: str, content: bytes = b"", name: str = "digits.ipynb",
            **extra) -> Answer:
    return target.post("/submit", body(email, token, content or SOLUTION.read_bytes(), name, **extra))


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


# The failures the issue found.

@case("JSON nested 100,000 levels", 400, "nested too deeply", code="bad-json")
def _(t):
    return t.post("/submit", b"[" * 100_000 + b"]" * 100_000)


@case("a lone surrogate in the token", 400, "token holds a character that is not text", code="bad-text")
def _(t):
    return _submit(t, "ann@example.org", "\ud800" + t.tokens["ann"])


@case("a lone surrogate in the email", 400, "email holds a character that is not text", code="bad-text")
def _(t):
    return _submit(t, "ann\udfff@example.org", t.tokens["ann"])


@case("a lone surrogate in the notebook's name", 400, "notebook name holds a character that is not text",
      code="bad-text")
def _(t):
    return _submit(t, "ann@example.org", t.tokens["ann"], name="x\ud800.ipynb")


@case("the instructor page with a non-ASCII key", 403, "Instructors only")
def _(t):
    return t.get("/instructor?key=cl%C3%A9-%E2%82%AC")


@case("the instructor status with a non-ASCII key", 403, "Instructors only", code="instructors-only")
def _(t):
    return t.get("/instructor/status?key=%C3%A9")


@case("the gradebook with a non-ASCII key", 403, "Instructors only", code="instructors-only")
def _(t):
    return t.get("/instructor/gradebook.csv?key=%F0%9F%94%91")


@case("POST /me, 64 MiB, unauthenticated", 413, "larger than this address accepts", code="too-large")
def _(t):
    before = _rss_kb(t.served.process.pid)
    answer = t.post("/me", b"email=a&token=" + b"x" * (64 * 2**20))
    grown = _rss_kb(t.served.process.pid) - before
    assert grown < 8 * 1024, f"the server's memory grew by {grown} kB"   # refused before reading it
    return answer


@case("POST /me, 1 MiB chunked (no Content-Length)", 413, "larger than this address accepts", code="too-large")
def _(t):
    return t.post("/me", (b"x" * 65536 for _ in range(16)))


@case("POST /submit declaring 1 TiB", 413, "larger than this assignment accepts (20 MB)", code="too-large")
def _(t):
    answer = t.raw(b"POST /submit HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   b"Content-Length: 1099511627776\r\n\r\n{", wait=5)
    assert answer.closed, "the connection is closed: the body is never read"
    return answer


@case("POST /submit, 21 MB chunked", 413, "larger than this assignment accepts (20 MB)", code="too-large")
def _(t):
    return t.post("/submit", (b"x" * 2**20 for _ in range(40)), headers={"Content-Type": "application/json"})


@case("a body on GET /healthz declaring 10 MB", 413, "larger than this address accepts", code="too-large")
def _(t):
    return t.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n", wait=5)


@case("a body that stalls (Content-Length 1000, 6 bytes sent)", 408, "The upload stopped arriving",
      code="timeout")
def _(t):
    started = time.monotonic()
    answer = t.raw(b"POST /submit HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"a\":1", wait=10)
    assert answer.closed and time.monotonic() - started < 5, "408 after --request-timeout, then closed"
    return answer


@case("a body dripped a byte at a time", 408, "The upload stopped arriving", code="timeout")
def _(t):
    started = time.monotonic()
    answer = t.raw(b"POST /me HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n", drip=b"e" * 60, every=0.1,
                   wait=10)
    assert answer.closed and time.monotonic() - started < 5   # never idle 1 s, but far too slow
    return answer


@case("headers that never end (slowloris)", 408, "headers took too long", headers="server")
def _(t):
    started = time.monotonic()
    answer = t.raw(b"POST /submit HTTP/1.1\r\nHost: x\r\nX-Slow: 1", wait=10)
    assert answer.closed and time.monotonic() - started < 5
    return answer


@case("request headers of 1 MB", 400, "Invalid HTTP request received.", headers="bare")
def _(t):
    answer = t.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 2**20 + b"\r\n\r\n", wait=5)
    assert answer.closed
    return answer


@case("request headers of 20 kB, in one piece", 400, "Invalid HTTP request received.", headers="bare")
def _(t):
    # Read whole by one recv: refused by the size the parser saw, not by the bytes still to come.
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: %s\r\n" % (n, b"a" * 1000)
                                                           for n in range(20)) + b"\r\n"
    answer = t.raw(head, wait=5)
    assert answer.closed
    fine = t.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-H: " + b"a" * 12_000
                 + b"\r\n\r\n", wait=5)
    assert (fine.status, fine.text) == (200, "ok\n")   # 12 kB of headers: under the 16 kB cap
    return answer


@case("50 wrong tokens for one learner in 0.1 s", 429,
      "Too many failed sign-ins for thr@example.org: try again in", code="throttled")
def _(t):
    wrong = body("thr@example.org", "0" * 32, SOLUTION.read_bytes())
    with ThreadPoolExecutor(10) as pool:   # each from an address of its own: the learner's limit acts
        answers = list(pool.map(lambda _: t.post("/submit", wrong), range(50)))
    statuses = sorted(a.status for a in answers)
    assert statuses == [401] * 10 + [429] * 40, statuses
    throttled = [a for a in answers if a.status == 429][0]
    assert 0 < int(throttled.headers["retry-after"]) <= 900
    # While throttled even the right token waits: a guesser learns nothing more.
    right = _submit(t, "thr@example.org", t.tokens["thr"])
    assert right.status == 429 and right.headers["retry-after"]
    assert t.served.output().count("sign-ins for thr@example.org throttled for 15 min after 10 failures") == 1
    return throttled


@case("31 sign-ins with unknown emails from one address", 429,
      "Too many failed sign-ins from your network address", code="throttled")
def _(t):
    address = t.client()
    answers = [t.post("/submit", body(f"who{n}@example.org", "0" * 32, b"{}"), headers=address) for n in range(31)]
    assert [a.status for a in answers] == [401] * 30 + [429]
    return answers[-1]


@case("11 wrong tokens at /me", 429, "Too many failed sign-ins for thr2@example.org", headers="page")
def _(t):
    answers = [t.post("/me", {"email": "thr2@example.org", "token": "nope"}) for _ in range(11)]
    assert [a.status for a in answers] == [401] * 10 + [429]
    assert int(answers[-1].headers["retry-after"]) > 0
    return answers[-1]


@case("31 wrong instructor keys from one address", 429, "Too many failed sign-ins from your network address")
def _(t):
    address = t.client()
    answers = [t.get(f"/instructor?key=guess{n}", headers=address) for n in range(31)]
    assert [a.status for a in answers] == [403] * 30 + [429]
    return answers[-1]


@case("31 wrong keys of a learner's page from one address", 429,
      "Too many failed sign-ins from your network address", code="throttled")
def _(t):
    address = t.client()
    answers = [t.get(f"/submissions/{t.submission['id']}/status?key=guess{n}", headers=address) for n in range(31)]
    assert [a.status for a in answers] == [404] * 30 + [429]
    return answers[-1]


@case("a session cookie behind an https proxy is Secure", 303, "")
def _(t):
    answer = t.post("/me", {"email": "ben@example.org", "token": t.tokens["ben"]},
                    headers={"X-Forwarded-Proto": "https"})
    cookie = answer.headers["set-cookie"]
    assert "; secure" in cookie.lower() and "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    plain = t.post("/me", {"email": "ben@example.org", "token": t.tokens["ben"]})
    assert "secure" not in plain.headers["set-cookie"].lower()   # plain http: a Secure cookie would be lost
    return answer


@case("the learner's page: private, not framed, not sniffed", 200, "attempt 1")
def _(t):
    return t.get(f"/submissions/{t.submission['id']}?key={t.submission['key']}")


@case("the feedback page: framed by its own origin only", 200, "3 / 4 points", headers="framed")
def _(t):
    return t.get(f"/submissions/{t.submission['id']}/feedback?key={t.submission['key']}")


@case("the status JSON: private", 200, '"state":"done"')
def _(t):
    answer = t.get(f"/submissions/{t.submission['id']}/status?key={t.submission['key']}")
    assert answer.headers["content-type"] == "application/json"
    return answer


@case("/me signed in: private", 200, "Submissions of")
def _(t):
    return t.get("/me", cookies=t.cookies["ann"])


@case("the instructor's page: private, never framed", 200, "Gradebook so far")
def _(t):
    return t.get(f"/instructor?key={t.instructor_key}")


@case("gradebook.csv: a notebook named as a formula stays text", 200, "submission")
def _(t):
    answer = t.get(f"/instructor/gradebook.csv?key={t.instructor_key}")
    (row,) = csv.DictReader(io.StringIO(answer.text))
    assert row["learner"] == "ann" and row["submission"] == "'" + NAME
    (written,) = csv.DictReader(io.StringIO((t.served.out / "gradebook.csv").read_text()))
    assert written["submission"] == "'" + NAME
    return answer


# The LTI routes (issue #28): no LMS is registered with this service.

@case("POST /lti/launch, 1 MiB", 413, "larger than this address accepts", code="too-large")
def _(t):
    return t.post("/lti/launch", b"id_token=" + b"x" * 2**20)


@case("a launch whose id_token is not a JWT", 400, "The LMS sent no valid id_token (not a JWT)")
def _(t):
    return t.post("/lti/launch", {"id_token": "<script>alert(1)</script>", "state": "x"})


@case("a launch from an LMS that is not registered", 403, "an LMS this service is not registered with")
def _(t):
    import jwt

    token = jwt.encode({"iss": "https://lms.evil.example", "aud": "x"}, "k" * 32, algorithm="HS256")
    return t.post("/lti/launch", {"id_token": token, "state": "x"})


@case("a login from an LMS that is not registered", 403, "This service is not registered with the LMS")
def _(t):
    return t.get("/lti/login?iss=https%3A%2F%2Flms.evil.example&login_hint=1&target_link_uri=x")


@case("a login without its issuer", 400, "lacks its issuer or its login hint")
def _(t):
    return t.post("/lti/login", {"login_hint": "x"})


@case("a launch's landing with a made-up ticket and markup", 401, "open the assignment again from the LMS")
def _(t):
    answer = t.get("/lti/landing?ticket=%3Cscript%3Ealert(1)%3C/script%3E")
    assert "<script>alert" not in answer.text
    return answer


@case("the deep-linking picker without an instructor's launch", 403, "Adding an assignment to the course starts")
def _(t):
    return t.get("/lti/deep-link", cookies=t.cookies["ann"])


@case("an upload from the page without a session", 403, "Upload from your page", code="no-session")
def _(t):
    return t.post("/assignments/sklearn_digits/upload", SOLUTION.read_bytes(), headers={"X-File-Name": "a.ipynb"})


@case("an upload with a session but no CSRF token (another site's form)", 403,
      "This upload is not from this session's page", code="csrf")
def _(t):
    return t.post("/assignments/sklearn_digits/upload", SOLUTION.read_bytes(), cookies=t.cookies["ann"],
                  headers={"X-File-Name": "a.ipynb", "X-CSRF-Token": "guess"})


@case("an upload declaring 100 MB", 413, "larger than this assignment accepts (20 MB)", code="too-large")
def _(t):
    answer = t.raw(b"POST /assignments/sklearn_digits/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600"
                   b"\r\n\r\n{", wait=5)
    assert answer.closed
    return answer


@case("a dynamic registration without a ticket of grader lti register", 403, "This registration link is unknown")
def _(t):
    return t.get("/lti/register?ticket=guess&openid_configuration=https%3A%2F%2Flms.evil.example%2F.well-known"
                 "%2Fopenid-configuration&registration_token=x")


@case("a token from the page without the CSRF token", 403, "This request is not from this session's page",
      code="csrf")
def _(t):
    return t.post("/assignments/sklearn_digits/token", b"", cookies=t.cookies["ann"])


@case("the tool's public key set: no private part", 200, '"kty":"RSA"')
def _(t):
    answer = t.get("/lti/jwks.json")
    (key,) = json.loads(answer.text)["keys"]
    assert key["alg"] == "RS256" and key["kid"] and not {"d", "p", "q", "dp", "dq", "qi"} & set(key)
    return answer


@case("a learner's assignment page from /me: private, not framed", 200, "Submit your notebook")
def _(t):
    return t.get("/assignments/sklearn_digits", cookies=t.cookies["ann"])


# The attacks that held before: they stay in the table.

@case("another learner's token", 403, "This token was issued to another learner", code="other-learner", held=True)
def _(t):
    return _submit(t, "ann@example.org", t.tokens["ben"])


@case("a wrong token", 401, "This is not the token issued for ann@example.org", code="wrong-token", held=True)
def _(t):
    return _submit(t, "ann@example.org", "x" * 32)


@case("a revoked token", 401, "The token of rev@example.org was revoked on", code="revoked", held=True)
def _(t):
    return _submit(t, "rev@example.org", t.tokens["rev"])


@case("an expired token", 401, "The token of exp@example.org expired on", code="expired", held=True)
def _(t):
    return _submit(t, "exp@example.org", t.tokens["exp"])


@case("SQL in the email", 401, "is not on this course's roster", code="unknown-email", held=True)
def _(t):
    return _submit(t, "ann@example.org' OR '1'='1", t.tokens["ann"])


@case("SQL in the token", 401, "This is not the token issued for ben@example.org", code="wrong-token", held=True)
def _(t):
    return _submit(t, "ben@example.org", "' OR 1=1; DROP TABLE submissions; --")


@case("SQL in a submission id", 404, "No such submission", code="not-found", held=True)
def _(t):
    return t.get("/submissions/1'%20OR%20'1'='1/status?key=x")


@case("path traversal in the notebook's name", 415, "passwd is not a Jupyter notebook", code="not-a-notebook",
      held=True)
def _(t):
    return _submit(t, "ben@example.org", t.tokens["ben"], b"root:x:0:0", name="../../../../etc/passwd")


@case("NUL in the notebook's name", 415, "is not a Jupyter notebook", code="not-a-notebook", held=True)
def _(t):
    return _submit(t, "ben@example.org", t.tokens["ben"], b"%PDF", name="work\x00.ipynb")


@case("path traversal in a submission's address", 404, "There is nothing at this address", code="not-found",
      held=True)
def _(t):
    return t.get("/submissions/..%2F..%2Fserve.sqlite?key=x")


def _escaped(answer: Answer) -> Answer:
    assert INJECTED not in answer.text and "&lt;img src=x onerror=alert(1)&gt;" in answer.text
    return answer


@case("stored XSS 1: the learner's page", 200, "&lt;img", held=True)
def _(t):
    return _escaped(t.get(f"/submissions/{t.submission['id']}?key={t.submission['key']}"))


@case("stored XSS 2: the feedback page", 200, "&lt;img", headers="framed", held=True)
def _(t):
    return _escaped(t.get(f"/submissions/{t.submission['id']}/feedback?key={t.submission['key']}"))


@case("stored XSS 3: /me", 200, "&lt;img", held=True)
def _(t):
    return _escaped(t.get("/me", cookies=t.cookies["ann"]))


@case("stored XSS 4: the instructor's gradebook and latest submissions", 200, "&lt;img", held=True)
def _(t):
    return _escaped(t.get(f"/instructor?key={t.instructor_key}"))   # the part's message, in the reason


@case("stored XSS 5: the status JSON is JSON, never sniffed as HTML", 200, "onerror", held=True)
def _(t):
    answer = t.get(f"/submissions/{t.submission['id']}/status?key={t.submission['key']}")
    assert answer.headers["content-type"] == "application/json" and json.loads(answer.text)["file_name"] == NAME
    return answer


@case("stored XSS 6: a refusal that names the file", 415, f"{INJECTED}.pdf is not a Jupyter notebook",
      code="not-a-notebook", held=True)
def _(t):
    answer = _submit(t, "ben@example.org", t.tokens["ben"], b"%PDF", name=f"{INJECTED}.pdf")
    assert answer.headers["content-type"] == "application/json"
    return answer


@case("stored XSS 7: a submission address with markup", 404, "Not found", held=True)
def _(t):
    answer = t.get("/submissions/%3Cimg%20src=x%20onerror=alert(1)%3E?key=%3Cscript%3E")
    assert INJECTED not in answer.text and "<script>" not in answer.text
    return answer


@case("another learner's submission with their session", 404, "No such submission (or not yours)", held=True)
def _(t):
    return t.get(f"/submissions/{t.submission['id']}", cookies=t.cookies["ben"])


@case("a guessed submission id with a real key", 404, "No such submission", code="not-found", held=True)
def _(t):
    guessed = format(int(t.submission["id"], 16) + 1, "016x")
    return t.get(f"/submissions/{guessed}/status?key={t.submission['key']}")


@case("GET /submit", 405, "GET is not how this address is used", code="method-not-allowed", held=True)
def _(t):
    answer = t.get("/submit")
    assert answer.headers["allow"] == "POST"
    return answer


@case("PUT /me", 405, "PUT is not how this address is used", code="method-not-allowed", held=True)
def _(t):
    return t.request("PUT", "/me", data=b"email=ann@example.org")


@case("DELETE a submission", 405, "DELETE is not how this address is used", code="method-not-allowed", held=True)
def _(t):
    return t.request("DELETE", f"/submissions/{t.submission['id']}?key={t.submission['key']}")


@case("POST /instructor", 405, "POST is not how this address is used", code="method-not-allowed", held=True)
def _(t):
    return t.post(f"/instructor?key={t.instructor_key}", b"")


@case("a CORS preflight from another site", 405, "OPTIONS is not how this address is used",
      code="method-not-allowed", held=True)
def _(t):
    return t.request("OPTIONS", "/submit", headers={"Origin": "https://evil.example",
                                                    "Access-Control-Request-Method": "POST"})


@case("a cross-site read of the status", 200, '"state":"done"', held=True)
def _(t):
    # Answered (the key is the secret), but with no CORS grant: the other site's script cannot read it.
    return t.get(f"/submissions/{t.submission['id']}/status?key={t.submission['key']}",
                 headers={"Origin": "https://evil.example"})


@case("an unknown address", 404, "There is nothing at this address", code="not-found", held=True)
def _(t):
    return t.get("/admin")


# --- the service the table attacks --------------------------------------------------------------

def _roster(folder: Path, learners: list[str]) -> Path:
    path = folder / f"roster-{'-'.join(learners)}.csv"
    path.write_text("email,learner\n" + "".join(f"{l}@example.org,{l}\n" for l in learners))
    return path


def _issue(out: Path, learners: list[str], days: float = 180) -> dict:
    from grader.serve import tokens
    from grader.serve.store import close_connections

    try:
        issued = tokens.issue(_roster(out.parent, learners), out=out, days=days, learners=learners)
    finally:
        close_connections()
    with open(issued.tokens_file, newline="") as handle:
        return {row["learner"]: row["token"] for row in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    from grader.serve import tokens
    from grader.serve.store import close_connections

    root = tmp_path_factory.mktemp("hostile")
    served = Service(assignment_copy(root, "min_interval_s = 60\nper_hour = 50"), root / "out", workers=1,
                     extra=["--request-timeout", "1"])
    issued = {**_issue(served.out, [l for l in LEARNERS if l != "exp"]),
              **_issue(served.out, ["exp"], days=1e-5)}     # expires within a second
    tokens.revoke(served.out, ["rev"])
    close_connections()
    served.start()
    try:
        target = Target(served, issued, (served.out / "serve" / "instructor.key").read_text().strip())
        target.notebook = hostile_notebook()
        target.first_attack = _twenty_at_once(target)
        (accepted,) = [a.json() for a in target.first_attack if a.status_code == 201]
        target.submission = {"id": accepted["id"], "key": accepted["url"].split("?key=")[1],
                             "url": accepted["url"]}
        served.wait_done([accepted])
        for learner in ("ann", "ben"):
            session = requests.post(served.url + "/me", data={"email": f"{learner}@example.org",
                                                              "token": issued[learner]},
                                    headers={"X-Forwarded-For": f"10.99.0.{len(target.cookies) + 1}"},
                                    allow_redirects=False, timeout=30)
            assert session.status_code == 303, session.text
            target.cookies[learner] = dict(session.cookies)
        yield target
    finally:
        code = served.stop(signal.SIGTERM)
        output = served.output()
        processes, cgroups = served.run.wait_clean(timeout=30)
        assert code == 143 and output.strip().splitlines()[-1] == "grader: terminated", output[-3000:]
        assert "Traceback" not in output, output[-5000:]
        assert not processes and not cgroups, (processes, cgroups)


def _twenty_at_once(target: Target) -> list[requests.Response]:
    """One learner's 20 simultaneous submissions (min_interval_s = 60): one accepted, 19 refused."""
    data = body("ann@example.org", target.tokens["ann"], target.notebook, NAME)
    barrier = threading.Barrier(20)

    def send(number):
        barrier.wait()
        return requests.post(target.url + "/submit", data=data, timeout=60,
                             headers={"X-Forwarded-For": f"10.98.0.{number + 1}"})

    with ThreadPoolExecutor(20) as pool:
        return list(pool.map(send, range(20)))


def test_twenty_simultaneous_submissions_of_one_learner_accept_one(target):
    """Held: the rate limit holds under a burst - one row, one folder, 19 clear 429s."""
    answers = target.first_attack
    assert sorted(a.status_code for a in answers) == [201] + [429] * 19
    for refused in (a for a in answers if a.status_code == 429):
        assert refused.json()["errorCode"] == "rate"
        assert "Too soon after your last submission" in refused.json()["details"]["learnerMessage"]
        assert 0 < int(refused.headers["retry-after"]) <= 60
    rows, _ = snapshot(target)
    assert len(rows[0]) == 1
    assert [p.name for p in (target.served.out / "serve" / "submissions").iterdir()] == [target.submission["id"]]


@pytest.mark.parametrize("attack", CASES, ids=[c.name for c in CASES])
def test_hostile_input_gets_a_clear_answer_and_writes_nothing(target, attack):
    before = snapshot(target)
    answer = attack.send(target)
    assert answer.status == attack.status, answer.text[:2000]
    if attack.code:
        assert json.loads(answer.text)["errorCode"] == attack.code, answer.text
        assert attack.message in answer.learner_message(), answer.text
    else:
        assert attack.message in answer.text, answer.text[:3000]
    if answer.status >= 400:   # (a feedback page may quote the learner's own traceback)
        assert "Traceback" not in answer.text and "Internal Server Error" not in answer.text
    check_headers(answer, attack.headers)
    assert snapshot(target) == before, "the attack wrote something"
    still_answering(target)


# --- fuzzing ------------------------------------------------------------------------------------

# Real HTTP to the same service: nothing here needs a kernel (a refused request never reaches the
# grading side), and the real server is what must hold (uvicorn's parsing, the middleware, the
# app).  150 examples per route keep each fuzz to a few seconds.
FUZZ = dict(max_examples=150, deadline=None, database=None)


def _fuzz_strategies():
    from hypothesis import strategies as st

    # Any character, lone surrogates included (JSON can carry them, UTF-8 cannot); no quotes, so
    # that no cell's source names a part (which would make a notebook of the assignment).
    text = st.text(st.characters(exclude_characters="'\"", exclude_categories=()), max_size=40)
    junk = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | text,
                        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
                        max_leaves=12)
    nested = st.integers(1, 200_000).map(lambda depth: b"[" * depth + b"]" * depth)
    notebook_content = st.one_of(
        st.binary(max_size=300),
        st.builds(lambda cells: json.dumps({"cells": [{"cell_type": "code", "source": s, "metadata": {},
                                                       "outputs": [], "execution_count": None} for s in cells],
                                            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode(),
                  st.lists(text, max_size=3)))
    notebook = st.one_of(junk, st.fixed_dictionaries(
        {"name": st.one_of(text, junk), "content": st.one_of(
            junk, notebook_content.map(lambda b: base64.b64encode(b).decode()))}))
    email = st.one_of(junk, text, st.sampled_from(["fuz@example.org", "FUZ@example.org ", "ann@example.org"]))
    submission = st.fixed_dictionaries(
        {}, optional={"assignmentKey": st.one_of(junk, st.just(COURSE_KEY)), "submitterEmail": email,
                      "secret": st.one_of(junk, text), "parts": junk, "notebook": notebook})
    return st, submission, nested, text


def test_fuzz_submit_never_fails_and_never_writes(target):
    from hypothesis import HealthCheck, given, settings

    st, submission, nested, _ = _fuzz_strategies()
    before = snapshot(target)
    fuz_token = target.tokens["fuz"]

    @settings(**FUZZ, suppress_health_check=list(HealthCheck))
    @given(data=st.one_of(st.binary(max_size=2000), nested, submission.map(lambda d: json.dumps(d).encode()),
                          submission.map(lambda d: json.dumps({**d, "submitterEmail": "fuz@example.org",
                                                               "secret": fuz_token,
                                                               "assignmentKey": COURSE_KEY}).encode())),
           content_type=st.sampled_from(["application/json", "text/plain", "multipart/form-data", ""]))
    def post(data, content_type):
        answer = target.post("/submit", data, headers={"Content-Type": content_type} if content_type else {})
        assert answer.status in (400, 401, 403, 413, 415, 422, 429), (answer.status, answer.text[:500])
        assert answer.learner_message()
        assert answer.headers["x-content-type-options"] == "nosniff"

    started = time.monotonic()
    post()
    assert snapshot(target) == before, "fuzzing /submit wrote something"
    still_answering(target)
    print(f"fuzzed /submit: {FUZZ['max_examples']} examples in {time.monotonic() - started:.1f} s")


def test_fuzz_me_never_fails_and_never_writes(target):
    from hypothesis import HealthCheck, given, settings

    st, _, _, text = _fuzz_strategies()
    before = snapshot(target)
    value = st.one_of(text, st.just("fuz@example.org"), st.just(target.tokens["fuz"]))
    # Forms as a browser sends them (percent-encoded UTF-8; a lone surrogate as its code point's
    # bytes), and any bytes at all.
    form = st.one_of(st.binary(max_size=2000),
                     st.dictionaries(st.sampled_from(["email", "token", "x"]), value).map(
                         lambda fields: urlencode({k: v.encode("utf-8", "surrogatepass")
                                                   for k, v in fields.items()})))

    @settings(**FUZZ, suppress_health_check=list(HealthCheck))
    @given(data=form)
    def post(data):
        answer = target.post("/me", data)
        assert answer.status in (303, 400, 401, 403, 413, 429), (answer.status, answer.text[:500])
        assert answer.headers["x-content-type-options"] == "nosniff"

    started = time.monotonic()
    post()
    assert snapshot(target) == before, "fuzzing /me wrote something"
    still_answering(target)
    print(f"fuzzed /me: {FUZZ['max_examples']} examples in {time.monotonic() - started:.1f} s")


def test_the_queue_is_consistent_after_all_of_it(target):
    """Held: one accepted submission, graded once, its files and nothing else."""
    rows, _ = snapshot(target)
    (row,) = rows[0]
    db = sqlite3.connect(target.served.out / "serve" / "serve.sqlite")
    db.row_factory = sqlite3.Row
    try:
        (row,) = db.execute("SELECT * FROM submissions").fetchall()
    finally:
        db.close()
    assert (row["id"], row["learner"], row["state"], row["runs"], row["file_name"]) == \
        (target.submission["id"], "ann", "done", 1, NAME)
    assert row["sha256"] == hashlib.sha256(target.notebook).hexdigest() and row["total"] == 3
    submissions = target.served.out / "serve" / "submissions"
    assert [p.name for p in submissions.iterdir()] == [row["id"]]
    assert not [p for p in target.served.out.rglob("*.tmp")]
    journal = [json.loads(line) for line in (target.served.out / "journal.jsonl").read_text().splitlines()]
    assert [e["event"] for e in journal if e.get("submission") == row["id"]] == ["start", "done"]
    assert len((target.served.out / "gradebook.csv").read_text().splitlines()) == 2
