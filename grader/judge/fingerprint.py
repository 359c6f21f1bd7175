"""A model's fingerprint: a short summary of its outputs on the graded split.

The grader re-runs every notebook under the same seed, so two notebooks that
perform the same computation produce the same model, however their text is
disguised (names, comments, cell order, formatting).  The fingerprint lets the
instructor's similarity report (:mod:`grader.similarity`) find learners whose
models are identical without keeping every learner's outputs.

It is instructor-only evidence, like a hidden split: it is stored in the result
(``PartResult.fingerprint``) and never shown on a learner's page.

Bit-identity is not robust: the same notebook graded with one thread per kernel
and with two gives outputs that differ in the last bits (float sums in another
order), and a resumed batch may mix both.  So the fingerprint is made to be
compared with a tolerance, not hashed:

* ``sketch``: a few random projections of the output matrix (fixed weights,
  the same for every grading), each a mean over every output value.  Noise in
  the last bits of single values averages out (about 1e-10 on MNIST
  probabilities), while two different models differ by about 1e-5 and more:
  :data:`SKETCH_TOLERANCE` sits between the two (measured: docs/instructor/similarity.md).
* ``classes``: a digest of the predicted classes (the argmax per row, or the
  outputs themselves when they are classes).  Class outputs have no last bits
  to lose, but a tie between two classes can flip under the noise above: the
  digest is the fallback for outputs that are classes only (accuracy parts).
"""
from __future__ import annotations

import hashlib

SKETCH_SIZE = 8
# Largest difference of two sketch values that still means "the same outputs": between the
# noise of one notebook graded with another thread count and the distance of two models.
SKETCH_TOLERANCE = 1e-7
_SKETCH_DIGITS = 12  # stored rounded: far below the tolerance, short JSON


def output_fingerprint(values) -> dict | None:
    """The fingerprint of a model's outputs (one row per input), or None when there is nothing to sum.

    Outputs that are class indices (integers, one per row) get ``classes`` only;
    float outputs (probabilities) get a ``sketch`` and the ``classes`` of their argmax.
    """
    import numpy as np

    array = np.asarray(values)
    if array.ndim == 0 or array.size == 0 or array.dtype.kind not in "biuf":
        return None
    rows = int(array.shape[0])
    matrix = array.reshape(rows, -1)
    if array.dtype.kind in "biu" or (matrix.shape[1] == 1 and _integral(matrix)):
        return {"rows": rows, "classes": _digest(matrix[:, 0])}
    matrix = matrix.astype(np.float64)
    if not np.all(np.isfinite(matrix)):
        return {"rows": rows, "classes": _digest(np.nan_to_num(matrix).argmax(axis=1))}
    return {"rows": rows, "classes": _digest(matrix.argmax(axis=1)),
            "sketch": [round(float(x), _SKETCH_DIGITS) for x in _sketch(matrix)]}


def same_outputs(first: dict | None, second: dict | None, *, tolerance: float = SKETCH_TOLERANCE) -> bool:
    """Whether two fingerprints come from the same outputs, up to thread-count noise."""
    if not first or not second or first.get("rows") != second.get("rows"):
        return False
    if first.get("sketch") and second.get("sketch"):
        return max(abs(a - b) for a, b in zip(first["sketch"], second["sketch"])) <= tolerance
    return bool(first.get("classes")) and first.get("classes") == second.get("classes")


def _integral(matrix) -> bool:
    import numpy as np

    return bool(np.all(np.isfinite(matrix)) and np.all(matrix == np.round(matrix)))


def _digest(classes) -> str:
    import numpy as np

    return hashlib.sha256(np.ascontiguousarray(classes, dtype="<i8").tobytes()).hexdigest()[:16]


def _sketch(matrix):
    """Means of the outputs times fixed pseudo-random weights (the same weights for every grading)."""
    import numpy as np

    rng = np.random.default_rng(20240611)  # fixed: fingerprints of different gradings must compare
    return [float(np.mean(matrix * rng.standard_normal(matrix.shape))) for _ in range(SKETCH_SIZE)]
