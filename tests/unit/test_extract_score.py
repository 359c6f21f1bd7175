"""Measured values, thresholds and claimed-vs-measured flags (no kernel needed)."""
import numpy as np
import pytest

from grader.judge.extract import Extracted, decode_array, extract, shapes_string
from grader.kernel.agent import _encode
from grader.results import CellError
from grader.judge.score import score_part


def _measure(values):
    return {"ok": True, "cell": 5, "value": _encode(np.asarray(values))}


def test_encode_decode_round_trip():
    ints = np.array([1, 2, 3], dtype=np.int32)
    floats = np.random.default_rng(0).random((4, 3)).astype(np.float32)
    assert decode_array(_encode(ints)).tolist() == [1, 2, 3]
    np.testing.assert_allclose(decode_array(_encode(floats)), floats)


def test_accuracy_is_computed_against_labels(assignment):
    labels = np.array([0, 1, 2, 3])
    got = extract(assignment.part("RMv95"), _measure([0, 1, 2, 0]), None, labels)
    assert got.measured == pytest.approx(0.75) and not got.error


def test_accuracy_rejects_probabilities_as_classes(assignment):
    labels = np.array([0, 1])
    got = extract(assignment.part("RMv95"), _measure(np.eye(10)[:2]), None, labels)
    assert "one class index per image" in got.invalid


def test_cross_entropy_from_probabilities(assignment):
    probs = np.array([[0.5, 0.5], [0.9, 0.1]])
    got = extract(assignment.part("vmogZ"), _measure(probs), None, np.array([0, 0]))
    assert got.measured == pytest.approx(-(np.log(0.5) + np.log(0.9)) / 2)


def test_cross_entropy_rejects_non_probabilities(assignment):
    logits = np.array([[2.0, -1.0], [0.3, 4.0]])
    got = extract(assignment.part("vmogZ"), _measure(logits), None, np.array([0, 1]))
    assert "not a distribution" in got.invalid


def test_shapes_string_matches_course_format():
    assert shapes_string([[784, 10], [10], [None, 784], [None, 10]]) == "784 10 10 None 784 None 10"


def _shapes(shapes, extra=None, claimed=None):
    measured = {"ok": True, "cell": 3, "value": {"shapes": shapes, "extra": extra or []}}
    answer = {"value": claimed, "text": claimed} if claimed is not None else None
    return measured, answer


@pytest.mark.parametrize("b_shape, claimed", [
    ([10], "784 10 10 None 784 None 10"),
    ([1, 10], "784 10 1 10 None 784 None 10"),
    ([10], "784 10 10 None 784 None 10 None 10 None 10 None"),  # the course's 7-tensor string
])
def test_shapes_part_accepts_course_variants(assignment, b_shape, claimed):
    part = assignment.part("9XaAS")
    measured, answer = _shapes([[784, 10], b_shape, [None, 784], [None, 10]],
                               extra=[[None, 10], [None, 10], [None]], claimed=claimed)
    result = score_part(part, assignment.threshold("9XaAS"), extract(part, measured, answer),
                        graded_cell=3, cell_errors=[], failure="", failed_at=None)
    assert result.status == "passed" and result.points == 1
    assert not result.claim_mismatch, result.message


def test_wrong_shape_fails_with_a_clear_message(assignment):
    part = assignment.part("9XaAS")
    measured, answer = _shapes([[784, 10], [784], [None, 784], [None, 10]])
    result = score_part(part, assignment.threshold("9XaAS"), extract(part, measured, answer),
                        graded_cell=3, cell_errors=[], failure="", failed_at=None)
    assert result.status == "failed"
    assert "b has shape (784), expected (10) or (1, 10)" in result.message


def _score_value(assignment, part_id, value, claimed=None, errors=(), cell=7):
    part = assignment.part(part_id)
    extracted = Extracted(part=part_id, measured=value, cell=cell, claimed=claimed)
    return score_part(part, assignment.threshold(part_id), extracted, graded_cell=cell,
                      cell_errors=list(errors), failure="", failed_at=None)


def test_threshold_min_and_max(assignment):
    accuracy = assignment.threshold("RMv95").min
    loss = assignment.threshold("vmogZ").max
    assert _score_value(assignment, "RMv95", accuracy).status == "passed"
    low = _score_value(assignment, "RMv95", accuracy - 0.01)
    assert low.status == "failed" and low.points == 0 and "below the required" in low.message
    assert _score_value(assignment, "vmogZ", loss).status == "passed"
    assert "above the allowed" in _score_value(assignment, "vmogZ", loss + 0.01).message


def test_claimed_value_is_flagged_not_trusted(assignment):
    result = _score_value(assignment, "RMv95", 0.8893, claimed=0.99)
    assert result.status == "failed" and result.claim_mismatch
    assert "Reported 0.99, measured 0.8893" in result.message
    close = _score_value(assignment, "RMv95", 0.95, claimed=0.95)
    assert not close.claim_mismatch


def test_cell_errors_give_context(assignment):
    errors = [CellError(cell=5, ename="NameError", evalue="name 'labels' is not defined"),
              CellError(cell=7, ename="NameError", evalue="name 'loss' is not defined")]
    result = _score_value(assignment, "RMv95", 0.1, errors=errors)
    assert "The graded cell 7 raised NameError: name 'loss' is not defined" in result.message
    assert "Earlier, cell 5 raised NameError: name 'labels' is not defined" in result.message


def test_missing_and_not_measured(assignment):
    part = assignment.part("rE763")
    missing = score_part(part, assignment.threshold("rE763"), Extracted(part="rE763"), graded_cell=None,
                         cell_errors=[], failure="", failed_at=None)
    assert missing.status == "missing" and 'grader.set_answer("rE763"' in missing.message
    stopped = score_part(part, assignment.threshold("rE763"), Extracted(part="rE763"), graded_cell=9,
                         cell_errors=[], failure="the kernel died while running cell 8", failed_at=8)
    assert stopped.status == "error" and "the kernel died while running cell 8" in stopped.message


def test_measurement_error_is_an_error_status(assignment):
    part = assignment.part("rE763")
    extracted = extract(part, {"ok": False, "cell": 9, "error": "name 'classes' is not defined"}, None)
    result = score_part(part, assignment.threshold("rE763"), extracted, graded_cell=9, cell_errors=[],
                        failure="", failed_at=None)
    assert result.status == "error" and "name 'classes' is not defined" in result.message
