"""``grader serve`` as a library call: :func:`serve` grades what learners submit until stopped.

The HTTP server is uvicorn (an ASGI server) running the Starlette app of
:mod:`grader.serve.app` on ``host:port`` (127.0.0.1 by default: put a reverse proxy
with TLS in front of it to open it to learners); the grading runs beside it
(:mod:`grader.serve.service`).  Ctrl-C or SIGTERM stop both: the server stops
taking requests (uvicorn's graceful shutdown), gradings in flight are cancelled
and queued again for the next start, and the command ends with "grader:
interrupted" (130) or "grader: terminated" (143).
"""
from __future__ import annotations

import socket
import sys
from pathlib import Path
from typing import Callable

from ..exceptions import UsageError
from ..orchestrate import GradeOptions
from ..paths import output_folder
from ..specs.model import Assignment


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


def serve(*, assignment, out: str | Path, options: GradeOptions = GradeOptions(), workers: int | None = None,
          cluster: str | None = None, host: str = "127.0.0.1", port: int = 8000, public_url: str = "",
          quiet: bool = False, on_ready: Callable[[str, str], None] | None = None) -> None:
    """Serve ``assignment`` (an Assignment, a name or a folder) into results folder ``out`` until
    stopped; ``on_ready(submit_url, instructor_url)`` is called once the socket listens."""
    import os

    import uvicorn

    from ..assignments import find_assignment
    from ..specs.data import resolve_all
    from .app import build_app, instructor_key
    from .service import GradingService
    from .store import serve_folder
    from .tokens import roster

    out = Path(out)
    output_folder(out)
    if workers is not None and not (isinstance(workers, int) and workers >= 1):
        raise UsageError(f"workers must be a whole number of 1 or more, got {workers!r}", argument="workers",
                         value=workers)
    if not isinstance(assignment, Assignment):
        assignment = find_assignment(assignment)
    data_paths = resolve_all(assignment, explicit=options.data)
    sock = _socket(host, port)
    try:
        workers = workers or max(1, os.cpu_count() or 1)
        service = GradingService(out=out, assignment=assignment, options=options, data_paths=data_paths,
                                 workers=workers, cluster=cluster, quiet=quiet).start()
    except BaseException:
        sock.close()
        raise
    try:
        bound_host, bound_port = sock.getsockname()[:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        root = (public_url or f"http://{shown}:{bound_port}").rstrip("/")
        submit_url = f"{root}/submit"
        instructor_url = f"{root}/instructor?key={instructor_key(out)}"
        (serve_folder(out) / "address").write_text(f"{root}\n")
        say = (lambda text: None) if quiet else (lambda text: print(text, file=sys.stderr, flush=True))
        say(f"grader serve: grading {assignment.id} into {out}/ with "
            + (f"the Dask cluster {cluster}" if cluster else f"{workers} worker(s)"))
        say(f"learners submit with GRADER_SUBMIT_URL={submit_url}")
        say(f"instructor page: {instructor_url}")
        if not roster(out):
            say(f"no learner can submit yet: grader tokens issue ROSTER.csv --out {out}")
        app = build_app(service, public_url=public_url)
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=5, timeout_keep_alive=30)
        server = uvicorn.Server(config)
        if on_ready is not None:
            on_ready(submit_url, instructor_url)
        server.run(sockets=[sock])
    finally:
        sock.close()
        service.stop()
