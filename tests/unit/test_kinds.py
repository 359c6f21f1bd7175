"""The part-kind table, and the array and function kinds (no kernel needed)."""
from pathlib import Path

import numpy as np
import pytest

from grader.exceptions import SpecError
from grader.judge.extract import extract
from grader.kernel import agent
from grader.kernel.agent import _encode
from grader.judge.kinds import PartKind, kind_names, register_kind
from grader.judge.score import score_part
from grader.assignments import load_assignment
from grader.specs import Part, Threshold

ROOT = Path(__file__).resolve().parents[2]
DIGITS = ROOT / "assignments" / "sklearn_digits"


def _measured(values, cell=4):
    return {"ok": True, "cell": cell, "value": _encode(np.asarray(values))}


def _score(part, threshold, extracted):
    return score_part(part, threshold, extracted, graded_cell=extracted.cell or 4, cell_errors=[],
                      failure="", failed_at=None)


def test_the_table_holds_every_builtin_kind_once():
    assert kind_names() == ("shapes", "loss", "accuracy", "array", "function", "model")
    with pytest.raises(ValueError, match="already registered"):
        register_kind(PartKind(name="array", doc="", requires=(), extract=None, judge=None,
                               threshold_text=None, claim_mismatch=None, what=None))
    # The kernel's agent has a measurer for each kind the harness knows.
    assert set(agent._MEASURERS) == set(kind_names())


ARRAY = Part(id="means", kind="array", object="class_means")
ARRAY_RULE = Threshold(part="means", max=1e-6, expected_file="means.npy", claim_tolerance=1e-9)


def test_array_matches_within_tolerance():
    expected = np.arange(6, dtype=float).reshape(2, 3)
    got = extract(ARRAY, _measured(expected + 1e-9), {"value": expected.tolist(), "text": ""}, expected)
    assert got.measured == pytest.approx(1e-9) and not got.invalid
    assert got.claimed == "array of shape (2, 3)"  # the result keeps a summary, not 6 numbers
    result = _score(ARRAY, ARRAY_RULE, got)
    assert result.status == "passed" and result.points == 1
    assert "matches the expected array" in result.message and not result.claim_mismatch


def test_array_difference_names_the_index():
    expected = np.zeros((2, 3))
    actual = expected.copy()
    actual[1, 2] = 0.5
    result = _score(ARRAY, ARRAY_RULE, extract(ARRAY, _measured(actual), None, expected))
    assert result.status == "failed"
    assert "differs from the expected array by up to 0.5 at index [1, 2]" in result.message


def test_array_of_the_wrong_shape_is_invalid():
    result = _score(ARRAY, ARRAY_RULE, extract(ARRAY, _measured(np.zeros((3, 2))), None, np.zeros((2, 3))))
    assert result.status == "failed" and "has shape (3, 2), expected (2, 3)" in result.message


def test_array_claim_that_is_not_the_object_is_flagged():
    expected = np.zeros((2, 2))
    got = extract(ARRAY, _measured(expected), {"value": [[1, 0], [0, 0]], "text": ""}, expected)
    result = _score(ARRAY, ARRAY_RULE, got)
    assert result.status == "passed" and result.claim_mismatch
    assert "differs from class_means by up to 1" in result.message


FUNCTION = Part(id="acc", kind="function", object="predict", split="test", model="MLP")
FUNCTION_RULE = Threshold(part="acc", min=0.9, claim_tolerance=0.0005)


def test_function_accuracy_against_labels():
    labels = np.array([0, 1, 2, 3])
    got = extract(FUNCTION, _measured([0, 1, 2, 0]), {"value": 0.99, "text": "0.99"}, labels)
    result = _score(FUNCTION, FUNCTION_RULE, got)
    assert got.measured == pytest.approx(0.75)
    assert result.status == "failed" and result.claim_mismatch
    assert "The MLP model's test accuracy is 0.7500, below the required 0.9" in result.message
    assert "Reported 0.99, measured 0.75" in result.message


def test_function_accuracy_of_scores_per_class_and_of_numbers_that_are_not_classes():
    # One score per class and row (a Keras model's predict): the highest score is the class.
    got = extract(FUNCTION, _measured([[0.1, 0.8, 0.1], [0.7, 0.2, 0.1], [0.2, 0.3, 0.5]]), None,
                  np.array([1, 0, 0]))
    assert not got.invalid and got.measured == pytest.approx(2 / 3)
    got = extract(FUNCTION, _measured([0.2, 1.0, 2.0]), None, np.array([0, 1, 2]))
    assert "not class labels (for example 0.2)" in got.invalid and "one score per class" in got.invalid
    got = extract(FUNCTION, _measured(np.zeros((3, 2, 2))), None, np.array([0, 1, 2]))
    assert "have shape [3, 2, 2]" in got.invalid
    # One probability per row for two classes: of class 1.
    got = extract(FUNCTION, _measured([0.9, 0.2, 0.6]), None, np.array([1, 0, 0]))
    assert got.measured == pytest.approx(2 / 3)


def test_function_cross_entropy():
    part = Part(id="loss", kind="function", object="predict_proba", split="test", metric="cross_entropy")
    probabilities = np.array([[0.5, 0.5], [0.9, 0.1]])
    got = extract(part, _measured(probabilities), None, np.array([0, 0]))
    assert got.measured == pytest.approx(-(np.log(0.5) + np.log(0.9)) / 2)
    logits = np.array([[2.0, -1.0], [0.3, 4.0]])
    assert "predict_proba(X) should return" in extract(part, _measured(logits), None, np.array([0, 1])).invalid


def test_agent_measures_arrays_and_functions(monkeypatch, tmp_path):
    np.savez(tmp_path / "d.npz", x=np.arange(12, dtype=np.uint8).reshape(6, 2), y=np.arange(6))
    namespace = {"means": [[1, 2], [3, 4]], "predict": lambda X: (X[:, 0] > 6).astype(int),
                 "broken": lambda X: 1 / 0, "text": "hello"}
    monkeypatch.setattr(agent, "_namespace", lambda: namespace)
    monkeypatch.setattr(agent, "_INPUTS", {})
    monkeypatch.setattr(agent, "_STATE", {"data": {"d": str(tmp_path / "d.npz")}, "config": {
        "splits": {"test": {"data": "d", "x": "x", "start": 2, "stop": None, "scale": 1.0}}}})
    from grader.judge.extract import decode_array

    value = agent._measure({"kind": "array", "object": "means"})
    assert decode_array(value).tolist() == [[1, 2], [3, 4]]
    value = agent._measure({"kind": "function", "object": "predict", "split": "test"})
    assert decode_array(value).tolist() == [0, 0, 1, 1]  # rows 2..5, first column 4, 6, 8, 10
    with pytest.raises(agent._Unmeasurable, match=r"calling broken\(X\) on the 4 rows .* ZeroDivisionError"):
        agent._measure({"kind": "function", "object": "broken", "split": "test"})
    with pytest.raises(agent._Unmeasurable, match="text is a str, not a function"):
        agent._measure({"kind": "function", "object": "text", "split": "test"})
    with pytest.raises(agent._Unmeasurable, match="not an array of numbers"):
        agent._measure({"kind": "array", "object": "text"})


def test_second_assignment_uses_only_new_kinds():
    assignment = load_assignment(DIGITS)
    assert {p.kind for p in assignment.parts} == {"array", "function"}
    assert assignment.kernel.framework == "none"
    assert all(assignment.threshold(p.id) is not None for p in assignment.parts)


def _digits_copy(tmp_path, edit):
    folder = tmp_path / "assignments" / "d"
    reference = tmp_path / "reference" / "d"
    folder.mkdir(parents=True)
    reference.mkdir(parents=True)
    (folder / "assignment.toml").write_text(edit((DIGITS / "assignment.toml").read_text()))
    (reference / "thresholds.toml").write_text(
        (ROOT / "reference" / "sklearn_digits" / "thresholds.toml").read_text())
    return folder


@pytest.mark.parametrize("old, new, message", [
    ('object = "predict"\n', "", r"parts\[2\].object: a function part needs object"),
    ('metric = "accuracy"\n\n[[parts]]\nid = "mlp_accuracy"', 'metric = "f1"\n\n[[parts]]\nid = "mlp_accuracy"',
     r"parts\[1\].metric: unknown metric 'f1'"),
    ('split = "test"', 'split = "tset"', r"parts\[1\].split: no split named 'tset'"),
    ('cache = "~/.cache/grader/sklearn_digits/digits.npz"\n', "", r"data.digits.cache: a data file with build"),
])
def test_spec_errors_of_the_new_kinds_name_the_field(tmp_path, old, new, message):
    folder = _digits_copy(tmp_path, lambda text: text.replace(old, new, 1))
    with pytest.raises(SpecError, match=message):
        load_assignment(folder)


def test_threshold_problems_per_kind():
    from grader.judge.kinds import threshold_problems

    assert threshold_problems(FUNCTION, Threshold(part="acc")) == [
        ("min", "a function threshold needs min or max")]
    assert threshold_problems(FUNCTION, FUNCTION_RULE) == []
    assert [f for f, _ in threshold_problems(ARRAY, Threshold(part="means"))] == ["expected_file", "max"]
    shapes = Part(id="s", kind="shapes", objects=("W", "b"))
    assert threshold_problems(shapes, Threshold(part="s", expected=("784 10",)))[0][0] == "expected"
