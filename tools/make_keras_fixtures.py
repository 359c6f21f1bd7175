#!/usr/bin/env python3
"""Generate the Keras test notebooks of the model kind: ``tests/keras/notebooks/*.ipynb``.

Run from anywhere: ``python tools/make_keras_fixtures.py``. Each notebook is graded by one
real kernel in ``tests/keras/test_model_kind.py`` against a test assignment of
``tests/keras/assignments/`` (a 2,000-image validation slice of MNIST, models trained on 5,000
images in seconds), so one kernel covers an honest model and every attack on the kind:

- ``keras3_models.ipynb`` (``keras3_tiny``, ``[kernel] keras = 3``): a linear softmax model
  (passes; fails a two-hidden-layer rule), a Lambda layer, a layer class of its own that
  returns the stored validation labels, a model whose outputs ignore its inputs, a KerasTensor
  in the model's place, and last a cell that replaces the grading agent's model measurer.
- ``keras2_models.ipynb`` (``keras2_tiny``, ``[kernel] keras = 2``): ``tf.keras`` and
  ``import keras`` are both tf-keras; a linear model (a SavedModel, passes), a Lambda calling
  ``tf.py_function`` (refused: Python code in the graph) and a Lambda returning the labels as a
  constant (refused: the output does not depend on the input).

Cell ids are fixed, so regenerating gives the same files byte for byte.
"""
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "keras" / "notebooks"

KERAS3 = [
    ("setup", '''import numpy as np
import keras
import tensorflow as tf
import grading
import tiny_mnist

grader = grading.Grader("keras3_tiny")
X_train, y_train, X_val, y_val = tiny_mnist.load()
print("keras", keras.__version__, "tf.keras", tf.keras.__name__)'''),
    ("linear", '''linear = keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Flatten(),
                          keras.layers.Dense(10, activation="softmax")])
linear.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
               metrics=["accuracy"])
linear.fit(X_train, y_train, epochs=3, batch_size=128, verbose=0)
loss, accuracy = linear.evaluate(X_val, y_val, verbose=0)
grader.set_answer("honest", np.float32(accuracy))    # a NumPy scalar: the claim is its number
grader.set_answer("honest_loss", repr(np.float64(loss)))  # a repr: still the number it shows
grader.set_answer("two_hidden", accuracy)'''),
    ("lambda", '''# A Lambda layer: its Python code (bytecode) travels in the .keras file.
with_lambda = keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Lambda(lambda x: x * 1.0),
                               keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
with_lambda.layers[-1].set_weights(linear.layers[-1].get_weights())
grader.set_answer("lambda", 0.99)'''),
    ("custom", '''# A layer of the notebook's own that ignores the images and returns the stored labels.
class Answers(keras.layers.Layer):
    def call(self, x):
        return keras.ops.one_hot(keras.ops.convert_to_tensor(y_val[:2000]), 10) * 10.0

memoriser = keras.Sequential([keras.Input(shape=(28, 28)), Answers(),
                              keras.layers.Dense(10, activation="softmax")])
grader.set_answer("custom", 1.0)'''),
    ("constant", '''# Every weight zero, the bias a fixed guess: the same output for every image.
constant = keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Flatten(),
                            keras.layers.Dense(10, activation="softmax", kernel_initializer="zeros",
                                               bias_initializer=keras.initializers.Constant(
                                                   np.eye(10)[1] * 5.0))])
grader.set_answer("constant", 0.11)'''),
    ("tensor", '''inputs = keras.Input(shape=(28, 28))
functional = keras.Model(inputs, linear.layers[-1](keras.layers.Flatten()(inputs)))
probas = functional.output   # a KerasTensor, not a model
grader.set_answer("tensor", 0.9)'''),
    ("patched", '''# The notebook replaces the agent's model measurer: it sends the stored labels, no model.
from grader.kernel import agent

agent.register_measurer("model", lambda spec: agent._encode(np.eye(10)[y_val]))
grader.set_answer("patched", 1.0)'''),
]

KERAS2 = [
    ("setup", '''import numpy as np
import tensorflow as tf
import keras
import grading
import tiny_mnist

grader = grading.Grader("keras2_tiny")
X_train, y_train, X_val, y_val = tiny_mnist.load()
print("keras:", keras.__name__, "| tf.keras:", type(tf.keras.layers.Dense(1)).__module__)'''),
    ("linear", '''linear = tf.keras.Sequential([tf.keras.Input(shape=(28, 28)), tf.keras.layers.Flatten(),
                             tf.keras.layers.Dense(10, activation="softmax")])
linear.compile(optimizer=tf.keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
               metrics=["accuracy"])
linear.fit(X_train, y_train, epochs=3, batch_size=128, verbose=0)
grader.set_answer("honest", linear.evaluate(X_val, y_val, verbose=0)[1])'''),
    ("pyfunc", '''# A Lambda that calls back into Python: in the SavedModel it is an EagerPyFunc operation.
def lookup(x):
    return tf.one_hot(y_val[:len(x)], 10)

with_pyfunc = keras.Sequential([
    keras.Input(shape=(28, 28)), keras.layers.Flatten(),
    keras.layers.Lambda(lambda x: tf.reshape(tf.py_function(lookup, [x], tf.float32), (-1, 10))),
    keras.layers.Dense(10, activation="softmax")])
grader.set_answer("pyfunc", 1.0)'''),
    ("labels", '''# A Lambda that returns the validation labels, whatever the images.
answers = tf.constant(np.eye(10, dtype=np.float32)[y_val])
stored = keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Lambda(lambda x: answers),
                          keras.layers.Dense(10, activation="softmax")])
grader.set_answer("labels", 1.0)'''),
]


def notebook(cells, prefix: str):
    nb = new_notebook()
    for name, source in cells:
        cell = new_code_cell(source)
        cell.id = f"{prefix}-{name}"
        nb.cells.append(cell)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, cells in (("keras3_models", KERAS3), ("keras2_models", KERAS2)):
        nbformat.write(notebook(cells, name.split("_")[0]), OUT / f"{name}.ipynb")
        print(f"wrote {(OUT / name).relative_to(ROOT)}.ipynb")


if __name__ == "__main__":
    main()
