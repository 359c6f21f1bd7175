"""The order policy through ``grader check``, with real kernels, on the scikit-learn assignment (no
TensorFlow: a kernel run takes seconds).

The notebook is the reference solution reworked into the course's workflow: a first model and its
training cell, then an MLP defined in a new cell and trained by running the training cell above
again (the saved counts record it: In [10] after the MLP's In [9]).  The golden notebooks
``tests/notebooks/tf1_order_*`` check the same on the MNIST assignment; here, what ``grader
check`` prints and writes: the schedule in one line, the warning of a notebook that passes only as
run (a clean top-to-bottom run follows, in a second kernel), the advice that names the cells, and
the feedback page.
"""
import json
import subprocess
import sys

import nbformat
import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.kernel

SOLUTION = ROOT / "reference" / "sklearn_digits" / "solution.ipynb"
FIRST_MODEL = """from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=50))"""
TRAIN = "model.fit(X_train, y_train)"
MLP = "model = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(100,), alpha=1e-3, max_iter=500))"


def _rerun_notebook(path):
    """Cells 1-6 of the solution (counts 1-6); 7 a first model (7), 8 its training cell, run again
    after the MLP (10), 9 the MLP (9), 10 the predict functions (11), 11 the graded cell (12)."""
    nb = nbformat.read(SOLUTION, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    cells = code[:6] + [nbformat.v4.new_code_cell(FIRST_MODEL), nbformat.v4.new_code_cell(TRAIN),
                        nbformat.v4.new_code_cell(MLP), code[7], code[8]]
    for cell, count in zip(cells, [1, 2, 3, 4, 5, 6, 7, 10, 9, 11, 12]):
        cell.execution_count, cell.outputs = count, []
    nb.cells = cells
    nbformat.write(nb, path)
    return path


def _check(*args):
    return subprocess.run([sys.executable, "-m", "grader", "check", *map(str, args), "--assignment",
                           "sklearn_digits", "--progress", "plain"],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)


def test_as_run_passes_and_warns_that_a_clean_run_does_not(tmp_path):
    notebook = _rerun_notebook(tmp_path / "ada.ipynb")
    page = tmp_path / "ada.html"
    done = _check(notebook, "--order", "as-run", "--html", page)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[1] == "graded as you ran it: cell 8 again after cell 9"
    assert lines[2] == ("WARNING: passes only as you ran it: a clean top-to-bottom run (Restart & Run All) "
                        "does not pass mlp_accuracy, mlp_loss (mlp_accuracy error, mlp_loss error); see "
                        "each part's message for the cell to change")
    advice = ("Graded as you ran it: your MLP is defined in cell 9 but only trained when cell 8 runs "
              "again after it. A clean top-to-bottom run (Restart & Run All) does not do that: add the "
              "training loop after cell 9 (a copy of cell 8).")
    assert " ".join(done.stdout.split()).count(advice) == 2  # both MLP parts
    # The progress says the cell ran again, and that a clean run follows.
    assert "cell 8/11 again: model.fit(X_train, y_train)" in done.stderr
    assert "now a clean top-to-bottom run (11 cells)" in done.stderr
    html = page.read_text()
    assert "graded as you ran it: cell 8 again after cell 9" in html
    assert "passes only as you ran it" in html and "as you ran it (" in html


def test_top_down_fails_and_names_the_cell_to_copy(tmp_path):
    notebook = _rerun_notebook(tmp_path / "bea.ipynb")
    done = _check(notebook, "--json")  # sklearn_digits runs top-down by default
    assert done.returncode == 1, done.stderr
    result = json.loads(done.stdout)
    assert result["schedule"] == {"order": "top-down", "cells": list(range(1, 12)), "again": [],
                                  "text": "graded top to bottom"}
    parts = {part["id"]: part for part in result["parts"]}
    assert parts["class_means"]["status"] == parts["nearest_mean"]["status"] == "passed"
    for part_id in ("mlp_accuracy", "mlp_loss"):
        assert parts[part_id]["status"] == "error"
        assert parts[part_id]["advice"] == (
            "Your MLP is defined in cell 9 but only trained when cell 8 runs again (your saved notebook "
            "shows In [10] after In [9]); the grade runs the cells top to bottom: add the training "
            "loop after cell 9 (a copy of cell 8).")
        assert parts[part_id]["message"].endswith(parts[part_id]["advice"])
    # The note names the inversion before the graded cell, with its counts.
    assert any("cell 8 shows In [10], after cell 9 (In [9]) and before the graded cell 11 (In [12])" in note
               for note in result["notes"])
    # The error the learner reads names their own cell's line, not sklearn's.
    [error] = [e for e in result["errors"] if e["cell"] == 11]
    assert error["ename"] == "NotFittedError"
    assert error["frames"][0] == {"cell": 11, "line": 2, "role": "raised",
                                  "code": 'grader.set_answer("mlp_accuracy", accuracy_score(y_test, predict(X_test)))'}
    assert all("site-packages" not in frame["code"] for frame in error["frames"])
