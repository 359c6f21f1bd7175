#!/usr/bin/env python3
"""Generate the TF1-era golden notebooks ``tests/notebooks/tf1_*.ipynb``.

Run from anywhere: ``python tools/make_tf1_fixtures.py``. Each notebook is
one pattern found in real learners' notebooks for the MNIST digits
assignment (``../shared/docs/REAL_NOTEBOOKS.md``), written the way learners
wrote them for TensorFlow 1.x (``../shared/seed/digits_classification.txt``):
``import tensorflow as tf`` and then ``tf.placeholder``, ``tf.get_variable``,
``tf.layers.dense``, ``tf.train.AdamOptimizer``, ``tf.InteractiveSession`` or
``reset_tf_session()``, ``tf.arg_max``, ``dim=``, standalone ``import keras``,
``sys.path.append("../..")``, ``import grading`` and the course's graded cells
verbatim. Graded cells carry no ``grader`` metadata (learners' notebooks have
none), so the harness finds them by their ``set_answer`` calls.

The first cell of every notebook says what it tests; the expected verdict is
``tests/notebooks/tf1_*.expected.json`` beside it, written by hand. Most
notebooks have no outputs; the ones about how cells were run
(``tf1_out_of_order``, ``tf1_interrupted``, ``tf1_mlp_never_trained``) carry
saved outputs and execution counts as the learner left them. Cell ids are
fixed, so regenerating gives the same files byte for byte.

Training settings are the fast fixtures' ones of ``make_notebooks.py``: linear
model Adam 0.005 decaying by 15% per epoch, batch 128, 8 epochs (val accuracy
~0.932); MLP 2 x 256 ReLU, Adam 0.002 decaying by 40% per epoch, batch 128,
2 epochs (val accuracy ~0.976).
"""
import sys
from pathlib import Path

from nbformat.v4 import new_output

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_notebooks import (  # noqa: E402  (tools/ is not a package)
    GRADED_LINEAR, GRADED_MLP, GRADER, LEARNER, ROOT, SUBMIT, code, md, notebook, token_cell, write)

# ---------------------------------------------------------------------------
# The cells of a TF1-era learner's notebook (after the seed)
# ---------------------------------------------------------------------------

IMPORTS = """
import numpy as np
from sklearn.metrics import accuracy_score
from matplotlib import pyplot as plt
%matplotlib inline
import tensorflow as tf
print("We're using TF", tf.__version__)
"""

HELPERS = """
import sys
sys.path.append("../..")
%s

import matplotlib_utils
from importlib import reload
reload(matplotlib_utils)

import grading_utils
reload(grading_utils)

import keras_utils
from keras_utils import reset_tf_session
"""

LOAD = """
import preprocessed_mnist
X_train, y_train, X_val, y_val, X_test, y_test = preprocessed_mnist.load_dataset()
"""

FLATTEN = """
X_train_flat = X_train.reshape((X_train.shape[0], -1))
print(X_train_flat.shape)

X_val_flat = X_val.reshape((X_val.shape[0], -1))
print(X_val_flat.shape)
"""

ONE_HOT = """
import keras
#one-hot encoder variables
y_train_oh = keras.utils.to_categorical(y_train, 10)
y_val_oh = keras.utils.to_categorical(y_val, 10)

print(y_train_oh.shape)
print(y_train_oh[:3], y_train[:3])
"""

RESET = """
# run this again if you remake your graph
s = reset_tf_session()
"""

WB = """
# Model parameters: W and b
W = tf.get_variable('weights', shape = (784, 10), dtype = tf.float32)
b = tf.get_variable('bias', shape = (10, ), dtype = tf.float32, initializer = tf.zeros_initializer())
"""

PLACEHOLDERS = """
# Placeholders for the input data
input_X = tf.placeholder(tf.float32, shape = (None, 784))
input_y = tf.placeholder(tf.float32, shape = (None, 10))
"""

# The linear optimiser: Adam 0.005, shrinking by 15% after every epoch of 391 batches of 128.
LINEAR_STEP = """
global_step = tf.Variable(0, trainable = False)
learning_rate = tf.train.exponential_decay(0.005, global_step, decay_steps = 391, decay_rate = 0.85)
optimizer = tf.train.AdamOptimizer(learning_rate)
step = optimizer.minimize(loss, global_step = global_step)
"""


def linear_model(logits="tf.matmul(input_X, W) + b", probas="tf.nn.softmax(logits)",
                 classes="tf.argmax(probas, axis = 1)",
                 loss="tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(logits = logits, labels = input_y))",
                 *, classes_name="classes"):
    return """
# Compute predictions
logits = %s
probas = %s
%s = %s

# Loss should be a scalar number: average loss over all the objects with tf.reduce_mean
# Use tf.nn.softmax_cross_entropy_with_logits on top of one-hot encoded input_y and logits
loss = %s

# Use a default tf.train.AdamOptimizer to get an SGD step
""" % (logits, probas, classes_name, classes, loss) + LINEAR_STEP.lstrip("\n")


def training(epochs, *, header="", per_epoch=False, after_init=""):
    """The training loop, quiet and fast (batch 128), printing the validation numbers."""
    report = """
    valid_accuracy = accuracy_score(y_val, s.run(classes, {input_X: X_val_flat}))
    print("epoch %d: validation accuracy %.4f" % (epoch + 1, valid_accuracy))""" if per_epoch else ""
    return header + """
s.run(tf.global_variables_initializer())
%s
BATCH_SIZE = 128
EPOCHS = %d

for epoch in range(EPOCHS): # we finish an epoch when we've looked at all training samples
    for batch_start in range(0, X_train_flat.shape[0], BATCH_SIZE): # data is already shuffled
        s.run(step, {input_X: X_train_flat[batch_start:batch_start+BATCH_SIZE],
                     input_y: y_train_oh[batch_start:batch_start+BATCH_SIZE]})%s

val_loss = s.run(loss, {input_X: X_val_flat, input_y: y_val_oh})
valid_accuracy = accuracy_score(y_val, s.run(classes, {input_X: X_val_flat}))
print("validation loss %%.4f, accuracy %%.4f" %% (val_loss, valid_accuracy))
""" % (after_init, epochs, report)


LINEAR_EPOCHS = 8
MLP_EPOCHS = 2

MLP_STEP = """
# Adam 0.002, shrinking by 40% after every epoch of 391 batches of 128
global_step = tf.Variable(0, trainable = False)
learning_rate = tf.train.exponential_decay(0.002, global_step, decay_steps = 391, decay_rate = 0.6)
step = tf.train.AdamOptimizer(learning_rate).minimize(loss, global_step = global_step)
"""


def mlp(*, reset="s = reset_tf_session()",
        placeholders="input_X = tf.placeholder(tf.float32, shape = (None, 784))\n"
                     "input_y = tf.placeholder(tf.float32, shape = (None, 10))",
        hidden="hidden1 = tf.layers.dense(input_X, 256, activation = tf.nn.relu)\n"
               "hidden2 = tf.layers.dense(hidden1, 256, activation = tf.nn.relu)",
        logits="tf.layers.dense(hidden2, 10)",
        classes_line="classes = tf.argmax(probas, axis = 1)",
        loss="tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(logits = logits, labels = input_y))",
        tail=""):
    return """
# write the code here to get a new `step` operation and then run the cell with training
# name your variables in the same way (e.g. logits, probas, classes, etc) for safety.
### YOUR CODE HERE ###
%s
%s
%s
logits = %s
probas = tf.nn.softmax(logits)
%s
loss = %s
""" % (reset, placeholders, hidden, logits, classes_line, loss) + MLP_STEP + tail


# ---------------------------------------------------------------------------
# Notebooks: the course's cells in order, with per-fixture replacements
# ---------------------------------------------------------------------------

# (cell id, source) of the code cells, in the notebook's order.
BASE = [
    ("imports", IMPORTS),
    ("helpers", HELPERS % "import grading"),
    ("grader", GRADER),
    ("token", token_cell(*LEARNER)),
    ("load-data", LOAD),
    ("flatten", FLATTEN),
    ("one-hot", ONE_HOT),
    ("reset", RESET),
    ("w-b", WB),
    ("placeholders", PLACEHOLDERS),
    ("model", linear_model()),
    ("train-linear", training(LINEAR_EPOCHS)),
    ("graded-linear", GRADED_LINEAR),
    ("submit-linear", SUBMIT),
    ("mlp", mlp()),
    ("train-mlp", training(MLP_EPOCHS, header="# the training cell again, for the MLP")),
    ("graded-mlp", GRADED_MLP),
    ("submit-mlp", SUBMIT),
]

SUBMITTED = "Submitted to Coursera platform. See results on assignment page!\n"


def tf1_notebook(name, note, *, replace=None, before=None, after=None, drop=(), saved=None):
    """A TF1-era notebook: ``BASE`` with cells replaced, inserted or dropped.

    ``replace``: {id: source}; ``before`` / ``after``: {id: [(new id, source), ...]};
    ``saved``: {id: (execution_count, [outputs])}, the state the learner saved
    (cells not listed have neither outputs nor an execution count).
    """
    replace, before, after, saved = replace or {}, before or {}, after or {}, saved or {}
    cells = [md("fixture-note", "**Test fixture `%s`** (a TF1-era learner's notebook): %s"
                % (name, note.strip()))]
    for cell_id, source in BASE:
        extra_before = before.get(cell_id, [])
        extra_after = after.get(cell_id, [])
        group = [*extra_before, *([] if cell_id in drop else [(cell_id, replace.get(cell_id, source))]),
                 *extra_after]
        for new_id, src in group:
            cell = code(new_id, src)
            if new_id in saved:
                cell.execution_count, cell.outputs = saved[new_id][0], list(saved[new_id][1])
            cells.append(cell)
    unknown = (set(replace) | set(before) | set(after) | set(drop)) - {i for i, _ in BASE}
    missing = set(saved) - {c.id for c in cells}
    assert not unknown and not missing, (unknown, missing)
    return notebook(cells)


def out(text):
    return new_output("stream", name="stdout", text=text)


def keyboard_interrupt(cell_source_line, count):
    """A KeyboardInterrupt error output as Jupyter saved it (ANSI colours included)."""
    return new_output("error", ename="KeyboardInterrupt", evalue="", traceback=[
        "\x1b[0;31m---------------------------------------------------------------------------\x1b[0m",
        "\x1b[0;31mKeyboardInterrupt\x1b[0m                         Traceback (most recent call last)",
        "\x1b[0;32m<ipython-input-%d-3f1c2a7e9b0d>\x1b[0m in \x1b[0;36m<module>\x1b[0;34m()\x1b[0m\n"
        "\x1b[1;32m      9\x1b[0m \x1b[0;32mfor\x1b[0m \x1b[0mbatch_start\x1b[0m \x1b[0;32min\x1b[0m ...\n"
        "\x1b[0;32m---> 10\x1b[0;31m         %s\x1b[0m" % (count, cell_source_line),
        "\x1b[0;32m/usr/local/lib/python3.6/dist-packages/tensorflow/python/client/session.py\x1b[0m in "
        "\x1b[0;36mrun\x1b[0;34m(self, fetches, feed_dict, options, run_metadata)\x1b[0m",
        "\x1b[0;31mKeyboardInterrupt\x1b[0m: ",
    ])


def fixtures():
    fx = {}

    fx["tf1_plain"] = tf1_notebook(
        "tf1_plain",
        "pure TF 1.x code, correct models. The linear model uses `tf.reset_default_graph()` and "
        "`tf.InteractiveSession()`, `tf.nn.softmax(logits, dim=1)`, `tf.arg_max`, "
        "`tf.nn.softmax_cross_entropy_with_logits` (not `_v2`) and writes its graph with "
        "`tf.summary.FileWriter` into the working folder; the MLP uses `tf.layers.dense` and "
        "`tf.arg_max`. Expected: all five parts pass (linear accuracy ~0.93, MLP ~0.976).",
        replace={
            "reset": """
# run this again if you remake your graph
tf.reset_default_graph()
s = tf.InteractiveSession()
""",
            "model": linear_model(
                probas="tf.nn.softmax(logits, dim = 1)", classes="tf.arg_max(probas, 1)",
                loss="tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits = logits, labels = input_y))"),
            "train-linear": training(LINEAR_EPOCHS, after_init="""
# for TensorBoard: tensorboard --logdir=./logs
writer = tf.summary.FileWriter("./logs/linear", s.graph)
"""),
            "mlp": mlp(classes_line="classes = tf.arg_max(probas, 1)",
                       loss="tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits = logits, labels = input_y))"),
        })

    fx["tf1_b_1x10"] = tf1_notebook(
        "tf1_b_1x10",
        "`W` and `b` are `tf.Variable`s built from NumPy arrays (`np.random.randn(784, 10) * 0.01`, "
        "`np.zeros((1, 10))`), so `b` has shape (1, 10) instead of (10,); it broadcasts. "
        "Expected: all five parts pass, the shapes answer is `784 10 1 10 None 784 None 10`.",
        replace={"w-b": """
# Model parameters: W and b
W = tf.Variable(np.random.randn(784, 10) * 0.01, dtype = tf.float32, name = "weights")
b = tf.Variable(np.zeros((1, 10)), dtype = tf.float32, name = "bias")
"""})

    fx["tf1_contrib_init"] = tf1_notebook(
        "tf1_contrib_init",
        "`tf.contrib.layers.xavier_initializer()` for `W` and a "
        "`tf.contrib.layers.l2_regularizer` added to the linear loss; the MLP is built with "
        "`tf.contrib.layers.fully_connected` with L2 regularisers, added to its loss with "
        "`tf.losses.get_regularization_loss()`. TensorFlow 2 has no tf.contrib; the grader maps "
        "these. Expected: all five parts pass.",
        replace={
            "w-b": """
# Model parameters: W and b
W = tf.get_variable('weights', shape = (784, 10), dtype = tf.float32,
                    initializer = tf.contrib.layers.xavier_initializer())
b = tf.get_variable('bias', shape = (10, ), dtype = tf.float32, initializer = tf.zeros_initializer())
regularizer = tf.contrib.layers.l2_regularizer(scale = 1e-5)
""",
            "model": linear_model(
                loss="tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(logits = logits, "
                     "labels = input_y)) + regularizer(W)"),
            "mlp": mlp(
                hidden="""
regularizer = tf.contrib.layers.l2_regularizer(scale = 1e-6)
hidden1 = tf.contrib.layers.fully_connected(input_X, 256, activation_fn = tf.nn.relu,
                                            weights_initializer = tf.contrib.layers.xavier_initializer(),
                                            weights_regularizer = regularizer)
hidden2 = tf.contrib.layers.fully_connected(hidden1, 256, activation_fn = tf.nn.relu,
                                            weights_regularizer = regularizer)""".strip("\n"),
                logits="tf.contrib.layers.fully_connected(hidden2, 10, activation_fn = None)",
                loss="tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(logits = logits, "
                     "labels = input_y)) + tf.losses.get_regularization_loss()"),
        })

    fx["tf1_contrib_missing"] = tf1_notebook(
        "tf1_contrib_missing",
        "the MLP cell builds its layers with `tf.contrib.slim` (`slim = tf.contrib.slim`, "
        "`slim.fully_connected`), which has no TensorFlow 2 equivalent the grader maps: the cell "
        "raises `ContribUnavailable` after `reset_tf_session()` and the new placeholders, so "
        "`probas`, `classes`, `loss` and `step` are still the linear model's, in the discarded "
        "graph. Expected: the linear parts pass; the MLP parts cannot pass (error), and the "
        "message quotes the ContribUnavailable error.",
        replace={"mlp": mlp(hidden="""
slim = tf.contrib.slim
hidden1 = slim.fully_connected(input_X, 256, activation_fn = tf.nn.relu)
hidden2 = slim.fully_connected(hidden1, 256, activation_fn = tf.nn.relu)""".strip("\n"),
                            logits="slim.fully_connected(hidden2, 10, activation_fn = None)")})

    fx["tf1_colab_header"] = tf1_notebook(
        "tf1_colab_header",
        "a notebook saved from Colab: `%tensorflow_version 1.x`, then `! shred` / `! wget` of the "
        "course's `setup_google_colab.py`, `import setup_google_colab` and "
        "`setup_google_colab.setup_week2()` (which downloads the week's files). Grading is offline: "
        "these are skipped and listed in the notes. Expected: all five parts pass.",
        before={"imports": [
            ("colab-tf-version", "%tensorflow_version 1.x"),
            ("colab-setup", """
! shred -u setup_google_colab.py
! wget https://raw.githubusercontent.com/hse-aml/intro-to-dl/master/setup_google_colab.py -O setup_google_colab.py
import setup_google_colab
# please, uncomment the week you're working on
# setup_google_colab.setup_week1()
setup_google_colab.setup_week2()
"""),
        ]})

    fx["tf1_shell_lines"] = tf1_notebook(
        "tf1_shell_lines",
        "shell lines and cell magics from a learner's own machine: `!pip install tensorflow==1.15`, "
        "`! shred -u setup_google_colab.py`, `!ls`, `files = !ls` and a `%%bash` cell. Nothing "
        "may be installed or run on the grading host; each is skipped and listed in the notes. "
        "Expected: all five parts pass.",
        before={"imports": [
            ("pip", "!pip install tensorflow==1.15\n! shred -u setup_google_colab.py"),
        ]},
        after={"load-data": [
            ("ls", "!ls\nfiles = !ls\nprint(files)"),
            ("bash", "%%bash\nmkdir -p logs\nls -la\necho \"done\""),
        ]})

    fx["tf1_load_from_file"] = tf1_notebook(
        "tf1_load_from_file",
        "the data comes from `preprocessed_mnist.load_dataset_from_file()`, which reads "
        "`./mnist.npz` from the working folder (the harness provides the file). "
        "Expected: all five parts pass.",
        replace={"load-data": """
import preprocessed_mnist
X_train, y_train, X_val, y_val, X_test, y_test = preprocessed_mnist.load_dataset_from_file()
"""})

    val_print = ("val-accuracy", """
# accuracy of the current model on the validation set
print("validation accuracy: %.4f" % accuracy_score(y_val, s.run(classes, {input_X: X_val_flat})))
""")
    fx["tf1_out_of_order"] = tf1_notebook(
        "tf1_out_of_order",
        "saved with cells run out of order: the learner trained and submitted the MLP "
        "(execution counts 27-30), then went back up and ran the validation-accuracy cell and the "
        "linear graded cell again (31-33), so the saved output of that cell shows the MLP's "
        "accuracy 0.9791 and the linear answers were the MLP's. A clean top-to-bottom re-run "
        "prints the linear model's ~0.93 there. Expected: the grade comes from the clean re-run "
        "(all five parts pass) and the notes say the saved outputs differ from it (out of order, "
        "0.9791).",
        after={"train-linear": [val_print]},
        saved={
            "imports": (1, [out("We're using TF 1.15.2\n")]),
            "helpers": (2, []), "grader": (3, []), "token": (4, []), "load-data": (5, []),
            "flatten": (6, [out("(50000, 784)\n(10000, 784)\n")]),
            "one-hot": (7, [out("(50000, 10)\n[[0. 0. 0. 0. 0. 1. 0. 0. 0. 0.]\n"
                                " [1. 0. 0. 0. 0. 0. 0. 0. 0. 0.]\n"
                                " [0. 0. 0. 0. 1. 0. 0. 0. 0. 0.]] [5 0 4]\n")]),
            "reset": (8, []), "w-b": (9, []), "placeholders": (10, []), "model": (11, []),
            "train-linear": (12, [out("validation loss 0.2556, accuracy 0.9318\n")]),
            "val-accuracy": (31, [out("validation accuracy: 0.9791\n")]),
            "graded-linear": (32, []),
            "submit-linear": (33, [out(SUBMITTED)]),
            "mlp": (27, []),
            "train-mlp": (28, [out("validation loss 0.0718, accuracy 0.9791\n")]),
            "graded-mlp": (29, []),
            "submit-mlp": (30, [out(SUBMITTED)]),
        })

    interrupted_source = "s.run(step, {input_X: X_train_flat[batch_start:batch_start+BATCH_SIZE],"
    fx["tf1_interrupted"] = tf1_notebook(
        "tf1_interrupted",
        "the linear training cell was interrupted (Kernel > Interrupt) after 3 of its 8 epochs: "
        "its saved output ends in a KeyboardInterrupt traceback, and the learner ran the graded "
        "cells anyway. A clean re-run trains all 8 epochs. Expected: all five parts pass, and the "
        "notes say the saved notebook shows the training cell interrupted.",
        replace={"train-linear": training(LINEAR_EPOCHS, per_epoch=True)},
        saved={
            "imports": (1, [out("We're using TF 1.15.2\n")]),
            "helpers": (2, []), "grader": (3, []), "token": (4, []), "load-data": (5, []),
            "flatten": (6, [out("(50000, 784)\n(10000, 784)\n")]),
            "one-hot": (7, []), "reset": (8, []), "w-b": (9, []), "placeholders": (10, []),
            "model": (11, []),
            "train-linear": (12, [
                out("epoch 1: validation accuracy 0.9190\nepoch 2: validation accuracy 0.9241\n"
                    "epoch 3: validation accuracy 0.9262\n"),
                keyboard_interrupt(interrupted_source, 12)]),
            "graded-linear": (13, []),
            "submit-linear": (14, [out(SUBMITTED)]),
            "mlp": (15, []),
            "train-mlp": (16, [out("validation loss 0.0720, accuracy 0.9790\n")]),
            "graded-mlp": (17, []),
            "submit-mlp": (18, [out(SUBMITTED)]),
        })

    fx["tf1_mlp_never_trained"] = tf1_notebook(
        "tf1_mlp_never_trained",
        "the MLP is defined in a new graph (`reset_tf_session()`) and its variables initialised, "
        "but the notebook has no training cell after it: as the course suggests (\"restart "
        "training with the cell above\"), the learner re-ran the linear training cell above "
        "(execution count 21, after the MLP cell's 20), which trained the MLP in their session. "
        "In a clean top-to-bottom re-run that cell runs before the MLP exists, so the MLP is "
        "never trained. Expected, graded with `--order top-down` (its expected.json says so): "
        "the linear parts pass; the MLP's loss (~2.3) and accuracy (~0.1) fail, and their "
        "message says that the MLP is only trained when cell 12 runs again and that the "
        "training loop belongs after cell 15. Graded as-run (the assignment's order), cell 12 "
        "runs again after cell 15 and every part passes (the tf1_order_* fixtures).",
        replace={"mlp": mlp(tail="s.run(tf.global_variables_initializer())\n")},
        drop=["train-mlp"],
        saved={
            "imports": (1, [out("We're using TF 1.14.0\n")]),
            "helpers": (2, []), "grader": (3, []), "token": (4, []), "load-data": (5, []),
            "flatten": (6, [out("(50000, 784)\n(10000, 784)\n")]),
            "one-hot": (7, []), "reset": (8, []), "w-b": (9, []), "placeholders": (10, []),
            "model": (11, []),
            "train-linear": (21, [out("validation loss 0.0731, accuracy 0.9783\n")]),
            "graded-linear": (13, []),
            "submit-linear": (14, [out(SUBMITTED)]),
            "mlp": (20, []),
            "graded-mlp": (22, []),
            "submit-mlp": (23, [out(SUBMITTED)]),
        })

    fx["tf1_lookalike_letter"] = tf1_notebook(
        "tf1_lookalike_letter",
        "the linear model cell assigns `\u0441lasses` whose first letter is the Cyrillic "
        "'\u0441' (U+0441), not the Latin 'c': the name `classes` that the training and graded "
        "cells use is never defined, so they raise NameError. The MLP cell is typed correctly. "
        "Expected: shapes and the linear loss pass (they do not use `classes`); the linear "
        "accuracy (RMv95) cannot be measured (error, naming `classes`); the MLP parts pass.",
        replace={"model": linear_model(classes_name="\u0441lasses")})

    fx["tf1_lookalike_stale"] = tf1_notebook(
        "tf1_lookalike_stale",
        "the MLP cell assigns `\u0441lasses` with a Cyrillic '\u0441' (U+0441): the name "
        "`classes` is still the linear model's tensor, in the graph that `reset_tf_session()` "
        "discarded, so the MLP's training cell and graded cell raise when they run it. "
        "Expected: the linear parts and the MLP loss pass; the MLP accuracy (rE763) cannot be "
        "measured (error: `classes` belongs to another graph).",
        replace={"mlp": mlp(classes_line="\u0441lasses = tf.argmax(probas, axis = 1)")})

    fx["tf1_no_grader"] = tf1_notebook(
        "tf1_no_grader",
        "`import grading` is commented out, so `grader = grading.Grader(...)`, every graded cell "
        "and every submit cell raise NameError. The models are correct, so every measured part "
        "can still be graded. Expected: all five parts pass; the errors include the NameError.",
        replace={"helpers": HELPERS % "#import grading"})

    fx["tf1_softmax_twice"] = tf1_notebook(
        "tf1_softmax_twice",
        "the linear model applies softmax twice: `logits = tf.nn.softmax(tf.matmul(input_X, W) + b)` "
        "and then `probas = tf.nn.softmax(logits)`, and the loss gets the softmaxed `logits`. "
        "`probas` are squashed towards uniform, so the validation loss measured from them is far "
        "above the threshold. The MLP is correct. Expected: vmogZ fails on the measured loss "
        "(~1.54); argmax is unchanged, so RMv95 still passes (~0.931); shapes and the MLP pass.",
        replace={"model": linear_model(logits="tf.nn.softmax(tf.matmul(input_X, W) + b)")})

    fx["tf1_no_bias"] = tf1_notebook(
        "tf1_no_bias",
        "`b` is declared but never added to the logits: `logits = tf.matmul(input_X, W)`. The "
        "shapes are right; a linear model without biases on raw pixels loses little. "
        "Expected: all five parts pass (linear accuracy ~0.930, loss ~0.260).",
        replace={"model": linear_model(logits="tf.matmul(input_X, W)")})

    fx["tf1_sigmoid_logits"] = tf1_notebook(
        "tf1_sigmoid_logits",
        "the MLP's output layer has a sigmoid activation, `logits = tf.layers.dense(hidden2, 10, "
        "activation = tf.nn.sigmoid)`, and these squashed logits are fed to softmax and to the loss: "
        "every probability lies between 1/(1+9e) and e/(e+9), so the MLP's measured validation "
        "loss is at least 1.46. Expected: the linear parts pass; i8bgs fails (~1.49); the "
        "sigmoid keeps the order of the logits, so rE763 still passes (~0.973).",
        replace={"mlp": mlp(logits="tf.layers.dense(hidden2, 10, activation = tf.nn.sigmoid)")})

    fx["tf1_stale_placeholders"] = tf1_notebook(
        "tf1_stale_placeholders",
        "the MLP cell reuses the placeholders `input_X`, `input_y` defined before "
        "`s = reset_tf_session()`: they belong to the discarded graph, and building the MLP on "
        "them in the new session raises. Expected: the linear parts pass; the MLP parts cannot "
        "pass (error) with a message that names the graph problem.",
        replace={"mlp": mlp(placeholders="# input_X and input_y: the placeholders defined above")})

    fx["tf1_mlp_never_initialised"] = tf1_notebook(
        "tf1_mlp_never_initialised",
        "the MLP is defined in a new graph (`reset_tf_session()`) but its variables are never "
        "initialised: the notebook has no training cell after it (the learner re-ran the linear "
        "training cell above in Jupyter, which initialised and trained it in their session). In "
        "a clean re-run the MLP's graded cell raises FailedPreconditionError and its variables "
        "cannot be read. Expected: the linear parts pass; the MLP parts cannot be measured "
        "(error), and both the message and the cell's error quote TensorFlow's cause line, "
        "\"Attempting to use uninitialized value dense...\", not its generic header.",
        drop=["train-mlp"])

    return fx


def main():
    for name, nb in fixtures().items():
        write(nb, ROOT / "tests" / "notebooks" / ("%s.ipynb" % name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
