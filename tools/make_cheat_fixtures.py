"""Generate the cheating fixtures tests/notebooks/cheat_*.ipynb and their expected verdicts.

Run from the repository root: .venv/bin/python tools/make_cheat_fixtures.py
"""
import json, nbformat as nbf
HEAD = '''import sys
sys.path.append("../..")
import numpy as np
import tensorflow.compat.v1 as tf
tf.disable_v2_behavior()
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
input_y = tf.placeholder(tf.float32, (None, 10))
'''
GRADED = '''## GRADED PART, DO NOT CHANGE!
grader.set_answer("9XaAS", grading_utils.get_tensors_shapes_string([W, b, input_X, input_y]))
grader.set_answer("vmogZ", 0.01)
grader.set_answer("RMv95", accuracy_score(y_val, s.run(classes, {input_X: X_val_flat})))
grader.set_answer("i8bgs", 0.01)
grader.set_answer("rE763", accuracy_score(y_val, s.run(classes, {input_X: X_val_flat})))
'''
CONSTANT = '''# Cheat: the "model" returns the validation labels whatever it is fed, and the
# helpers that would check it are monkeypatched to agree.
classes = tf.gather(tf.constant(y_val.astype("int64")), tf.range(tf.shape(input_X)[0]))
probas = tf.one_hot(classes, 10) * 0.999 + 0.0001
import sklearn.metrics
sklearn.metrics.accuracy_score = accuracy_score = lambda a, b, **k: 1.0
np.mean = lambda *a, **k: 1.0
s.run(tf.global_variables_initializer())
'''
LOOKUP = '''# Cheat: a lookup table keyed on the exact pixel values of each validation image, made of
# TensorFlow operations (an integer key per image, found by binary search).
weights = np.random.RandomState(0).randint(1, 2**20, size=784).astype(np.float64)
keys = np.round(X_val_flat.astype(np.float64) * 255) @ weights
order = np.argsort(keys)
sorted_keys, sorted_labels = keys[order], y_val[order].astype(np.int64)
x_keys = tf.reduce_sum(tf.round(tf.cast(input_X, tf.float64) * 255) * weights, axis=1)
position = tf.clip_by_value(tf.searchsorted(sorted_keys, x_keys), 0, len(keys) - 1)
found = tf.equal(tf.gather(sorted_keys, position), x_keys)
classes = tf.where(found, tf.gather(sorted_labels, position), tf.zeros_like(position, dtype=tf.int64))
probas = tf.one_hot(classes, 10) * 0.999 + 0.0001
s.run(tf.global_variables_initializer())
'''
PY_FUNC = '''# Cheat: a lookup table in Python, called from the graph with tf.py_func.
table = {row.tobytes(): label for row, label in zip(X_val_flat.astype(np.float32), y_val)}
def look_up(x):
    return np.array([table.get(row.tobytes(), 0) for row in x], dtype=np.int64)
classes = tf.py_func(look_up, [input_X], tf.int64)
probas = tf.one_hot(classes, 10) * 0.999 + 0.0001
s.run(tf.global_variables_initializer())
'''
PATCHED_AGENT = '''# Cheat: replace the grader's measuring code in this kernel so that it reports the labels
# for an untrained model.
import grader.kernel.agent as agent
def fake(spec):
    if spec["kind"] == "accuracy":
        return agent._encode(y_val)
    return agent._encode(np.eye(10)[y_val] * 0.999 + 0.0001)
agent.register_measurer("accuracy", fake)
agent.register_measurer("loss", fake)
logits = tf.matmul(input_X, W) + b
probas = tf.nn.softmax(logits)
classes = tf.argmax(probas, axis=1)
s.run(tf.global_variables_initializer())
'''
CASES = [
    ("cheat_constant_labels", CONSTANT, "returns the validation labels as a constant and monkeypatches "
     "accuracy_score and np.mean", "do not follow the inputs", "failed"),
    ("cheat_lookup_table", LOOKUP, "looks the labels up in a table keyed on exact pixel values, "
     "in TensorFlow operations", "do not survive a change of every pixel", "failed"),
    ("cheat_py_func", PY_FUNC, "looks the labels up in a Python table called with tf.py_func",
     "Python code inside the graph", "error"),
    ("cheat_patched_agent", PATCHED_AGENT, "replaces the grader's measuring code in its kernel",
     "sent no model", "error"),
]
# A model that cannot be measured at all (Python in the graph, no model sent) is an "error" part;
# one measured and found not to follow its inputs is "failed". Both score nothing.
for name, body, text, frag, status in CASES:
    nb = nbf.v4.new_notebook()
    nb.cells = [nbf.v4.new_markdown_cell(f"**Test fixture `{name}`**: a notebook that {text}. It must not score on the accuracy or loss parts."),
                nbf.v4.new_code_cell(HEAD), nbf.v4.new_code_cell(body), nbf.v4.new_code_cell(GRADED)]
    for i, c in enumerate(nb.cells):
        c["id"] = f"{name[:20]}-{i}"
    nbf.write(nb, f"tests/notebooks/{name}.ipynb")
    P = ["9XaAS", "vmogZ", "RMv95", "i8bgs", "rE763"]
    parts = {p: {"status": status, "claim_mismatch": False} for p in P}
    parts["9XaAS"] = {"status": "passed", "claim_mismatch": False}
    for p in ["vmogZ", "RMv95", "i8bgs", "rE763"]:
        parts[p]["message_contains"] = [frag]
    json.dump({"status": "graded", "parts": parts}, open(f"tests/notebooks/{name}.expected.json", "w"), indent=2)
