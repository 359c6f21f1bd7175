"""The course's ``keras_utils`` module: a fresh TF1-style session for each model.

Written for ``tensorflow.compat.v1`` in graph mode with the legacy Keras
(``TF_USE_LEGACY_KERAS=1`` and the ``tf-keras`` package), which is what the
course's notebooks need on TensorFlow 2. TensorFlow is imported only when a
function is called, so ``import keras_utils`` stays fast.
"""


def _keras_backend(tf):
    """The Keras backend that ``tf.compat.v1`` uses, or None if there is none.

    With ``TF_USE_LEGACY_KERAS=1`` this is tf-keras' v1 backend, which has
    ``clear_session`` and ``set_session``; Keras 3's backend has no
    ``set_session`` (it keeps no TF1 session), so callers check each function.
    """
    try:
        return tf.keras.backend
    except (ImportError, AttributeError):  # Keras missing or broken
        return None


def reset_tf_session():
    """Close the current session, start a clean graph and return a new session.

    Steps: switch to graph mode if eager execution is still on; close the
    current default session, if any; clear the Keras session; reset the
    default graph; open a new ``tf.compat.v1.InteractiveSession`` with GPU
    memory growth on and register it as the Keras session.
    """
    import tensorflow.compat.v1 as tf

    if tf.executing_eagerly():
        # The course's notebooks are TF1 code; they normally disable v2
        # behaviour themselves, but placeholders and sessions need graph mode.
        tf.disable_v2_behavior()

    current = tf.get_default_session()
    if current is not None:
        # An InteractiveSession keeps its graph entered as the default one;
        # it must be closed before the default graph can be reset.
        current.close()

    backend = _keras_backend(tf)
    if backend is not None and hasattr(backend, "clear_session"):
        backend.clear_session()
    tf.reset_default_graph()

    config = tf.ConfigProto()
    config.gpu_options.allow_growth = True  # do not grab all GPU memory at once
    session = tf.InteractiveSession(config=config)
    if backend is not None and hasattr(backend, "set_session"):
        backend.set_session(session)
    return session


def __getattr__(name):
    """Build ``ModelSaveCallback`` on first use, so that Keras loads only then."""
    if name == "ModelSaveCallback":
        callback_class = _make_model_save_callback()
        globals()[name] = callback_class
        return callback_class
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _make_model_save_callback():
    """The course's ``ModelSaveCallback(file_name)``: save the model after each epoch."""
    import tensorflow.compat.v1 as tf

    class ModelSaveCallback(tf.keras.callbacks.Callback):
        """Save the model to ``file_name.format(epoch)`` at the end of every epoch."""

        def __init__(self, file_name):
            super().__init__()
            self.file_name = file_name

        def on_epoch_end(self, epoch, logs=None):
            model_filename = self.file_name.format(epoch)
            self.model.save(model_filename)
            print(f"Model saved in {model_filename}")

    ModelSaveCallback.__qualname__ = "ModelSaveCallback"  # reads as keras_utils.ModelSaveCallback
    return ModelSaveCallback
