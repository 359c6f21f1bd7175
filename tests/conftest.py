"""Shared fixtures: the repository's paths, MNIST from ../shared, graded notebooks.

Tests read MNIST from ``../shared/data/mnist.npz`` (these machines have no
internet); ``GRADER_DATA_MNIST`` overrides it.  Kernels are real IPython
kernels started by the harness.

The test process is a child subreaper: what a test's processes orphan (the sandbox inits and
workers of a harness that a test SIGKILLs, a browser's helpers) comes to it rather than to the
machine's init, which may leave them zombies, and every child of it that has exited is reaped
after each test (the test's own processes have been waited for by then) and at the end.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT_DIR = ROOT / "assignments" / "mnist_digits"
REFERENCE_DIR = ROOT / "reference" / "mnist_digits"
NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist.npz"

if not os.environ.get("GRADER_DATA_MNIST") and SHARED_MNIST.is_file():
    os.environ["GRADER_DATA_MNIST"] = str(SHARED_MNIST)


def pytest_configure(config):
    from grader.run.stop import adopt_orphans

    adopt_orphans()


def _reap_exited_children() -> int:
    """Reap every child of this process that has exited (a zombie); returns how many."""
    reaped, me = 0, str(os.getpid())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, parent = stat[stat.rindex(")") + 2:].split()[:2]
        if parent == me and state == "Z":
            try:
                reaped += bool(os.waitpid(int(entry.name), os.WNOHANG)[0])
            except ChildProcessError:
                pass
    return reaped


@pytest.fixture(autouse=True)
def _reap_orphans():
    yield
    from grader.run.stop import reap_orphans

    reap_orphans(wait_s=0.5)   # sandbox inits still exiting
    _reap_exited_children()


def pytest_unconfigure(config):
    # What session fixtures stopped last (the browser, the shared service) orphans a moment later.
    import time

    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        _reap_exited_children()
        time.sleep(0.1)


def pytest_addoption(parser):
    parser.addoption("--regen-goldens", action="store_true", default=False,
                     help="rewrite the expected-result JSON files beside the golden notebooks")


@pytest.fixture(scope="session")
def mnist_path() -> Path:
    path = os.environ.get("GRADER_DATA_MNIST")
    if not path or not Path(path).is_file():
        pytest.fail("MNIST not found: set GRADER_DATA_MNIST or provide ../shared/data/mnist.npz")
    return Path(path)


@pytest.fixture(scope="session")
def assignment():
    from grader.assignments import load_assignment

    return load_assignment(ASSIGNMENT_DIR)


@pytest.fixture(scope="session")
def regen_goldens(request) -> bool:
    return request.config.getoption("--regen-goldens")
