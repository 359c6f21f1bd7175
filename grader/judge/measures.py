"""The per-kind measurement handlers: what the kernel (or the evaluator) sent, made a value.

Each handler fills an :class:`Extracted` from the agent's value and the
reference the harness holds (labels, an expected array).  The kind table
(:mod:`grader.judge.kinds`) names the handler of each kind; the dispatcher is
:func:`grader.judge.extract.extract`.
Metrics are computed here, in the harness, against labels that never enter
the kernel.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass

from ..specs.model import Part
from ..kernel.integrity import sample_order
from . import metrics
from .fingerprint import output_fingerprint


@dataclass
class Extracted:
    """Claimed and measured value of one part, or why it could not be measured."""

    part: str
    claimed: object = None           # JSON value the notebook passed to set_answer
    claimed_text: str | None = None  # the text Grader would have sent
    measured: object = None          # number or shapes string
    detail: dict | None = None       # kind-specific extra (per-object shapes, ...); never in results
    claimed_value: object = None     # the full claim when `claimed` holds a summary of it (arrays)
    error: str = ""                  # measurement failed: why
    invalid: str = ""                # measured, but the model's output is not what the part needs
    cell: int | None = None
    integrity: str = ""              # what the integrity check of the predictions found
    reported: dict | None = None     # split -> metric, measured on other splits (not graded)
    fingerprint: dict | None = None  # the outputs' fingerprint (grader.judge.fingerprint): instructors only


def decode_array(encoded: dict):
    """Decode an array the agent sent (base64 of little-endian int64 or float64).

    Arrays the evaluator computed arrive decoded already and pass through.
    """
    import numpy as np

    if isinstance(encoded, np.ndarray):
        return encoded
    if not isinstance(encoded, dict) or encoded.get("dtype") not in ("<i8", "<f8"):
        raise ValueError("not an encoded array")
    values = np.frombuffer(base64.b64decode(encoded["b64"]), dtype=encoded["dtype"])
    return values.reshape([int(d) for d in encoded["shape"]])


def shapes_string(shapes) -> str:
    """Shapes as the course's grading_utils writes them: dims joined by spaces, None for unknown."""
    return " ".join("None" if d is None else str(d) for shape in shapes for d in shape)


# --- one handler per kind: (out, value the agent sent, reference, part) -> None ---------------

def extract_shapes(out: Extracted, value: dict, _reference, _part: Part) -> None:
    """Static shapes of the objects, as the course's shapes string."""
    shapes = [list(s) for s in value["shapes"]]
    out.measured = shapes_string(shapes)
    out.detail = {"shapes": shapes, "extra": value.get("extra") or []}


def extract_graph_loss(out: Extracted, value: dict, labels, _part: Part) -> None:
    """Mean cross-entropy of a graph's probabilities against the split's labels."""
    values = _checked_values(out, value, labels, as_classes=lambda p: p.argmax(axis=1) if p.ndim == 2 else p)
    out.fingerprint = output_fingerprint(values)
    _cross_entropy(out, values, labels)


def extract_graph_accuracy(out: Extracted, value: dict, labels, _part: Part) -> None:
    """Accuracy of a graph's predicted classes against the split's labels."""
    values = _checked_values(out, value, labels, as_classes=lambda p: p.reshape(len(p), -1)[:, 0]
                             if p.ndim == 2 and p.shape[1] == 1 else p)
    out.fingerprint = output_fingerprint(values)
    _accuracy(out, values, labels)


# A model's predictions must follow its inputs. Shuffling the images must shuffle the
# predictions the same way (a deterministic model agrees with itself exactly), and moving every
# pixel by the noise level (1/255, below what the eye or a real model notices) must leave the
# accuracy where it was. A constant made of the labels fails the first; a table keyed on exact
# pixel rows fails the second.
_MIN_SELF_AGREEMENT = 0.99
_MAX_NOISE_DROP = 0.05


def _checked_values(out: Extracted, value: dict, labels, *, as_classes, classification: bool = True):
    """The main values; with an integrity check, also judge whether they follow the inputs.

    ``classification``: the labels are classes, and moving the inputs by the noise must leave the
    accuracy where it was; otherwise (a regression) only the shuffle is checked, outputs compared
    within a relative 1e-4 (a batch of another size may round the last bits differently).
    """
    import numpy as np

    if "values" not in value:
        return decode_array(value)
    values = decode_array(value["values"])
    if "shuffled" not in value:
        return values
    shuffled, noisy = decode_array(value["shuffled"]), decode_array(value["noisy"])
    integrity = value.get("integrity") or {}
    order = sample_order(len(values), integrity)
    try:
        base, again, moved = as_classes(values), as_classes(shuffled), as_classes(noisy)
        if base.dtype.kind == "f" and not classification:
            agreement = float(np.mean(np.isclose(base[order], again, rtol=1e-4, atol=1e-6)))
        else:
            agreement = float(np.mean(base[order] == again))
        accuracy = float(np.mean(base[order] == labels[order])) if classification else None
        noisy_accuracy = float(np.mean(moved == labels[order])) if classification else None
    except (ValueError, IndexError):
        return values  # shapes are wrong: the kind's own check says so
    moved_text = (f"; moved by +-{integrity.get('noise', 0):.4g}: accuracy {noisy_accuracy:.4f} "
                  f"(unmoved {accuracy:.4f})") if classification else ""
    out.integrity = (f"{len(order)} inputs in another order: {agreement:.1%} same predictions"
                     + moved_text)
    if agreement < _MIN_SELF_AGREEMENT:
        out.invalid = (f"the predictions do not follow the inputs: given the same images in another "
                       f"order, the model agrees with its own predictions on only {agreement:.0%} of "
                       f"them. A model must compute its predictions from the images it is given, "
                       f"not return stored labels")
    elif classification and noisy_accuracy < accuracy - _MAX_NOISE_DROP:
        out.invalid = (f"the predictions do not survive a change of every pixel by "
                       f"{integrity.get('noise', 0):.4g}: accuracy falls from {accuracy:.4f} to "
                       f"{noisy_accuracy:.4f}. A real model barely moves; one that looks its answers "
                       f"up by exact pixel values collapses")
    return values


def extract_array(out: Extracted, value: dict, expected, part: Part) -> None:
    """Largest absolute difference between the learner's array and the expected one."""
    import numpy as np

    actual = decode_array(value)
    out.detail = {"values": actual}
    if expected is None:  # no threshold: score says so
        return
    name = part.object
    if actual.shape != expected.shape:
        out.invalid = (f"{name} has shape {_shape_text(actual.shape)}, expected "
                       f"{_shape_text(expected.shape)}")
        return
    if not np.all(np.isfinite(actual)):
        out.invalid = f"{name} contains NaN or infinity"
        return
    if actual.size == 0:
        out.measured = 0.0
        return
    difference = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
    worst = int(np.argmax(difference))
    out.measured = float(difference.flat[worst])
    out.detail["worst_index"] = [int(i) for i in np.unravel_index(worst, difference.shape)]


def extract_function(out: Extracted, value: dict, labels, part: Part) -> None:
    """The function's outputs on the split's inputs, scored with the part's metric."""
    measure = metrics.metric(part.metric)
    outputs = _checked_values(out, value, labels, as_classes=metrics.as_classes,
                              classification=measure.classification)
    out.fingerprint = output_fingerprint(outputs)
    if out.invalid:
        return
    call = f"{part.object}(X)"
    measure.compute(out, outputs, labels, metrics.Subject(
        outputs=f"the outputs of {call}", row="row of X",
        probabilities_hint=f"{call} should return one row of class probabilities per row of X "
                           f"(for example model.predict_proba(X))",
        classes_hint="return one class per row (for example model.predict(X) of scikit-learn), or "
                     "one score per class (the highest counts)"))


def extract_model(out: Extracted, value: dict, labels, part: Part) -> None:
    """A Keras model's outputs on the split's inputs (run by the evaluator), scored with the
    part's metric; its architecture, read by the evaluator from the model it loaded, is kept for
    the architecture rules (:mod:`grader.judge.architecture`)."""
    import numpy as np

    measure = metrics.metric(part.metric)
    architecture = value.get("architecture") if isinstance(value, dict) else None
    out.detail = {"architecture": architecture if isinstance(architecture, dict) else None}
    outputs = _checked_values(out, value, labels, as_classes=metrics.as_classes,
                              classification=measure.classification)
    out.fingerprint = output_fingerprint(outputs)
    if out.invalid:
        return
    if len(outputs) > 1 and outputs.ndim >= 1 and not np.any(np.ptp(outputs, axis=0)):
        out.invalid = (f"{part.object} gives the same output for every input: its predictions do not "
                       f"depend on the images it is given")
        return
    measure.compute(out, outputs, labels, metrics.Subject(
        outputs=f"the outputs of {part.object}", row="input",
        probabilities_hint=(f"end {part.object} with a softmax activation (for example "
                            f"Dense(10, activation=\"softmax\")) so that it gives probabilities"),
        classes_hint=f"end {part.object} with one output per class"))


# Metrics a function or model part may ask for (Part.metric).
FUNCTION_METRICS = tuple(metrics.METRICS)


def _shape_text(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _accuracy(out: Extracted, predicted, labels, *, what: str = "the predicted classes",
              row: str = "image", hint: str = "apply tf.argmax(..., axis=1)") -> None:
    import numpy as np

    if predicted.ndim == 2 and predicted.shape[1] == 1:
        predicted = predicted[:, 0]
    if predicted.ndim != 1:
        out.invalid = (f"{what} have shape {list(predicted.shape)}; expected one class "
                       f"index per {row} (shape [{len(labels)}]) - {hint}")
        return
    if len(predicted) != len(labels):
        out.invalid = f"got {len(predicted)} predictions for {len(labels)} {row}s"
        return
    out.measured = float(np.mean(predicted.astype(np.int64) == labels.astype(np.int64)))


def _cross_entropy(out: Extracted, probabilities, labels, *, what: str = "the predicted probabilities",
                   hint: str = "probas should be tf.nn.softmax(logits)") -> None:
    import numpy as np

    if probabilities.ndim != 2 or probabilities.shape[0] != len(labels):
        out.invalid = (f"{what} have shape {list(probabilities.shape)}; expected "
                       f"[{len(labels)}, number of classes]")
        return
    if int(labels.max()) >= probabilities.shape[1]:
        out.invalid = (f"{what} have {probabilities.shape[1]} columns but the "
                       f"labels go up to {int(labels.max())}")
        return
    sums = probabilities.sum(axis=1)
    if not np.all(np.isfinite(probabilities)):
        out.invalid = f"{what} contain NaN or infinity (did training diverge?)"
        return
    if probabilities.min() < -1e-6 or np.max(np.abs(sums - 1.0)) > 1e-3:
        worst = float(sums[np.argmax(np.abs(sums - 1.0))])
        out.invalid = (f"{what} are not a distribution per row (a row sums to "
                       f"{worst:.3g}); {hint}")
        return
    picked = probabilities[np.arange(len(labels)), labels.astype(np.int64)]
    out.measured = float(-np.mean(np.log(np.clip(picked, 1e-12, 1.0))))


def extract_reports(out: Extracted, part: Part, value, labels_by_split) -> None:
    """The part's metric on the other splits it is also measured on (``report_on``)."""
    if not isinstance(value, dict) or not value.get("reports"):
        return
    out.reported = {}
    for split, encoded in value["reports"].items():
        labels = labels_by_split.get(split)
        if labels is None:
            continue
        probe = Extracted(part=part.id)
        try:
            if part.kind == "accuracy":
                _accuracy(probe, decode_array(encoded), labels)
            elif part.kind == "loss":
                _cross_entropy(probe, decode_array(encoded), labels)
            elif part.kind in ("function", "model") and part.metric in metrics.METRICS:
                metrics.metric(part.metric).compute(probe, decode_array(encoded), labels, _REPORT)
        except (ValueError, KeyError, TypeError):
            continue
        if probe.measured is not None:
            out.reported[split] = probe.measured


_REPORT = metrics.Subject(outputs="the outputs", row="input", probabilities_hint="", classes_hint="")
