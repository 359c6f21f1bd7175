"""A small slice of MNIST for fast test notebooks: ``load() -> X_train, y_train, X_val, y_val``.

5,000 training images and the 2,000 validation images the test assignments grade on
(rows 58,000-60,000 of the training set), pixels float32 in [0, 1], shape (n, 28, 28).
The file is the harness's during a grading run, else ``$GRADER_DATA_MNIST``.
"""
import os

import numpy as np

try:  # present only when the harness runs this kernel
    from grader.kernel import agent as _agent
except ImportError:
    _agent = None


def load():
    path = _agent.data_path("mnist") if _agent is not None and _agent.active() else None
    with np.load(path or os.environ["GRADER_DATA_MNIST"], allow_pickle=False) as data:
        x, y = data["x_train"], data["y_train"]
    x = x.astype(np.float32) / np.float32(255)
    return x[:5000], y[:5000], x[58000:60000], y[58000:60000]
