"""Fixtures for the posting tests: result folders built from SubmissionResult, live servers.

No kernel runs here: results are built directly with grader.results, as
``grader grade`` would have written them.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader.results import PartResult, SubmissionResult, write_atomic
from tests.conftest import ROOT

from .servers import CourseServer, LtiPlatform, WebhookReceiver

COURSE_KEY = "XtD7ho3TEeiHQBWLWejjYAA"
WEBHOOK_SECRET = "whsec-0123456789abcdef-do-not-leak"
CLIENT_ID = "grader-tool-42"
FAST = {"base_delay": 0.01, "max_delay": 0.05, "timeout": 5.0}


def make_result(learner: str, *, accuracy: float = 0.9312, claimed_accuracy=None,
                hidden: bool = False, status: str = "graded") -> SubmissionResult:
    """A result of the mnist_digits assignment as the harness writes it."""
    parts = [
        PartResult(id="9XaAS", description="Shapes", kind="shapes", status="passed", points=1,
                   measured="784 10 10 None 784 None 10", claimed="784 10 10 None 784 None 10"),
        PartResult(id="vmogZ", description="Linear loss", kind="loss", status="passed", points=1,
                   measured=0.2563, claimed=0.2563, threshold="<= 0.35"),
        PartResult(id="RMv95", description="Linear accuracy", kind="accuracy",
                   status="passed" if accuracy >= 0.92 else "failed",
                   points=1 if accuracy >= 0.92 else 0, measured=accuracy,
                   claimed=claimed_accuracy if claimed_accuracy is not None else accuracy,
                   claim_mismatch=claimed_accuracy is not None, threshold=">= 0.92",
                   hidden=hidden),
        PartResult(id="i8bgs", description="MLP loss", kind="loss", status="error", points=0,
                   message="Not measured: cell 12 raised NameError: name 's' is not defined."),
        # rE763 missing from the result entirely: the course still gets an empty part.
    ]
    total = sum(p.points for p in parts)
    return SubmissionResult(learner=learner, assignment="mnist_digits", harness_version="0.1.0",
                            submission=f"{learner}.ipynb", submission_sha256="ab" * 32,
                            status=status, total=total, max_total=5.0, duration_s=41.6,
                            started_at="2026-01-05T10:00:00+00:00", parts=parts)


def write_results(out: Path, results: list[SubmissionResult]) -> Path:
    """Lay results out as ``grader grade --out OUT`` does; returns OUT."""
    for result in results:
        write_atomic(out / "results" / f"{result.learner}.json", result.to_json())
    write_atomic(out / "gradebook.json", '{"columns": [], "rows": []}')
    return out


def write_learners(path: Path, learners: list[str]) -> Path:
    lines = ["learner,email,lms_user_id"]
    lines += [f"{name},{name}@example.org,lms-{name}" for name in learners]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def results_dir(tmp_path) -> Path:
    return write_results(tmp_path / "out", [make_result(n) for n in ("alice", "bob", "carol")])


@pytest.fixture
def learners_csv(tmp_path) -> Path:
    return write_learners(tmp_path / "learners.csv", ["alice", "bob", "carol"])


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No posting settings leak in from the machine running the tests."""
    for name in list(os.environ):
        if name.startswith(("GRADER_COURSERA", "GRADER_WEBHOOK", "GRADER_LTI", "GRADER_POST",
                            "GRADER_GRADESCOPE", "GRADER_LEARNERS")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))   # no ~/.config/grader/post.toml
    return monkeypatch


@pytest.fixture
def tokens(clean_env):
    values = {name: f"tok-{name}-s3cr3t-9f8e7d" for name in ("alice", "bob", "carol")}
    for name, value in values.items():
        clean_env.setenv(f"GRADER_COURSERA_TOKEN_{name.upper()}", value)
    return values


@pytest.fixture
def course():
    server = CourseServer()
    yield server
    server.close()


@pytest.fixture
def receiver():
    server = WebhookReceiver(WEBHOOK_SECRET)
    yield server
    server.close()


@pytest.fixture(scope="session")
def keypair():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return pem, key.public_key()


@pytest.fixture
def platform(keypair):
    from grader.post.destinations.lti import clear_token_cache

    clear_token_cache()
    server = LtiPlatform(public_key=keypair[1], client_id=CLIENT_ID)
    yield server
    server.close()
    clear_token_cache()


def post_main(argv: list[str]) -> int:
    """``grader post ARGV`` in this process; its exit status."""
    from grader.cli import main

    return main(["post", *argv])


def run_post_cli(args: list[str], *, env: dict | None = None, timeout: float = 60):
    """``grader post ...`` in a subprocess."""
    return subprocess.run([sys.executable, "-m", "grader", "post", *args], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=timeout)


def popen_post_cli(args: list[str], *, env: dict | None = None):
    return subprocess.Popen([sys.executable, "-m", "grader", "post", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
