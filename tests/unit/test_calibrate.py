"""`grader calibrate`'s suggested thresholds and `--write`, from stored results (no kernel).

The suggestions are checked on the figures of the shipped MNIST assignment (its thresholds
were chosen by hand before calibrate suggested any: the rule finds the same ones where the
weak sample is the same), and the written thresholds.toml keeps its comments and keys.
"""
import json
import re
from pathlib import Path

import pytest

from grader.assignments import load_assignment
from grader.authoring.calibrate import format_suggestions, rejudge, suggest, summarise, write_thresholds
from grader.results import PartResult, SubmissionResult
from tests.conftest import ROOT


@pytest.mark.parametrize("values, weak, higher, expected", [
    # mnist_digits' linear accuracy: seeds 0.9315-0.9321, the one-epoch weak model 0.899 -> 0.92,
    # the bound chosen by hand.
    ([0.9316, 0.9315, 0.9321, 0.9318, 0.9317], {"weak.ipynb": 0.899}, True, {"min": 0.92}),
    # Its linear loss: seeds 0.2561-0.2562, weak 0.404 -> 0.30, chosen by hand too.
    ([0.2561, 0.2562, 0.2561, 0.2562, 0.2561], {"weak.ipynb": 0.404}, False, {"max": 0.3}),
    # No weak sample: 2 % below the worst seed, rounded.
    ([0.9756, 0.9770, 0.9761], {}, True, {"min": 0.95}),
])
def test_suggestions_from_seeds_and_weak_samples(values, weak, higher, expected):
    found = suggest(values, weak, higher_is_better=higher)
    bound = next(iter(expected))
    assert found[bound] == pytest.approx(expected[bound])
    assert found["seeds_margin"] > 0
    if weak:
        assert found["weak_margin"] > 0 and found["weak"] == "weak.ipynb"


def test_a_weak_sample_as_good_as_the_solution_gets_no_suggestion_and_a_noisy_one_the_midpoint():
    none = suggest([0.90, 0.91], {"w.ipynb": 0.95}, higher_is_better=True)
    assert "as good as the solution's worst seed" in none["none"]
    close = suggest([0.90, 0.95, 0.93], {"w.ipynb": 0.89}, higher_is_better=True)
    assert close["min"] == pytest.approx(0.895) and close["why"].startswith("halfway")


def _result(name: str, seed: int, values: dict, statuses: dict | None = None) -> SubmissionResult:
    return SubmissionResult(learner=name, assignment="sklearn_digits", submission=f"{name}.ipynb", seed=seed,
                            parts=[PartResult(id=part, kind=kind, measured=value, evidence={},
                                              status=(statuses or {}).get(part, "passed"))
                                   for part, (kind, value) in values.items()])


def test_write_keeps_comments_and_keys_and_the_runs_are_judged_again(tmp_path):
    for name in ("assignments", "reference"):
        (tmp_path / name / "d").mkdir(parents=True)
    (tmp_path / "assignments" / "d" / "assignment.toml").write_text(
        (ROOT / "assignments" / "sklearn_digits" / "assignment.toml").read_text())
    (tmp_path / "assignments" / "d" / "helpers").symlink_to(ROOT / "assignments" / "sklearn_digits" / "helpers")
    thresholds = tmp_path / "reference" / "d" / "thresholds.toml"
    thresholds.write_text("# The course's bounds.\n\n[parts.mlp_accuracy]\nmin = 0.99  # too strict\n"
                          "claim_tolerance = 0.001\nreason = \"why\"\n")
    assignment = load_assignment(tmp_path / "assignments" / "d")
    parts = {"class_means": ("array", 0.0), "nearest_mean": ("function", 0.8811),
             "mlp_accuracy": ("function", 0.93), "mlp_loss": ("function", 0.25)}
    runs = [_result("solution", seed, {**parts, "mlp_accuracy": ("function", 0.93 + seed / 1000)},
                    {"mlp_accuracy": "failed"}) for seed in range(3)]
    weak = [_result("weak", 0, {**parts, "mlp_accuracy": ("function", 0.80), "mlp_loss": ("function", 0.9),
                                "nearest_mean": ("function", 0.5)}, {"mlp_accuracy": "failed"})]
    report = summarise(assignment, runs, weak, weak_targets={"weak.ipynb": ["mlp_accuracy", "mlp_loss",
                                                                             "nearest_mean"]})
    report["results"] = {"solution": runs, "weak": weak}
    assert report["parts"]["mlp_accuracy"]["suggested"]["min"] == pytest.approx(0.89)
    assert "suggested" not in report["parts"]["class_means"]  # an array: no bound to suggest
    assert re.search(r"mlp_accuracy +>= 0.89 +0.0400 +0.0900  a quarter of the way", format_suggestions(report))
    changes = write_thresholds(assignment, report)
    assert "parts.mlp_accuracy.min = 0.89 (was 0.99)" in changes and "parts.mlp_loss.max = 0.45 (new)" in changes
    text = thresholds.read_text()
    assert text.startswith("# The course's bounds.\n") and 'reason = "why"' in text and "claim_tolerance = 0.001" in text
    assert "min = 0.89 # grader calibrate" in text and "3 seeds 0.93-0.932, best weak sample 0.8" in text
    again = rejudge(load_assignment(tmp_path / "assignments" / "d"), report)
    assert again["parts"]["mlp_accuracy"]["passed_every_seed"]
    assert again["parts"]["mlp_accuracy"]["weak_models_fail"] == {"weak.ipynb": True}


def test_the_keras_editions_committed_calibration_still_fails_its_weak_samples():
    """The thresholds in the repository against the weak samples' values in calibration.json:
    loosening a bound past a weak sample without calibrating again fails here."""
    from grader.judge.score import rejudge_part

    assignment = load_assignment(ROOT / "assignments" / "mnist_keras")
    report = json.loads((assignment.reference_folder / "calibration.json").read_text())
    assert len(report["seeds"]) >= 5 and all(run["status"] == "graded" for run in report["solution_runs"])
    assert {Path(w["notebook"]).stem for w in report["weak_runs"]} == {"one_epoch", "one_hidden_layer"}
    for part_id, entry in report["parts"].items():
        assert entry["passed_every_seed"], part_id
        assert entry["weak_models_fail"] and all(entry["weak_models_fail"].values()), part_id
        threshold = assignment.threshold(part_id)
        for value in (entry["min"], entry["max"]):
            assert threshold.min is None or value >= threshold.min
            assert threshold.max is None or value <= threshold.max
    del rejudge_part
