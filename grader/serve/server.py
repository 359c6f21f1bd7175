"""``grader serve`` as a library call: :func:`serve` grades what learners submit until stopped.

The HTTP server is uvicorn (an ASGI server) running the Starlette app of
:mod:`grader.serve.app` on ``host:port`` (127.0.0.1 by default: put a reverse proxy
with TLS in front of it to open it to learners); the grading runs beside it
(:mod:`grader.serve.service`).  Ctrl-C or SIGTERM stop both: the server stops
taking requests (uvicorn's graceful shutdown), gradings in flight are cancelled
and queued again for the next start, and the command ends with "grader:
interrupted" (130) or "grader: terminated" (143).

uvicorn's settings against hostile clients (``docs/operator/service-security.md``): a request's
headers must come within ``request_timeout`` and be at most 16 kB (a 400 past it:
:func:`grader.serve.protect.http_protocol`, on httptools); an idle keep-alive connection
is closed after 5 s (``timeout_keep_alive``); past ``max_connections`` open connections a
request gets uvicorn's 503 (``limit_concurrency``), which also bounds the memory bodies take
(each at most the assignment's upload cap).  The client address that failed sign-ins are
counted by is the peer's, or the ``X-Forwarded-For`` of a proxy uvicorn trusts
(``FORWARDED_ALLOW_IPS``, 127.0.0.1 by default: a proxy on the same machine).
"""
from __future__ import annotations

import socket
import sys
from pathlib import Path
from typing import Callable

from ..exceptions import UsageError
from ..orchestrate import GradeOptions
from ..paths import output_folder
from ..results import write_atomic
from ..specs.model import Assignment

REQUEST_TIMEOUT_S = 30.0   # a request's headers, and each piece of its body, within this
MAX_CONNECTIONS = 256      # connections served at once: a class's burst (bench/bench_serve.py: 200) fits


def _answering_server(config, answering: Callable[[], None]):
    """uvicorn's server, which calls ``answering()`` once it has started (not when it is made:
    a client that reads ``OUT/serve/address`` then is answered at once)."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets=None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                answering()

    return Server(config)


def _socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port} ({exc.strerror}): give another --port, or stop "
                         f"what uses it", argument="port", value=port) from None
    sock.listen(2048)
    sock.set_inheritable(False)
    return sock


def course_assignments(course: str | Path) -> list[Assignment]:
    """The assignments of a course folder: every subfolder with an ``assignment.toml``, by name."""
    from ..assignments import load_assignment
    from ..specs.model import ASSIGNMENT_FILE

    folder = Path(course)
    if not folder.is_dir():
        raise UsageError(f"--course {course}: not a folder (give the folder holding the course's assignment "
                         f"folders)", argument="course", value=str(course))
    found = [load_assignment(p.parent) for p in sorted(folder.glob(f"*/{ASSIGNMENT_FILE}"))]
    if not found:
        raise UsageError(f"--course {course}: no assignment in it (no */{ASSIGNMENT_FILE})", argument="course",
                         value=str(course))
    return found


def _check_course(assignments: list[Assignment], cluster: str | None) -> None:
    ids = [a.id for a in assignments]
    if len(set(ids)) != len(ids):
        raise UsageError(f"two assignments of the course have one id: {', '.join(ids)}", argument="assignment")
    keys = [a.course_key for a in assignments if a.course_key]
    if len(set(keys)) != len(keys):
        raise UsageError("two assignments of the course have one course_key: grader.submit could not say which "
                         "assignment a notebook is for", argument="assignment")
    if len(assignments) > 1 and cluster:
        raise UsageError("a course of several assignments is graded by local workers: --cluster serves one "
                         "assignment (run one service per assignment on the cluster)", argument="cluster")


def serve(*, assignment=None, out: str | Path, options: GradeOptions = GradeOptions(), workers: int | None = None,
          cluster: str | None = None, host: str = "127.0.0.1", port: int = 8000, public_url: str = "",
          quiet: bool = False, request_timeout: float = REQUEST_TIMEOUT_S, max_connections: int = MAX_CONNECTIONS,
          on_ready: Callable[[str, str], None] | None = None, course: str | Path | None = None,
          assignments: list | None = None) -> None:
    """Serve ``assignment`` (an Assignment, a name or a folder) into results folder ``out`` until
    stopped; ``on_ready(submit_url, instructor_url)`` is called once the server answers (its
    grading workers started, ``OUT/serve/address`` written).

    A course: ``course`` (a folder of assignment folders) or ``assignments`` (several): one queue
    and one pool of workers for all, a results folder per assignment (``OUT/ID``).

    ``request_timeout``: seconds a client has to send a request's headers, and at most between two
    pieces of its body (408 after it); ``max_connections``: open connections served at once (503
    past it)."""
    import os

    import uvicorn

    from ..assignments import find_assignment
    from ..specs.data import resolve_all
    from .app import build_app
    from .site import instructor_key
    from .protect import SERVER_HEADERS, http_protocol
    from .service import GradingService
    from .store import serve_folder
    from .tokens import roster

    out = Path(out)
    output_folder(out)
    if workers is not None and not (isinstance(workers, int) and workers >= 1):
        raise UsageError(f"workers must be a whole number of 1 or more, got {workers!r}", argument="workers",
                         value=workers)
    if not (isinstance(request_timeout, (int, float)) and request_timeout > 0):
        raise UsageError(f"request_timeout must be a number of seconds above 0, got {request_timeout!r}",
                         argument="request_timeout", value=request_timeout)
    if not (isinstance(max_connections, int) and max_connections >= 1):
        raise UsageError(f"max_connections must be a whole number of 1 or more, got {max_connections!r}",
                         argument="max_connections", value=max_connections)
    if course is not None:
        chosen = course_assignments(course)
    else:
        chosen = [a if isinstance(a, Assignment) else find_assignment(a) for a in (assignments or [assignment])]
    _check_course(chosen, cluster)
    data_paths = {a.id: resolve_all(a, explicit=options.data) for a in chosen}
    assignment = chosen[0]
    sock = _socket(host, port)
    try:
        workers = workers or max(1, os.cpu_count() or 1)
        service = GradingService(out=out, assignments=chosen, options=options,
                                 data_paths=data_paths if len(chosen) > 1 else data_paths[assignment.id],
                                 workers=workers, cluster=cluster, quiet=quiet).start()
    except BaseException:
        sock.close()
        raise
    try:
        bound_host, bound_port = sock.getsockname()[:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        listening = f"http://{shown}:{bound_port}"
        root = (public_url or listening).rstrip("/")
        submit_url = f"{root}/submit"
        instructor_url = f"{root}/instructor?key={instructor_key(out)}"
        say = (lambda text: None) if quiet else (lambda text: print(text, file=sys.stderr, flush=True))
        say(f"grader serve: grading {', '.join(a.id for a in chosen)} into "
            + (", ".join(f"{out}/{a.id}/" for a in chosen) if len(chosen) > 1 else f"{out}/")
            + " with " + (f"the Dask cluster {cluster}" if cluster else f"{workers} worker(s)"))
        say(f"learners submit with GRADER_SUBMIT_URL={submit_url}")
        say(f"instructor page: {instructor_url}")
        from .lti import platforms, tool_key

        tool_key(out)   # the LTI tool's key exists from the start (its JWKS is served, never made by a request)
        trusted = platforms(out)
        if trusted:
            say(f"LTI 1.3: launches from {', '.join(sorted({p.issuer for p in trusted}))} at {root}/lti/login")
        if not roster(out) and not trusted:
            say(f"no learner can submit yet: grader tokens issue ROSTER.csv --out {out}, or register with an "
                f"LMS: grader lti config --out {out} --public-url URL")
        app = build_app(service, public_url=public_url, request_timeout=request_timeout)
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=5, timeout_keep_alive=5,
                                http=http_protocol(request_timeout), loop="auto", ws="none",
                                limit_concurrency=max_connections, server_header=False,
                                headers=SERVER_HEADERS)
        def answering() -> None:
            # Where the service listens (a local client's address: the tests', a health check's),
            # even when the links printed are the public ones; written once uvicorn answers, and
            # whole (a reader polling for the file never sees it empty).
            write_atomic(serve_folder(out) / "address", f"{listening}\n")
            if on_ready is not None:
                on_ready(submit_url, instructor_url)

        _answering_server(config, answering).run(sockets=[sock])
    finally:
        sock.close()
        service.stop()
