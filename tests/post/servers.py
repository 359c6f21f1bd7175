"""Real HTTP servers on 127.0.0.1 for the posting tests (threads, ephemeral ports).

- :class:`CourseServer` answers like the course platform's submission endpoint
  (201; 401 with a learnerMessage; 500 with an HTML page; slow answers), and
  keeps, like the platform, the latest submission per (assignment, email).
- :class:`WebhookReceiver` verifies the HMAC signature over the raw body and
  applies each Idempotency-Key once, counting every request per key.
- :class:`LtiPlatform` is a token endpoint that verifies the client assertion
  (signature against the tool's public key, and its claims) and a line item's
  score endpoint that checks the bearer token and the media type.

Behaviour is scripted with ``plan``: a list of actions taken by the next
requests, in order (then the normal answer).
"""
from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

LEARNER_MESSAGE = ("You used an invalid email or your token may have expired. Please make sure "
                   "you have entered all fields correctly. Try generating a new token if the "
                   "issue still persists.")
ERROR_PAGE = ("<html><head><title>500 Internal Server Error</title><style>p{}</style></head>"
              "<body><h1>Internal Server Error</h1><p>The server encountered an internal error."
              "</p></body></html>")


def free_port() -> int:
    """A port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Base:
    """A server in a thread; ``handle(method, path, headers, body)`` returns (status, headers, body)."""

    def __init__(self, port: int = 0):
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, payload = owner._dispatch(self.command, self.path,
                                                           self.headers, body)
                if isinstance(payload, str):
                    payload = payload.encode("utf-8")
                try:
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout, killed): nothing to answer

            do_POST = do_GET = _any

            def log_message(self, *args):  # keep pytest output clean
                pass

        self.lock = threading.Lock()
        self.requests: list[dict] = []
        self.plan: list = []
        self.release = threading.Event()     # ends every sleep at shutdown
        self.server = _Server(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _dispatch(self, method, path, headers, body):
        with self.lock:
            action = self.plan.pop(0) if self.plan else None
            self.requests.append({"method": method, "path": path, "headers": dict(headers),
                                  "body": body, "at": time.monotonic()})
        return self.handle(method, path, headers, body, action)

    def handle(self, method, path, headers, body, action):  # pragma: no cover - overridden
        raise NotImplementedError

    def sleep(self, seconds: float) -> None:
        self.release.wait(seconds)

    def wait_for(self, predicate, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError("the server did not see the expected request in time")
            time.sleep(0.01)

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class CourseServer(Base):
    """The course platform's submission endpoint.

    Actions: ``"401"`` (learnerMessage), ``"500"`` (HTML page), ``("slow", s)``
    (answer 201 after s seconds, having *accepted* first - as a real server
    that is slow to answer), ``("accept-then-wait", s)`` (the same, used to
    kill the harness while it waits), ``("429", retry_after)``.
    """

    def __init__(self, port: int = 0, *, echo_secret: bool = False):
        self.accepted: dict[tuple, dict] = {}      # (assignmentKey, email) -> latest body
        self.accept_count: Counter = Counter()      # (assignmentKey, email) -> 201 answers
        self.distinct: dict[tuple, set] = {}        # (assignmentKey, email) -> distinct bodies
        self.echo_secret = echo_secret
        super().__init__(port)

    def bodies(self) -> list[dict]:
        return [json.loads(r["body"]) for r in self.requests]

    def raw_count(self, email: str) -> int:
        return sum(1 for b in self.bodies() if b["submitterEmail"] == email)

    def _accept(self, data: dict) -> None:
        key = (data["assignmentKey"], data["submitterEmail"])
        with self.lock:
            self.accepted[key] = data
            self.accept_count[key] += 1
            self.distinct.setdefault(key, set()).add(json.dumps(data, sort_keys=True))

    def handle(self, method, path, headers, body, action):
        data = json.loads(body)
        if action == "401":
            return 401, {"Content-Type": "application/json"}, json.dumps(
                {"errorCode": "invalidEmailOrToken", "message": "Invalid email or token.",
                 "details": {"learnerMessage": LEARNER_MESSAGE}})
        if action == "500":
            page = ERROR_PAGE
            if self.echo_secret:  # a careless server quoting the request back
                page = page.replace("internal error.", f"internal error. secret={data['secret']}")
            return 500, {"Content-Type": "text/html"}, page
        if isinstance(action, tuple) and action[0] == "429":
            return 429, {"Retry-After": str(action[1])}, "slow down"
        if isinstance(action, tuple) and action[0] in ("slow", "accept-then-wait"):
            self._accept(data)
            self.sleep(action[1])
            return 201, {"Content-Type": "application/json"}, "{}"
        self._accept(data)
        return 201, {"Content-Type": "application/json"}, json.dumps({"id": "sub-1"})


class WebhookReceiver(Base):
    """Verifies signatures; applies each Idempotency-Key once.

    Actions: an int status (answered without applying), ``("apply-then-wait", s)``.
    """

    def __init__(self, secret: str, port: int = 0):
        self.secret = secret
        self.raw: Counter = Counter()        # key -> requests received (signed correctly)
        self.applied: Counter = Counter()    # key -> times applied (must end at 1)
        self.documents: dict[str, dict] = {}
        self.bad_signatures = 0
        super().__init__(port)

    def keys_for(self, learner: str) -> list[str]:
        return [k for k, d in self.documents.items() if d["learner"] == learner]

    def handle(self, method, path, headers, body, action):
        from grader.post.destinations.webhook import verify

        if not verify(body, headers.get("X-Grader-Signature"), self.secret):
            with self.lock:
                self.bad_signatures += 1
            return 401, {"Content-Type": "application/json"}, '{"message": "bad signature"}'
        key = headers.get("Idempotency-Key")
        if not key:
            return 400, {}, '{"message": "Idempotency-Key missing"}'
        with self.lock:
            self.raw[key] += 1
        if isinstance(action, int):
            return action, {"Content-Type": "text/html"}, ERROR_PAGE
        with self.lock:
            duplicate = key in self.documents
            if not duplicate:
                self.documents[key] = json.loads(body)
                self.applied[key] += 1
        if isinstance(action, tuple) and action[0] == "apply-then-wait":
            self.sleep(action[1])
        return 200, {"Content-Type": "application/json"}, json.dumps({"duplicate": duplicate})


class LtiPlatform(Base):
    """An LMS: ``/token`` (client credentials + JWT assertion) and ``/lineitems/7/scores``."""

    LINEITEM_PATH = "/api/lti/courses/1/line_items/7"

    def __init__(self, *, public_key, client_id: str, expires_in: int = 3600, port: int = 0):
        self.public_key = public_key
        self.client_id = client_id
        self.expires_in = expires_in
        self.tokens: set[str] = set()
        self.token_requests = 0
        self.jtis: set[str] = set()
        self.scores: list[dict] = []
        self.score_count: Counter = Counter()  # userId -> scores received
        self.rejections: list[str] = []
        super().__init__(port)

    @property
    def token_url(self) -> str:
        return self.url + "/login/oauth2/token"

    @property
    def lineitem(self) -> str:
        return self.url + self.LINEITEM_PATH + "?type=assignment"

    def _token(self, body):
        import jwt

        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        with self.lock:
            self.token_requests += 1
        if form.get("grant_type") != "client_credentials" or form.get("client_assertion_type") \
                != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" or \
                form.get("scope") != "https://purl.imsglobal.org/spec/lti-ags/scope/score":
            return self._reject(400, "invalid_request", f"bad form {sorted(form)}")
        try:
            claims = jwt.decode(form["client_assertion"], self.public_key, algorithms=["RS256"],
                                audience=self.token_url, issuer=self.client_id,
                                options={"require": ["iss", "sub", "aud", "iat", "exp", "jti"]})
        except jwt.PyJWTError as exc:
            return self._reject(401, "invalid_client", f"assertion rejected: {exc}")
        if claims["sub"] != self.client_id or claims["jti"] in self.jtis or \
                claims["exp"] - claims["iat"] > 3600:
            return self._reject(401, "invalid_client", "bad sub, replayed jti or long life")
        token = f"tok-{len(self.jtis)}-{claims['jti'][:8]}"
        with self.lock:
            self.jtis.add(claims["jti"])
            self.tokens.add(token)
        return 200, {"Content-Type": "application/json"}, json.dumps(
            {"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in,
             "scope": form["scope"]})

    def _reject(self, status, error, why):
        with self.lock:
            self.rejections.append(why)
        return status, {"Content-Type": "application/json"}, json.dumps(
            {"error": error, "error_description": why})

    def handle(self, method, path, headers, body, action):
        if path == "/login/oauth2/token":
            if isinstance(action, int):
                return action, {}, "busy"
            return self._token(body)
        if path != self.LINEITEM_PATH + "/scores?type=assignment":
            return 404, {}, "no such line item"
        auth = headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return self._reject(401, "unauthorized", "unknown bearer token")
        if headers.get("Content-Type") != "application/vnd.ims.lis.v1.score+json":
            return self._reject(415, "unsupported media type", headers.get("Content-Type", ""))
        score = json.loads(body)
        with self.lock:
            self.scores.append(score)
            self.score_count[score["userId"]] += 1
        return 200, {"Content-Type": "application/json"}, "{}"
