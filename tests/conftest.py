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
    reaped = 0
    from tests.processes import children

    for pid, (_, state) in children().items():
        if state == "Z":
            try:
                reaped += bool(os.waitpid(pid, os.WNOHANG)[0])
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
    # What session fixtures stopped last (the browser, the shared service) orphans a moment later,
    # and exits soon after: wait for it (reaping), so that nothing is left to the machine's init.
    # This process's own helpers, which would otherwise stop at its exit (and then be left to
    # init to reap), are stopped and waited for here: the shared evaluator and the tracker
    # multiprocessing starts for the local pool.
    import sys
    import time
    from multiprocessing import resource_tracker

    from grader.run.evaluator_client import close_shared
    from tests.processes import children, cmdline

    close_shared()
    resource_tracker._resource_tracker._stop()   # closes its pipe and waits for it
    deadline = time.monotonic() + 10.0
    while children() and time.monotonic() < deadline:
        _reap_exited_children()
        time.sleep(0.1)
    left = children()
    if left:
        names = [f"{pid} {cmdline(str(pid))[:120]}".strip() for pid in left]
        sys.stderr.write("warning: processes started by the tests are still running: " + "; ".join(names) + "\n")


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
