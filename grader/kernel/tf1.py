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
        raise ContribUnavailable(
            f"{self._path}.{name} does not exist in TensorFlow 2: tf.contrib was removed. The grader "
            f"maps only {', '.join(_MAPPED)}; rewrite this with tf.compat.v1 / tf.keras equivalents")

    def __dir__(self):
        return sorted(self._members)

    def __repr__(self):
        return f"<grader's stand-in for {self._path}>"


_MAPPED: list[str] = []


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
    """Give ``tf.contrib`` (the mapped subset) to TF1-era notebooks."""
    tf = _compat_module()
    if not isinstance(getattr(tf, "contrib", None), _Contrib):
        try:
            tf.contrib = _contrib(tf)
        except Exception:  # a module wrapper that refuses attributes: leave tf.contrib missing
            pass
