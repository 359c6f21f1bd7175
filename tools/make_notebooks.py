#!/usr/bin/env python3
"""Generate the MNIST digits notebooks: template, reference solution, samples, test fixtures.

Run from anywhere: ``python tools/make_notebooks.py``. It (re)writes

- ``assignments/mnist_digits/template.ipynb``   the learner's template, with gaps
- ``reference/mnist_digits/solution.ipynb``     the template with every gap solved
- ``submissions/*.ipynb``                       sample submissions (file name = learner id)
- ``tests/notebooks/*.ipynb``                   small, fast notebooks for the harness's tests

Every notebook is written without outputs, except ``submissions/seed_code.ipynb``,
which reproduces a learner's exported notebook (TF1 code, saved outputs and
execution counts as the learner left them). Cell ids are fixed, so regenerating
gives the same files byte for byte.

The notebooks are modelled on a learner's notebook for the course "Introduction
to Deep Learning", week 2, "MNIST digits classification with TensorFlow"
(``../shared/seed/digits_classification.txt``) and written for current
TensorFlow with ``tensorflow.compat.v1`` and v2 behaviour disabled.

Hyper-parameters (measured on 2 CPU cores, TF 2.21, see the numbers in the
comments of the cells that use them):

- reference linear model: Adam 0.003, batch 512, 40 epochs (the seed's), val acc ~0.931
- reference MLP: 2 x 256 ReLU, Adam 0.002 decaying by 0.8 per epoch, batch 512,
  15 epochs, val loss ~0.07, val acc ~0.979
- fast fixtures: linear Adam 0.005 decaying by 0.85 per epoch, batch 128, 8 epochs
  (val acc ~0.932; a softmax regression on raw pixels tops out near 0.932 on this
  split); MLP 2 x 256 ReLU, Adam 0.002 decaying by 0.6 per epoch, batch 128,
  2 epochs (val loss ~0.081, val acc ~0.976; 4 epochs gave ~0.073 and ~0.978 for
  twice the time, and the fixtures are graded many times in the suite)
"""
import copy
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parents[1]

ASSIGNMENT_KEY = "XtD7ho3TEeiHQBWLWejjYAA"
ALL_PARTS = ["9XaAS", "vmogZ", "RMv95", "i8bgs", "rE763"]
LINEAR_PARTS = ["9XaAS", "vmogZ", "RMv95"]
MLP_PARTS = ["i8bgs", "rE763"]

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


# ---------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------


def md(cell_id, text):
    cell = new_markdown_cell(text.strip("\n"))
    cell.id = cell_id
    return cell


def code(cell_id, text, *, parts=None):
    """A code cell without outputs; ``parts`` marks a graded cell (metadata hint)."""
    cell = new_code_cell(text.strip("\n"))
    cell.id = cell_id
    if parts:
        cell.metadata["grader"] = {"parts": list(parts)}
    return cell


def notebook(cells, *, extra_metadata=None):
    nb = new_notebook()
    nb.cells = cells
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    if extra_metadata:
        nb.metadata.update(extra_metadata)
    return nb


# --- markdown of the course notebook ----------------------------------------

MD_TITLE = "# MNIST digits classification with TensorFlow"

MD_TOKEN = """
# Fill in your Coursera token and email
To successfully submit your answers to our grader, please fill in your Coursera submission token and email
"""

MD_DATA = """
# Look at the data

In this task we have 50000 28x28 images of digits from 0 to 9.
We will train a classifier on this data.
"""

MD_LINEAR = r"""
# Linear model

Your task is to train a linear classifier $\vec{x} \rightarrow y$ with SGD using TensorFlow.

You will need to calculate a logit (a linear transformation) $z_k$ for each class:
$$z_k = \vec{x} \cdot \vec{w}_k + b_k \quad k = 0..9$$

And transform logits $z_k$ to valid probabilities $p_k$ with softmax:
$$p_k = \frac{e^{z_k}}{\sum_{i=0}^{9}{e^{z_i}}} \quad k = 0..9$$

We will use a cross-entropy loss to train our multi-class classifier:
$$\text{cross-entropy}(y, p) = -\sum_{k=0}^{9}{\log(p_k)[y = k]}$$

where
$$
[x]=\begin{cases}
       1, \quad \text{if $x$ is true} \\
       0, \quad \text{otherwise}
    \end{cases}
$$

Cross-entropy minimization pushes $p_k$ close to 1 when $y = k$, which is what we want.

Here's the plan:
* Flatten the images (28x28 -> 784) with `X_train.reshape((X_train.shape[0], -1))` to simplify our linear model implementation
* Use a matrix placeholder for flattened `X_train`
* Convert `y_train` to one-hot encoded vectors that are needed for cross-entropy
* Use a shared variable `W` for all weights (a column $\vec{w}_k$ per class) and `b` for all biases.
* Aim for ~0.93 validation accuracy
"""

MD_SUBMIT_LINEAR = "# Submit a linear model"

MD_MLP = """
# MLP with hidden layers

Previously we've coded a dense layer with matrix multiplication by hand.
But this is not convenient, you have to create a lot of variables and your code becomes a mess.
In TensorFlow there's an easier way to make a dense layer:
```python
hidden1 = tf.layers.dense(inputs, 256, activation=tf.nn.sigmoid)
```

That will create all the necessary variables automatically.
Here you can also choose an activation function (remember that we need it for a hidden layer!).

Now define the MLP with 2 hidden layers and restart training with the cell above.

You're aiming for ~0.97 validation accuracy here.
"""

MD_SUBMIT_MLP = """
# Submit the MLP with 2 hidden layers
Run these cells after training the MLP with 2 hidden layers
"""

# --- code of the course notebook --------------------------------------------

IMPORTS = """
import numpy as np
from sklearn.metrics import accuracy_score
from matplotlib import pyplot as plt
%matplotlib inline
import tensorflow.compat.v1 as tf
tf.disable_v2_behavior()
print("We're using TF", tf.__version__)
"""

HELPERS = """
import sys
sys.path.append("../..")
import grading

import matplotlib_utils
from importlib import reload
reload(matplotlib_utils)

import grading_utils
reload(grading_utils)

import keras_utils
from keras_utils import reset_tf_session
"""

GRADER = """
grader = grading.Grader(assignment_key="%s",
                      all_parts=["9XaAS", "vmogZ", "RMv95", "i8bgs", "rE763"])
""" % ASSIGNMENT_KEY


def token_cell(email='"### YOUR EMAIL HERE ###"', token='"### YOUR TOKEN HERE ###"'):
    return """
# token expires every 30 min
COURSERA_TOKEN = %s
COURSERA_EMAIL = %s
""" % (token, email)


LOAD = """
import preprocessed_mnist
X_train, y_train, X_val, y_val, X_test, y_test = preprocessed_mnist.load_dataset()
"""

LOOK = """
# X contains rgb values divided by 255
print("X_train [shape %s] sample patch:\\n" % (str(X_train.shape)), X_train[1, 15:20, 5:10])
print("A closeup of a sample patch:")
plt.imshow(X_train[1, 15:20, 5:10], cmap="Greys")
plt.show()
print("And the whole sample:")
plt.imshow(X_train[1], cmap="Greys")
plt.show()
print("y_train [shape %s] 10 samples:\\n" % (str(y_train.shape)), y_train[:10])
"""

FLATTEN = """
X_train_flat = X_train.reshape((X_train.shape[0], -1))
print(X_train_flat.shape)

X_val_flat = X_val.reshape((X_val.shape[0], -1))
print(X_val_flat.shape)
"""

ONE_HOT = """
import keras

y_train_oh = keras.utils.to_categorical(y_train, 10)
y_val_oh = keras.utils.to_categorical(y_val, 10)

print(y_train_oh.shape)
print(y_train_oh[:3], y_train[:3])
"""

RESET = """
# run this again if you remake your graph
s = reset_tf_session()
"""

WB_GAP = """
# Model parameters: W and b
W = None  ### YOUR CODE HERE ### tf.get_variable(...) with shape[0] = 784
b = None  ### YOUR CODE HERE ### tf.get_variable(...)
"""

PLACEHOLDERS_GAP = """
# Placeholders for the input data
input_X = None  ### YOUR CODE HERE ### tf.placeholder(...) for flat X with shape[0] = None
input_y = None  ### YOUR CODE HERE ### tf.placeholder(...) for one-hot encoded true labels
"""

MODEL_GAP = """
# Compute predictions
logits = None  ### YOUR CODE HERE ### logits for input_X, resulting shape should be [input_X.shape[0], 10]
probas = None  ### YOUR CODE HERE ### apply tf.nn.softmax to logits
classes = None  ### YOUR CODE HERE ### apply tf.argmax to find a class index with highest probability

# Loss should be a scalar number: average loss over all the objects with tf.reduce_mean
# Use tf.nn.softmax_cross_entropy_with_logits on top of one-hot encoded input_y and logits
# It is identical to calculating cross-entropy on top of probas, but is more numerically stable
loss = None  ### YOUR CODE HERE ### cross-entropy loss

# Use a default tf.train.AdamOptimizer to get an SGD step
step = None  ### YOUR CODE HERE ### optimizer step that minimizes the loss
"""


def training_cell(epochs=40, batch_size=512, header=""):
    """The course's training loop, with live curves (the data is already shuffled)."""
    return header + """
s.run(tf.global_variables_initializer())

BATCH_SIZE = %d
EPOCHS = %d

# for logging the progress right here in Jupyter (for those who don't have TensorBoard)
simpleTrainingCurves = matplotlib_utils.SimpleTrainingCurves("cross-entropy", "accuracy")

for epoch in range(EPOCHS):  # we finish an epoch when we've looked at all training samples

    batch_losses = []
    for batch_start in range(0, X_train_flat.shape[0], BATCH_SIZE):  # data is already shuffled
        _, batch_loss = s.run([step, loss], {input_X: X_train_flat[batch_start:batch_start+BATCH_SIZE],
                                             input_y: y_train_oh[batch_start:batch_start+BATCH_SIZE]})
        # collect batch losses, this is almost free as we need a forward pass for backprop anyway
        batch_losses.append(batch_loss)

    train_loss = np.mean(batch_losses)
    val_loss = s.run(loss, {input_X: X_val_flat, input_y: y_val_oh})  # this part is usually small
    train_accuracy = accuracy_score(y_train, s.run(classes, {input_X: X_train_flat}))
    valid_accuracy = accuracy_score(y_val, s.run(classes, {input_X: X_val_flat}))
    simpleTrainingCurves.add(train_loss, val_loss, train_accuracy, valid_accuracy)
""" % (batch_size, epochs)


GRADED_LINEAR = """
## GRADED PART, DO NOT CHANGE!
# Testing shapes
grader.set_answer("9XaAS", grading_utils.get_tensors_shapes_string([W, b, input_X, input_y]))
# Validation loss
grader.set_answer("vmogZ", s.run(loss, {input_X: X_val_flat, input_y: y_val_oh}))
# Validation accuracy
grader.set_answer("RMv95", accuracy_score(y_val, s.run(classes, {input_X: X_val_flat})))
"""

SUBMIT = """
# you can make submission with answers so far to check yourself at this stage
grader.submit(COURSERA_EMAIL, COURSERA_TOKEN)
"""

MLP_GAP = """
# write the code here to get a new `step` operation and then run the cell with training
# name your variables in the same way (e.g. logits, probas, classes, etc) for safety.
### YOUR CODE HERE ###
s = reset_tf_session()  # a new graph: every tensor of the linear model is gone
input_X = None  ### YOUR CODE HERE ### a new placeholder for flat X
input_y = None  ### YOUR CODE HERE ### a new placeholder for one-hot encoded true labels
hidden1 = None  ### YOUR CODE HERE ### tf.layers.dense(...) on input_X, with an activation
hidden2 = None  ### YOUR CODE HERE ### tf.layers.dense(...) on hidden1, with an activation
logits = None  ### YOUR CODE HERE ### tf.layers.dense(...) with 10 units and no activation
probas = None  ### YOUR CODE HERE ### apply tf.nn.softmax to logits
classes = None  ### YOUR CODE HERE ### apply tf.argmax to find a class index with highest probability
loss = None  ### YOUR CODE HERE ### cross-entropy loss
step = None  ### YOUR CODE HERE ### optimizer step that minimizes the loss
"""

GRADED_MLP = """
## GRADED PART, DO NOT CHANGE!
# Validation loss for MLP
grader.set_answer("i8bgs", s.run(loss, {input_X: X_val_flat, input_y: y_val_oh}))
# Validation accuracy for MLP
grader.set_answer("rE763", accuracy_score(y_val, s.run(classes, {input_X: X_val_flat})))
"""

# --- solutions -----------------------------------------------------------------

WB_SOLVED = """
# Model parameters: W and b
W = tf.get_variable("W", shape=(784, 10), dtype=tf.float32)
b = tf.get_variable("b", shape=(10,), dtype=tf.float32, initializer=tf.zeros_initializer())
"""

PLACEHOLDERS_SOLVED = """
# Placeholders for the input data
input_X = tf.placeholder(tf.float32, shape=(None, 784), name="input_X")
input_y = tf.placeholder(tf.float32, shape=(None, 10), name="input_y")
"""


def model_solved(optimizer="tf.train.AdamOptimizer(0.003)"):
    return """
# Compute predictions
logits = tf.matmul(input_X, W) + b
probas = tf.nn.softmax(logits)
classes = tf.argmax(probas, axis=1)

# Loss should be a scalar number: average loss over all the objects with tf.reduce_mean
# Use tf.nn.softmax_cross_entropy_with_logits on top of one-hot encoded input_y and logits
# It is identical to calculating cross-entropy on top of probas, but is more numerically stable
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=input_y, logits=logits))

# Use a default tf.train.AdamOptimizer to get an SGD step
step = %s.minimize(loss)
""" % optimizer


MLP_SOLVED = """
# write the code here to get a new `step` operation and then run the cell with training
# name your variables in the same way (e.g. logits, probas, classes, etc) for safety.
s = reset_tf_session()  # a new graph: every tensor of the linear model is gone
input_X = tf.placeholder(tf.float32, shape=(None, 784), name="input_X")
input_y = tf.placeholder(tf.float32, shape=(None, 10), name="input_y")
hidden1 = tf.layers.dense(input_X, 256, activation=tf.nn.relu)
hidden2 = tf.layers.dense(hidden1, 256, activation=tf.nn.relu)
logits = tf.layers.dense(hidden2, 10)
probas = tf.nn.softmax(logits)
classes = tf.argmax(probas, axis=1)
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=input_y, logits=logits))

# Adam whose learning rate shrinks by 20% after every epoch (one epoch = 98 batches of 512):
# a ReLU MLP trained with a constant rate starts to overfit after ~10 epochs and its
# validation loss jumps around; with the decay it settles near 0.07 (accuracy ~0.979).
global_step = tf.train.get_or_create_global_step()
steps_per_epoch = int(np.ceil(X_train_flat.shape[0] / 512))
learning_rate = tf.train.exponential_decay(0.002, global_step, decay_steps=steps_per_epoch, decay_rate=0.8)
step = tf.train.AdamOptimizer(learning_rate).minimize(loss, global_step=global_step)
"""

MLP_TRAIN_HEADER = "# the training cell from above, again (15 epochs are enough with the decaying rate)"


# ---------------------------------------------------------------------------
# The assignment's notebook, as a list of (id, cell) in course order
# ---------------------------------------------------------------------------


def course_cells(*, email_token=None, wb=WB_GAP, placeholders=PLACEHOLDERS_GAP, model=MODEL_GAP,
                 linear_training=None, graded_linear=GRADED_LINEAR, mlp=MLP_GAP, mlp_training=None,
                 intro=None, after_linear=()):
    """The course notebook's cells; every argument replaces one cell's source."""
    cells = []
    if intro:
        cells.append(md("fixture-note", intro))
    cells += [
        md("title", MD_TITLE),
        code("imports", IMPORTS),
        code("helpers", HELPERS),
        md("token-md", MD_TOKEN),
        code("grader", GRADER),
        code("token", token_cell(*email_token) if email_token else token_cell()),
        md("data-md", MD_DATA),
        code("load-data", LOAD),
        code("look", LOOK),
        md("linear-md", MD_LINEAR),
        code("flatten", FLATTEN),
        code("one-hot", ONE_HOT),
        code("reset", RESET),
        code("w-b", wb),
        code("placeholders", placeholders),
        code("model", model),
        code("train-linear", linear_training or training_cell()),
        md("submit-linear-md", MD_SUBMIT_LINEAR),
        code("graded-linear", graded_linear, parts=LINEAR_PARTS),
        code("submit-linear", SUBMIT),
        *after_linear,
        md("mlp-md", MD_MLP),
        code("mlp", mlp),
        code("train-mlp", mlp_training or training_cell()),
        md("submit-mlp-md", MD_SUBMIT_MLP),
        code("graded-mlp", GRADED_MLP, parts=MLP_PARTS),
        code("submit-mlp", SUBMIT),
    ]
    return cells


def template():
    return notebook(course_cells())


def solution():
    return notebook(course_cells(
        wb=WB_SOLVED,
        placeholders=PLACEHOLDERS_SOLVED,
        model=model_solved(),
        mlp=MLP_SOLVED,
        mlp_training=training_cell(epochs=15, header=MLP_TRAIN_HEADER),
    ))


# ---------------------------------------------------------------------------
# Sample submissions
# ---------------------------------------------------------------------------

LEARNER = ('"learner@example.com"', '"TOKEN"')


def weak_model():
    intro = """
**Sample submission `weak_model`** (a test fixture, not course material): the template
solved correctly but trained far too little. The linear model is trained for 1 epoch
with Adam 0.003 (val accuracy ~0.90, loss ~0.40) and, in the MLP's place, another linear
model (no hidden layer, `tf.layers.dense(input_X, 10)`) is trained for 1 epoch with Adam 0.001
(val accuracy ~0.86, loss ~0.7). Expected grade: the shapes part `9XaAS` passes;
`vmogZ`, `RMv95`, `i8bgs` and `rE763` fail on the measured values.
"""
    mlp_linear = """
# write the code here to get a new `step` operation and then run the cell with training
# name your variables in the same way (e.g. logits, probas, classes, etc) for safety.
s = reset_tf_session()
input_X = tf.placeholder(tf.float32, shape=(None, 784))
input_y = tf.placeholder(tf.float32, shape=(None, 10))
# no hidden layer: this is still a linear model
logits = tf.layers.dense(input_X, 10)
probas = tf.nn.softmax(logits)
classes = tf.argmax(probas, axis=1)
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=input_y, logits=logits))
step = tf.train.AdamOptimizer(0.001).minimize(loss)
"""
    return notebook(course_cells(
        intro=intro,
        email_token=LEARNER,
        wb=WB_SOLVED,
        placeholders=PLACEHOLDERS_SOLVED,
        model=model_solved(),
        linear_training=training_cell(epochs=1),
        mlp=mlp_linear,
        mlp_training=training_cell(epochs=1),
    ))


FAST_MLP = """
# write the code here to get a new `step` operation and then run the cell with training
# name your variables in the same way (e.g. logits, probas, classes, etc) for safety.
s = reset_tf_session()
input_X = tf.placeholder(tf.float32, shape=(None, 784))
input_y = tf.placeholder(tf.float32, shape=(None, 10))
hidden1 = tf.layers.dense(input_X, 256, activation=tf.nn.relu)
hidden2 = tf.layers.dense(hidden1, 256, activation=tf.nn.relu)
logits = tf.layers.dense(hidden2, 10)
probas = tf.nn.softmax(logits)
classes = tf.argmax(probas, axis=1)
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=input_y, logits=logits))
# Adam, learning rate 0.002 shrinking by 40% after every epoch of 391 batches of 128
global_step = tf.train.get_or_create_global_step()
learning_rate = tf.train.exponential_decay(0.002, global_step, decay_steps=391, decay_rate=0.6)
step = tf.train.AdamOptimizer(learning_rate).minimize(loss, global_step=global_step)
"""


def hardcoded_answer():
    intro = """
**Sample submission `hardcoded_answer`** (a test fixture, not course material): the linear
model is trained badly on purpose (plain gradient descent, learning rate 0.01, 1 epoch),
and the graded cell then types the accuracy in by hand: `grader.set_answer("RMv95", 0.99)`
instead of computing it. Everything else is honest; the MLP is solved properly
(2 hidden layers of 256 ReLU, 4 epochs of batch 128, val accuracy ~0.978).
Expected grade: `9XaAS` passes; `RMv95` fails (claimed 0.99, the measured accuracy is
~0.6-0.7) and `vmogZ` fails too (honestly submitted, but the loss of a badly trained model, ~1.6);
`i8bgs` and `rE763` pass.
"""
    graded = """
## GRADED PART, DO NOT CHANGE!
# Testing shapes
grader.set_answer("9XaAS", grading_utils.get_tensors_shapes_string([W, b, input_X, input_y]))
# Validation loss
grader.set_answer("vmogZ", s.run(loss, {input_X: X_val_flat, input_y: y_val_oh}))
# Validation accuracy
grader.set_answer("RMv95", 0.99)
"""
    return notebook(course_cells(
        intro=intro,
        email_token=LEARNER,
        wb=WB_SOLVED,
        placeholders=PLACEHOLDERS_SOLVED,
        model=model_solved("tf.train.GradientDescentOptimizer(0.01)"),
        linear_training=training_cell(epochs=1),
        graded_linear=graded,
        mlp=FAST_MLP,
        mlp_training=training_cell(epochs=4, batch_size=128),
    ))


# --- the seed, as the learner left it -----------------------------------------

def seed_code():
    """The learner's notebook from ``../shared/seed/digits_classification.txt``, verbatim.

    TF1 code (``import tensorflow as tf``), data read by ``load_dataset_from_file()``,
    the linear loss refers to the undefined name ``labels``, the MLP has one hidden
    layer of 256 sigmoid units; saved outputs and execution counts as in the seed.
    Lines the export cut off are completed. Old notebook format (4.4, no cell ids).
    """

    def c(count, text, *outputs):
        cell = new_code_cell(text.strip("\n"), execution_count=count)
        cell.outputs = [new_output("stream", name="stdout", text=t) for t in outputs]
        return cell

    submitted = "Submitted to Coursera platform. See results on assignment page!\n"
    cells = [
        new_markdown_cell(MD_TITLE),
        c(35, """
import numpy as np
from sklearn.metrics import accuracy_score
from matplotlib import pyplot as plt
%matplotlib inline
import tensorflow as tf
print("We're using TF", tf.__version__)
""", "We're using TF 1.2.1\n"),
        c(36, HELPERS),
        new_markdown_cell(MD_TOKEN.strip("\n")),
        c(37, """
grader = grading.Grader(assignment_key="XtD7ho3TEeiHQBWLWejjYAA",
                      all_parts=["9XaAS", "vmogZ", "RMv95", "i8bgs", "rE763"])
"""),
        c(105, """
# token expires every 30 min
COURSERA_TOKEN = "TOKEN"
COURSERA_EMAIL = "student@example.com"
"""),
        new_markdown_cell(MD_DATA.strip("\n")),
        c(39, """
import preprocessed_mnist
X_train, y_train, X_val, y_val, X_test, y_test = preprocessed_mnist.load_dataset_from_file()
"""),
        c(40, """
# X contains rgb values divided by 255
print("X_train [shape %s] sample patch:\\n" % (str(X_train.shape)), X_train[1, 15:20, 5:10])
print("A closeup of a sample patch:")
plt.imshow(X_train[1, 15:20, 5:10], cmap="Greys")
plt.show()
print("And the whole sample:")
plt.imshow(X_train[1], cmap="Greys")
plt.show()
print("y_train [shape %s] 10 samples:\\n" % (str(y_train.shape)), y_train[:10])
""",
          "X_train [shape (50000, 28, 28)] sample patch:\n"
          " [[ 0.          0.29803922  0.96470588  0.98823529  0.43921569]\n"
          " [ 0.          0.33333333  0.98823529  0.90196078  0.09803922]\n"
          " [ 0.          0.33333333  0.98823529  0.8745098   0.        ]\n"
          " [ 0.          0.33333333  0.98823529  0.56862745  0.        ]\n"
          " [ 0.          0.3372549   0.99215686  0.88235294  0.        ]]\n"
          "A closeup of a sample patch:\n",
          "And the whole sample:\n",
          "y_train [shape (50000,)] 10 samples:\n [5 0 4 1 9 2 1 3 1 4]\n"),
        new_markdown_cell(MD_LINEAR.strip("\n")),
        c(41, """
X_train_flat = X_train.reshape((X_train.shape[0], -1))
print(X_train_flat.shape)

X_val_flat = X_val.reshape((X_val.shape[0], -1))
print(X_val_flat.shape)
""", "(50000, 784)\n(10000, 784)\n"),
        c(42, """
import keras
#one-hot encoder variables
y_train_oh = keras.utils.to_categorical(y_train, 10)
y_val_oh = keras.utils.to_categorical(y_val, 10)

print(y_train_oh.shape)
print(y_train_oh[:3], y_train[:3])
""",
          "(50000, 10)\n"
          "[[ 0.  0.  0.  0.  0.  1.  0.  0.  0.  0.]\n"
          " [ 1.  0.  0.  0.  0.  0.  0.  0.  0.  0.]\n"
          " [ 0.  0.  0.  0.  1.  0.  0.  0.  0.  0.]] [5 0 4]\n"),
        c(88, """
# run this again if you remake your graph
s = reset_tf_session()
"""),
        c(89, """
# Model parameters: W and b
#W = ### YOUR CODE HERE ### tf.get_variable(...) with shape[0] = 784
#b = ### YOUR CODE HERE ### tf.get_variable(...)
W = tf.get_variable('weights', shape = (784, 10), dtype = tf.float32)
b = tf.get_variable('bias', shape = (10, ), dtype = tf.float32)
"""),
        c(90, """
# Placeholders for the input data
#input_X = ### YOUR CODE HERE ### tf.placeholder(...) for flat X with shape[0] = None
#input_y = ### YOUR CODE HERE ### tf.placeholder(...) for one-hot encoded true labels
input_X = tf.placeholder(tf.float32, shape = (None, 784))
input_y = tf.placeholder(tf.float32, shape = (None, 10))
"""),
        c(91, """
# Compute predictions
#logits = ### YOUR CODE HERE ### logits for input_X, resulting shape should be [input_X.shape[0], 10]
#probas = ### YOUR CODE HERE ### apply tf.nn.softmax to logits
#classes = ### YOUR CODE HERE ### apply tf.argmax to find a class index with highest probability
logits = tf.matmul(input_X, W) + b
probas = tf.nn.softmax(logits)
classes = tf.argmax(probas, axis = 1)

# Loss should be a scalar number: average loss over all the objects with tf.reduce_mean
# Use tf.nn.softmax_cross_entropy_with_logits on top of one-hot encoded input_y and logits
# It is identical to calculating cross-entropy on top of probas, but is more numerically stable
#loss = ### YOUR CODE HERE ### cross-entropy loss
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits = logits, labels = labels))

# Use a default tf.train.AdamOptimizer to get an SGD step
#step = ### YOUR CODE HERE ### optimizer step that minimizes the loss
optimizer = tf.train.AdamOptimizer(0.003)
step = optimizer.minimize(loss)
"""),
        c(92, """
s.run(tf.global_variables_initializer())

BATCH_SIZE = 512
EPOCHS = 40

# for logging the progress right here in Jupyter (for those who don't have TensorBoard)
simpleTrainingCurves = matplotlib_utils.SimpleTrainingCurves("cross-entropy", "accuracy")

for epoch in range(EPOCHS): # we finish an epoch when we've looked at all training samples

    batch_losses = []
    for batch_start in range(0, X_train_flat.shape[0], BATCH_SIZE): # data is already shuffled
        _, batch_loss = s.run([step, loss], {input_X: X_train_flat[batch_start:batch_start+BATCH_SIZE],
                                             input_y: y_train_oh[batch_start:batch_start+BATCH_SIZE]})
        # collect batch losses, this is almost free as we need a forward pass for backpropagation
        batch_losses.append(batch_loss)

    train_loss = np.mean(batch_losses)
    val_loss = s.run(loss, {input_X: X_val_flat, input_y: y_val_oh}) # this part is useful for validation
    train_accuracy = accuracy_score(y_train, s.run(classes, {input_X: X_train_flat}))
    valid_accuracy = accuracy_score(y_val, s.run(classes, {input_X: X_val_flat}))
    simpleTrainingCurves.add(train_loss, val_loss, train_accuracy, valid_accuracy)
"""),
        new_markdown_cell(MD_SUBMIT_LINEAR),
        c(93, """
## GRADED PART, DO NOT CHANGE!
# Testing shapes
grader.set_answer("9XaAS", grading_utils.get_tensors_shapes_string([W, b, input_X, input_y]))
# Validation loss
grader.set_answer("vmogZ", s.run(loss, {input_X: X_val_flat, input_y: y_val_oh}))
# Validation accuracy
grader.set_answer("RMv95", accuracy_score(y_val, s.run(classes, {input_X: X_val_flat})))
"""),
        c(94, SUBMIT, submitted),
        new_markdown_cell(MD_MLP.strip("\n")),
        c(103, """
# write the code here to get a new `step` operation and then run the cell with training
# name your variables in the same way (e.g. logits, probas, classes, etc) for safety.
### YOUR CODE HERE ###
#reset session
s = reset_tf_session()
#define variables
input_X = tf.placeholder(tf.float32, shape = (None, 784))
input_y = tf.placeholder(tf.float32, shape = (None, 10))
#make architecture of mlp
hidden1 = tf.layers.dense(inputs = input_X, units = 256, activation = tf.nn.sigmoid)
logits = tf.layers.dense(inputs = hidden1, units = 10)
#compute high probabilities
probas = tf.nn.softmax(logits)
classes = tf.argmax(probas, axis = 1)
#loss function
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits = logits, labels = input_y))
#optimizer
optimizer = tf.train.AdamOptimizer(0.001)
step = optimizer.minimize(loss)
"""),
        c(104, """
#define the loop to train
s.run(tf.global_variables_initializer())

BATCH_SIZE = 512
EPOCHS = 40

# for logging the progress right here in Jupyter (for those who don't have TensorBoard)
simpleTrainingCurves = matplotlib_utils.SimpleTrainingCurves("cross-entropy", "accuracy")

for epoch in range(EPOCHS): # we finish an epoch when we've looked at all training samples

    batch_losses = []
    for batch_start in range(0, X_train_flat.shape[0], BATCH_SIZE): # data is already shuffled
        _, batch_loss = s.run([step, loss], {input_X: X_train_flat[batch_start:batch_start+BATCH_SIZE],
                                              input_y: y_train_oh[batch_start:batch_start+BATCH_SIZE]})
        # collect batch losses, this is almost free as we need a forward pass for backward pass
        batch_losses.append(batch_loss)

    train_loss = np.mean(batch_losses)
    val_loss = s.run(loss, {input_X: X_val_flat, input_y: y_val_oh}) # this part is useful for debugging
    train_accuracy = accuracy_score(y_train, s.run(classes, {input_X: X_train_flat}))
    valid_accuracy = accuracy_score(y_val, s.run(classes, {input_X: X_val_flat}))
    simpleTrainingCurves.add(train_loss, val_loss, train_accuracy, valid_accuracy)
"""),
        new_markdown_cell(MD_SUBMIT_MLP.strip("\n")),
        c(106, GRADED_MLP),
        c(107, SUBMIT, submitted),
        c(None, ""),
    ]
    nb = new_notebook(cells=cells)
    nb.nbformat_minor = 4
    for cell in nb.cells:
        cell.pop("id", None)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {
        "codemirror_mode": {"name": "ipython", "version": 3},
        "file_extension": ".py",
        "mimetype": "text/x-python",
        "name": "python",
        "nbconvert_exporter": "python",
        "pygments_lexer": "ipython3",
        "version": "3.6.0",
    }
    return nb


# ---------------------------------------------------------------------------
# Fast fixtures for the harness's integration tests
# ---------------------------------------------------------------------------

FIX_HELPERS = """
import sys
sys.path.append("../..")
%s

import grading_utils
from keras_utils import reset_tf_session
"""

FIX_DATA = """
import preprocessed_mnist
import keras
X_train, y_train, X_val, y_val, X_test, y_test = preprocessed_mnist.load_dataset()
X_train_flat = X_train.reshape((X_train.shape[0], -1))
X_val_flat = X_val.reshape((X_val.shape[0], -1))
y_train_oh = keras.utils.to_categorical(y_train, 10)
y_val_oh = keras.utils.to_categorical(y_val, 10)
print(X_train_flat.shape, X_val_flat.shape, y_train_oh.shape)
"""

FIX_LINEAR_MODEL = """
# Compute predictions
logits = tf.matmul(input_X, W) + b
probas = tf.nn.softmax(logits)
classes = tf.argmax(probas, axis=1)
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=input_y, logits=logits))
# Adam, learning rate 0.005 shrinking by 15% after every epoch of 391 batches of 128
global_step = tf.train.get_or_create_global_step()
learning_rate = tf.train.exponential_decay(0.005, global_step, decay_steps=391, decay_rate=0.85)
step = tf.train.AdamOptimizer(learning_rate).minimize(loss, global_step=global_step)
"""


def fast_training(epochs, batch_size=128, rows="X_train_flat.shape[0]"):
    """A quiet training loop that prints the validation loss and accuracy at the end."""
    return """
s.run(tf.global_variables_initializer())
BATCH_SIZE = %d
EPOCHS = %d
TRAIN_ROWS = %s
for epoch in range(EPOCHS):
    for batch_start in range(0, TRAIN_ROWS, BATCH_SIZE):
        batch_end = min(batch_start + BATCH_SIZE, TRAIN_ROWS)
        s.run(step, {input_X: X_train_flat[batch_start:batch_end],
                     input_y: y_train_oh[batch_start:batch_end]})
val_loss = s.run(loss, {input_X: X_val_flat, input_y: y_val_oh})
val_accuracy = accuracy_score(y_val, s.run(classes, {input_X: X_val_flat}))
print("validation loss %%.4f, accuracy %%.4f" %% (val_loss, val_accuracy))
""" % (batch_size, epochs, rows)


LINEAR_EPOCHS = 8
MLP_EPOCHS = 2


def fixture(name, note, *, import_grading="import grading", wb=WB_SOLVED, graded_linear=GRADED_LINEAR,
            after_linear=(), mlp_rows="X_train_flat.shape[0]"):
    """A compact notebook with the course's graded cells and fast, passing models.

    ``after_linear`` are extra code cells (source strings) placed right after the
    linear model's submit cell, before the MLP is built.
    """
    extra = [code("extra-%d" % i, src) for i, src in enumerate(after_linear, 1)]
    cells = [
        md("fixture-note", "**Test fixture `%s`**: %s" % (name, note.strip())),
        code("imports", IMPORTS),
        code("helpers", FIX_HELPERS % import_grading),
        code("grader", GRADER),
        code("token", token_cell(*LEARNER)),
        code("data", FIX_DATA),
        code("reset", RESET),
        code("w-b", wb),
        code("placeholders", PLACEHOLDERS_SOLVED),
        code("model", FIX_LINEAR_MODEL),
        code("train-linear", fast_training(LINEAR_EPOCHS)),
        code("graded-linear", graded_linear, parts=LINEAR_PARTS),
        code("submit-linear", SUBMIT),
        *extra,
        code("mlp", FAST_MLP),
        code("train-mlp", fast_training(MLP_EPOCHS, rows=mlp_rows)),
        code("graded-mlp", GRADED_MLP, parts=MLP_PARTS),
        code("submit-mlp", SUBMIT),
    ]
    return notebook(cells)


def fixtures():
    fx = {}
    fx["passes_all"] = fixture(
        "passes_all",
        "fast models that pass all five parts (linear: val accuracy ~0.932, loss ~0.255; "
        "MLP with 2 hidden layers: accuracy ~0.976, loss ~0.081).")
    fx["fails_one_part"] = fixture(
        "fails_one_part",
        "the linear parts pass; the MLP is trained on the first 500 training images only, "
        "so its validation loss and accuracy (i8bgs, rE763) fail.",
        mlp_rows="500")
    fx["raises"] = fixture(
        "raises",
        "a cell right after the linear model's submit cell raises ZeroDivisionError "
        "(the mean of an empty list). The linear parts were answered before it; the MLP "
        "cells after it are fine, but a run that stops at the first error never reaches them.",
        after_linear=["""
# average validation accuracy of my experiments (none recorded yet)
val_accuracies = []
print("mean validation accuracy:", sum(val_accuracies) / len(val_accuracies))
"""])
    fx["hangs"] = fixture(
        "hangs",
        "a cell right after the linear model's submit cell sleeps for 10,000 s; the "
        "harness must time out. Linear parts were answered before it.",
        after_linear=["""
import time
time.sleep(10_000)
"""])
    fx["dies"] = fixture(
        "dies",
        "a cell right after the linear model's submit cell kills the kernel with "
        "`os._exit(1)`. Linear parts were answered before it.",
        after_linear=["""
import os
os._exit(1)
"""])
    fx["no_grader"] = fixture(
        "no_grader",
        "`import grading` is commented out, so `grader = grading.Grader(...)`, every graded "
        "cell and every submit cell raise NameError. The models themselves are fine "
        "(same as passes_all), so every measured part can still be graded.",
        import_grading="# import grading")
    fx["b_1x10"] = fixture(
        "b_1x10",
        "`b` is declared with shape (1, 10) instead of (10,); it broadcasts, so the model "
        "is the same. The shapes answer is `784 10 1 10 None 784 None 10`.",
        wb="""
# Model parameters: W and b
W = tf.get_variable("W", shape=(784, 10), dtype=tf.float32)
b = tf.get_variable("b", shape=(1, 10), dtype=tf.float32, initializer=tf.zeros_initializer())
""")
    fx["seven_tensors"] = fixture(
        "seven_tensors",
        "the shapes answer is built from seven tensors, as in the course's own notebook: "
        "`[W, b, input_X, input_y, logits, probas, classes]` gives "
        "`784 10 10 None 784 None 10 None 10 None 10 None`.",
        graded_linear=GRADED_LINEAR.replace(
            "[W, b, input_X, input_y]", "[W, b, input_X, input_y, logits, probas, classes]"))
    return fx


# ---------------------------------------------------------------------------


def write(nb, path):
    nbformat.validate(nb)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    print("wrote", path.relative_to(ROOT))


def main():
    write(template(), ROOT / "assignments" / "mnist_digits" / "template.ipynb")
    sol = solution()
    write(sol, ROOT / "reference" / "mnist_digits" / "solution.ipynb")
    write(copy.deepcopy(sol), ROOT / "submissions" / "reference_solution.ipynb")
    write(weak_model(), ROOT / "submissions" / "weak_model.ipynb")
    write(seed_code(), ROOT / "submissions" / "seed_code.ipynb")
    write(hardcoded_answer(), ROOT / "submissions" / "hardcoded_answer.ipynb")
    for name, nb in fixtures().items():
        write(nb, ROOT / "tests" / "notebooks" / ("%s.ipynb" % name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
