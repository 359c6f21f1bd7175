"""TF1 compatibility for notebooks written for TensorFlow 1.x.

In a kernel of an assignment with ``tf1_compat = true``, ``import tensorflow
as tf`` *in the notebook's own code* gives ``tensorflow.compat.v1`` (graph
mode, v2 behaviour disabled), so ``tf.placeholder``, ``tf.get_variable``,
``tf.layers.dense``, ``tf.train.AdamOptimizer`` and ``tf.InteractiveSession``
work unmodified.  Libraries (Keras, the course helpers, TensorFlow itself)
keep getting the real top-level package: the alias only applies to imports
made from the notebook's ``__main__`` namespace.
"""
from __future__ import annotations

import builtins

_ORIGINAL_IMPORT = builtins.__import__


def _compat_module():
    import tensorflow

    return tensorflow.compat.v1


def _notebook_import(name, globals=None, locals=None, fromlist=(), level=0):
    module = _ORIGINAL_IMPORT(name, globals, locals, fromlist, level)
    if (name == "tensorflow" and level == 0 and globals is not None
            and globals.get("__name__") == "__main__"):
        return _compat_module()
    return module


def install_import_alias() -> None:
    """Route the notebook's ``import tensorflow`` to ``tensorflow.compat.v1``."""
    if builtins.__import__ is not _notebook_import:
        builtins.__import__ = _notebook_import
