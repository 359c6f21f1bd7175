"""End to end: the real assignment, its template and the sample submissions, graded by `grader grade`.

These run full-size notebooks (tens of seconds each) and are marked slow;
CI runs them (``make test``).  They call the installed ``grader`` command, as
a learner or an instructor would.
"""
import csv
import json
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ASSIGNMENT_DIR, ROOT

pytestmark = [pytest.mark.slow, pytest.mark.kernel]


def _grader(*args, cwd=ROOT):
    # Two assignments exist: name the one these notebooks belong to.
    return subprocess.run([sys.executable, "-m", "grader", *args, "--assignment", "mnist_digits"],
                          capture_output=True, text=True, cwd=cwd, timeout=1800)


# The full-size reference solution and template are graded by tests/validate
# (test_mnist_assignment_validates: every part of the solution passes with a margin, every part of
# the template fails); here the class is the other samples, with the untouched template handed in
# as one learner's notebook, so that each full-size notebook runs once in the suite.
GRADED_HERE = ("hardcoded_answer", "seed_code", "weak_model")


@pytest.fixture(scope="module")
def graded_samples(tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    for name in GRADED_HERE:
        shutil.copy(ROOT / "submissions" / f"{name}.ipynb", folder)
    shutil.copy(ASSIGNMENT_DIR / "template.ipynb", folder / "untouched_template.ipynb")
    out_dir = tmp_path_factory.mktemp("results")
    run = _grader("grade", str(folder), "--out", str(out_dir))
    assert run.returncode == 1, run.stdout + run.stderr  # some samples fail by design
    assert "Traceback" not in run.stderr
    with open(out_dir / "gradebook.csv", newline="") as handle:
        rows = {row["learner"]: row for row in csv.DictReader(handle)}
    results = {p.stem: json.loads(p.read_text()) for p in (out_dir / "results").glob("*.json")}
    return run, rows, results


def test_gradebook_has_one_row_per_submission(graded_samples):
    run, rows, results = graded_samples
    assert sorted(rows) == sorted([*GRADED_HERE, "untouched_template"]) == sorted(results)
    assert "learner" in run.stdout  # the gradebook is printed


def test_template_fails_every_part_without_a_harness_error(graded_samples):
    _, rows, results = graded_samples
    result = results["untouched_template"]
    assert result["status"] == "graded" and rows["untouched_template"]["total"] == "0"
    for part in result["parts"]:
        assert part["status"] in ("failed", "error"), part
        assert part["message"], part


def _statuses(result):
    return {p["id"]: p["status"] for p in result["parts"]}


def test_sample_weak_model_fails_accuracy(graded_samples):
    statuses = _statuses(graded_samples[2]["weak_model"])
    assert statuses["9XaAS"] == "passed"
    assert statuses["RMv95"] == "failed" and statuses["rE763"] == "failed"


def test_sample_seed_code_fails_linear_loss_with_name_error(graded_samples):
    result = graded_samples[2]["seed_code"]
    statuses = _statuses(result)
    assert statuses == {"9XaAS": "passed", "vmogZ": "failed", "RMv95": "failed",
                        "i8bgs": "passed", "rE763": "passed"}, result
    for part_id in ("vmogZ", "RMv95"):
        message = next(p["message"] for p in result["parts"] if p["id"] == part_id)
        assert "NameError: name 'labels' is not defined" in message


def test_sample_hardcoded_answer_is_flagged(graded_samples):
    result = graded_samples[2]["hardcoded_answer"]
    part = next(p for p in result["parts"] if p["id"] == "RMv95")
    assert part["status"] == "failed" and part["claim_mismatch"]
    assert part["claimed"] == 0.99 and part["measured"] < 0.92
    assert "Reported 0.99" in part["message"]
