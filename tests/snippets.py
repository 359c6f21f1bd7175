"""Small notebooks that kernel tests share: an untrained linear model (seconds per kernel).

The model is the MNIST assignment's linear model, initialised but never trained, so a
grading measures every part in seconds; ``SHAPES`` is its graded shapes cell.
"""
from pathlib import Path

import nbformat


def untrained_model(classes: int = 10) -> str:
    """The cell that builds the model; ``classes`` is the width of ``input_y`` (10 is right)."""
    return f"""import numpy as np
import tensorflow as tf
import grading, grading_utils
from keras_utils import reset_tf_session
grader = grading.Grader("k", all_parts=["9XaAS", "vmogZ", "RMv95", "i8bgs", "rE763"])
s = reset_tf_session()
W = tf.get_variable("W", shape=(784, 10))
b = tf.get_variable("b", shape=(10,))
input_X = tf.placeholder(tf.float32, (None, 784))
input_y = tf.placeholder(tf.float32, (None, {classes}))
probas = tf.nn.softmax(tf.matmul(input_X, W) + b)
classes = tf.argmax(probas, 1)
s.run(tf.global_variables_initializer())
"""


UNTRAINED_MODEL = untrained_model()
SHAPES = 'grader.set_answer("9XaAS", grading_utils.get_tensors_shapes_string([W, b, input_X, input_y]))\n'


def write_notebook(path: Path, *cells: str) -> Path:
    """A notebook of code cells at ``path`` (folders made as needed)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path
