"""The integrity check's draw: which images, in which order, moved by how much.

One definition for the three places that need it: the harness builds the
evaluator's inputs from it (:mod:`grader.run.evaluator_client`), the agent in the
kernel calls a learner's Python function on it (function parts, which cannot
leave the kernel), and the harness redoes the order to compare like with like
(:mod:`grader.judge.extract`).  Only NumPy: it runs on both sides of the kernel
boundary.
"""
from __future__ import annotations


def _draw(count: int, integrity: dict):
    import numpy as np

    rng = np.random.default_rng(int(integrity.get("seed", 0)))
    return rng, rng.permutation(count)[:int(integrity.get("rows") or count)]


def sample_order(count: int, integrity: dict):
    """The positions of the sampled images among ``count``, in the shuffled order."""
    return _draw(count, integrity)[1]


def integrity_inputs(inputs, integrity: dict):
    """A random sample of the split's inputs, shuffled, and the same sample moved by +-noise."""
    import numpy as np

    rng, order = _draw(len(inputs), integrity)
    sample = inputs[order]
    signs = rng.integers(0, 2, size=sample.shape, dtype=np.int8) * 2 - 1
    low, high = float(inputs.min()), float(inputs.max())
    noisy = np.clip(sample + signs.astype(inputs.dtype) * inputs.dtype.type(integrity["noise"]), low, high)
    return sample, noisy.astype(inputs.dtype)
