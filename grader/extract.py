"""Turn what the kernel reported into claimed and measured values per part.

The kernel only ever returns the learner's *objects' outputs* (shapes,
predicted probabilities, predicted classes on inputs the harness chose).
Metrics are computed here, in the harness, against labels that never enter
the kernel.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass

from .spec import Part


@dataclass
class Extracted:
    """Claimed and measured value of one part, or why it could not be measured."""

    part: str
    claimed: object = None           # JSON value the notebook passed to set_answer
    claimed_text: str | None = None  # the text Grader would have sent
    measured: object = None          # number or shapes string
    detail: dict | None = None       # kind-specific extra (per-object shapes, ...)
    error: str = ""                  # measurement failed: why
    invalid: str = ""                # measured, but the model's output is not what the part needs
    cell: int | None = None


def decode_array(encoded: dict):
    """Decode an array the agent sent (base64 of little-endian int64 or float64)."""
    import numpy as np

    if not isinstance(encoded, dict) or encoded.get("dtype") not in ("<i8", "<f8"):
        raise ValueError("not an encoded array")
    values = np.frombuffer(base64.b64decode(encoded["b64"]), dtype=encoded["dtype"])
    return values.reshape([int(d) for d in encoded["shape"]])


def shapes_string(shapes) -> str:
    """Shapes as the course's grading_utils writes them: dims joined by spaces, None for unknown."""
    return " ".join("None" if d is None else str(d) for shape in shapes for d in shape)


def extract(part: Part, measurement: dict | None, answer: dict | None, labels=None) -> Extracted:
    """Combine the agent's measurement and the notebook's claim for one part."""
    out = Extracted(part=part.id)
    if answer is not None:
        out.claimed = answer.get("value")
        out.claimed_text = answer.get("text")
    if measurement is None:
        return out
    out.cell = measurement.get("cell")
    if not measurement.get("ok"):
        out.error = str(measurement.get("error") or "the measurement failed")
        return out
    value = measurement.get("value")
    try:
        if part.kind == "shapes":
            _shapes(out, value)
        elif part.kind == "accuracy":
            _accuracy(out, decode_array(value), labels)
        elif part.kind == "loss":
            _cross_entropy(out, decode_array(value), labels)
    except (ValueError, KeyError, TypeError) as exc:
        out.error = f"the grading agent sent an unreadable measurement ({exc})"
    return out


def _shapes(out: Extracted, value: dict) -> None:
    shapes = [list(s) for s in value["shapes"]]
    out.measured = shapes_string(shapes)
    out.detail = {"shapes": shapes, "extra": value.get("extra") or []}


def _accuracy(out: Extracted, predicted, labels) -> None:
    import numpy as np

    if predicted.ndim == 2 and predicted.shape[1] == 1:
        predicted = predicted[:, 0]
    if predicted.ndim != 1:
        out.invalid = (f"the predicted classes have shape {list(predicted.shape)}; expected one class "
                       f"index per image (shape [{len(labels)}]) - apply tf.argmax(..., axis=1)")
        return
    if len(predicted) != len(labels):
        out.invalid = f"got {len(predicted)} predictions for {len(labels)} images"
        return
    out.measured = float(np.mean(predicted.astype(np.int64) == labels.astype(np.int64)))


def _cross_entropy(out: Extracted, probabilities, labels) -> None:
    import numpy as np

    if probabilities.ndim != 2 or probabilities.shape[0] != len(labels):
        out.invalid = (f"the predicted probabilities have shape {list(probabilities.shape)}; expected "
                       f"[{len(labels)}, number of classes]")
        return
    if int(labels.max()) >= probabilities.shape[1]:
        out.invalid = (f"the predicted probabilities have {probabilities.shape[1]} columns but the "
                       f"labels go up to {int(labels.max())}")
        return
    sums = probabilities.sum(axis=1)
    if not np.all(np.isfinite(probabilities)):
        out.invalid = "the predicted probabilities contain NaN or infinity (did training diverge?)"
        return
    if probabilities.min() < -1e-6 or np.max(np.abs(sums - 1.0)) > 1e-3:
        worst = float(sums[np.argmax(np.abs(sums - 1.0))])
        out.invalid = (f"the predicted probabilities are not a distribution per image (a row sums to "
                       f"{worst:.3g}); probas should be tf.nn.softmax(logits)")
        return
    picked = probabilities[np.arange(len(labels)), labels.astype(np.int64)]
    out.measured = float(-np.mean(np.log(np.clip(picked, 1e-12, 1.0))))
