"""Gradescope: results.json, and the autograder's run_autograder script."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from grader.exceptions import DestinationConfigError
from grader.post import post_results
from tests.conftest import ROOT

from .conftest import make_result, write_results

RUN_AUTOGRADER = ROOT / "gradescope" / "run_autograder"


def test_results_json_per_learner(results_dir, clean_env):
    report = post_results(results_dir, to="gradescope")
    assert report.complete
    path = results_dir / "gradescope" / "alice" / "results.json"
    data = json.loads(path.read_text())
    assert data["score"] == 3.0 and data["execution_time"] == 42
    assert data["output"].startswith("mnist_digits: 3/5 points")
    first, _, accuracy, loss = data["tests"]
    assert first == {"name": "9XaAS: Shapes", "number": "9XaAS", "score": 1.0, "max_score": 1.0,
                     "status": "passed", "visibility": "visible",
                     "output": "Measured: 784 10 10 None 784 None 10\nReported by the notebook: "
                               "784 10 10 None 784 None 10"}
    assert accuracy["output"].splitlines()[0] == "Measured: 0.9312"
    assert loss["status"] == "failed" and "NameError" in loss["output"]
    assert post_results(results_dir, to="gradescope").outcomes[0].already_sent


def test_hidden_parts_are_hidden_tests(tmp_path, clean_env):
    out = write_results(tmp_path / "o", [make_result("alice", hidden=True)])
    target = tmp_path / "results.json"
    post_results(out, to="gradescope", settings={"output": str(target)})
    tests = json.loads(target.read_text())["tests"]
    assert [t["visibility"] for t in tests] == ["visible", "visible", "hidden", "visible"]


def test_one_output_file_for_several_results_is_refused(results_dir, tmp_path, clean_env):
    with pytest.raises(DestinationConfigError, match=r"put \{learner\} in --output"):
        post_results(results_dir, to="gradescope", settings={"output": str(tmp_path / "r.json")})


def _autograder(tmp_path, notebooks: list[str], *, check_status: int = 1):
    """Run gradescope/run_autograder in a fake /autograder tree.

    ``grader check`` is replaced by a stand-in that prints a prepared result: the real
    one needs a kernel with TensorFlow and a minute per notebook, which the grading
    tests already cover; what is tested here is the script around it.
    """
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    for name in notebooks:
        (root / "submission" / name).write_text("{}")
    result = tmp_path / "check.json"
    result.write_text(make_result("submission").to_json())
    fake = tmp_path / "grader"
    fake.write_text(f"#!/bin/sh\n[ \"$1\" = check ] || exit 2\necho 'checking' >&2\n"
                    f"cat {result}\nexit {check_status}\n")
    fake.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
    env.update(AUTOGRADER_ROOT=str(root), GRADER=str(fake), PYTHON=sys.executable,
               HOME=str(tmp_path / "home"))
    run = subprocess.run(["bash", str(RUN_AUTOGRADER)], env=env, capture_output=True, text=True,
                         cwd=tmp_path, timeout=60)
    assert run.returncode == 0, run.stderr
    return json.loads((root / "results" / "results.json").read_text())


def test_run_autograder_writes_results_json(tmp_path):
    data = _autograder(tmp_path, ["my_notebook.ipynb"])
    assert data["score"] == 3.0 and len(data["tests"]) == 4


def test_run_autograder_wants_exactly_one_notebook(tmp_path):
    data = _autograder(tmp_path, ["a.ipynb", "b.ipynb"])
    assert data == {"score": 0, "output": "Submit exactly one notebook (.ipynb file); found: "
                                          "a.ipynb b.ipynb ", "tests": []}


def test_run_autograder_reports_a_fault_of_the_grader(tmp_path):
    data = _autograder(tmp_path, ["a.ipynb"], check_status=2)
    assert data["score"] == 0 and "a fault of the grader" in data["output"]
