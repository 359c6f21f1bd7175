"""Model evidence from real gradings: the same computation gives the same fingerprint, whatever the text.

Tiny notebooks (20 training steps on 2,000 images: seconds per kernel) graded by the real
`grader grade --similarity`: an original, a disguised copy (other names, rewritten comments and
formatting, merged cells, `tf.matmul` for `@`, a while loop for a for loop: the same
operations in the same order) and a notebook with another MLP.  The copy is then graded again
with another thread count: its fingerprints must still match.
"""
import csv
import json
import subprocess
import sys

import nbformat
import pytest

from grader.judge.fingerprint import same_outputs
from tests.conftest import ROOT

pytestmark = pytest.mark.kernel

HEAD = """import sys
sys.path.append("../..")
import numpy as np
import tensorflow as tf
import grading, grading_utils, preprocessed_mnist
from keras_utils import reset_tf_session
grader = grading.Grader("k", all_parts=["9XaAS", "vmogZ", "RMv95", "i8bgs", "rE763"])
X_train, y_train, X_val, y_val, X_test, y_test = preprocessed_mnist.load_dataset()
"""
ORIGINAL = [HEAD + """# a small slice of the data: the point is the computation, not the accuracy
X_train_flat = X_train.reshape(len(X_train), -1)[:2000]
y_train_oh = np.eye(10)[y_train[:2000]]
s = reset_tf_session()
W = tf.get_variable("W", shape=(784, 10))
b = tf.get_variable("b", shape=(10,))
input_X = tf.placeholder(tf.float32, (None, 784))
input_y = tf.placeholder(tf.float32, (None, 10))
""", """logits = input_X @ W + b
probas = tf.nn.softmax(logits)
classes = tf.argmax(probas, 1)
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=input_y, logits=logits))
step = tf.train.AdamOptimizer(0.01).minimize(loss)
s.run(tf.global_variables_initializer())
for batch in range(20):  # twenty steps of 100 images
    s.run(step, {input_X: X_train_flat[batch * 100:(batch + 1) * 100],
                 input_y: y_train_oh[batch * 100:(batch + 1) * 100]})
""", 'grader.set_answer("9XaAS", grading_utils.get_tensors_shapes_string([W, b, input_X, input_y]))\n'
     'grader.set_answer("vmogZ", 0.0)\ngrader.set_answer("RMv95", 0.0)\n',
    """s = reset_tf_session()
input_X = tf.placeholder(tf.float32, (None, 784))
input_y = tf.placeholder(tf.float32, (None, 10))
hidden = tf.layers.dense(input_X, UNITS, activation=tf.nn.relu)
logits = tf.layers.dense(hidden, 10)
probas = tf.nn.softmax(logits)
classes = tf.argmax(probas, 1)
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=input_y, logits=logits))
step = tf.train.AdamOptimizer(0.01).minimize(loss)
s.run(tf.global_variables_initializer())
for batch in range(20):
    s.run(step, {input_X: X_train_flat[batch * 100:(batch + 1) * 100],
                 input_y: y_train_oh[batch * 100:(batch + 1) * 100]})
""", 'grader.set_answer("i8bgs", 0.0)\ngrader.set_answer("rE763", 0.0)\n']

DISGUISED = [HEAD + """pixels = X_train.reshape(len(X_train), -1)[:2000]   # my own subset
targets = np.eye(10)[y_train[:2000]]
s = reset_tf_session()
W = tf.get_variable('W', shape=(784, 10))
b = tf.get_variable('b', shape=(10,))
input_X = tf.placeholder(tf.float32, (None, 784))
input_y = tf.placeholder(tf.float32, (None, 10))
scores = tf.matmul(input_X, W) + b
probas = tf.nn.softmax(scores)
classes = tf.argmax(probas, 1)
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels = input_y, logits = scores))
train = tf.train.AdamOptimizer(0.01).minimize(loss)
s.run(tf.global_variables_initializer())
k = 0
while k < 20:   # loop over mini-batches
    lo, hi = 100 * k, 100 * (k + 1)
    s.run(train, feed_dict={input_X: pixels[lo:hi], input_y: targets[lo:hi]})
    k += 1
grader.set_answer('9XaAS', grading_utils.get_tensors_shapes_string([W, b, input_X, input_y]))
grader.set_answer('vmogZ', 0.0); grader.set_answer('RMv95', 0.0)
""", """s = reset_tf_session()
input_X = tf.placeholder(tf.float32, (None, 784))
input_y = tf.placeholder(tf.float32, (None, 10))
layer = tf.layers.dense(input_X, 32, activation=tf.nn.relu)
scores = tf.layers.dense(layer, 10)
probas = tf.nn.softmax(scores)
classes = tf.argmax(probas, 1)
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels = input_y, logits = scores))
train = tf.train.AdamOptimizer(0.01).minimize(loss)
s.run(tf.global_variables_initializer())
for k in range(20):
    lo, hi = 100 * k, 100 * (k + 1)
    s.run(train, feed_dict={input_X: pixels[lo:hi], input_y: targets[lo:hi]})
grader.set_answer('i8bgs', 0.0); grader.set_answer('rE763', 0.0)
"""]


def _write(path, cells):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)


def _grade(folder, out, *extra):
    return subprocess.run([sys.executable, "-m", "grader", "grade", str(folder), "--out", str(out),
                           "--cell-timeout", "120", "--quiet", *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)


def _fingerprints(out, learner):
    result = json.loads((out / "results" / f"{learner}.json").read_text())
    return result, {p["id"]: p["fingerprint"] for p in result["parts"]}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    _write(folder / "orig.ipynb", [c.replace("UNITS", "32") for c in ORIGINAL])
    _write(folder / "copy.ipynb", DISGUISED)
    _write(folder / "other.ipynb", [c.replace("UNITS", "48") for c in ORIGINAL])
    out = tmp_path_factory.mktemp("out")
    run = _grade(folder, out, "--workers", "2", "--threads", "1", "--similarity")
    assert run.returncode == 1, run.stderr  # tiny models fail the thresholds: that is not the point
    return folder, out


def test_the_same_computation_gives_the_same_fingerprint(graded):
    _, out = graded
    orig_result, orig = _fingerprints(out, "orig")
    _, copy = _fingerprints(out, "copy")
    _, other = _fingerprints(out, "other")
    assert orig_result["threads"] == 1
    assert orig["9XaAS"] is None and orig["vmogZ"]["sketch"] and orig["RMv95"]["classes"]
    for part in ("vmogZ", "RMv95", "i8bgs", "rE763"):
        assert same_outputs(orig[part], copy[part]), part
    assert same_outputs(orig["vmogZ"], other["vmogZ"])      # the same linear model
    assert not same_outputs(orig["i8bgs"], other["i8bgs"])  # 48 hidden units, not 32
    assert not same_outputs(orig["vmogZ"], orig["i8bgs"])


def test_another_thread_count_keeps_the_fingerprint(graded, tmp_path):
    folder, out = graded
    solo = tmp_path / "in"
    solo.mkdir()
    (solo / "copy.ipynb").write_bytes((folder / "copy.ipynb").read_bytes())
    run = _grade(solo, tmp_path / "out", "--workers", "1", "--threads", "2")
    assert run.returncode == 1, run.stderr
    result, again = _fingerprints(tmp_path / "out", "copy")
    _, before = _fingerprints(out, "copy")
    assert result["threads"] == 2
    for part in ("vmogZ", "i8bgs"):
        assert same_outputs(before[part], again[part]), part


def test_grade_with_similarity_writes_the_report_and_links_it(graded):
    _, out = graded
    with open(out / "similarity.csv", newline="", encoding="utf-8") as handle:
        rows = {(r["first"], r["second"]): r for r in csv.DictReader(handle)}
    pair = rows.get(("copy", "orig")) or rows.get(("orig", "copy"))
    assert pair is not None, rows
    assert "MLP: 2 of 3 learners" in pair["shared_models"] and "linear: 3 of 3" in pair["shared_models"]
    html = (out / "similarity.html").read_text(encoding="utf-8")
    assert "identical MLP model" in html
    assert 'href="similarity.html"' in (out / "summary.html").read_text(encoding="utf-8")
    for learner in ("orig", "copy", "other"):
        page = (out / "feedback" / f"{learner}.html").read_text(encoding="utf-8")
        assert "similarity" not in page.lower() and "sketch" not in page and "fingerprint" not in page
