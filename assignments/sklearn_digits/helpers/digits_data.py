"""The 8x8 handwritten digits of scikit-learn, split the way the assignment grades them.

``load()`` returns ``X_train, y_train, X_test, y_test``: the first 1,200 of the
1,797 images for training, the last 597 for testing, each image a row of 64
pixel values from 0 to 16 (float64), each label a digit (int64).

During a grading run the harness provides the file (``digits.npz``, arrays
``images`` and ``labels``) and this module reads it, so every learner is
measured on the same, checksummed data; elsewhere it reads
``sklearn.datasets.load_digits()``, which scikit-learn ships (no download).

Run as a script it writes that file, which is how the harness makes it
(``build`` in ``assignment.toml``)::

    python helpers/digits_data.py digits.npz
"""
import sys

import numpy as np

try:  # present only when the harness runs this kernel
    from grader.kernel import agent as _agent
except ImportError:
    _agent = None

TRAIN_ROWS = 1200


def arrays():
    """``images`` (1797, 64) uint8 and ``labels`` (1797,) uint8, in scikit-learn's order."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return {"images": digits.data.astype(np.uint8), "labels": digits.target.astype(np.uint8)}


def write(path):
    """Write the data file the harness grades with."""
    np.savez_compressed(path, **arrays())


def _harness_file():
    if _agent is not None and _agent.active():
        return _agent.data_path("digits")
    return None


def load():
    """``X_train, y_train, X_test, y_test`` (see the module's docstring)."""
    path = _harness_file()
    if path:
        with np.load(path, allow_pickle=False) as data:
            images, labels = data["images"], data["labels"]
    else:
        data = arrays()
        images, labels = data["images"], data["labels"]
    X = images.astype(np.float64)
    y = labels.astype(np.int64)
    return X[:TRAIN_ROWS], y[:TRAIN_ROWS], X[TRAIN_ROWS:], y[TRAIN_ROWS:]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python digits_data.py OUT.npz")
    write(sys.argv[1])
