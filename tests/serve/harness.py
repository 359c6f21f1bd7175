"""A real ``grader serve`` for tests: the command in a process of its own, on 127.0.0.1, a free port.

:class:`Service` starts ``python -m grader serve`` (marked with ``GRADER_TEST_MARK`` so that
what it started can be found and checked, :mod:`tests.processes`), waits until it listens, and
talks to it over HTTP with ``requests`` - nothing is faked.  Notebooks are the second
assignment's (``sklearn_digits``: no TensorFlow, a grading takes seconds).
"""
from __future__ import annotations

import base64
import csv
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import nbformat
import requests

from tests.conftest import ROOT
from tests.processes import Run

SOLUTION = ROOT / "reference" / "sklearn_digits" / "solution.ipynb"
WEAK = ROOT / "reference" / "sklearn_digits" / "samples" / "weak_model.ipynb"
COURSE_KEY = "skl-2026"


def without_submissions(text: str) -> str:
    """An assignment.toml's text without its [submissions] table (a test states its own policy)."""
    return re.sub(r"(?m)(?:^(?:#.*)?\n)*^\[submissions\]\n(?:(?!\[).*\n?)*", "", text)


def assignment_copy(root: Path, submissions: str = "", course_key: str = COURSE_KEY) -> Path:
    """sklearn_digits (and its reference) under ``root``, with a course key and the test's
    [submissions] table instead of the shipped one (none: no limits)."""
    folder = root / "assignments" / "sklearn_digits"
    if not folder.exists():
        shutil.copytree(ROOT / "assignments" / "sklearn_digits", folder)
        shutil.copytree(ROOT / "reference" / "sklearn_digits", root / "reference" / "sklearn_digits")
    spec = folder / "assignment.toml"
    text = without_submissions(spec.read_text())
    if course_key:
        text = text.replace('version = "1"', f'version = "1"\ncourse_key = "{course_key}"', 1)
    spec.write_text(text + (f"\n[submissions]\n{submissions}\n" if submissions else ""))
    return folder


SECOND = "digits_b"          # the course's second assignment: sklearn_digits again, under another id and key
SECOND_KEY = "skl-b-2026"


def course_copy(root: Path, submissions: str = "") -> Path:
    """A course folder of two assignments: sklearn_digits (key skl-2026) and digits_b (the same notebook
    under another id, title and key), with their references; returns the course folder."""
    assignment_copy(root, submissions)
    second = root / "assignments" / SECOND
    if not second.exists():
        shutil.copytree(root / "assignments" / "sklearn_digits", second)
        shutil.copytree(root / "reference" / "sklearn_digits", root / "reference" / SECOND)
        spec = second / "assignment.toml"
        text = spec.read_text().replace('id = "sklearn_digits"', f'id = "{SECOND}"', 1)
        text = re.sub(r'(?m)^title = ".*"$', 'title = "Digits, week 2"', text, count=1)
        spec.write_text(text.replace(f'course_key = "{COURSE_KEY}"', f'course_key = "{SECOND_KEY}"', 1))
    return root / "assignments"


def slow_notebook(path: Path, seconds: float) -> Path:
    """The solution with a pause after its first graded part (its verdict shows while it sleeps)."""
    notebook = nbformat.read(SOLUTION, as_version=4)
    notebook.cells.insert(6, nbformat.v4.new_code_cell(f"import time\ntime.sleep({seconds})"))
    nbformat.write(notebook, path)
    return path


def body(email: str, token: str, content: bytes, name: str = "digits.ipynb", key: str = COURSE_KEY,
         **extra) -> bytes:
    """A submission's body, as the course's grading.py sends it (with the notebook)."""
    data = {"assignmentKey": key, "submitterEmail": email, "secret": token,
            "parts": {"class_means": {}}, "notebook": {"name": name,
                                                      "content": base64.b64encode(content).decode()}}
    data.update(extra)
    return json.dumps(data).encode()


class Service:
    """``grader serve`` on ``assignment`` into ``out`` (see the module docstring)."""

    def __init__(self, assignment: Path, out: Path, *, workers: int = 2, extra=(), mark: str | None = None,
                 env: dict | None = None, course: bool = False):
        self.assignment, self.out, self.workers, self.extra = assignment, out, workers, list(extra)
        self.course = course   # ``assignment`` is a course folder (grader serve --course)
        self.env = env  # the service's environment (default: this process's)
        self.run = Run(mark or uuid.uuid4().hex)
        self.process: subprocess.Popen | None = None
        self.url = ""

    def issue(self, learners) -> dict:
        """Tokens for ``learners`` (ids; emails id@example.org): {id: token}."""
        roster = self.out.parent / f"roster-{uuid.uuid4().hex[:6]}.csv"
        roster.write_text("email,learner\n" + "".join(f"{l}@example.org,{l}\n" for l in learners))
        done = subprocess.run([sys.executable, "-m", "grader", "tokens", "issue", str(roster), "--out",
                               str(self.out)], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        newest = max((self.out / "serve").glob("tokens-*.csv"), key=os.path.getmtime)
        with open(newest, newline="") as handle:
            return {row["learner"]: row["token"] for row in csv.DictReader(handle)}

    def start(self, timeout: float = 120.0) -> "Service":
        address = self.out / "serve" / "address"
        address.unlink(missing_ok=True)
        env = {**(os.environ if self.env is None else self.env), "GRADER_TEST_MARK": self.run.mark}
        self.log = open(self.out.parent / f"serve-{self.run.mark[:8]}-{time.time():.0f}.log", "w+")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "grader", "serve", "--course" if self.course else "--assignment",
             str(self.assignment), "--out", str(self.out), "--port", "0", "--workers", str(self.workers),
             *self.extra],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not address.is_file():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"grader serve did not start:\n{self.output()}")
            time.sleep(0.05)
        self.url = address.read_text().strip()
        return self

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def post(self, data: bytes, path: str = "/submit", **kwargs) -> requests.Response:
        return requests.post(self.url + path, data=data, timeout=60, **kwargs)

    def submit(self, learner: str, token: str, notebook: Path, **kwargs) -> requests.Response:
        return self.post(body(f"{learner}@example.org", token, notebook.read_bytes(), notebook.name, **kwargs))

    def status(self, accepted: dict) -> dict:
        # The service's address now (a restarted service listens on another free port).
        key = accepted["url"].split("?key=")[1]
        response = requests.get(f"{self.url}/submissions/{accepted['id']}/status?key={key}", timeout=30)
        response.raise_for_status()
        return response.json()

    def wait_done(self, accepted: list[dict], timeout: float = 300.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            states = [self.status(a) for a in accepted]
            if all(s["state"] == "done" for s in states):
                return states
            if time.monotonic() > deadline:
                raise AssertionError(f"not graded in {timeout:.0f} s: {[s['state'] for s in states]}\n"
                                     f"{self.output()[-3000:]}")
            time.sleep(0.25)

    def rows(self) -> list[dict]:
        db = sqlite3.connect(self.out / "serve" / "serve.sqlite")
        db.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in db.execute("SELECT * FROM submissions ORDER BY seq")]
        finally:
            db.close()

    def stop(self, signum=signal.SIGINT, timeout: float = 60.0) -> int:
        """Stop the service as Ctrl-C (the whole process group) or SIGTERM would; its exit status."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        if signum == signal.SIGINT:
            os.killpg(self.process.pid, signum)
        else:
            self.process.send_signal(signum)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"grader serve did not stop on signal {signum}:\n{self.output()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the service and everything in its process group (a machine's crash)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
