"""Corrections and real gradings: an override survives a regrade (and says the measurement under
it changed); a thresholds-only change makes a resumed `grader grade` a recorded rescore, with no
notebook run.  Real kernels, tiny untrained notebooks (seconds each)."""
from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from grader.corrections.log import read_events
from tests.conftest import ROOT
from tests.snippets import SHAPES, untrained_model, write_notebook

from .conftest import AssignmentCopy

pytestmark = pytest.mark.kernel

ACCURACY = 'grader.set_answer("RMv95", 0.1)\n'


def _notebook(path, classes: int):
    write_notebook(path, untrained_model(classes), SHAPES, ACCURACY)


def _grader(*args):
    return subprocess.run([sys.executable, "-m", "grader", *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, timeout=900)


def _rows(out):
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as handle:
        return {row["learner"]: row for row in csv.DictReader(handle)}


def _journal(out):
    return [json.loads(line) for line in (out / "journal.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("regrade")
    copy = AssignmentCopy(root / "course", "mnist_digits")
    submissions = root / "submissions"
    submissions.mkdir()
    _notebook(submissions / "ada.ipynb", classes=10)
    _notebook(submissions / "bea.ipynb", classes=9)   # input_y of the wrong shape: 9XaAS fails
    out = root / "out"

    def grade():
        return _grader("grade", submissions, "--out", out, "--assignment", copy.folder,
                       "--workers", "1", "--cell-timeout", "120")

    first = grade()
    assert first.returncode == 1, first.stderr
    return copy, submissions, out, grade


def test_an_override_survives_a_regrade_and_flags_the_new_measurement(course):
    copy, submissions, out, grade = course
    assert _rows(out)["bea"]["9XaAS"] == "0"
    run = _grader("override", out, "bea", "9XaAS", "--points", "1", "--by", "lee",
                  "--reason", "the template's input_y had 9 classes (a typo of ours)")
    assert run.returncode == 0, run.stderr
    assert _rows(out)["bea"]["9XaAS"] == "1" and _rows(out)["bea"]["overridden"] == "9XaAS"

    _notebook(submissions / "bea.ipynb", classes=10)  # bea resubmits, fixed
    regrade = grade()
    assert "resuming: 1 of 2 already graded" in regrade.stderr
    assert [e["learner"] for e in _journal(out) if e["event"] == "done"] == ["ada", "bea", "bea"]
    bea = json.loads((out / "results" / "bea.json").read_text())
    assert next(p for p in bea["parts"] if p["id"] == "9XaAS")["status"] == "passed"

    row = _rows(out)["bea"]
    assert row["overridden"] == "9XaAS" and row["9XaAS"] == "1"  # still attached to bea's 9XaAS
    assert "[CHECK: since the override, the notebook was graded again: measured 784 10 10 None " \
           "784 None 9 (failed, 0 points) then, measured 784 10 10 None 784 None 10 (passed, 1 " \
           "points) now]" in row["corrections"]
    audit = _grader("audit", out, "bea")
    lines = [line[21:] for line in audit.stdout.splitlines()[2:]]
    assert [line.split(":")[0] for line in lines] == [
        "graded by running the notebook", "override 9XaAS", "graded by running the notebook"]


def test_new_thresholds_alone_are_a_recorded_rescore_not_a_rerun(course):
    copy, _, out, grade = course
    ada = json.loads((out / "results" / "ada.json").read_text())
    accuracy = next(p for p in ada["parts"] if p["id"] == "RMv95")
    assert accuracy["status"] == "failed" and accuracy["evidence"] == {}
    copy.set_threshold("RMv95", "min", f"{accuracy['measured'] - 0.01:.4f}")
    starts = sum(e["event"] == "start" for e in _journal(out))

    again = grade()
    assert "resuming: 2 of 2 already graded" in again.stderr
    assert "rescored 2 result(s) graded under earlier thresholds, without running them: 2 " \
           "grade(s) changed" in again.stderr
    assert sum(e["event"] == "start" for e in _journal(out)) == starts  # no notebook ran
    (rescore,) = [e for e in _journal(out) if e["event"] == "rescore"]
    assert sorted(rescore["changed"]) == ["ada", "bea"]
    assert json.loads((out / "results" / "ada.json").read_text()) == ada  # the file is as measured

    rows = _rows(out)
    assert rows["ada"]["RMv95"] == "1" and "RMv95 rescored" in rows["ada"]["corrections"]
    judged = [e for e in read_events(out) if e.action == "judged"]
    assert {e.learner for e in judged} == {"ada", "bea"}
    assert {e.detail["thresholds_digest"] for e in judged} == {copy.load().thresholds_digest}
    assert "graded by the grader itself under" not in again.stderr

    # Recorded: neither grading nor rescoring again does anything more.
    assert "rescored" not in grade().stderr
    run = _grader("rescore", out)
    assert run.returncode == 0 and "2 already judged with these thresholds" in run.stdout
