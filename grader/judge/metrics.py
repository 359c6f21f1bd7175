"""The metrics a ``function`` or ``model`` part may ask for by name (``metric`` in assignment.toml).

Each is computed here, in the harness, from the outputs the learner's
function or model gave on a split's inputs, against the split's labels
(which never enter the kernel).  A :class:`Metric` knows whether higher is
better (what ``grader calibrate`` needs to suggest a ``min`` or a ``max``)
and fills an :class:`~grader.judge.measures.Extracted`: ``measured``, or
``invalid`` with a sentence that says what the outputs should have been.

    name                 outputs, one row per input              higher is better
    accuracy             a class per row, or a score per class     yes
    cross_entropy        probabilities per row (rows sum to 1)     no
    top5_accuracy        a score per class (5 classes or more)     yes
    mean_squared_error   a number per row                          no
    mean_absolute_error  a number per row                          no
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Subject:
    """How messages name the outputs: ``predict(X)`` and "row of X", or the model and "input"."""

    outputs: str            # "predict(X)", "the outputs of model"
    row: str                # "row of X", "input"
    probabilities_hint: str  # what to do when the outputs are not probabilities
    classes_hint: str       # what to do when the outputs are not classes


@dataclass(frozen=True)
class Metric:
    """One metric: its name, its direction, what it is called in messages, how it is computed."""

    name: str
    higher_is_better: bool
    what: str                          # "accuracy", "loss (cross-entropy)": "the test {what}"
    compute: Callable                  # (out, outputs, labels, subject) -> None
    classification: bool = True        # labels are classes: the integrity check compares classes


def as_classes(outputs):
    """One class per row: the highest score of each row, or the outputs themselves."""
    if outputs.ndim == 2 and outputs.shape[1] > 1:
        return outputs.argmax(axis=1)
    return outputs.reshape(len(outputs)) if outputs.ndim == 2 else outputs


def _integral_mask(values):
    import numpy as np

    return np.isfinite(values) & (values == np.round(values))


def accuracy(out, outputs, labels, subject: Subject) -> None:
    """Share of rows whose class (given, or the highest score) is the label."""
    import numpy as np

    if outputs.ndim == 2 and outputs.shape[1] > 1:
        outputs = outputs.argmax(axis=1)
    elif outputs.ndim == 2 and outputs.shape[1] == 1:
        outputs = outputs[:, 0]
    if outputs.ndim != 1:
        out.invalid = (f"{subject.outputs} have shape {list(outputs.shape)}; expected one class (or "
                       f"one score per class) per {subject.row} - {subject.classes_hint}")
        return
    if len(outputs) != len(labels):
        out.invalid = f"got {len(outputs)} predictions for {len(labels)} {subject.row}s"
        return
    if outputs.dtype.kind == "f" and not bool(_integral_mask(outputs).all()):
        binary = set(np.unique(labels).tolist()) <= {0, 1}
        if binary and np.all((outputs >= 0) & (outputs <= 1)):
            outputs = (outputs > 0.5).astype(np.int64)  # one probability per row: of class 1
        else:
            example = outputs[~_integral_mask(outputs)][0]
            out.invalid = (f"{subject.outputs} are numbers that are not class labels (for example "
                           f"{example:g}); {subject.classes_hint}")
            return
    out.measured = float(np.mean(outputs.astype(np.int64) == labels.astype(np.int64)))


def _distribution_problem(probabilities, labels, subject: Subject) -> str:
    """Why ``probabilities`` are not one distribution over the classes per row, or ""."""
    import numpy as np

    if probabilities.ndim != 2 or probabilities.shape[0] != len(labels):
        return (f"{subject.outputs} have shape {list(probabilities.shape)}; expected "
                f"[{len(labels)}, number of classes]")
    if int(labels.max()) >= probabilities.shape[1]:
        return (f"{subject.outputs} have {probabilities.shape[1]} columns but the labels go up to "
                f"{int(labels.max())}")
    if not np.all(np.isfinite(probabilities)):
        return f"{subject.outputs} contain NaN or infinity (did training diverge?)"
    sums = probabilities.sum(axis=1)
    if probabilities.min() < -1e-6 or np.max(np.abs(sums - 1.0)) > 1e-3:
        worst = float(sums[np.argmax(np.abs(sums - 1.0))])
        return (f"{subject.outputs} are not a distribution per row (a row sums to {worst:.3g}); "
                f"{subject.probabilities_hint}")
    return ""


def cross_entropy(out, outputs, labels, subject: Subject) -> None:
    """Mean negative log-probability of the label."""
    import numpy as np

    problem = _distribution_problem(outputs, labels, subject)
    if problem:
        out.invalid = problem
        return
    picked = outputs[np.arange(len(labels)), labels.astype(np.int64)]
    out.measured = float(-np.mean(np.log(np.clip(picked, 1e-12, 1.0))))


def top5_accuracy(out, outputs, labels, subject: Subject) -> None:
    """Share of rows whose label is among the five highest scores."""
    import numpy as np

    if outputs.ndim != 2 or outputs.shape[0] != len(labels) or outputs.shape[1] < 5:
        out.invalid = (f"{subject.outputs} have shape {list(outputs.shape)}; top-5 accuracy needs a "
                       f"score per class (5 classes or more) per {subject.row}")
        return
    top = np.argsort(-outputs, axis=1, kind="stable")[:, :5]
    out.measured = float(np.mean(np.any(top == labels.astype(np.int64)[:, None], axis=1)))


def _numbers(out, outputs, labels, subject: Subject):
    if outputs.ndim == 2 and outputs.shape[1] == 1:
        outputs = outputs[:, 0]
    if outputs.ndim != 1 or len(outputs) != len(labels):
        out.invalid = (f"{subject.outputs} have shape {list(outputs.shape)}; expected one number per "
                       f"{subject.row} (shape [{len(labels)}])")
        return None
    return outputs.astype("float64")


def mean_squared_error(out, outputs, labels, subject: Subject) -> None:
    import numpy as np

    values = _numbers(out, outputs, labels, subject)
    if values is not None:
        out.measured = float(np.mean((values - labels.astype("float64")) ** 2))


def mean_absolute_error(out, outputs, labels, subject: Subject) -> None:
    import numpy as np

    values = _numbers(out, outputs, labels, subject)
    if values is not None:
        out.measured = float(np.mean(np.abs(values - labels.astype("float64"))))


METRICS: dict[str, Metric] = {metric.name: metric for metric in (
    Metric("accuracy", True, "accuracy", accuracy),
    Metric("cross_entropy", False, "loss (cross-entropy)", cross_entropy),
    Metric("top5_accuracy", True, "top-5 accuracy", top5_accuracy),
    Metric("mean_squared_error", False, "mean squared error", mean_squared_error, classification=False),
    Metric("mean_absolute_error", False, "mean absolute error", mean_absolute_error, classification=False),
)}


def metric(name: str) -> Metric:
    """The metric called ``name`` (KeyError when there is none)."""
    return METRICS[name]
