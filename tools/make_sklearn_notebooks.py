#!/usr/bin/env python3
"""Generate the sklearn_digits notebooks: template, reference solution, sample submissions.

    .venv/bin/python tools/make_sklearn_notebooks.py

It (re)writes, without outputs and with fixed cell ids (the same files byte for byte):

- ``assignments/sklearn_digits/template.ipynb``          what learners get, with gaps
- ``reference/sklearn_digits/solution.ipynb``             the template with every gap solved
- ``reference/sklearn_digits/samples/*.ipynb``            sample submissions (file name = learner id):
  ``logistic_regression`` passes every part another way; ``weak_model`` fails three parts and
  reports an accuracy it did not reach.

Measured on 2 CPU cores, scikit-learn 1.9: the nearest-mean classifier scores 0.881 on the
597 test images; the reference MLP (StandardScaler, 100 hidden units, alpha 1e-3) 0.928-0.938,
cross-entropy 0.23-0.31 over seeds 0-4, in about a second.
"""
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "reference" / "sklearn_digits"
PARTS = ["class_means", "nearest_mean", "mlp_accuracy", "mlp_loss"]
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def md(cell_id, text):
    cell = new_markdown_cell(text.strip("\n"))
    cell.id = cell_id
    return cell


def code(cell_id, text):
    cell = new_code_cell(text.strip("\n"))
    cell.id = cell_id
    return cell


INTRO = """
# Handwritten digits with NumPy and scikit-learn

scikit-learn ships 1,797 handwritten digits of 8x8 pixels (values 0 to 16). You train on the
first 1,200 and the grader tests on the other 597. Four graded parts:

1. `class_means`: the mean image of each digit;
2. `nearest_mean_predict(X)`: a classifier that picks the digit whose mean image is closest;
3. `predict(X)`: a trained neural network (`MLPClassifier`), aiming for about 0.93 accuracy;
4. `predict_proba(X)`: the same network's probabilities, with a low cross-entropy.

The grader runs this notebook top to bottom and measures your objects itself: it compares
`class_means` with the expected array and calls your functions on the test images. The numbers
you report with `grader.set_answer` are checked against what it measures. Check yourself with
`grader check NOTEBOOK --assignment sklearn_digits`. Do not change the graded cells.
"""

SETUP = """
import sys

import numpy as np
from sklearn.metrics import accuracy_score, log_loss

sys.path.append("helpers")  # the assignment's helper modules, beside this notebook
import digits_data
import grading

grader = grading.Grader("sklearn_digits",
                        all_parts=["class_means", "nearest_mean", "mlp_accuracy", "mlp_loss"])
"""

LOAD = """
X_train, y_train, X_test, y_test = digits_data.load()
print(X_train.shape, y_train.shape, X_test.shape, y_test.shape)
print("first training labels:", y_train[:10])
"""

MEANS_TEXT = """
## Part 1: the mean image of each digit

Row `d` of `class_means` is the mean of the training images (`X_train`) whose label is `d`:
an array of shape (10, 64).
"""

MEANS_GAP = """
class_means = None  ### YOUR CODE HERE ### shape (10, 64): row d is the mean of X_train[y_train == d]
"""

MEANS_SOLVED = """
class_means = np.stack([X_train[y_train == digit].mean(axis=0) for digit in range(10)])
print(class_means.shape)
"""

MEANS_GRADED = """
## GRADED PART, DO NOT CHANGE!
grader.set_answer("class_means", class_means)
"""

NEAREST_TEXT = """
## Part 2: a nearest-mean classifier

`nearest_mean_predict(X)` returns, for each row of `X`, the digit whose mean image in
`class_means` is closest (Euclidean distance). The grader calls it on the test images itself.
"""

NEAREST_GAP = """
def nearest_mean_predict(X):
    \"\"\"The digit whose mean image is closest to each row of X: an array of X.shape[0] digits.\"\"\"
    ### YOUR CODE HERE ###
    return None
"""

NEAREST_SOLVED = """
def nearest_mean_predict(X):
    \"\"\"The digit whose mean image is closest to each row of X: an array of X.shape[0] digits.\"\"\"
    distances = ((X[:, None, :] - class_means[None, :, :]) ** 2).sum(axis=2)
    return distances.argmin(axis=1)
"""

NEAREST_GRADED = """
## GRADED PART, DO NOT CHANGE!
grader.set_answer("nearest_mean", accuracy_score(y_test, nearest_mean_predict(X_test)))
"""

MLP_TEXT = """
## Part 3: a neural network

Train `sklearn.neural_network.MLPClassifier` on `X_train`, `y_train`; scale the pixels first
(for example `make_pipeline(StandardScaler(), MLPClassifier(...))`). Leave `random_state` unset:
the grader seeds NumPy, so every run of the grader trains the same network. Aim for about 0.93
accuracy on the test images.
"""

MLP_GAP = """
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

model = None  ### YOUR CODE HERE ### a pipeline that scales and classifies, fitted on X_train, y_train
"""

MLP_SOLVED = """
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

model = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(100,), alpha=1e-3, max_iter=500))
model.fit(X_train, y_train)
"""

PREDICT = """
def predict(X):
    \"\"\"The predicted digit of each row of X.\"\"\"
    return model.predict(X)


def predict_proba(X):
    \"\"\"The probability of each digit for each row of X: shape (X.shape[0], 10).\"\"\"
    return model.predict_proba(X)
"""

MLP_GRADED = """
## GRADED PART, DO NOT CHANGE!
grader.set_answer("mlp_accuracy", accuracy_score(y_test, predict(X_test)))
grader.set_answer("mlp_loss", log_loss(y_test, predict_proba(X_test)))
"""


def notebook(*, means, nearest, mlp, mlp_graded=MLP_GRADED):
    cells = [
        md("intro", INTRO), code("setup", SETUP), code("load", LOAD),
        md("means-text", MEANS_TEXT), code("means", means), code("means-graded", MEANS_GRADED),
        md("nearest-text", NEAREST_TEXT), code("nearest", nearest),
        code("nearest-graded", NEAREST_GRADED),
        md("mlp-text", MLP_TEXT), code("mlp", mlp), code("predict", PREDICT),
        code("mlp-graded", mlp_graded),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata = {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}}
    return nb


def template():
    return notebook(means=MEANS_GAP, nearest=NEAREST_GAP, mlp=MLP_GAP)


def solution():
    return notebook(means=MEANS_SOLVED, nearest=NEAREST_SOLVED, mlp=MLP_SOLVED)


def logistic_regression():
    """Every part solved another way: a loop, norms, a logistic regression."""
    means = """
class_means = np.zeros((10, 64))
for digit in range(10):
    rows = X_train[y_train == digit]
    class_means[digit] = rows.sum(axis=0) / len(rows)
"""
    nearest = """
def nearest_mean_predict(X):
    return np.array([np.argmin(np.linalg.norm(class_means - x, axis=1)) for x in X])
"""
    mlp = """
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

# Not an MLP, but the grader measures what predict() does, not how it is built.
model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
model.fit(X_train, y_train)
"""
    return notebook(means=means, nearest=nearest, mlp=mlp)


def weak_model():
    """Class means over every image (the test ones too), a network trained for 3 epochs,
    and an accuracy typed in instead of measured."""
    means = """
X_all = np.concatenate([X_train, X_test])
y_all = np.concatenate([y_train, y_test])
class_means = np.stack([X_all[y_all == digit].mean(axis=0) for digit in range(10)])
"""
    mlp = """
import warnings

from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

model = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(100,), max_iter=3))
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    model.fit(X_train, y_train)
"""
    graded = """
## GRADED PART, DO NOT CHANGE!
grader.set_answer("mlp_accuracy", 0.99)
grader.set_answer("mlp_loss", log_loss(y_test, predict_proba(X_test)))
"""
    return notebook(means=means, nearest=NEAREST_SOLVED, mlp=mlp, mlp_graded=graded)


def write(nb, path: Path) -> None:
    nbformat.validate(nb)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT)}")


def main() -> None:
    write(template(), ROOT / "assignments" / "sklearn_digits" / "template.ipynb")
    write(solution(), HERE / "solution.ipynb")
    write(logistic_regression(), HERE / "samples" / "logistic_regression.ipynb")
    write(weak_model(), HERE / "samples" / "weak_model.ipynb")


if __name__ == "__main__":
    main()
