"""A synthetic graded class for the similarity benchmark: OUT/results/*.json and OUT/executed/*.ipynb.

Each honest learner fills the template's gaps by choosing, slot by slot, one of
the ways real learners write that line (docs: REAL_NOTEBOOKS.md): common
choices are common, so the obvious solution is shared by many, as in a real
class.  Some learners add debug prints or an experiment cell.  A share of the
class are copies: another learner's notebook with names renamed and comments
rewritten.  Each learner's model fingerprints follow its choices (the same
computation gives the same model), so identical models are as common as in a
class graded under one seed.

``make_class(out, learners, seed)`` returns the ground truth: the copied pairs.
"""
from __future__ import annotations

import hashlib
import json
import random
import re
from pathlib import Path

import nbformat as nbf

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "assignments" / "mnist_digits" / "template.ipynb"

# slot -> [(weight, code)]: how learners fill each gap
LINEAR = {
    "W": [(5, 'W = tf.get_variable("W", shape=(784, 10), dtype=tf.float32)'),
          (2, 'W = tf.get_variable("W", [784, 10], initializer=tf.zeros_initializer())'),
          (2, "W = tf.Variable(tf.random_normal([784, 10], stddev=0.01))"),
          (1, "W = tf.Variable(np.zeros((784, 10)), dtype=tf.float32)"),
          (1, 'W = tf.get_variable("W", shape=[784, 10], initializer=tf.contrib.layers.xavier_initializer())')],
    "b": [(5, 'b = tf.get_variable("b", shape=(10,), dtype=tf.float32)'),
          (2, "b = tf.Variable(tf.zeros([10]))"),
          (1, 'b = tf.get_variable("b", [10], initializer=tf.constant_initializer(0.1))')],
    "X": [(6, "input_X = tf.placeholder(tf.float32, shape=(None, 784))"),
          (2, 'input_X = tf.placeholder("float32", [None, 784], name="X")'),
          (1, "input_X = tf.placeholder(tf.float32, shape=[None, X_train_flat.shape[1]])")],
    "y": [(6, "input_y = tf.placeholder(tf.float32, shape=(None, 10))"),
          (2, 'input_y = tf.placeholder("float32", [None, 10], name="y")')],
    "logits": [(5, "logits = input_X @ W + b"), (4, "logits = tf.matmul(input_X, W) + b"),
               (1, "logits = tf.add(tf.matmul(input_X, W), b)")],
    "probas": [(9, "probas = tf.nn.softmax(logits)"), (1, "probas = tf.nn.softmax(logits, axis=1)")],
    "classes": [(5, "classes = tf.argmax(probas, 1)"), (3, "classes = tf.argmax(probas, axis=1)"),
                (1, "classes = tf.argmax(logits, axis=-1)")],
    "loss": [(5, "loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=logits, labels=input_y))"),
             (3, "loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=input_y, logits=logits))"),
             (1, "loss = tf.losses.softmax_cross_entropy(input_y, logits)"),
             (1, "loss = tf.reduce_mean(-tf.reduce_sum(input_y * tf.log(probas), axis=1))")],
    "step": [(6, "step = tf.train.AdamOptimizer().minimize(loss)"),
             (2, "step = tf.train.AdamOptimizer(learning_rate=0.001).minimize(loss)"),
             (1, "step = tf.train.GradientDescentOptimizer(0.5).minimize(loss)"),
             (1, "optimizer = tf.train.AdamOptimizer(1e-3)\nstep = optimizer.minimize(loss)")],
}
WIDTHS = [(3, 256), (2, 128), (2, 512), (1, 300), (1, 200), (1, 100), (1, 64)]
ACTIVATIONS = [(4, "tf.nn.relu"), (3, "tf.nn.sigmoid"), (1, "tf.nn.elu"), (1, "tf.nn.tanh"),
               (1, "tf.nn.leaky_relu")]
EXTRAS = ['print("validation loss", s.run(loss, {input_X: X_val_flat, input_y: y_val_oh}))',
          "print(W.shape, b.shape, logits.shape)",
          "for v in tf.trainable_variables():\n    print(v.name, v.shape)",
          'plt.plot(simpleTrainingCurves.train_loss)\nplt.title("my curve")\nplt.show()']


def _pick(rng: random.Random, options):
    return rng.choices([o for _, o in options], weights=[w for w, _ in options])[0]


def honest_learner(rng: random.Random) -> tuple[list, tuple]:
    """A learner's code cells (the template with its gaps filled) and the choices behind its models."""
    linear = {slot: _pick(rng, options) for slot, options in LINEAR.items()}
    layers = rng.choices([2, 3], weights=[4, 1])[0]
    widths = [_pick(rng, WIDTHS) for _ in range(layers)]
    activation = _pick(rng, ACTIVATIONS)
    mlp = ["s = reset_tf_session()", linear["X"], linear["y"]]
    previous = "input_X"
    for number, width in enumerate(widths, start=1):
        mlp.append(f"hidden{number} = tf.layers.dense({previous}, {width}, activation={activation})")
        previous = f"hidden{number}"
    mlp += [f"logits = tf.layers.dense({previous}, 10)", linear["probas"], linear["classes"], linear["loss"],
            linear["step"]]
    cells = []
    for index, cell in enumerate(nbf.read(TEMPLATE, as_version=4).cells):
        source = cell.source
        if cell.cell_type != "code":
            cells.append(nbf.v4.new_markdown_cell(source))
            continue
        if index == 13:
            source = linear["W"] + "\n" + linear["b"]
        elif index == 14:
            source = linear["X"] + "\n" + linear["y"]
        elif index == 15:
            source = "\n".join(linear[s] for s in ("logits", "probas", "classes", "loss", "step"))
        elif index == 21:
            source = "\n".join(mlp)
        cells.append(nbf.v4.new_code_cell(source))
        if cell.cell_type == "code" and rng.random() < 0.08:
            cells.append(nbf.v4.new_code_cell(rng.choice(EXTRAS)))
    linear_model = tuple(linear[s] for s in ("W", "b", "logits", "loss", "step"))
    return cells, (linear_model, linear_model + (tuple(widths), activation))


def disguise(cells: list, rng: random.Random) -> list:
    """A copy: names renamed, comments rewritten, a cell merged into the next."""
    names = {"W": "weights", "b": "bias", "logits": "scores", "hidden1": "layer_one",
             "hidden2": "layer_two", "optimizer": "opt", "batch_losses": "costs"}
    out = []
    for cell in cells:
        source = cell.source
        if cell.cell_type == "code":
            for old, new in names.items():
                source = re.sub(rf"(?<![\w.\"]){old}(?![\w\"])", new, source)
            source = re.sub(r"#[^\n]*", "# mine", source)
            out.append(nbf.v4.new_code_cell(source))
        else:
            out.append(nbf.v4.new_markdown_cell(source))
    merge = rng.randrange(10, 16)
    out[merge].source += "\n" + out[merge + 1].source
    del out[merge + 1]
    return out


def fingerprint(choice: tuple, rows: int = 10000) -> dict:
    """A model fingerprint determined by the choices (the same computation, the same model)."""
    digest = hashlib.sha256(repr(choice).encode()).digest()
    rng = random.Random(digest)
    return {"rows": rows, "classes": digest.hex()[:16],
            "sketch": [round(rng.gauss(0, 1e-3), 12) for _ in range(8)]}


def make_class(out: Path, learners: int, *, seed: int = 0, copy_share: float = 0.05) -> list[tuple[str, str]]:
    """Write a graded class of ``learners`` into ``out``; returns the (original, copy) pairs."""
    rng = random.Random(seed)
    (out / "results").mkdir(parents=True, exist_ok=True)
    (out / "executed").mkdir(parents=True, exist_ok=True)
    made: list[tuple[str, list, tuple]] = []
    copies = []
    for number in range(learners):
        name = f"learner{number:04d}"
        if made and rng.random() < copy_share:
            original, cells, choices = rng.choice(made)
            cells = disguise(cells, rng)
            copies.append((original, name))
        else:
            cells, choices = honest_learner(rng)
        made.append((name, cells, choices))
        notebook = nbf.v4.new_notebook()
        notebook.cells = cells
        nbf.write(notebook, out / "executed" / f"{name}.ipynb")
        parts = [{"id": part, "model": model, "kind": kind, "status": "passed", "points": 1.0,
                  "max_points": 1.0, "fingerprint": fingerprint(choices[index])}
                 for part, model, kind, index in (("vmogZ", "linear", "loss", 0), ("i8bgs", "MLP", "loss", 1))]
        result = {"learner": name, "assignment": "mnist_digits", "status": "graded", "total": 2.0,
                  "max_total": 5.0, "threads": 1, "parts": parts, "errors": [], "notes": []}
        (out / "results" / f"{name}.json").write_text(json.dumps(result), encoding="utf-8")
    return copies
