"""Shared fixtures: the repository's paths, MNIST from ../shared, graded notebooks.

Tests read MNIST from ``../shared/data/mnist.npz`` (these machines have no
internet); ``GRADER_DATA_MNIST`` overrides it.  Kernels are real IPython
kernels started by the harness.

The test process is a child subreaper: the sandbox inits orphaned by a harness that a test
SIGKILLs come to it rather than to the machine's init (which may leave them zombies), and
are reaped after each test (:mod:`grader.run.stop`).
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


@pytest.fixture(autouse=True)
def _reap_orphaned_sandboxes():
    yield
    from grader.run.stop import reap_orphans

    reap_orphans(wait_s=0.5)


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
