"""Grading a class: parallel workers, odd inputs, resuming after SIGKILL, limits.

Uses tiny notebooks written here (an untrained model: seconds per kernel) so
that the batch machinery, not training, is what takes the time.
"""
import csv
import json
import os
import signal
import subprocess
import sys
import time

import nbformat
import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

UNTRAINED = """import sys
sys.path.append("../..")
import numpy as np
import tensorflow as tf
import grading, grading_utils
from keras_utils import reset_tf_session
grader = grading.Grader("k", all_parts=["9XaAS", "vmogZ", "RMv95", "i8bgs", "rE763"])
s = reset_tf_session()
W = tf.get_variable("W", shape=(784, 10))
b = tf.get_variable("b", shape=(10,))
input_X = tf.placeholder(tf.float32, (None, 784))
input_y = tf.placeholder(tf.float32, (None, 10))
probas = tf.nn.softmax(tf.matmul(input_X, W) + b)
classes = tf.argmax(probas, 1)
s.run(tf.global_variables_initializer())
"""
GRADED = 'grader.set_answer("9XaAS", grading_utils.get_tensors_shapes_string([W, b, input_X, input_y]))\n'


def _notebook(path, *cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def class_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    _notebook(root / "alice.ipynb", UNTRAINED, GRADED)
    _notebook(root / "José María Ñandú.ipynb", UNTRAINED, GRADED)
    _notebook(root / "bob" / "work.ipynb", UNTRAINED + "print(open('extra.txt').read())", GRADED)
    (root / "bob" / "extra.txt").write_text("bob's own file")
    # The notebook in a subfolder, a data file beside the subfolder: it runs in its own folder,
    # as in the learner's Jupyter, and finds the file by the same relative path.
    _notebook(root / "gina" / "sub" / "work.ipynb", UNTRAINED + "print(open('../data.csv').read())", GRADED)
    (root / "gina" / "data.csv").write_text("1,2,3")
    _notebook(root / "carol" / "a.ipynb", UNTRAINED)
    _notebook(root / "carol" / "b.ipynb", UNTRAINED)
    (root / "dave.pdf").write_text("%PDF")
    (root / "erin.ipynb").write_text('{"cells": [')
    _notebook(root / "frank.ipynb", UNTRAINED, GRADED, "import time\ntime.sleep(10_000)", GRADED)
    return root


def _grade(folder, out, *extra, wait=True):
    command = [sys.executable, "-m", "grader", "grade", str(folder), "--out", str(out),
               "--cell-timeout", "15", *extra]
    if not wait:
        return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)


def _gradebook(out):
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row.pop("duration_s")
    return rows


@pytest.fixture(scope="module")
def graded(class_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    run = _grade(class_folder, out, "--workers", "2")
    return run, out


def test_every_entry_is_a_row_and_nothing_aborts(graded):
    run, out = graded
    assert run.returncode == 1, run.stderr
    rows = {r["learner"]: r for r in _gradebook(out)}
    assert sorted(rows) == sorted(["alice", "José María Ñandú", "bob", "carol", "dave", "erin", "frank",
                                   "gina"])
    assert rows["alice"]["status"] == "graded" and rows["alice"]["9XaAS"] == "1"
    assert rows["José María Ñandú"]["9XaAS"] == "1"
    assert rows["bob"]["9XaAS"] == "1"  # ran with its own extra file
    assert rows["gina"]["9XaAS"] == "1" and rows["gina"]["status"] == "graded", rows["gina"]
    for learner, text in (("bob", "bob's own file"), ("gina", "1,2,3")):
        executed = nbformat.read(out / "executed" / f"{learner}.ipynb", as_version=4)
        assert text in "".join(o.get("text", "") for o in executed.cells[0].outputs), learner
    assert "several notebooks" in rows["carol"]["reason"]
    assert "not a notebook" in rows["dave"]["reason"]
    assert rows["erin"]["status"] == "ungradable" and "not a Jupyter notebook" in rows["erin"]["reason"]
    assert rows["frank"]["9XaAS"] == "1"  # the hang was interrupted; the later graded cell ran
    assert (out / "summary.html").exists() and (out / "feedback" / "José María Ñandú.html").exists()
    assert "[8/8]" in run.stderr  # plain progress lines when not on a terminal


def test_resume_after_sigkill_gives_the_same_gradebook(class_folder, graded, tmp_path):
    _, reference = graded
    out = tmp_path / "out"
    process = _grade(class_folder, out, "--workers", "2", wait=False)
    journal = out / "journal.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if journal.exists() and journal.read_text().count('"event": "done"') >= 2:
            break
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)  # the harness, its workers and kernels
    process.wait()
    done_before = journal.read_text().count('"event": "done"')
    assert 2 <= done_before < 8
    rerun = _grade(class_folder, out, "--workers", "2")
    assert rerun.returncode == 1, rerun.stderr
    assert f"resuming: {done_before} of 8 already graded" in rerun.stderr
    assert _gradebook(out) == _gradebook(reference)
    regraded = [json.loads(line)["learner"] for line in journal.read_text().splitlines()
                if json.loads(line)["event"] == "done"]
    assert len(regraded) == 8 and len(set(regraded)) == 8  # nothing graded twice

    again = _grade(class_folder, out)  # nothing changed: nothing is regraded
    assert "resuming: 8 of 8 already graded" in again.stderr
    (class_folder / "alice.ipynb").write_text((class_folder / "alice.ipynb").read_text().replace(
        "k", "changed", 1))
    changed = _grade(class_folder, out)
    assert "resuming: 7 of 8 already graded" in changed.stderr


def test_memory_and_process_caps_fail_only_that_learner(tmp_path):
    folder = tmp_path / "in"
    _notebook(folder / "hog.ipynb", UNTRAINED, GRADED, "x = []\nwhile True:\n    x.append(b'x' * 50_000_000)",
              "print('after')")
    _notebook(folder / "forker.ipynb", UNTRAINED, GRADED,
              "import os, time\nn = 0\ntry:\n    while True:\n        if os.fork() == 0:\n"
              "            time.sleep(30)\n            os._exit(0)\n        n += 1\nexcept OSError as e:\n"
              "    print('fork refused after', n)")
    _notebook(folder / "fine.ipynb", UNTRAINED, GRADED)
    out = tmp_path / "out"
    run = _grade(folder, out, "--memory-limit", "1500", "--max-processes", "64", "--workers", "1")
    rows = {r["learner"]: r for r in _gradebook(out)}
    assert rows["fine"]["9XaAS"] == "1"
    assert rows["hog"]["9XaAS"] == "1" and "memory cap of 1500 MB" in rows["hog"]["reason"], rows["hog"]
    forker = json.loads((out / "results" / "forker.json").read_text())
    assert forker["parts"][0]["status"] == "passed"
    executed = nbformat.read(out / "executed" / "forker.ipynb", as_version=4)
    assert "fork refused after" in "".join(o.get("text", "") for o in executed.cells[-1].outputs)
