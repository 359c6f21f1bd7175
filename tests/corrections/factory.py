"""Result files as ``grader grade`` writes them, made without a kernel.

The measurements go through the grader's own extraction and judging
(:func:`grader.judge.extract.extract` and :func:`grader.judge.score.score_part`),
exactly as :func:`grader.orchestrate.grade_notebook` calls them; only the
kernel's outputs are made up: predicted classes with a chosen accuracy,
probabilities with a chosen cross-entropy, static shapes.  So a test can make
a class of hundreds of realistic results in a second (and ``bench/bench_rescore.py``
makes 500).  The labels here are a fixed random draw, not MNIST's: the verdicts
depend only on the metric, which is what a rescore judges again.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from grader.version import __version__
from grader.judge.extract import extract
from grader.judge.kinds import get_kind
from grader.judge.score import score_part
from grader.results import GRADED, SubmissionResult, write_atomic

ROWS = 1000
LABELS = np.random.default_rng(7).integers(0, 10, ROWS)
SHAPES = [[784, 10], [10], [None, 784], [None, 10]]
EXTRA = [[None, 10], [None, 10], [None]]


def classes(accuracy: float) -> np.ndarray:
    """Predicted classes that agree with LABELS on ``accuracy`` of the rows (to 1/ROWS)."""
    predicted = LABELS.copy()
    wrong = int(round((1 - accuracy) * ROWS))
    predicted[:wrong] = (predicted[:wrong] + 1) % 10
    return predicted


def probabilities(loss: float) -> np.ndarray:
    """Rows of class probabilities whose mean cross-entropy against LABELS is ``loss``."""
    right = float(np.exp(-loss))
    table = np.full((ROWS, 10), (1 - right) / 9)
    table[np.arange(ROWS), LABELS] = right
    return table


def mnist_result(assignment, learner: str, *, linear_loss=0.2561, linear_accuracy=0.931,
                 mlp_loss=0.07, mlp_accuracy=0.978, shapes=SHAPES, claims: dict | None = None,
                 started_at="2026-03-02T09:00:00+00:00") -> SubmissionResult:
    """A graded mnist_digits result with these measured values (claims default to the same)."""
    measured = {"vmogZ": ("loss", linear_loss), "RMv95": ("accuracy", linear_accuracy),
                "i8bgs": ("loss", mlp_loss), "rE763": ("accuracy", mlp_accuracy)}
    claims = claims or {}
    parts = []
    for cell, part in enumerate(assignment.parts, start=5):
        if part.kind == "shapes":
            value = {"shapes": shapes, "extra": EXTRA}
            text = " ".join("None" if d is None else str(d) for s in shapes for d in s)
            answer = {"value": claims.get(part.id, text), "text": claims.get(part.id, text)}
            reference = None
        else:
            kind, metric = measured[part.id]
            value = {"values": probabilities(metric) if kind == "loss" else classes(metric)}
            answer = {"value": claims.get(part.id, metric), "text": repr(claims.get(part.id, metric))}
            reference = LABELS
        extracted = extract(part, {"ok": True, "cell": cell, "value": value}, answer, reference)
        hidden = get_kind(part.kind).uses_split and assignment.split(part.split).hidden
        parts.append(score_part(part, assignment.threshold(part.id), extracted, graded_cell=cell,
                                cell_errors=[], failure="", failed_at=None, hidden=hidden))
    return SubmissionResult(
        learner=learner, assignment=assignment.id, assignment_version=assignment.version,
        assignment_digest=assignment.digest, measurement_digest=assignment.measurement_digest,
        thresholds_digest=assignment.thresholds_digest, harness_version=__version__,
        submission=f"{learner}.ipynb",
        submission_sha256=hashlib.sha256(learner.encode()).hexdigest(), status=GRADED,
        total=sum(p.points for p in parts), max_total=assignment.max_points,
        started_at=started_at, duration_s=40.0,
        grading_key=hashlib.sha256(f"key-{learner}".encode()).hexdigest(), parts=parts)


def write_class(out: Path, results: list[SubmissionResult]) -> Path:
    """Lay results out as ``grader grade --out OUT`` does (results/, a journal); returns OUT."""
    lines = []
    for result in results:
        write_atomic(out / "results" / f"{result.learner}.json", result.to_json())
        lines.append(f'{{"time": "{result.started_at}", "event": "done", "learner": '
                     f'"{result.learner}", "key": "{result.grading_key}", "total": '
                     f'{result.total}, "status": "{result.status}"}}')
    with open(out / "journal.jsonl", "a", encoding="utf-8") as journal:
        journal.write("\n".join(lines) + "\n")
    return out
