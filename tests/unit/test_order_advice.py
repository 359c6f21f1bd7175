"""What the learner is told about the order the cells ran in, and how a class's failures group.

The notebooks here are the course's cells in miniature (the names and the shapes of the cells
matter, not the models): the golden notebooks ``tests/notebooks/tf1_order_*`` check the same
advice end to end in a real kernel.
"""
import nbformat
import pytest

from grader.judge.causes import cause_of
from grader.judge.history import advice, cell_names, part_histories
from grader.kernel.errortext import own_frames
from grader.results import CellError, PartResult
from grader.run.schedule import as_run
from grader.specs.model import Part

LINEAR_MODEL = """logits = tf.matmul(input_X, W) + b
probas = tf.nn.softmax(logits)
classes = tf.argmax(probas, axis=1)
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=logits, labels=input_y))
step = tf.train.AdamOptimizer(0.005).minimize(loss)"""
TRAIN = """s.run(tf.global_variables_initializer())
for epoch in range(8):
    for start in range(0, 50000, 128):
        s.run(step, {input_X: X[start:start + 128], input_y: Y[start:start + 128]})"""
MLP = """s = reset_tf_session()
input_X = tf.placeholder(tf.float32, (None, 784))
input_y = tf.placeholder(tf.float32, (None, 10))
hidden = tf.layers.dense(input_X, 256, activation=tf.nn.relu)
logits = tf.layers.dense(hidden, 10)
probas = tf.nn.softmax(logits)
classes = tf.argmax(probas, axis=1)
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=logits, labels=input_y))
step = tf.train.AdamOptimizer(0.002).minimize(loss)"""
GRADED_LINEAR = 'grader.set_answer("lin", s.run(loss, {input_X: Xv, input_y: Yv}))'
GRADED_MLP = 'grader.set_answer("mlp", s.run(loss, {input_X: Xv, input_y: Yv}))'
PARTS = [Part(id="lin", kind="loss", model="linear", output="probas", input="input_X"),
         Part(id="mlp", kind="loss", model="MLP", output="probas", input="input_X")]


def _nb(cells):
    """Code cells (source, saved count) after a markdown cell."""
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell("# MNIST"))
    for source, count in cells:
        cell = nbformat.v4.new_code_cell(source)
        cell["execution_count"] = count
        nb.cells.append(cell)
    return nb


def _histories(nb):
    graded = {i: [pid] for i, c in enumerate(nb.cells) for pid in ("lin", "mlp")
              if f'"{pid}"' in c.get("source", "")}
    return part_histories(nb, PARTS, graded, as_run(nb))


# Cells: 1 setup, 2 linear model, 3 training, 4 linear graded, 5 MLP, 6 MLP graded.
RERUN = [("import tensorflow as tf", 1), (LINEAR_MODEL, 2), (TRAIN, 7), (GRADED_LINEAR, 4),
         (MLP, 6), (GRADED_MLP, 8)]


def test_training_is_a_loop_that_runs_the_step_not_building_it():
    assert cell_names(TRAIN).trains and not cell_names(MLP).trains  # minimize() only builds the step
    assert cell_names("model.fit(X, y)").trains
    assert not cell_names("for i in range(3):\n    plt.imshow(X[i])").trains
    assert cell_names("%%bash\nls").assigned == frozenset()  # a shell cell assigns nothing
    assert {"probas", "step", "s"} <= cell_names(MLP).assigned


def test_the_mlp_trained_by_a_rerun_is_told_where_the_training_loop_belongs():
    history = _histories(_nb(RERUN))["mlp"]
    assert (history.defined, history.graded, history.rerun, history.rerun_trainer) == (5, 6, (3,), 3)
    assert not history.trained_after and history.trainer == 3
    as_run_text = advice(history, status="passed", order="as-run")
    assert as_run_text == ("Graded as you ran it: your MLP is defined in cell 5 but only trained when cell 3 "
                           "runs again after it. A clean top-to-bottom run (Restart & Run All) does not do "
                           "that: add the training loop after cell 5 (a copy of cell 3).")
    top_down_text = advice(history, status="error", order="top-down")
    assert top_down_text == ("Your MLP is defined in cell 5 but only trained when cell 3 runs again (your "
                             "saved notebook shows In [7] after In [6]); the grade runs the cells top to "
                             "bottom: add the training loop after cell 5 (a copy of cell 3).")
    # Nothing to say: it passes top to bottom, or it failed although the replay trained it.
    assert advice(history, status="passed", order="top-down") == ""
    assert advice(history, status="failed", order="as-run") == ""


def test_without_counts_the_cell_to_copy_is_still_named():
    nb = _nb([(source, 0) for source, _ in RERUN])  # saved by Colab
    history = _histories(nb)["mlp"]
    assert history.rerun == () and history.trainer == 3
    for order in ("as-run", "top-down"):
        assert advice(history, status="error", order=order) == (
            "Your MLP is defined in cell 5 but no cell after it trains it (the training loop of cell 3 "
            "runs before it exists): add the training loop after cell 5 (a copy of cell 3).")
    assert advice(history, status="passed", order="as-run") == ""


def test_a_notebook_that_trains_each_model_below_it_gets_no_advice():
    nb = _nb([("import tensorflow as tf", 1), (LINEAR_MODEL, 2), (TRAIN, 3), (GRADED_LINEAR, 4),
              (MLP, 5), (TRAIN, 6), (GRADED_MLP, 7)])
    histories = _histories(nb)
    assert histories["lin"].trained_after and histories["mlp"].trained_after
    assert all(advice(h, status="failed", order=o) == "" for h in histories.values()
               for o in ("as-run", "top-down"))
    assert _histories(nb)["lin"].defined == 2


# --- the class summary's causes --------------------------------------------------------------

UNINITIALISED = ("Could not measure validation loss after cell 17: reading the model's variables failed: "
                 "Attempting to use uninitialized value dense_2/bias. Run tf.global_variables_initializer() "
                 "in the session 's' after the model is defined, then train the model.")
STALE = ("Could not measure validation loss after cell 16: exporting the model failed: Tensor "
         "Tensor(\"Placeholder:0\", shape=(?, 784), dtype=float32) must be from the same graph as "
         "Tensor(\"dense/kernel:0\").")
NAME = ("Could not measure validation accuracy after cell 13: name 'classes' is not defined in the "
        "notebook when this cell has run.")


def _part(message, status="error", measured=None, advice_text="", cell=17):
    return PartResult(id="i8bgs", status=status, message=message, measured=measured, cell=cell,
                      advice=advice_text)


@pytest.mark.parametrize("part, cause", [
    (_part(UNINITIALISED, advice_text="Your MLP is defined in cell 16 but no cell after it trains it "
                                      "(the training loop of cell 13 runs before it exists): add ..."),
     "never trained after the cell that defined it"),
    (_part(UNINITIALISED), "variables never initialised"),
    (_part(STALE), "placeholders or tensors of a discarded graph (a session reset left them behind)"),
    (_part(NAME), "a name that does not exist (a typo, a look-alike letter, a cell that did not run)"),
    (_part("The MLP model's validation loss is 1.4872, above the allowed 0.15: train it longer.",
           status="failed", measured=1.4872),
     "The MLP model's validation loss is N, above the allowed N:"),
    # An earlier cell's NameError quoted as context is not this part's cause.
    (_part("The MLP model's validation accuracy is 0.1010, below the required 0.96: train it longer. "
           "Earlier, cell 3 raised NameError: name 'grading' is not defined.", status="failed",
           measured=0.101), "The MLP model's validation accuracy is N, below the required N:"),
    (_part("Not measured: the run stopped before cell 17 could be measured: the kernel died."),
     "the run stopped before its graded cell (time, memory or a crash)"),
    (_part("ok", status="passed", measured=0.98), ""),
])
def test_causes_group_what_the_first_words_do_not(part, cause):
    assert cause_of(part) == cause


def test_a_graded_cell_that_raised_something_else_is_named_by_its_exception():
    part = _part("Could not measure validation loss after cell 17: the agent found no value.")
    errors = [CellError(cell=17, ename="ValueError", evalue="bad shape"),
              CellError(cell=17, ename="NameError", evalue="x", again=True)]  # a re-run of it: not its own
    assert cause_of(part, errors) == "the graded cell raised ValueError"


# --- a traceback as the learner reads it -------------------------------------------------------

TRACEBACK = """---------------------------------------------------------------------------
FailedPreconditionError                   Traceback (most recent call last)
File /work/main/.venv/lib/python3.11/site-packages/tensorflow/python/client/session.py:1407, in BaseSession._do_call(self, fn, *args)
-> 1407   return fn(*args)

During handling of the above exception, another exception occurred:

FailedPreconditionError                   Traceback (most recent call last)
Cell In[16], line 3
      1 ## GRADED PART, DO NOT CHANGE!
----> 3 grader.set_answer("i8bgs", s.run(loss, {input_X: X_val_flat, input_y: y_val_oh}))

File /work/main/.venv/lib/python3.11/site-packages/tensorflow/python/client/session.py:977, in BaseSession.run(self, fetches, feed_dict, options, run_metadata)
--> 977   result = self._run(None, fetches, feed_dict, options_ptr,

FailedPreconditionError: Graph execution error:

Detected at node 'dense_2/kernel/read' defined at (most recent call last):
    File "<frozen runpy>", line 198, in _run_module_as_main
    File "/work/main/.venv/lib/python3.11/site-packages/ipykernel/kernelbase.py", line 678, in shell_main
    File "/root/.pyenv/versions/3.11.7/lib/python3.11/asyncio/base_events.py", line 607, in run_forever
    File "/tmp/ipykernel_2/765178999.py", line 9, in <module>
    File "/work/main/.venv/lib/python3.11/site-packages/tf_keras/src/legacy_tf_layers/core.py", line 271, in dense
Node: 'dense_2/kernel/read'
Attempting to use uninitialized value dense_2/kernel
\t [[{{node dense_2/kernel/read}}]]

Original stack trace for 'dense_2/kernel/read':
  File "/tmp/ipykernel_2/765178999.py", line 9, in <module>
  File "/work/main/.venv/lib/python3.11/site-packages/tensorflow/python/ops/variables.py", line 200, in __call__
"""


def test_only_the_learners_own_lines_are_kept():
    sources = {15: "\n".join(f"line {k}" for k in range(1, 9)) + "\nhidden2 = tf.layers.dense(hidden1, 256)",
               16: "## GRADED PART, DO NOT CHANGE!\n# loss\n"
                   "grader.set_answer(\"i8bgs\", s.run(loss, {input_X: X_val_flat, input_y: y_val_oh}))"}
    evalue = TRACEBACK[TRACEBACK.index("Graph execution error"):]
    frames = own_frames(TRACEBACK, evalue, cell_of_run={16: 16}, cell_of_file={"765178999": 15},
                        sources=sources)
    assert frames == [
        {"cell": 16, "line": 3, "role": "raised",
         "code": 'grader.set_answer("i8bgs", s.run(loss, {input_X: X_val_flat, input_y: y_val_oh}))'},
        {"cell": 15, "line": 9, "role": "defined", "code": "hidden2 = tf.layers.dense(hidden1, 256)"}]
    text = repr(frames)
    assert "site-packages" not in text and "asyncio" not in text and "/work/" not in text


def test_a_frame_of_an_unknown_cell_is_left_out():
    assert own_frames("Cell In[99], line 1\nNameError: x", "", cell_of_run={}, cell_of_file={},
                      sources={}) == []


def test_a_model_measured_through_the_learners_functions():
    """scikit-learn: predict(X) returns model.predict(X); the model is made in another cell and
    trained by running `model.fit(...)` above it again."""
    cells = [("import numpy as np", 1), ("model = make_pipeline(LogisticRegression())", 2),
             ("model.fit(X_train, y_train)", 5), ("model = make_pipeline(MLPClassifier())", 4),
             ("def predict(X):\n    return model.predict(np.asarray(X))", 6),
             ('grader.set_answer("acc", accuracy_score(y, predict(X)))', 7)]
    nb = _nb(cells)
    part = Part(id="acc", kind="function", model="MLP", object="predict")
    [history] = part_histories(nb, [part], {6: ["acc"]}, as_run(nb)).values()
    assert (history.defined, history.rerun, history.rerun_trainer, history.trainer) == (4, (3,), 3, 3)
    assert advice(history, status="error", order="top-down").startswith(
        "Your MLP is defined in cell 4 but only trained when cell 3 runs again (your saved notebook "
        "shows In [5] after In [4])")
