"""The course's ``preprocessed_mnist`` module: MNIST split and scaled for the assignment.

Both loaders return ``X_train, y_train, X_val, y_val, X_test, y_test``: the
first 50,000 training images for training, the last 10,000 for validation,
the 10,000 test images for testing; pixels as float32 in [0, 1], labels as
uint8 digits.

Where the data comes from, first match wins (an explicit choice always beats
a default):

1. during a grading run, the file the harness provides (``agent.data_path``);
2. ``load_dataset``: the file named by the environment variable
   ``GRADER_DATA_MNIST``, then the Keras cache (``$KERAS_HOME`` or
   ``~/.keras``, ``datasets/mnist.npz``), then Keras' official download
   (checked against its checksum);
   ``load_dataset_from_file``: the ``path`` it is given (``mnist.npz`` in the
   working folder by default).

This module imports NumPy only; Keras (and so TensorFlow) is imported only
when the data must be downloaded.
"""
import os
from pathlib import Path

import numpy as np

try:  # present only when the harness runs this kernel
    from grader.kernel import agent as _agent
except ImportError:
    _agent = None

DATA_ENV = "GRADER_DATA_MNIST"
_KEYS = ("x_train", "y_train", "x_test", "y_test")
_VALIDATION_SIZE = 10000


def _harness_file():
    """The MNIST file the harness provides during a grading run, or None."""
    if _agent is not None and _agent.active():
        return _agent.data_path("mnist")
    return None


def _keras_cache_file() -> Path:
    # Keras keeps downloads in $KERAS_HOME/datasets, by default ~/.keras/datasets.
    keras_home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(keras_home) / "datasets" / "mnist.npz"


def _existing(path, given_by):
    """``path`` if it is a file; else a FileNotFoundError that says who named it."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"MNIST file not found: {path!r} (given by {given_by})")
    return path


def _read_npz(path):
    """The four MNIST arrays of a ``mnist.npz`` file in Keras' layout."""
    with np.load(path, allow_pickle=False) as data:
        missing = [key for key in _KEYS if key not in data.files]
        if missing:
            raise ValueError(
                f"{path} is not an MNIST file in Keras' layout: it has no "
                f"{', '.join(missing)} (expected arrays {', '.join(_KEYS)})"
            )
        return tuple(data[key] for key in _KEYS)


def _download():
    """MNIST through Keras' own download, which checks the file's checksum."""
    try:
        from keras.datasets import mnist
    except ImportError:  # only the legacy Keras is installed
        from tf_keras.datasets import mnist
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    return x_train, y_train, x_test, y_test


def _scaled(images):
    """Pixels as float32 in [0, 1]: ``images / 255``.

    float32 halves the memory of float64, and dividing small integers that
    float32 holds exactly is correctly rounded. Dividing in place avoids a
    second array of 180 MB, whose allocation alone costs about a second.
    """
    pixels = images.astype(np.float32)
    pixels /= np.float32(255.0)
    return pixels


def _prepare(arrays, flatten):
    """Split off validation, scale the pixels and optionally flatten the images."""
    x_train, y_train, x_test, y_test = arrays
    x_train = _scaled(x_train)
    x_test = _scaled(x_test)
    # The last 10,000 training images are held out for validation.
    x_train, x_val = x_train[:-_VALIDATION_SIZE], x_train[-_VALIDATION_SIZE:]
    y_train, y_val = y_train[:-_VALIDATION_SIZE], y_train[-_VALIDATION_SIZE:]
    if flatten:
        x_train = x_train.reshape(x_train.shape[0], -1)
        x_val = x_val.reshape(x_val.shape[0], -1)
        x_test = x_test.reshape(x_test.shape[0], -1)
    return x_train, y_train, x_val, y_val, x_test, y_test


def load_dataset(flatten=False):
    """MNIST for the assignment: ``X_train, y_train, X_val, y_val, X_test, y_test``.

    ``flatten=True`` gives images as rows of 784 pixels instead of 28x28.
    The source is the harness's file, ``$GRADER_DATA_MNIST``, the Keras cache
    or a download, in that order (see the module's docstring).
    """
    harness_file = _harness_file()
    if harness_file:
        return _prepare(_read_npz(_existing(harness_file, "the grading harness")), flatten)
    env_file = os.environ.get(DATA_ENV)
    if env_file:
        return _prepare(_read_npz(_existing(env_file, f"the environment variable {DATA_ENV}")), flatten)
    cached = _keras_cache_file()
    if cached.is_file():
        return _prepare(_read_npz(cached), flatten)
    return _prepare(_download(), flatten)


def load_dataset_from_file(flatten=False, path="mnist.npz"):
    """Like :func:`load_dataset`, but read the MNIST file at ``path``, no download.

    ``path`` is relative to the working folder (by default ``mnist.npz``
    next to the notebook). During a grading run the harness's own file is
    read instead, so every learner is measured on the same data.
    """
    harness_file = _harness_file()
    if harness_file:
        return _prepare(_read_npz(_existing(harness_file, "the grading harness")), flatten)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"MNIST file not found: looked for {os.path.abspath(path)!r}. Put the course's "
            "mnist.npz (Keras layout: x_train, y_train, x_test, y_test) in the working folder "
            f"{os.getcwd()!r}, pass its location as path=..., or use "
            "preprocessed_mnist.load_dataset() to use the Keras cache or download it."
        )
    return _prepare(_read_npz(path), flatten)
