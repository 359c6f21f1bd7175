"""Model fingerprints and model evidence, without a kernel: outputs made here, as the evaluator returns them.

The real gradings (same computation, disguised text -> the same fingerprint) are in
tests/integration/test_similarity_grading.py.
"""
from __future__ import annotations

import json
import zlib

import numpy as np
import pytest

from grader.judge.fingerprint import SKETCH_TOLERANCE, output_fingerprint, same_outputs
from grader.results import PartResult, SubmissionResult, load_schema
from grader.similarity.code import CodeMatch
from grader.similarity.evidence import Distribution, Pair, Thresholds, judge
from grader.similarity.models import ModelEvidence


def probabilities(seed: int, rows: int = 10000) -> np.ndarray:
    logits = np.random.default_rng(seed).normal(0, 3, (rows, 10))
    p = np.exp(logits)
    return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


def test_thread_count_noise_is_within_the_tolerance_and_other_models_are_not():
    p = probabilities(1)
    base = output_fingerprint(p)
    rng = np.random.default_rng(2)
    # float32 sums in another order differ in the last bits: 1e-7 relative, here ten times more
    noisy = (p * (1 + rng.uniform(-1e-6, 1e-6, p.shape))).astype(np.float32)
    again = output_fingerprint(noisy)
    assert max(abs(a - b) for a, b in zip(base["sketch"], again["sketch"])) < SKETCH_TOLERANCE / 50
    assert same_outputs(base, again)
    # another model: the same images classified almost alike, probabilities 1% apart
    other = (p * (1 + rng.uniform(-1e-2, 1e-2, p.shape))).astype(np.float32)
    assert not same_outputs(base, output_fingerprint(other))
    assert not same_outputs(base, output_fingerprint(probabilities(3)))


def test_class_outputs_are_compared_by_digest():
    classes = np.random.default_rng(4).integers(0, 10, 10000)
    first, second = output_fingerprint(classes), output_fingerprint(classes.copy())
    assert set(first) == {"rows", "classes"} and same_outputs(first, second)
    flipped = classes.copy()
    flipped[17] = (flipped[17] + 1) % 10
    assert not same_outputs(first, output_fingerprint(flipped))
    assert output_fingerprint(np.array(3.0)) is None and output_fingerprint(np.array([])) is None
    assert not same_outputs(first, None)


def test_a_result_with_fingerprints_matches_the_schema():
    jsonschema = pytest.importorskip("jsonschema")
    result = SubmissionResult(learner="x", assignment="a", threads=2, parts=[
        PartResult(id="loss", fingerprint=output_fingerprint(probabilities(5))),
        PartResult(id="acc", fingerprint=output_fingerprint(np.arange(10) % 3)), PartResult(id="s")])
    jsonschema.validate(json.loads(result.to_json()), load_schema())
    assert SubmissionResult.from_json(result.to_json()).parts[0].fingerprint["sketch"]


def _class(models: dict[str, tuple[int, int]]) -> list[SubmissionResult]:
    """Learners -> (linear model seed, MLP model seed); the same seed is the same model."""
    results = []
    for learner, (linear, mlp) in models.items():
        noise = np.random.default_rng(zlib.crc32(learner.encode()))
        parts = []
        for part, model, seed in (("vmogZ", "linear", linear), ("i8bgs", "MLP", mlp)):
            p = probabilities(seed)
            p = (p * (1 + noise.uniform(-1e-7, 1e-7, p.shape))).astype(np.float32)  # another thread count
            parts.append(PartResult(id=part, model=model, kind="loss", fingerprint=output_fingerprint(p)))
            parts.append(PartResult(id=part + "-acc", model=model, kind="accuracy",
                                    fingerprint=output_fingerprint(p.argmax(axis=1))))
        results.append(SubmissionResult(learner=learner, assignment="a", parts=parts,
                                        threads=1 + len(results) % 2))
    return results


def test_identical_models_are_grouped_with_their_rarity_and_diversity():
    # Six learners build the obvious linear model (the same one); two share an MLP.
    models = {f"l{n}": (1, 100 + n) for n in range(6)}
    models["l5"] = (1, 100)
    evidence = ModelEvidence(_class(models), rare_up_to=2)
    groups = {(g.model, tuple(g.learners)): g for g in evidence.groups}
    linear = groups[("linear", ("l0", "l1", "l2", "l3", "l4", "l5"))]
    mlp = groups[("MLP", ("l0", "l5"))]
    assert linear.size == 6 and linear.among == 6 and linear.diversity == pytest.approx(1 / 6)
    assert mlp.diversity == pytest.approx(5 / 6) and mlp.rarity == 1.0
    assert linear.weight < 0.1 < Thresholds().model_weight <= mlp.weight
    assert mlp.threads == [1, 2]  # graded with two thread counts, still one model
    assert [g.model for g in evidence.shared("l0", "l5")] == ["linear", "MLP"]
    assert [g.model for g in evidence.shared("l1", "l2")] == ["linear"]


def test_a_shared_rare_model_marks_close_code_and_a_common_one_does_not():
    models = {f"l{n}": (1, 100 + n) for n in range(6)}
    models["l5"] = (1, 100)
    evidence = ModelEvidence(_class(models), rare_up_to=2)
    thresholds = Thresholds()
    # A class whose typical pair is 0.10, spread 0.02: this code lies 6 spreads out, short of 9.
    distribution = Distribution(pairs=15, typical=0.10, spread=0.02, stands_out=thresholds.stands_out,
                                with_model=thresholds.with_model)

    def pair(first, second, similarity):
        code = CodeMatch(first=0, second=1, shared=40, unique=3, few=10, share_first=0.55, share_second=0.5,
                         similarity=similarity)
        made = Pair(first=first, second=second, second_kind="learner", code=code,
                    models=evidence.shared(first, second))
        judge(made, distribution, thresholds)
        return made

    with_model, common_model_only = pair("l0", "l5", 0.22), pair("l1", "l2", 0.22)
    assert with_model.spreads == pytest.approx(6.0) and common_model_only.spreads == pytest.approx(6.0)
    assert with_model.stands_out and not common_model_only.stands_out
    assert "the same MLP model (2 of 6 learners)" in with_model.why and "so 6.0 spreads suffice" in with_model.why
    # A shared model alone (code like the class's typical pair) never marks a pair.
    assert not pair("l0", "l5", 0.11).stands_out
    # Code far out stands out without a model, and says nothing of one.
    alone = pair("l1", "l2", 0.30)
    assert alone.stands_out and "model" not in alone.why and "10.0 spreads above" in alone.why
