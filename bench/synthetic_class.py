"""A synthetic graded class for the similarity benchmarks: OUT/results/*.json, OUT/executed/*.ipynb, a corpus.

Written from the patterns of real learners' notebooks for this assignment
(docs: REAL_NOTEBOOKS.md); nothing here is a collected notebook.

* **Honest learners write short solutions** (15-25 lines of their own), line
  by line, choosing among the ways learners write each line: the obvious line
  (the markdown's hints) is the most common choice, so many learners converge
  on the same lines.  Each learner also has habits that hold across their
  cells (``shape=`` or positional, lists or tuples, ``name=`` arguments,
  ``axis=`` or ``dim=``, ``_v2`` or not), numbers of their own (learning
  rates, widths, batch sizes, epochs) and, sometimes, extras: a Colab header,
  seeds, debug prints, a TensorBoard writer, an accuracy print, a CNN
  experiment.
* **Copies** take another learner's notebook (or a corpus file) and disguise it,
  at one of the :data:`STRENGTHS` (each adds to the one before):
  ``verbatim`` (outputs cleared), ``cosmetic`` (comments rewritten, spacing
  and quotes changed), ``renamed`` (every variable of the copied code renamed),
  ``restructured`` (adjacent cells merged, independent cells and lines
  reordered), ``altered`` (a few numbers and spellings changed, a line
  dropped); ``partial`` copies only the MLP section (renamed) into a
  notebook of the copier's own; ``corpus`` is a ``restructured`` copy of a
  public solution of the corpus.
* **Model fingerprints follow the code**: the same choices give the same model
  (every notebook is re-run under one seed), so the obvious models are shared
  by many honest learners, as in a real class.

``make_class(out, learners, seed=...)`` writes the class and returns a
:class:`Truth`: who copied whom, at which strength.
"""
from __future__ import annotations

import hashlib
import io
import json
import random
import re
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

import nbformat as nbf

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "assignments" / "mnist_digits" / "template.ipynb"
PARAMS, INPUTS, PREDICT, TRAIN, MLP, MLP_TRAIN = 13, 14, 15, 16, 21, 22  # template cells
STRENGTHS = ("verbatim", "cosmetic", "renamed", "restructured", "altered", "partial", "corpus")


def _pick(rng: random.Random, options):
    """One of ``[(weight, value), ...]``."""
    return rng.choices([value for _, value in options], weights=[weight for weight, _ in options])[0]


# --- an honest learner ----------------------------------------------------------------------------

@dataclass
class Style:
    """A learner's habits, the same in every cell they write."""

    keyword: bool      # shape=(...) rather than positional
    brackets: str      # "[]" or "()"
    dtype: str         # tf.float32, "float32", "float", tf.float32 as dtype=
    names: bool        # name="..." arguments
    axis: str          # "axis=1", "1", "dim=1" (TF1), "axis=-1"
    v2: bool           # softmax_cross_entropy_with_logits_v2
    labels_first: bool  # labels=..., logits=... or the other order
    comments: float    # how often a line gets a comment of theirs

    @classmethod
    def draw(cls, rng: random.Random) -> "Style":
        return cls(keyword=rng.random() < 0.6, brackets=_pick(rng, [(6, "()"), (4, "[]")]),
                   dtype=_pick(rng, [(7, "tf.float32"), (2, '"float32"'), (1, '"float"')]),
                   names=rng.random() < 0.15, axis=_pick(rng, [(5, "1"), (4, "axis=1"), (1, "dim=1"),
                                                                (1, "axis=-1")]),
                   v2=rng.random() < 0.35, labels_first=rng.random() < 0.5, comments=_pick(
                       rng, [(6, 0.0), (3, 0.15), (1, 0.4)]))

    def shape(self, *dims) -> str:
        inner = ", ".join(str(d) for d in dims)
        if len(dims) == 1 and self.brackets == "()":
            inner += ","
        return self.brackets[0] + inner + self.brackets[1]

    def placeholder(self, width, name: str) -> str:
        shape = self.shape("None", width)
        args = f"{self.dtype}, shape={shape}" if self.keyword else f"{self.dtype}, {shape}"
        if self.names:
            args += f', name="{name}"'
        return f"tf.placeholder({args})"

    def loss(self, logits: str = "logits") -> str:
        function = "softmax_cross_entropy_with_logits" + ("_v2" if self.v2 else "")
        args = (f"labels=input_y, logits={logits}" if self.labels_first else f"logits={logits}, labels=input_y")
        return f"tf.reduce_mean(tf.nn.{function}({args}))"


COMMENTS = ["# weights of the linear model", "# inputs", "# the scores", "# probabilities",
            "# predicted class", "# loss", "# optimiser", "# hidden layers", "# TODO try other sizes",
            "# from the lecture", "# as in the hint", "# works!"]


def _own(rng: random.Random, common: list, tail: float, own) -> str:
    """A number as learners choose it: a common value, or (``tail`` of the time) one of their own."""
    return str(own(rng)) if rng.random() < tail else str(_pick(rng, common))


def _rate(rng: random.Random) -> str:
    return _own(rng, [(6, ""), (3, "0.001"), (2, "1e-3"), (1, "0.01")], 0.3,
                lambda r: f"{r.choice((1, 2, 3, 4, 5, 6, 7, 8))}e-{r.choice((3, 3, 4))}"
                if r.random() < 0.5 else f"0.00{r.randint(1, 9)}{r.choice(('', '5'))}")


def _std(rng: random.Random) -> str:
    return _own(rng, [(4, "0.01"), (2, "0.1")], 0.5, lambda r: f"0.0{r.randint(1, 9)}" if r.random() < 0.6
                else f"{r.randint(1, 9)}e-{r.randint(2, 3)}")


def _linear(rng: random.Random, style: Style) -> dict:
    """The linear model's three gaps (name -> its lines) and what they compute.

    The obvious line (the template's hints) is the most common choice of every slot; the rest is a
    handful of other common spellings and, for numbers, a long tail of learners' own values."""
    std = _std(rng)
    shape = style.shape(784, 10)
    bias_shape = style.shape(1, 10) if rng.random() < 0.08 else style.shape(10)  # (1, 10): it broadcasts
    kw = "shape=" if style.keyword else ""
    name_w = ', name="W"' if style.names else ""
    # (weight, (lines, what they compute)): the default initialiser (glorot) whatever the spelling
    weights, init = _pick(rng, [
        (9, ((f'W = tf.get_variable("W", {kw}{shape})', f'b = tf.get_variable("b", {kw}{bias_shape})'), "glorot")),
        (5, ((f'W = tf.get_variable("W", {kw}{shape}, dtype=tf.float32)',
              f'b = tf.get_variable("b", {kw}{bias_shape}, dtype=tf.float32)'), "glorot")),
        (2, ((f"W = tf.Variable(tf.random_normal({shape}, stddev={std}){name_w})",
              f"b = tf.Variable(tf.zeros({bias_shape}))"), ("normal", std))),
        (1, ((f'W = tf.get_variable("W", {kw}{shape}, initializer=tf.random_normal_initializer(stddev={std}))',
              f'b = tf.get_variable("b", {kw}{bias_shape}, initializer=tf.zeros_initializer())'), ("normal", std))),
        (1, ((f"W = tf.Variable(tf.zeros({shape}))", f"b = tf.Variable(tf.zeros({bias_shape}))"), "zeros")),
        (1, ((f"W = tf.Variable(np.random.randn(784, 10) * {std}, dtype=tf.float32)",
              "b = tf.Variable(np.zeros(10), dtype=tf.float32)"), ("randn", std))),
        (1, ((f'W = tf.get_variable("W", {kw}{shape}, initializer=tf.contrib.layers.xavier_initializer())',
              f'b = tf.get_variable("b", {kw}{bias_shape}, initializer=tf.zeros_initializer())'), "glorot, 0")),
        (1, ((f"W = tf.Variable(tf.truncated_normal({shape}, stddev={std}))",
              f"b = tf.Variable(tf.constant(0.1, shape={bias_shape}))"), ("truncated", std))),
    ])
    width = _pick(rng, [(12, "784"), (1, "X_train_flat.shape[1]"), (1, "28 * 28")])
    inputs = (f"input_X = {style.placeholder(width, 'X')}", f"input_y = {style.placeholder(10, 'y')}")
    logits = _pick(rng, [(6, "logits = input_X @ W + b"), (5, "logits = tf.matmul(input_X, W) + b"),
                         (1, "logits = tf.add(tf.matmul(input_X, W), b)"),
                         (1, "logits = tf.nn.xw_plus_b(input_X, W, b)")])
    soft_axis = {"dim=1": ", dim=1", "axis=-1": ", axis=-1"}.get(style.axis, "")
    probas = f"probas = tf.nn.softmax(logits{soft_axis if rng.random() < 0.3 else ''})"
    argmax = _pick(rng, [(10, "tf.argmax"), (1, "tf.arg_max")])
    source = _pick(rng, [(7, "probas"), (3, "logits")])
    classes = f"classes = {argmax}({source}, {style.axis.replace('dim=', 'axis=')})"
    twice = rng.random() < 0.04  # softmax applied twice: a bug learners make
    loss = _pick(rng, [(12, f"loss = {style.loss('probas' if twice else 'logits')}"),
                       (1, "loss = tf.losses.softmax_cross_entropy(input_y, logits)"),
                       (1, "loss = tf.reduce_mean(-tf.reduce_sum(input_y * tf.log(probas), axis=1))")])
    rate = _rate(rng)
    sgd = _own(rng, [(2, "0.5"), (1, "0.1")], 0.4, lambda r: f"0.{r.randint(1, 9)}{r.choice(('', '5'))}")
    adam = ("adam", float(rate or 0.001))
    step, optimizer = _pick(rng, [
        (8, ((f"step = tf.train.AdamOptimizer({rate}).minimize(loss)",), adam)),
        (2, ((f"step = tf.train.AdamOptimizer(learning_rate={rate or '0.001'}).minimize(loss)",), adam)),
        (1, ((f"optimizer = tf.train.AdamOptimizer({rate})", "step = optimizer.minimize(loss)"), adam)),
        (1, ((f"step = tf.train.GradientDescentOptimizer({sgd}).minimize(loss)",), ("sgd", float(sgd)))),
        (1, ((f"step = tf.train.AdamOptimizer({rate or '0.001'}, beta1=0.{rng.randint(5, 9)}).minimize(loss)",),
             adam + ("beta1",))),
    ])
    return {"params": list(weights), "inputs": list(inputs), "predict": [logits, probas, classes, loss, *step],
            "model": (init, "tf.log" in loss or twice, optimizer)}


def _mlp(rng: random.Random, style: Style, linear: dict) -> tuple[list[str], tuple]:
    """The MLP's gap: usually the linear model's placeholders and loss pasted again, new layers."""
    layers = _pick(rng, [(7, 2), (2, 3), (1, 1)])
    # the markdown's hint is tf.layers.dense(inputs, 256, activation=tf.nn.sigmoid): many follow it
    widths = [_own(rng, [(6, 256), (3, 128), (2, 512), (1, 100)], 0.25, lambda r: r.randrange(32, 1025, 16))
              for _ in range(layers)]
    activation = _pick(rng, [(4, "tf.nn.relu"), (4, "tf.nn.sigmoid"), (1, "tf.nn.elu"), (1, "tf.nn.tanh"),
                             (1, "tf.nn.leaky_relu")])
    kind = _pick(rng, [(10, "layers"), (1, "keras"), (1, "contrib")])
    dropout = _own(rng, [(12, ""), (1, "0.2"), (1, "0.5")], 0.05, lambda r: f"0.{r.randint(1, 6)}")
    extra = ""
    if rng.random() < 0.08:
        extra = f", kernel_regularizer=tf.contrib.layers.l2_regularizer({_std(rng)})"
    elif rng.random() < 0.08:
        extra = f", kernel_initializer=tf.truncated_normal_initializer(stddev={_std(rng)})"
    lines = list(linear["inputs"])
    previous = "input_X"
    for number, width in enumerate(widths, start=1):
        name = f"hidden{number}"
        if kind == "layers":
            lines.append(f"{name} = tf.layers.dense({previous}, {width}, activation={activation}{extra})")
        elif kind == "keras":
            lines.append(f"{name} = tf.keras.layers.Dense({width}, activation={activation})({previous})")
        else:
            lines.append(f"{name} = tf.contrib.layers.fully_connected({previous}, {width}, activation_fn={activation})")
        if dropout:
            lines.append(f"{name} = tf.layers.dropout({name}, rate={dropout})")
        previous = name
    lines.append(f"logits = tf.layers.dense({previous}, 10)" if kind != "contrib" else
                 f"logits = tf.contrib.layers.fully_connected({previous}, 10, activation_fn=None)")
    lines += [line for line in linear["predict"][1:] if not line.startswith(("step", "optimizer"))]
    if rng.random() < 0.6:
        lines += [line for line in linear["predict"] if line.startswith(("step", "optimizer"))]
        optimizer = linear["model"][2]
    else:
        rate = _rate(rng)
        lines.append(f"step = tf.train.AdamOptimizer({rate}).minimize(loss)")
        optimizer = ("adam", float(rate or 0.001))
    return lines, (tuple(widths), activation, kind, dropout, extra, linear["model"][1], optimizer)


EXTRAS = [  # (probability, cell after which it goes (None: first), lines)
    (0.15, None, ["%tensorflow_version 1.x", "! wget -q https://example.org/setup_google_colab.py -O setup_google_colab.py",
                  "import setup_google_colab", "setup_google_colab.setup_week2()"]),
    (0.12, 2, ["tf.set_random_seed(42)", "np.random.seed(42)"]),
    (0.2, PARAMS, ["print(W.shape, b.shape)"]),
    (0.1, PREDICT, ["print(logits, probas, classes, loss)"]),
    (0.15, TRAIN, ['print("validation accuracy:", accuracy_score(y_val, s.run(classes, {input_X: X_val_flat})))']),
    (0.06, PREDICT, ['writer = tf.summary.FileWriter("./logs", s.graph)', 'tf.summary.scalar("loss", loss)',
                     "merged = tf.summary.merge_all()"]),
    (0.1, MLP, ["for v in tf.trainable_variables():", "    print(v.name, v.shape)"]),
]


def _cnn(rng: random.Random) -> list[str]:
    """An experiment cell: a small CNN tried and left in the notebook, each learner's own way."""
    filters = _own(rng, [(2, 32), (1, 16)], 0.5, lambda r: r.choice((8, 12, 20, 24, 48, 64, 96)))
    kernel, padding = _pick(rng, [(2, 3), (1, 5), (1, 4)]), _pick(rng, [(3, '"same"'), (1, '"valid"')])
    activation = _pick(rng, [(4, "tf.nn.relu"), (1, "tf.nn.elu"), (1, "tf.nn.tanh")])
    dense = _own(rng, [(1, 128), (1, 256)], 0.6, lambda r: r.randrange(64, 1025, 32))
    lines = ["images = tf.reshape(input_X, [-1, 28, 28, 1])",
             f"conv1 = tf.layers.conv2d(images, {filters}, {kernel}, padding={padding}, activation={activation})",
             f"pool1 = tf.layers.max_pooling2d(conv1, {_pick(rng, [(3, 2), (1, 3)])}, 2)"]
    if rng.random() < 0.6:
        lines += [f"conv2 = tf.layers.conv2d(pool1, {int(filters) * 2}, {kernel}, padding={padding}, "
                  f"activation={activation})", "pool2 = tf.layers.max_pooling2d(conv2, 2, 2)",
                  "flat = tf.layers.flatten(pool2)"]
    else:
        lines.append("flat = tf.layers.flatten(pool1)")
    lines.append(f"dense = tf.layers.dense(flat, {dense}, activation={activation})")
    if rng.random() < 0.4:
        lines.append(f"dense = tf.layers.dropout(dense, rate=0.{rng.randint(2, 6)})")
    return lines + ["cnn_logits = tf.layers.dense(dense, 10)"]


@dataclass
class Notebook:
    """A learner's code cells (markdown kept as text) and what decides their models."""

    cells: list = field(default_factory=list)   # [(cell_type, source)]
    models: dict = field(default_factory=dict)  # model name -> what decides it


def _comment(rng: random.Random, style: Style, lines: list[str]) -> list[str]:
    return [line + "  " + rng.choice(COMMENTS) if style.comments and rng.random() < style.comments
            and not line.endswith(":") else line for line in lines]


def _hinted(rng: random.Random) -> tuple[dict, list[str], tuple]:
    """The obvious solution, line for line what the template's hints say (two spellings left open)."""
    logits = rng.choice(("logits = input_X @ W + b", "logits = tf.matmul(input_X, W) + b"))
    classes = rng.choice(("classes = tf.argmax(probas, 1)", "classes = tf.argmax(probas, axis=1)"))
    inputs = ["input_X = tf.placeholder(tf.float32, shape=(None, 784))",
              "input_y = tf.placeholder(tf.float32, shape=(None, 10))"]
    predict = [logits, "probas = tf.nn.softmax(logits)", classes,
               "loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=input_y, logits=logits))",
               "step = tf.train.AdamOptimizer().minimize(loss)"]
    linear = {"params": ['W = tf.get_variable("W", shape=(784, 10))', 'b = tf.get_variable("b", shape=(10,))'],
              "inputs": inputs, "predict": predict, "model": ("glorot", False, ("adam", 0.001))}
    mlp = inputs + ["hidden1 = tf.layers.dense(input_X, 256, activation=tf.nn.sigmoid)",
                    "hidden2 = tf.layers.dense(hidden1, 256, activation=tf.nn.sigmoid)",
                    "logits = tf.layers.dense(hidden2, 10)"] + predict[1:]
    return linear, mlp, ((256, 256), "tf.nn.sigmoid", "layers", "", "", False, ("adam", 0.001))


def honest_notebook(rng: random.Random, *, hinted: float = 0.12) -> Notebook:
    """The template with its gaps filled the way one learner would; ``hinted`` of the learners write
    the obvious solution the hints spell out, and nothing else."""
    if rng.random() < hinted:
        linear, mlp, mlp_model = _hinted(rng)
        notebook = Notebook()
        for index, cell in enumerate(nbf.read(TEMPLATE, as_version=4).cells):
            gap = {PARAMS: linear["params"], INPUTS: linear["inputs"], PREDICT: linear["predict"],
                   MLP: ["s = reset_tf_session()", *mlp]}.get(index)
            notebook.cells.append((cell.cell_type, "\n".join(gap) if gap else cell.source))
        notebook.models = {"linear": ("linear", linear["model"], None, None), "MLP": ("MLP", mlp_model, None, None)}
        return notebook
    style = Style.draw(rng)
    linear = _linear(rng, style)
    mlp, mlp_model = _mlp(rng, style, linear)
    template = nbf.read(TEMPLATE, as_version=4).cells
    gaps = {PARAMS: linear["params"], INPUTS: linear["inputs"], PREDICT: linear["predict"],
            MLP: ["s = reset_tf_session()", *mlp]}
    extras = {}
    for chance, after, lines in EXTRAS:
        if rng.random() < chance:
            extras.setdefault(after, []).append(lines)
    if rng.random() < 0.08:
        extras.setdefault(MLP_TRAIN, []).append(_cnn(rng))
    notebook = Notebook()
    for lines in extras.get(None, []):
        notebook.cells.append(("code", "\n".join(lines)))
    batch, epochs = None, None
    if rng.random() < 0.35:  # the training cell's settings changed: batch sizes from 200 to 512 and more
        batch = _own(rng, [(3, 256), (2, 128)], 0.6, lambda r: r.randrange(100, 1025, 4))
        epochs = _own(rng, [(3, 20), (2, 10), (1, 50)], 0.6, lambda r: r.randint(5, 60))
    for index, cell in enumerate(template):
        if cell.cell_type != "code":
            notebook.cells.append(("markdown", cell.source))
            continue
        source = cell.source
        if index in gaps:
            header = [line for line in source.splitlines() if line.startswith("#") and "YOUR CODE" not in line]
            source = "\n".join(header[:1] + _comment(rng, style, gaps[index]))
        elif index in (TRAIN, MLP_TRAIN) and batch:
            source = source.replace("BATCH_SIZE = 512", f"BATCH_SIZE = {batch}").replace(
                "EPOCHS = 40", f"EPOCHS = {epochs}")
        notebook.cells.append(("code", source))
        for lines in extras.get(index, []):
            notebook.cells.append(("code", "\n".join(lines)))
    notebook.models = {"linear": ("linear", linear["model"], batch, epochs),
                       "MLP": ("MLP", mlp_model, batch, epochs)}
    return notebook


# --- disguises ------------------------------------------------------------------------------------

RENAMES = {"W": "weights", "b": "bias", "logits": "scores", "hidden1": "layer_one", "hidden2": "layer_two",
           "hidden3": "layer_three", "optimizer": "opt", "writer": "tb", "merged": "summaries", "v": "var",
           "images": "imgs", "conv1": "c1", "conv2": "c2", "pool1": "p1", "pool2": "p2", "flat": "flattened",
           "dense": "fc", "cnn_logits": "cnn_out"}


def rename(source: str, names: dict[str, str], *, requote: bool = False, comments: str = "") -> str:
    """Rename variables as an editor's rename does (not attributes, not keyword arguments); swap
    "double" quotes for 'single' ones and rewrite comments when asked; the code is written back with
    tokenize's own spacing (another formatting).  Magic lines are kept as they are."""
    magics = [line for line in source.splitlines() if line.lstrip().startswith(("%", "!"))]
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code + "\n").readline))
    except (tokenize.TokenError, IndentationError):
        return source
    out, previous, depth = [], None, 0
    for position, token in enumerate(tokens):
        text = token.string
        following = tokens[position + 1].string if position + 1 < len(tokens) else ""
        if token.type == tokenize.OP and text in "([{":
            depth += 1
        elif token.type == tokenize.OP and text in ")]}":
            depth -= 1
        keyword_argument = depth > 0 and following == "=" and previous in ("(", ",")
        if token.type == tokenize.NAME and text in names and previous != "." and not keyword_argument:
            text = names[text]
        elif requote and token.type == tokenize.STRING and re.fullmatch(r'"[^"\'\\]*"', text):
            text = "'" + text[1:-1] + "'"
        elif comments and token.type == tokenize.COMMENT:
            text = "# " + comments
        out.append((token.type, text))
        if token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT):
            previous = token.string
    return "\n".join(magics + [tokenize.untokenize(out).rstrip("\n")])


def _swap_first_lines(source: str, first: str, second: str) -> str:
    """Swap two independent lines (``W = ...`` and ``b = ...``) when both are there."""
    lines = source.splitlines()
    at = [next((i for i, line in enumerate(lines) if line.lstrip().startswith(prefix)), None)
          for prefix in (first, second)]
    if None not in at:
        lines[at[0]], lines[at[1]] = lines[at[1]], lines[at[0]]
    return "\n".join(lines)


ALTERATIONS = [  # an equivalent spelling or another number: what a copier changes by hand
    (r"tf\.matmul\(input_X, (\w+)\) \+ (\w+)", r"input_X @ \1 + \2"),
    (r"input_X @ (\w+) \+ (\w+)", r"tf.matmul(input_X, \1) + \2"),
    (r"tf\.argmax\((\w+), 1\)", r"tf.argmax(\1, axis=1)"),
    (r"tf\.argmax\((\w+), axis=1\)", r"tf.argmax(\1, 1)"),
    (r"AdamOptimizer\(\)", "AdamOptimizer(0.001)"),
    (r"AdamOptimizer\(([\w.-]+)\)", "AdamOptimizer(learning_rate=0.002)"),
    (r"tf\.layers\.dense\((\w+), (\d+),", lambda m: f"tf.layers.dense({m.group(1)}, {int(m.group(2)) * 2},"),
    (r"BATCH_SIZE = \d+", "BATCH_SIZE = 100"),
]


def disguise(cells: list, strength: str, rng: random.Random) -> list:
    """A copy of ``cells`` at ``strength`` (each strength adds to the one before)."""
    order = STRENGTHS.index("restructured" if strength == "corpus" else strength)
    out = []
    for kind, source in cells:
        if kind == "code" and order >= 1:
            names = RENAMES if order >= 2 else {}
            source = rename(source, names, requote=True, comments="my notes")
            if rng.random() < 0.3:
                source = "# " + rng.choice(("step", "here", "ok", "model")) + "\n" + source
        out.append([kind, source])
    if order >= 3:
        code = [i for i, (kind, _) in enumerate(out) if kind == "code"]
        for i in code:  # independent lines in another order
            out[i][1] = _swap_first_lines(out[i][1], "weights", "bias")
            out[i][1] = _swap_first_lines(out[i][1], "input_X", "input_y")
        # the placeholders' cell before the parameters' cell: cells reordered
        params = next((i for i in code if "weights =" in out[i][1] or "weights=" in out[i][1]), None)
        inputs = next((i for i in code if i > (params or 0) and "placeholder" in out[i][1]), None)
        if params is not None and inputs is not None:
            out[params], out[inputs] = out[inputs], out[params]
        for _ in range(2):  # two adjacent code cells merged
            code = [i for i, (kind, _) in enumerate(out) if kind == "code"]
            pairs = [(a, b) for a, b in zip(code, code[1:]) if b == a + 1 or
                     all(out[k][0] == "markdown" for k in range(a + 1, b))]
            if pairs:
                a, b = rng.choice(pairs)
                out[a][1] += "\n\n" + out[b][1]
                del out[b]
    if order >= 4:
        code = [i for i, (kind, _) in enumerate(out) if kind == "code"]
        changed = 0
        for pattern, replacement in rng.sample(ALTERATIONS, len(ALTERATIONS)):
            for i in code:
                new = re.sub(pattern, replacement, out[i][1], count=1)
                if new != out[i][1]:
                    out[i][1], changed = new, changed + 1
                    break
            if changed >= 3:
                break
        drop = [(i, n) for i in code for n, line in enumerate(out[i][1].splitlines())
                if line.startswith("print(")]
        if drop:
            i, n = rng.choice(drop)
            lines = out[i][1].splitlines()
            del lines[n]
            out[i][1] = "\n".join(lines)
    return [tuple(cell) for cell in out]


def partial_copy(own: Notebook, source: Notebook) -> Notebook:
    """The copier's own notebook with the source's MLP section, renamed."""
    mlp_own = next(i for i, (kind, text) in enumerate(own.cells) if kind == "code" and "reset_tf_session()" in text
                   and "hidden" in text)
    mlp_source = next(text for kind, text in source.cells if kind == "code" and "reset_tf_session()" in text
                      and "hidden" in text)
    cells = list(own.cells)
    cells[mlp_own] = ("code", rename(mlp_source, RENAMES, comments="mine"))
    return Notebook(cells=cells, models={"linear": own.models["linear"], "MLP": source.models["MLP"]})


# --- the class on disk ----------------------------------------------------------------------------

@dataclass
class Truth:
    """Who copied whom in a synthetic class."""

    copies: list[tuple[str, str, str, str]] = field(default_factory=list)  # (copy, source, kind, strength)
    corpus: list[str] = field(default_factory=list)   # corpus file names
    learners: list[str] = field(default_factory=list)

    def source_of(self) -> dict[str, tuple[str, str]]:
        return {copy: (kind, source) for copy, source, kind, _ in self.copies}

    def related(self, first: str, second: str, second_kind: str = "learner") -> bool:
        """Whether two names are a copy and its source, or copies of one source."""
        origin = self.source_of()

        def root(name, kind="learner"):
            while kind == "learner" and name in origin:
                kind, name = origin[name]
            return kind, name

        return root(first) == root(second, second_kind)


def model_fingerprint(decided_by: tuple, rows: int = 10000) -> dict:
    """A model fingerprint decided by the choices (the same computation, the same model)."""
    digest = hashlib.sha256(repr(decided_by).encode()).digest()
    rng = random.Random(digest)
    return {"rows": rows, "classes": digest.hex()[:16], "sketch": [round(rng.gauss(0, 1e-3), 12) for _ in range(8)]}


def _write_notebook(path: Path, cells: list) -> None:
    notebook = nbf.v4.new_notebook()
    notebook.cells = [nbf.v4.new_code_cell(text) if kind == "code" else nbf.v4.new_markdown_cell(text)
                      for kind, text in cells]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbf.write(notebook, path)


def _write_py(path: Path, cells: list) -> None:
    """As nbconvert exports a notebook: ``# In[ ]:`` markers, markdown as comments, magics as calls."""
    lines = ["#!/usr/bin/env python", "# coding: utf-8", ""]
    for kind, text in cells:
        if kind == "code":
            text = re.sub(r"^%(\w+) ?(.*)$", r"get_ipython().run_line_magic('\1', '\2')", text, flags=re.M)
            lines += ["# In[ ]:", "", text, "", ""]
        else:
            lines += ["# " + line for line in text.splitlines()] + [""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")


def make_class(out: Path, learners: int, *, seed: int = 0, copy_share: float = 0.15,
               strengths: tuple[str, ...] = STRENGTHS, corpus_files: int = 4,
               corpus: Path | None = None) -> Truth:
    """Write a graded class of ``learners`` into ``out`` (and ``corpus_files`` public solutions into
    ``corpus``, default ``out/../corpus``); return who copied whom.

    Copies cycle through ``strengths``; a copy's source is an earlier learner (or a corpus file for
    the ``corpus`` strength).  One learner in twenty is the template as handed out or an empty notebook.
    """
    rng = random.Random(seed)
    corpus = corpus or out.parent / (out.name + "-corpus")
    (out / "results").mkdir(parents=True, exist_ok=True)
    (out / "executed").mkdir(parents=True, exist_ok=True)
    truth = Truth()
    public = []
    for number in range(corpus_files if "corpus" in strengths else 0):
        notebook = honest_notebook(rng)
        name = f"solution{number}.ipynb" if number % 2 else f"repo{number}/mnist_solution.py"
        (_write_py if name.endswith(".py") else _write_notebook)(corpus / name, notebook.cells)
        public.append((name, notebook))
        truth.corpus.append(name)
    made: list[tuple[str, Notebook]] = []
    nothing: set[str] = set()  # the template as handed out, empty notebooks: nobody copies those
    cycle = seed  # each class starts the cycle elsewhere: every strength in classes of every size
    for number in range(learners):
        name = f"learner{number:04d}"
        truth.learners.append(name)
        honest = [m for m in made if m[0] not in truth.source_of() and m[0] not in nothing]
        if len(honest) >= 3 and rng.random() < copy_share:
            strength = strengths[cycle % len(strengths)]
            cycle += 1
            if strength == "corpus":
                source, original = rng.choice(public)
                kind = "corpus"
            else:
                source, original = rng.choice(honest)
                kind = "learner"
            if strength == "partial":
                notebook = partial_copy(honest_notebook(rng), original)
            else:
                notebook = Notebook(cells=disguise(original.cells, strength, rng), models=dict(original.models))
                if STRENGTHS.index(strength) >= STRENGTHS.index("restructured"):
                    # the graph built in another order (seeds follow the order of creation), another
                    # learning rate or width: another model
                    notebook.models = {k: v + (strength,) for k, v in notebook.models.items()}
            truth.copies.append((name, source, kind, strength))
        elif rng.random() < 0.05:
            nothing.add(name)
            template = nbf.read(TEMPLATE, as_version=4).cells
            notebook = Notebook(cells=[(c.cell_type, c.source) for c in template] if rng.random() < 0.5
                                else [("markdown", "I could not get it to work, sorry.")])
        else:
            notebook = honest_notebook(rng)
        made.append((name, notebook))
        _write_notebook(out / "executed" / f"{name}.ipynb", notebook.cells)
        parts = [{"id": part, "model": model, "kind": "loss", "status": "passed", "points": 1.0,
                  "max_points": 1.0, "fingerprint": model_fingerprint(notebook.models[model])}
                 for part, model in (("vmogZ", "linear"), ("i8bgs", "MLP")) if model in notebook.models]
        result = {"learner": name, "assignment": "mnist_digits", "status": "graded", "total": 2.0,
                  "max_total": 5.0, "threads": 1, "parts": parts, "errors": [], "notes": []}
        (out / "results" / f"{name}.json").write_text(json.dumps(result), encoding="utf-8")
    return truth
