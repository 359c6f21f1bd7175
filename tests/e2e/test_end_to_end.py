"""End to end: the real assignment, the real reference solution, the sample submissions.

These run full-size notebooks (tens of seconds each) and are marked slow;
CI runs them (``make test``).  They call the installed ``grader`` command, as
a learner or an instructor would.
"""
import csv
import json
import subprocess
import sys

import pytest

from tests.conftest import ASSIGNMENT_DIR, ROOT

pytestmark = [pytest.mark.slow, pytest.mark.kernel]


def _grader(*args, cwd=ROOT):
    # Two assignments exist: name the one these notebooks belong to.
    return subprocess.run([sys.executable, "-m", "grader", *args, "--assignment", "mnist_digits"],
                          capture_output=True, text=True, cwd=cwd, timeout=1800)


def test_template_fails_every_part_without_a_harness_error():
    # The learner's command on a full-size notebook (the reference solution is graded full size
    # by the batch below and by tests/validate, so it is not run a third time here).
    out = _grader("check", str(ASSIGNMENT_DIR / "template.ipynb"), "--json")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    result = json.loads(out.stdout)
    assert result["status"] == "graded"
    for part in result["parts"]:
        assert part["status"] in ("failed", "error"), part
        assert part["message"], part


@pytest.fixture(scope="module")
def graded_samples(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("results")
    run = _grader("grade", "submissions", "--out", str(out_dir))
    assert run.returncode == 1, run.stdout + run.stderr  # some samples fail by design
    with open(out_dir / "gradebook.csv", newline="") as handle:
        rows = {row["learner"]: row for row in csv.DictReader(handle)}
    results = {p.stem: json.loads(p.read_text()) for p in (out_dir / "results").glob("*.json")}
    return run, rows, results


def _statuses(result):
    return {p["id"]: p["status"] for p in result["parts"]}


def test_gradebook_has_one_row_per_submission(graded_samples):
    run, rows, results = graded_samples
    submissions = sorted(p.stem for p in (ROOT / "submissions").glob("*.ipynb"))
    assert sorted(rows) == submissions == sorted(results)
    assert "learner" in run.stdout  # the gradebook is printed


def test_sample_reference_solution(graded_samples):
    _, rows, results = graded_samples
    result = results["reference_solution"]
    assert set(_statuses(result).values()) == {"passed"}
    assert result["total"] == result["max_total"] == 5 and not result["errors"], result["errors"]
    assert rows["reference_solution"]["total"] == "5"


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
