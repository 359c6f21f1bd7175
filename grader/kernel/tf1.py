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


# --- tf.contrib ------------------------------------------------------------------------------
# TensorFlow 2 has no tf.contrib.  The parts learners used for this kind of assignment map to
# current equivalents; anything else fails with a message naming the missing API.

class ContribUnavailable(AttributeError):
    """A tf.contrib API with no equivalent in TensorFlow 2."""


class _Contrib:
    def __init__(self, path: str, members: dict):
        self._path = path
        self._members = members

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        if name in self._members:
            return self._members[name]
        raise ContribUnavailable(_missing(f"{self._path}.{name}"))

    def __dir__(self):
        return sorted(self._members)

    def __repr__(self):
        return f"<grader's stand-in for {self._path}>"


_MAPPED: list[str] = []


def _missing(api: str) -> str:
    return (f"{api} does not exist in TensorFlow 2 (tf.contrib was removed). The grader maps only "
            f"tf.contrib.layers.{{{', '.join(n.rsplit('.', 1)[1] for n in _MAPPED)}}}; rewrite this "
            f"with tf.compat.v1 or tf.keras")


class ContribImportError(ModuleNotFoundError):
    """``import tensorflow.contrib.X`` of a part with no TensorFlow 2 equivalent."""


def _contrib(tf) -> _Contrib:
    def xavier_initializer(uniform=True, seed=None, dtype=tf.float32):
        # contrib's Xavier is Glorot: fan_avg scaling, uniform or (truncated) normal.
        return tf.variance_scaling_initializer(
            scale=1.0, mode="fan_avg", distribution="uniform" if uniform else "truncated_normal",
            seed=seed, dtype=dtype)

    def variance_scaling_initializer(factor=2.0, mode="FAN_IN", uniform=False, seed=None,
                                     dtype=tf.float32):
        mode = {"FAN_IN": "fan_in", "FAN_OUT": "fan_out", "FAN_AVG": "fan_avg"}[mode.upper()]
        return tf.variance_scaling_initializer(
            scale=factor, mode=mode, distribution="uniform" if uniform else "truncated_normal",
            seed=seed, dtype=dtype)

    def l2_regularizer(scale, scope=None):
        def regularizer(weights):
            return tf.multiply(float(scale), tf.nn.l2_loss(weights), name=scope or "l2_regularizer")
        return regularizer

    def l1_regularizer(scale, scope=None):
        def regularizer(weights):
            return tf.multiply(float(scale), tf.reduce_sum(tf.abs(weights)), name=scope or "l1_regularizer")
        return regularizer

    def fully_connected(inputs, num_outputs, activation_fn=tf.nn.relu, weights_initializer=None,
                        weights_regularizer=None, biases_initializer=tf.zeros_initializer(),
                        biases_regularizer=None, trainable=True, scope=None, reuse=None, **_ignored):
        return tf.layers.dense(
            inputs, num_outputs, activation=activation_fn,
            kernel_initializer=weights_initializer or xavier_initializer(),
            bias_initializer=biases_initializer, use_bias=biases_initializer is not None,
            kernel_regularizer=weights_regularizer, bias_regularizer=biases_regularizer,
            trainable=trainable, name=scope, reuse=reuse)

    def flatten(inputs, outputs_collections=None, scope=None):
        return tf.layers.flatten(inputs, name=scope)

    layers = {
        "xavier_initializer": xavier_initializer,
        "xavier_initializer_conv2d": xavier_initializer,
        "variance_scaling_initializer": variance_scaling_initializer,
        "l2_regularizer": l2_regularizer,
        "l1_regularizer": l1_regularizer,
        "fully_connected": fully_connected,
        "flatten": flatten,
        "apply_regularization": lambda regularizer, weights_list=None: tf.add_n(
            [regularizer(w) for w in (weights_list or tf.trainable_variables())]),
    }
    _MAPPED[:] = [f"tf.contrib.layers.{name}" for name in sorted(layers)]
    return _Contrib("tf.contrib", {"layers": _Contrib("tf.contrib.layers", layers)})


def install_contrib() -> None:
    """Give ``tf.contrib`` (the mapped subset) to TF1-era notebooks, as attribute and as module."""
    import sys
    import types

    tf = _compat_module()
    contrib = getattr(tf, "contrib", None)
    if not isinstance(contrib, _Contrib):
        contrib = _contrib(tf)
        try:
            tf.contrib = contrib
        except Exception:  # a module wrapper that refuses attributes: the import route remains
            pass
    # `from tensorflow.contrib.layers import xavier_initializer` imports modules, not attributes.
    package = types.ModuleType("tensorflow.contrib")
    package.__path__ = []
    package.__getattr__ = contrib.__getattr__
    layers = types.ModuleType("tensorflow.contrib.layers")
    layers.__dict__.update(contrib.layers._members)
    package.layers = layers
    sys.modules.setdefault("tensorflow.contrib", package)
    sys.modules.setdefault("tensorflow.contrib.layers", layers)
    if not any(isinstance(f, _RemovedModules) for f in sys.meta_path):
        sys.meta_path.insert(0, _RemovedModules())


class _RemovedModules:
    """Import finder that explains TF1-only modules instead of a bare ModuleNotFoundError."""

    def find_spec(self, name, path=None, target=None):
        if name.startswith("tensorflow.contrib."):
            raise ContribImportError(_missing(name.replace("tensorflow.", "tf.", 1)))
        if name == "tensorflow.examples" or name.startswith("tensorflow.examples."):
            raise ModuleNotFoundError(
                f"{name} was removed in TensorFlow 2; load the data with the assignment's loader "
                f"(preprocessed_mnist.load_dataset()) instead")
        return None
