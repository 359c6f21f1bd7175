"""Rescore: stored measurements judged again under new thresholds, recorded, never re-run."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from grader.api import corrections
from grader.judge.extract import extract
from grader.judge.score import rejudge_part, score_part
from grader.corrections import Corrections
from grader.corrections.log import read_events
from tests.conftest import ROOT

from .factory import mnist_result, write_class


def _grader(*args, env=None):
    return subprocess.run([sys.executable, "-m", "grader", *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=120)


def _files(out):
    return {p.name: p.read_bytes() for p in (out / "results").glob("*.json")}


@pytest.fixture
def class_of_40(tmp_path, mnist_copy):
    """40 learners: linear accuracies 0.900 .. 0.939, MLP losses 0.050 .. 0.245 (shifted by 20)."""
    assignment = mnist_copy.load()
    results = [mnist_result(assignment, f"learner{i:02d}", linear_accuracy=0.900 + 0.001 * i,
                            mlp_loss=0.05 + 0.005 * ((i + 20) % 40)) for i in range(40)]
    out = write_class(tmp_path / "out", results)
    corrections.refresh_reports(out)
    return out, results


def test_rescore_changes_exactly_the_learners_the_new_rule_concerns(class_of_40, mnist_copy):
    out, results = class_of_40
    before = _files(out)
    mnist_copy.set_threshold("RMv95", "min", "0.915")   # more linear models pass
    mnist_copy.set_threshold("i8bgs", "max", "0.12")    # fewer MLPs pass
    run = _grader("rescore", out, "--by", "lee")
    assert run.returncode == 0, run.stderr

    accuracy = {r.learner: r.part("RMv95").measured for r in results}
    loss = {r.learner: r.part("i8bgs").measured for r in results}
    gains = {n for n, a in accuracy.items() if 0.915 <= a < 0.92}
    losses = {n for n, v in loss.items() if 0.12 < v <= 0.15}
    assert gains and losses and not gains & losses
    changed = {line.split(":")[0] for line in run.stdout.splitlines()
               if line.startswith("learner") and "->" in line.split(":")[1]}
    assert changed == gains | losses
    assert f"{len(gains | losses)} grade(s) changed" in run.stdout
    totals = {r.learner: r.total for r in results}
    for name in gains:
        assert f"{name}: {totals[name]:g} -> {totals[name] + 1:g}\n" in run.stdout
    for name in losses:
        assert f"{name}: {totals[name]:g} -> {totals[name] - 1:g}\n" in run.stdout
    assert "RMv95 failed -> passed (0 -> 1): rule >= 0.92 -> >= 0.915" in run.stdout

    assert _files(out) == before  # result files stay what the grader measured
    rows = {row["learner"]: row for row in json.loads((out / "gradebook.json").read_text())["rows"]}
    for name in gains:
        assert rows[name]["RMv95"] == "1" and "RMv95 rescored" in rows[name]["corrections"]
    for name in losses:
        assert rows[name]["i8bgs"] == "0" and "i8bgs rescored" in rows[name]["corrections"]
    page = (out / "feedback" / f"{sorted(gains)[0]}.html").read_text()
    assert "Judged again on" in page and "with updated pass rules, without re-running your " \
        "notebook (it was failed, 0 point(s))." in page and "&gt;= 0.915" in page
    untouched = set(rows) - gains - losses
    assert all(rows[n]["corrections"] == "" for n in untouched)
    assert all(rows[n]["total"] == f"{r.total:g}" for r in results for n in [r.learner]
               if n in untouched)

    again = _grader("rescore", out)
    assert again.returncode == 0 and "0 result(s) judged again" in again.stdout
    assert "40 already judged with these thresholds" in again.stdout


def test_thresholds_put_back_give_the_grades_back(class_of_40, mnist_copy):
    out, results = class_of_40
    original = mnist_copy.thresholds.read_text()
    mnist_copy.set_threshold("RMv95", "min", "0.93")
    first = corrections.rescore(out)
    assert len(first.changed) == 10  # 0.920 .. 0.929 fail now
    mnist_copy.thresholds.write_text(original)
    second = corrections.rescore(out)
    assert sorted(second.learners_changed) == sorted(first.learners_changed)
    grades = Corrections.load(out).grades(results)
    assert all(not g.rescored and g.result.total == g.measured.total for g in grades)
    # The log keeps both rescores: what was graded under which thresholds, and when.
    judged = [e for e in read_events(out) if e.action == "judged"]
    assert len(judged) == 80 and len({e.detail["thresholds_digest"] for e in judged}) == 2


def test_an_override_holds_through_a_rescore(class_of_40, mnist_copy):
    out, _ = class_of_40
    corrections.override(out, "learner25", "RMv95", points=0.5, reason="half credit: plagiarised "
                         "training loop", by="lee")
    mnist_copy.set_threshold("RMv95", "min", "0.93")
    report = corrections.rescore(out)
    change = next(c for c in report.changed if c.learner == "learner25")
    assert change.overridden == ["RMv95"] and change.before == change.after == 4.5
    grade = Corrections.load(out).grade(corrections.graded_results(out)[25])
    assert grade.result.part("RMv95").points == 0.5 and grade.judged["RMv95"].status == "failed"
    assert "the part was rescored: measured 0.9250 (passed, 1 points) then" in \
        grade.overrides["RMv95"].changed


def test_results_measured_with_another_assignment_are_not_judged(class_of_40, mnist_copy):
    out, results = class_of_40
    stale = results[3]
    stale.measurement_digest = "another"
    (out / "results" / f"{stale.learner}.json").write_text(stale.to_json())
    mnist_copy.set_threshold("RMv95", "min", "0.95")
    run = _grader("rescore", out)
    assert run.returncode == 1, run.stderr
    assert f"{stale.learner}: not judged again: measured with another assignment.toml" in run.stdout
    assert "39 result(s) judged again" in run.stdout and "1 need a re-run" in run.stdout


def test_rescore_of_a_folder_that_is_not_results_is_one_line(tmp_path):
    run = _grader("rescore", tmp_path)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.strip().count("\n") == 0 and "not a results folder" in run.stderr


# --- rejudging is judging: every kind, against a fresh grading under the new thresholds ---------

def _fresh_and_rejudged(assignment_before, assignment_after, part_id, measurement, answer,
                        reference=None):
    part = assignment_before.part(part_id)
    stored = score_part(part, assignment_before.threshold(part_id),
                        extract(part, measurement, answer, reference), graded_cell=4,
                        cell_errors=[], failure="", failed_at=None)
    fresh = score_part(part, assignment_after.threshold(part_id),
                       extract(part, measurement, answer, reference), graded_cell=4,
                       cell_errors=[], failure="", failed_at=None)
    stored = type(stored)(**json.loads(json.dumps(stored.__dict__)))  # through JSON, as stored
    return stored, fresh, rejudge_part(part, assignment_after.threshold(part_id), stored, [])


def test_shapes_are_judged_again_from_the_kept_shapes(mnist_copy):
    before = mnist_copy.load()
    mnist_copy.set_threshold("9XaAS", "expected", '["784 10", "10", "None 784", "None 10"]')
    after = mnist_copy.load()
    shapes = {"shapes": [[784, 10], [1, 10], [None, 784], [None, 10]], "extra": []}
    stored, fresh, rejudged = _fresh_and_rejudged(
        before, after, "9XaAS", {"ok": True, "cell": 4, "value": shapes},
        {"value": "784 10 1 10 None 784 None 10", "text": "784 10 1 10 None 784 None 10"})
    assert stored.status == "passed" and fresh.status == "failed"
    assert rejudged == fresh and "b has shape (1, 10), expected (10)" in rejudged.message


def test_an_array_part_is_judged_again_from_its_worst_index_and_claim(digits_copy):
    before = digits_copy.load()
    digits_copy.set_threshold("class_means", "max", "1e-3")
    digits_copy.set_threshold("class_means", "claim_tolerance", "1e-6")
    after = digits_copy.load()
    expected = np.load(digits_copy.reference / "class_means.npy")
    learner = expected.copy()
    learner[3, 17] += 5e-4        # too far for 1e-4, close enough for 1e-3
    claim = learner.copy()
    claim[0, 0] += 1e-8           # the reported array: off by more than 1e-9, less than 1e-6
    stored, fresh, rejudged = _fresh_and_rejudged(
        before, after, "class_means", {"ok": True, "cell": 4, "value": learner},
        {"value": claim.tolist()}, expected)
    assert stored.status == "failed" and "at index [3, 17]" in stored.message
    assert stored.claim_mismatch and not fresh.claim_mismatch and fresh.status == "passed"
    assert rejudged == fresh
    assert "values" not in stored.evidence  # the arrays themselves are not kept


@pytest.mark.parametrize("part_id, key, value", [("nearest_mean", "min", "0.9"),
                                                 ("mlp_loss", "max", "0.1")])
def test_function_parts_are_judged_again(digits_copy, part_id, key, value):
    from .factory import LABELS, classes, probabilities

    before = digits_copy.load()
    digits_copy.set_threshold(part_id, key, value)
    after = digits_copy.load()
    outputs = probabilities(0.2) if part_id == "mlp_loss" else classes(0.881)
    stored, fresh, rejudged = _fresh_and_rejudged(
        before, after, part_id, {"ok": True, "cell": 4, "value": {"values": outputs}},
        {"value": 0.3}, LABELS)
    assert stored.status == "passed" and fresh.status == "failed" and rejudged == fresh
    assert stored.claim_mismatch and rejudged.claim_mismatch  # "Reported 0.3, measured ..."
