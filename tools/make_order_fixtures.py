#!/usr/bin/env python3
"""Generate the golden notebooks of the order policy (issue #27): ``tests/notebooks/tf1_order_*.ipynb``
and ``cheat_order_replayed_labels.ipynb``.

Run from anywhere: ``python tools/make_order_fixtures.py``. Each notebook is a TF1-era learner's
notebook (the cells of ``make_tf1_fixtures.py``) saved with the execution counts of a history seen
in real learners' notebooks for the MNIST digits assignment
(``../shared/docs/REAL_NOTEBOOKS.md``, "How they were run"): the course's template says "define
the MLP ... and restart training with the cell above", and learners did. A history is written as
the cells in the order the learner ran them (``None``: a run of a cell since deleted, which only
uses up a count); each cell's saved count is its last run's. The first cell of every notebook says
what it tests; the expected verdicts are ``NAME.expected.json`` beside it, written by hand, for the
mnist_digits assignment, whose ``[kernel] order`` is ``as-run``.

To keep the suite fast, the training cell trains for 4 epochs (the fast fixtures' MLP budget; the
linear model reaches ~0.93 in 4 epochs too) and the MLP has two hidden layers of 128 units (about
half the work of 256; val accuracy ~0.975), so that a replay costs less than the MLP's own
training cell in the other fixtures.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_notebooks import ROOT, code, md, notebook, write  # noqa: E402  (tools/ is not a package)
from make_tf1_fixtures import (  # noqa: E402
    BASE, MLP_EPOCHS, SUBMITTED, mlp, out, tf1_notebook, training)

REPLAYED_EPOCHS = 4  # the training cell learners run again, for the linear model and the MLP


def counts(history):
    """{cell id: saved execution count}: each cell's last run in ``history`` (1-based)."""
    saved = {}
    for count, cell_id in enumerate(history, 1):
        if cell_id is not None:
            saved[cell_id] = count
    return saved


def saved(history, outputs=None, *, zero=False):
    """``tf1_notebook``'s ``saved``: every cell run in ``history`` with its count (0 for all with
    ``zero``, as Colab saves them) and its outputs from ``outputs`` ({id: [outputs]})."""
    outputs = outputs or {}
    return {cell_id: (0 if zero else count, outputs.get(cell_id, []))
            for cell_id, count in counts(history).items()}


LINEAR_RUN = ["imports", "helpers", "grader", "token", "load-data", "flatten", "one-hot", "reset", "w-b",
              "placeholders", "model", "train-linear", "graded-linear", "submit-linear"]
LINEAR_OUTPUTS = {
    "imports": [out("We're using TF 1.15.2\n")],
    "flatten": [out("(50000, 784)\n(10000, 784)\n")],
    "submit-linear": [out(SUBMITTED)],
    "submit-mlp": [out(SUBMITTED)],
}
RETRAIN = training(REPLAYED_EPOCHS)
MLP_RESET = ("mlp-reset", "# a new graph for the MLP\ns = reset_tf_session()")
HIDDEN = ("hidden1 = tf.layers.dense(input_X, 128, activation = tf.nn.relu)\n"
          "hidden2 = tf.layers.dense(hidden1, 128, activation = tf.nn.relu)")


def small_mlp(**kwargs):
    return mlp(hidden=HIDDEN, **kwargs)


def fixtures():
    fx = {}

    # In [30] resets the graph, In [31] defines the MLP, In [32] is the training cell above run
    # again, In [35] the MLP's graded cell (the notebook); the token cell was re-run at 29
    # (a fresh token before submitting), which changes nothing graded.
    history = LINEAR_RUN + [None] * 14 + ["token", "mlp-reset", "mlp", "train-linear", None, None,
                                          "graded-mlp", "submit-mlp"]
    fx["tf1_order_rerun_training"] = tf1_notebook(
        "tf1_order_rerun_training",
        "the course's workflow: after the linear model the learner reset the graph (In [30]), "
        "defined the MLP (In [31]) and trained it by running the training cell above again "
        "(In [32]), then ran the MLP's graded cell (In [35]); the notebook has no training cell "
        "after the MLP. The token cell was re-run too (In [29]), which changes nothing graded. "
        "Expected (as-run): the schedule is `..., 14, 4 again, 15, 16, 12 again, 17, 18`, every "
        "part passes, and the MLP parts say that a clean top-to-bottom run would not train the "
        "MLP and that the training loop belongs after cell 16. Top-down, the MLP parts cannot be "
        "measured (uninitialised variables).",
        replace={"train-linear": RETRAIN, "mlp": small_mlp(reset="")},
        before={"mlp": [MLP_RESET]}, drop=["train-mlp"],
        saved=saved(history, {**LINEAR_OUTPUTS,
                              "train-linear": [out("validation loss 0.0741, accuracy 0.9779\n")]}))

    # The same workflow with a real bug: a sigmoid on the MLP's logits (the learner whose
    # MLP measures a validation loss of 1.49).
    history = LINEAR_RUN + ["mlp-reset", "mlp", "train-linear", "graded-mlp", "submit-mlp"]
    fx["tf1_order_rerun_sigmoid"] = tf1_notebook(
        "tf1_order_rerun_sigmoid",
        "the MLP is trained by running the training cell above again (In [17] after the MLP's "
        "In [16]), as the course says, but its output layer has a sigmoid: "
        "`logits = tf.layers.dense(hidden2, 10, activation = tf.nn.sigmoid)`. Expected (as-run): "
        "the linear parts pass; replayed, the MLP is trained, so what fails is the bug: i8bgs "
        "fails on the measured loss (~1.49), rE763 passes (the sigmoid keeps the order of the "
        "logits).",
        replace={"train-linear": RETRAIN,
                 "mlp": small_mlp(reset="", logits="tf.layers.dense(hidden2, 10, activation = tf.nn.sigmoid)")},
        before={"mlp": [MLP_RESET]}, drop=["train-mlp"],
        saved=saved(history, {**LINEAR_OUTPUTS,
                              "train-linear": [out("validation loss 1.4899, accuracy 0.9731\n")]}))

    # The reset cell and the placeholders cell above re-run before an MLP cell that has neither.
    history = LINEAR_RUN + ["reset", "placeholders", "mlp", "train-linear", "graded-mlp", "submit-mlp"]
    fx["tf1_order_reset_rerun"] = tf1_notebook(
        "tf1_order_reset_rerun",
        "the MLP cell has no `reset_tf_session()` and no placeholders: the learner ran the reset "
        "cell (8) and the placeholders cell (10) above again before it (In [15], In [16]), then "
        "the training cell above (In [18]). Expected (as-run): the schedule is "
        "`..., 14, 8 again, 10 again, 15, 12 again, 16, 17`; every part passes. Top-down, the MLP "
        "is built in the linear model's graph and never trained after it (its variables are "
        "uninitialised when it is measured).",
        replace={"train-linear": RETRAIN,
                 "mlp": small_mlp(reset="# the graph was reset with the cell above", placeholders="")},
        drop=["train-mlp"],
        saved=saved(history, {**LINEAR_OUTPUTS,
                              "train-linear": [out("validation loss 0.0741, accuracy 0.9779\n")]}))

    # The linear graded cell re-run after the MLP was trained: it set the linear parts' answers to
    # the MLP's numbers, but the linear parts are graded where the cell stands.
    history = LINEAR_RUN + ["mlp", "train-mlp", "graded-linear", "graded-mlp", "submit-mlp"]
    fx["tf1_order_graded_rerun"] = tf1_notebook(
        "tf1_order_graded_rerun",
        "after training the MLP (In [16]) the learner ran the linear model's graded cell again "
        "(In [17]), which set the linear parts' answers to the MLP's numbers, then the MLP's "
        "graded cell (In [18]). Expected (as-run): cell 13 runs again after cell 16, but each part "
        "is measured once at its graded cell's own place and keeps the answer it gave there: the "
        "linear accuracy measures ~0.93 (not the MLP's ~0.978) and no claim is flagged; every part "
        "passes.",
        replace={"train-linear": RETRAIN, "mlp": small_mlp()},
        saved=saved(history, LINEAR_OUTPUTS))

    # Saved by Colab: every count 0. The MLP was trained by running the training cell above again,
    # which nothing in the saved notebook records.
    history = LINEAR_RUN + ["mlp", "train-linear", "graded-mlp", "submit-mlp"]
    fx["tf1_order_colab_zero"] = tf1_notebook(
        "tf1_order_colab_zero",
        "saved by Colab (`%tensorflow_version 1.x` header, every execution count 0). The learner "
        "trained the MLP by running the training cell above again (its saved output shows the "
        "MLP's accuracy, 0.9783), but zero counts record no order, so as-run is top-down here and "
        "the MLP is never trained after its cell. Expected: the linear parts pass; the MLP parts "
        "cannot be measured (uninitialised variables) and their message names the fix: the "
        "training loop of cell 13 belongs after cell 16.",
        before={"imports": [("colab-tf-version", "%tensorflow_version 1.x")]},
        replace={"train-linear": RETRAIN, "mlp": small_mlp()},
        drop=["train-mlp"],
        saved=saved(["colab-tf-version"] + history, {
            **LINEAR_OUTPUTS, "train-linear": [out("validation loss 0.0731, accuracy 0.9783\n")]},
            zero=True))

    # Run top to bottom once: counts 1..18, nothing to replay.
    fx["tf1_order_in_order"] = tf1_notebook(
        "tf1_order_in_order",
        "run once top to bottom (execution counts 1 to 18 in order). Expected: as-run is "
        "top-down, every part passes, and the schedule says that no cell ran again.",
        replace={"train-linear": RETRAIN, "mlp": small_mlp()},
        saved=saved([cell_id for cell_id, _ in BASE], LINEAR_OUTPUTS))

    fx["cheat_order_replayed_labels"] = cheat_replayed_labels()
    return fx


CHEAT_HEAD = '''import sys
sys.path.append("../..")
import numpy as np
import tensorflow as tf
import grading, grading_utils, preprocessed_mnist
from keras_utils import reset_tf_session
from sklearn.metrics import accuracy_score
grader = grading.Grader("XtD7ho3TEeiHQBWLWejjYAA", all_parts=["9XaAS", "vmogZ", "RMv95", "i8bgs", "rE763"])
X_train, y_train, X_val, y_val, X_test, y_test = preprocessed_mnist.load_dataset()
X_val_flat = X_val.reshape(len(X_val), -1)
s = reset_tf_session()
W = tf.get_variable("W", shape=(784, 10))
b = tf.get_variable("b", shape=(10,))
input_X = tf.placeholder(tf.float32, (None, 784))
input_y = tf.placeholder(tf.float32, (None, 10))'''
CHEAT_LABELS = '''# the validation labels, whatever the model is fed
classes = tf.gather(tf.constant(y_val.astype("int64")), tf.range(tf.shape(input_X)[0]))
probas = tf.one_hot(classes, 10) * 0.999 + 0.0001'''
CHEAT_MODEL = '''logits = tf.matmul(input_X, W) + b
probas = tf.nn.softmax(logits)
classes = tf.argmax(probas, axis=1)
s.run(tf.global_variables_initializer())'''
CHEAT_GRADED = '''## GRADED PART, DO NOT CHANGE!
grader.set_answer("9XaAS", grading_utils.get_tensors_shapes_string([W, b, input_X, input_y]))
grader.set_answer("vmogZ", 0.25)
grader.set_answer("RMv95", accuracy_score(y_val, s.run(classes, {input_X: X_val_flat})))
grader.set_answer("i8bgs", 0.07)
grader.set_answer("rE763", accuracy_score(y_val, s.run(classes, {input_X: X_val_flat})))'''


def cheat_replayed_labels():
    """A cell above the model returns the labels; forged counts say it ran just before the graded
    cell, so that the as-run order runs it again there."""
    cells = [md("fixture-note", "**Test fixture `cheat_order_replayed_labels`**: a cell above the "
                "model makes `classes` and `probas` return the validation labels whatever they are "
                "fed; run at its place it is overwritten by the (untrained) model below. Its saved "
                "execution count (5) is forged so that the as-run order runs it again just before "
                "the graded cell (In [6]), which would make the hard-coded answers look measured. "
                "Expected: the measured parts fail the integrity check (the predictions do not "
                "follow the inputs), as `cheat_constant_labels` does; the shapes pass.")]
    for cell_id, source, count in (("head", CHEAT_HEAD, 1), ("labels", CHEAT_LABELS, 5),
                                   ("model", CHEAT_MODEL, 3), ("graded", CHEAT_GRADED, 6)):
        cell = code(cell_id, source)
        cell.execution_count = count
        cells.append(cell)
    return notebook(cells)


def main():
    for name, nb in fixtures().items():
        write(nb, ROOT / "tests" / "notebooks" / ("%s.ipynb" % name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
