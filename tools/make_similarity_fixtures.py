"""Generate the similarity fixtures: a small class and a corpus of known solutions.

Run from the repository root: .venv/bin/python tools/make_similarity_fixtures.py

Written from the patterns of real learners' notebooks (docs: REAL_NOTEBOOKS.md):
TF1 code, the template's cells kept and its gaps filled, the training loop
copied into the MLP section, debug prints, extra cells.  Nothing here is a
collected notebook.  Writes ``tests/similarity/fixtures/class/`` (one notebook
per learner, as ``grader grade`` re-runs them into ``OUT/executed/``),
``tests/similarity/fixtures/corpus/`` and ``expected.json`` (what the report
must and must not pair).

The class:

=========  =================================================================
ada        an original solution with a style of its own
bruno      ada disguised: 20+ names renamed, cells merged and reordered,
           comments rewritten, reformatted (spaces, line breaks, quotes)
emma       an original solution (hand-made dense layers in the MLP)
dmitri     his own linear model; the MLP section copied from emma, renamed
farid      an independent solution (Keras layers, tanh, momentum)
greta      an independent solution (contrib layers, sparse loss, Adagrad)
carla      the corpus file public_solution.py pasted in
kai        the same corpus file, names renamed
lena       the same corpus file, cells merged and reformatted
nina, omar the obvious solution (the markdown's hints), written independently
hana       the template as handed out
ivan       an empty notebook (markdown only)
jules      not a notebook (a text file named .ipynb)
pia        a short solution (19 lines of her own), a few touches of her own
quinn      pia disguised: names renamed, comments rewritten, quotes and
           spacing changed, the linear model's three cells merged into one and
           the MLP's cell into the training cell, two debug prints added
           (outputs cleared)
           (the fixed rules this report had before missed it: 32 fingerprints
           in common, 76% of the copy's in the original)
rosa       the corpus file short_solution.ipynb (as short) disguised alike,
           a print of her own added
sami,      their own linear models; the placeholder and MLP cells pasted
tariq      token for token from the corpus file colab_solution.py, with an
           argument nobody else wrote (as three real notebooks did)
uma, vic,  short honest solutions converging on the obvious lines, each with
wes        a touch of its own (brackets, TF1's dim=, own sizes)
=========  =================================================================

Short solutions are what most learners of this assignment write (15-25 lines):
a copy of one shares few fingerprints, and honest learners share many of the
same obvious lines; the report weighs rarity and ranks pairs against the class
for them.
"""
from __future__ import annotations

import io
import json
import re
import tokenize
from pathlib import Path

import nbformat as nbf

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "assignments" / "mnist_digits" / "template.ipynb"
OUT = ROOT / "tests" / "similarity" / "fixtures"
GAPS = (13, 14, 15)        # template cells with the linear model's gaps
MLP_GAP = 21               # the MLP's gap
TRAIN, MLP_TRAIN = 16, 22  # the training loops

ADA_PARAMS = '''# weights start small and random, as in the lecture on initialisation
W = tf.Variable(tf.random_normal([784, 10], stddev=0.01), name="weights")
b = tf.Variable(tf.zeros([10]), name="bias")'''
ADA_INPUTS = '''input_X = tf.placeholder("float32", shape=[None, 784], name="pixels")
input_y = tf.placeholder("float32", shape=[None, 10], name="onehot")'''
ADA_MODEL = '''logits = tf.add(tf.matmul(input_X, W), b, name="logits")
probas = tf.nn.softmax(logits, name="probas")
classes = tf.argmax(probas, axis=-1, name="classes")
per_example = tf.nn.softmax_cross_entropy_with_logits_v2(labels=input_y, logits=logits)
loss = tf.reduce_mean(per_example, name="xent")
learning_rate = 0.003
optimizer = tf.train.AdamOptimizer(learning_rate=learning_rate, beta1=0.85)
step = optimizer.minimize(loss)'''
ADA_HELPER = '''def iterate_minibatches(inputs, targets, batchsize, shuffle=True):
    """Yield (inputs, targets) batches; reshuffled every epoch."""
    indices = np.arange(len(inputs))
    if shuffle:
        np.random.shuffle(indices)
    for start_idx in range(0, len(inputs) - batchsize + 1, batchsize):
        excerpt = indices[start_idx:start_idx + batchsize]
        yield inputs[excerpt], targets[excerpt]'''
ADA_TRAIN = '''s.run(tf.global_variables_initializer())
history = {"train": [], "val": []}
for epoch in range(25):
    epoch_losses = [s.run([step, loss], {input_X: xb, input_y: yb})[1]
                    for xb, yb in iterate_minibatches(X_train_flat, y_train_oh, 256)]
    history["train"].append(np.mean(epoch_losses))
    history["val"].append(s.run(loss, {input_X: X_val_flat, input_y: y_val_oh}))
    if epoch % 5 == 4:
        print("epoch %2d: train %.4f val %.4f" % (epoch, history["train"][-1], history["val"][-1]))'''
ADA_MLP = '''s = reset_tf_session()
input_X = tf.placeholder("float32", shape=[None, 784], name="pixels")
input_y = tf.placeholder("float32", shape=[None, 10], name="onehot")
hidden_sizes = [384, 128]
layer = input_X
for depth, width in enumerate(hidden_sizes):
    layer = tf.layers.dense(layer, width, activation=tf.nn.elu, name="hidden%d" % depth)
    layer = tf.layers.dropout(layer, rate=0.1)
logits = tf.layers.dense(layer, 10, name="out")
probas = tf.nn.softmax(logits)
classes = tf.argmax(probas, axis=-1)
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=input_y, logits=logits))
penalty = tf.add_n([tf.nn.l2_loss(v) for v in tf.trainable_variables() if "kernel" in v.name])
loss = loss + 1e-4 * penalty
step = tf.train.AdamOptimizer(learning_rate=0.002).minimize(loss)
print("parameters:", sum(np.prod(v.shape.as_list()) for v in tf.trainable_variables()))'''

EMMA_PARAMS = '''W = tf.get_variable("W", shape=(784, 10), initializer=tf.contrib.layers.xavier_initializer())
b = tf.get_variable("b", shape=(10,), initializer=tf.zeros_initializer())'''
EMMA_INPUTS = '''input_X = tf.placeholder(tf.float32, shape=(None, 784))
input_y = tf.placeholder(tf.float32, shape=(None, 10))'''
EMMA_MODEL = '''logits = input_X @ W + b
probas = tf.nn.softmax(logits)
classes = tf.argmax(probas, 1)
loss = tf.losses.softmax_cross_entropy(onehot_labels=input_y, logits=logits)
step = tf.train.AdamOptimizer(1e-3).minimize(loss)'''
EMMA_MLP = '''s = reset_tf_session()
input_X = tf.placeholder(tf.float32, shape=(None, 784))
input_y = tf.placeholder(tf.float32, shape=(None, 10))

def fully_connected(x, n_in, n_out, name, act=None):
    w = tf.get_variable(name + "_w", [n_in, n_out], initializer=tf.truncated_normal_initializer(stddev=0.05))
    bias = tf.get_variable(name + "_b", [n_out], initializer=tf.constant_initializer(0.1))
    z = tf.matmul(x, w) + bias
    return act(z) if act is not None else z

h1 = fully_connected(input_X, 784, 512, "h1", tf.nn.relu)
h2 = fully_connected(h1, 512, 256, "h2", tf.nn.relu)
logits = fully_connected(h2, 256, 10, "out")
probas = tf.nn.softmax(logits)
classes = tf.argmax(probas, 1)
loss = tf.losses.softmax_cross_entropy(onehot_labels=input_y, logits=logits)
global_step = tf.Variable(0, trainable=False)
rate = tf.train.exponential_decay(0.0005, global_step, 1000, 0.9, staircase=True)
step = tf.train.RMSPropOptimizer(rate, decay=0.95).minimize(loss, global_step=global_step)'''

DMITRI_PARAMS = '''W = tf.Variable(np.zeros((784, 10)), dtype=tf.float32)
b = tf.Variable(np.zeros(10), dtype=tf.float32)
input_X = tf.placeholder(tf.float32, [None, 784])
input_y = tf.placeholder(tf.float32, [None, 10])'''
DMITRI_MODEL = '''probas = tf.nn.softmax(tf.matmul(input_X, W) + b)
logits = tf.log(probas)
classes = tf.argmax(probas, axis=1)
loss = tf.reduce_mean(-tf.reduce_sum(input_y * tf.log(probas + 1e-9), axis=1))
step = tf.train.GradientDescentOptimizer(0.5).minimize(loss)'''

FARID_PARAMS = '''W = tf.get_variable("W", [784, 10], tf.float32, tf.zeros_initializer())
b = tf.get_variable("b", [10], tf.float32, tf.zeros_initializer())'''
FARID_INPUTS = '''input_X = tf.placeholder(dtype=tf.float32, shape=[None, 28 * 28], name="X")
input_y = tf.placeholder(dtype=tf.float32, shape=[None, 10], name="y")'''
FARID_MODEL = '''logits = tf.nn.bias_add(tf.tensordot(input_X, W, axes=1), b)
probas = tf.exp(logits) / tf.reduce_sum(tf.exp(logits), axis=1, keepdims=True)
classes = tf.math.argmax(logits, axis=1)
loss = -tf.reduce_mean(tf.reduce_sum(input_y * tf.nn.log_softmax(logits), axis=1))
step = tf.train.MomentumOptimizer(learning_rate=0.05, momentum=0.9, use_nesterov=True).minimize(loss)'''
FARID_MLP = '''s = reset_tf_session()
input_X = tf.placeholder(dtype=tf.float32, shape=[None, 28 * 28], name="X")
input_y = tf.placeholder(dtype=tf.float32, shape=[None, 10], name="y")
net = tf.keras.layers.Dense(200, activation="tanh")(input_X)
net = tf.keras.layers.Dense(200, activation="tanh")(net)
net = tf.keras.layers.Dense(100, activation="tanh")(net)
logits = tf.keras.layers.Dense(10)(net)
probas = tf.exp(logits) / tf.reduce_sum(tf.exp(logits), axis=1, keepdims=True)
classes = tf.math.argmax(logits, axis=1)
loss = -tf.reduce_mean(tf.reduce_sum(input_y * tf.nn.log_softmax(logits), axis=1))
step = tf.train.MomentumOptimizer(learning_rate=0.02, momentum=0.95).minimize(loss)'''

GRETA_PARAMS = '''W = tf.Variable(tf.truncated_normal(shape=[784, 10], mean=0.0, stddev=0.1, seed=7))
b = tf.Variable(tf.constant(0.05, shape=[10]))'''
GRETA_INPUTS = '''input_X = tf.placeholder(tf.float32, shape=(None, X_train_flat.shape[1]))
input_y = tf.placeholder(tf.float32, shape=(None, y_train_oh.shape[1]))
labels = tf.argmax(input_y, axis=1)'''
GRETA_MODEL = '''logits = tf.matmul(input_X, W) + b
probas = tf.nn.softmax(logits)
classes = tf.argmax(probas, axis=1)
loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
step = tf.train.AdagradOptimizer(learning_rate=0.3, initial_accumulator_value=0.05).minimize(loss)'''
GRETA_MLP = '''s = reset_tf_session()
input_X = tf.placeholder(tf.float32, shape=(None, X_train_flat.shape[1]))
input_y = tf.placeholder(tf.float32, shape=(None, y_train_oh.shape[1]))
labels = tf.argmax(input_y, axis=1)
out = input_X
for _ in range(3):
    out = tf.contrib.layers.fully_connected(out, 128, activation_fn=tf.nn.leaky_relu)
logits = tf.contrib.layers.fully_connected(out, 10, activation_fn=None)
probas = tf.nn.softmax(logits)
classes = tf.argmax(probas, axis=1)
loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
step = tf.train.AdagradOptimizer(learning_rate=0.1).minimize(loss)'''

OBVIOUS_LINEAR = ('''W = tf.get_variable("W", shape=(784, 10), dtype=tf.float32)
b = tf.get_variable("b", shape=(10,), dtype=tf.float32)''', '''input_X = tf.placeholder(tf.float32, shape=(None, 784))
input_y = tf.placeholder(tf.float32, shape=(None, 10))''', '''logits = input_X @ W + b
probas = tf.nn.softmax(logits)
classes = tf.argmax(probas, 1)
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=logits, labels=input_y))
step = tf.train.AdamOptimizer().minimize(loss)''')
OBVIOUS_MLP = '''s = reset_tf_session()
input_X = tf.placeholder(tf.float32, shape=(None, 784))
input_y = tf.placeholder(tf.float32, shape=(None, 10))
hidden1 = tf.layers.dense(input_X, 256, activation=tf.nn.sigmoid)
hidden2 = tf.layers.dense(hidden1, 256, activation=tf.nn.sigmoid)
logits = tf.layers.dense(hidden2, 10)
probas = tf.nn.softmax(logits)
classes = tf.argmax(probas, 1)
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=logits, labels=input_y))
step = tf.train.AdamOptimizer().minimize(loss)'''
# omar: the same hints, his own order and spelling
OMAR_LINEAR = ('''W = tf.get_variable(name="W", shape=[784, 10])
b = tf.get_variable(name="b", shape=[10])''', '''input_X = tf.placeholder(shape=[None, 784], dtype=tf.float32)
input_y = tf.placeholder(shape=[None, 10], dtype=tf.float32)''', '''logits = tf.matmul(input_X, W) + b
probas = tf.nn.softmax(logits)
classes = tf.argmax(probas, axis=1)
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=input_y, logits=logits))
step = tf.train.AdamOptimizer(learning_rate=0.001).minimize(loss)''')
OMAR_MLP = '''s = reset_tf_session()
input_X = tf.placeholder(shape=[None, 784], dtype=tf.float32)
input_y = tf.placeholder(shape=[None, 10], dtype=tf.float32)
hidden1 = tf.layers.dense(input_X, 256, activation=tf.nn.relu)
hidden2 = tf.layers.dense(hidden1, 128, activation=tf.nn.relu)
logits = tf.layers.dense(hidden2, 10)
probas = tf.nn.softmax(logits)
classes = tf.argmax(probas, axis=1)
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=input_y, logits=logits))
step = tf.train.AdamOptimizer(learning_rate=0.001).minimize(loss)'''

# Short solutions: the linear model's three gaps and the MLP's, 19 lines in all.
PIA = ('''W = tf.get_variable("W", shape=[784, 10], initializer=tf.random_normal_initializer(stddev=0.02))
b = tf.get_variable("b", shape=[10], initializer=tf.zeros_initializer())''', '''input_X = tf.placeholder(tf.float32, [None, 784])
input_y = tf.placeholder(tf.float32, [None, 10])''', '''logits = tf.matmul(input_X, W) + b
probas = tf.nn.softmax(logits)
classes = tf.argmax(probas, axis=1)
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=input_y, logits=logits))
step = tf.train.AdamOptimizer(learning_rate=0.004).minimize(loss)''')
PIA_MLP = '''s = reset_tf_session()
input_X = tf.placeholder(tf.float32, [None, 784])
input_y = tf.placeholder(tf.float32, [None, 10])
hidden1 = tf.layers.dense(input_X, 320, activation=tf.nn.relu)
hidden2 = tf.layers.dense(hidden1, 160, activation=tf.nn.relu)
logits = tf.layers.dense(hidden2, 10)
probas = tf.nn.softmax(logits)
classes = tf.argmax(probas, axis=1)
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=input_y, logits=logits))
step = tf.train.AdamOptimizer(learning_rate=0.004).minimize(loss)'''
SHORT_PUBLIC = ('''W = tf.Variable(tf.truncated_normal([784, 10], stddev=0.05))
b = tf.Variable(tf.constant(0.05, shape=[10]))''', '''input_X = tf.placeholder("float32", shape=[None, 784])
input_y = tf.placeholder("float32", shape=[None, 10])''', '''logits = tf.add(tf.matmul(input_X, W), b)
probas = tf.nn.softmax(logits)
classes = tf.argmax(probas, 1)
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=logits, labels=input_y))
step = tf.train.GradientDescentOptimizer(0.3).minimize(loss)''')
SHORT_PUBLIC_MLP = '''s = reset_tf_session()
input_X = tf.placeholder("float32", shape=[None, 784])
input_y = tf.placeholder("float32", shape=[None, 10])
hidden1 = tf.layers.dense(input_X, 200, activation=tf.nn.tanh)
hidden2 = tf.layers.dense(hidden1, 100, activation=tf.nn.tanh)
logits = tf.layers.dense(hidden2, 10)
probas = tf.nn.softmax(logits)
classes = tf.argmax(probas, 1)
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=logits, labels=input_y))
step = tf.train.MomentumOptimizer(0.05, momentum=0.9).minimize(loss)'''
# A Colab notebook published as a .py file; two learners pasted its placeholder and MLP cells token
# for token, glorot_normal_initializer(seed=7) included (nobody else wrote that argument).
COLAB_INPUTS = '''input_X = tf.placeholder(dtype=tf.float32, shape=(None, 784), name="input_X")
input_y = tf.placeholder(dtype=tf.float32, shape=(None, 10), name="input_y")'''
COLAB_LINEAR = ('''W = tf.get_variable("W", shape=(784, 10), initializer=tf.glorot_normal_initializer(seed=7))
b = tf.get_variable("b", shape=(10,), initializer=tf.zeros_initializer())''', COLAB_INPUTS, '''logits = input_X @ W + b
probas = tf.nn.softmax(logits)
classes = tf.argmax(probas, 1)
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=input_y, logits=logits))
step = tf.train.AdamOptimizer(0.002).minimize(loss)''')
COLAB_MLP = '''s = reset_tf_session()
''' + COLAB_INPUTS + '''
hidden1 = tf.layers.dense(input_X, 256, activation=tf.nn.relu, kernel_initializer=tf.glorot_normal_initializer(seed=7))
hidden2 = tf.layers.dense(hidden1, 256, activation=tf.nn.relu, kernel_initializer=tf.glorot_normal_initializer(seed=7))
logits = tf.layers.dense(hidden2, 10)
probas = tf.nn.softmax(logits)
classes = tf.argmax(probas, 1)
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=input_y, logits=logits))
step = tf.train.AdamOptimizer(0.002).minimize(loss)'''
COLAB_HEADER = '''%tensorflow_version 1.x
! wget -q https://raw.githubusercontent.com/example/intro-to-dl/master/setup_google_colab.py -O setup_google_colab.py
import setup_google_colab
setup_google_colab.setup_week2()'''
SAMI = ('''W = tf.Variable(tf.random_normal([784, 10], stddev=0.03))
b = tf.Variable(tf.zeros([10]))''', COLAB_INPUTS, '''logits = tf.matmul(input_X, W) + b
probas = tf.nn.softmax(logits)
classes = tf.argmax(probas, axis=1)
loss = tf.losses.softmax_cross_entropy(input_y, logits)
step = tf.train.GradientDescentOptimizer(0.4).minimize(loss)''')
TARIQ = ('''W = tf.get_variable("W", [784, 10], dtype=tf.float32, initializer=tf.zeros_initializer())
b = tf.get_variable("b", [10], dtype=tf.float32, initializer=tf.zeros_initializer())''', COLAB_INPUTS, '''logits = tf.nn.xw_plus_b(input_X, W, b)
probas = tf.nn.softmax(logits)
classes = tf.arg_max(logits, 1)
loss = -tf.reduce_mean(tf.reduce_sum(input_y * tf.nn.log_softmax(logits), axis=1))
step = tf.train.RMSPropOptimizer(0.001).minimize(loss)''')
# Honest short solutions: the obvious lines, each with something of its own.
UMA = ('''W = tf.get_variable("W", shape=[784, 10])
b = tf.get_variable("b", shape=[10])''', '''input_X = tf.placeholder(tf.float32, shape=[None, 784])
input_y = tf.placeholder(tf.float32, shape=[None, 10])''', '''logits = input_X @ W + b
probas = tf.nn.softmax(logits)
classes = tf.argmax(probas, axis=1)
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=input_y, logits=logits))
step = tf.train.AdamOptimizer(1e-3).minimize(loss)''')
UMA_MLP = '''s = reset_tf_session()
input_X = tf.placeholder(tf.float32, shape=[None, 784])
input_y = tf.placeholder(tf.float32, shape=[None, 10])
hidden1 = tf.layers.dense(input_X, 256, activation=tf.nn.sigmoid)
hidden2 = tf.layers.dense(hidden1, 128, activation=tf.nn.sigmoid)
logits = tf.layers.dense(hidden2, 10)
probas = tf.nn.softmax(logits)
classes = tf.argmax(probas, axis=1)
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=input_y, logits=logits))
step = tf.train.AdamOptimizer(1e-3).minimize(loss)'''
VIC = ('''W = tf.get_variable("W", [784, 10])
b = tf.get_variable("b", [10])''', '''input_X = tf.placeholder("float", [None, 784])
input_y = tf.placeholder("float", [None, 10])''', '''logits = tf.matmul(input_X, W) + b
probas = tf.nn.softmax(logits)
classes = tf.argmax(logits, 1)
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=input_y, logits=logits))
step = tf.train.AdamOptimizer(0.001).minimize(loss)''')
VIC_MLP = '''s = reset_tf_session()
input_X = tf.placeholder("float", [None, 784])
input_y = tf.placeholder("float", [None, 10])
hidden1 = tf.layers.dense(input_X, 512, activation=tf.nn.relu)
hidden2 = tf.layers.dense(hidden1, 256, activation=tf.nn.relu)
logits = tf.layers.dense(hidden2, 10)
probas = tf.nn.softmax(logits)
classes = tf.argmax(logits, 1)
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=input_y, logits=logits))
step = tf.train.AdamOptimizer(0.001).minimize(loss)'''
WES = ('''W = tf.Variable(np.random.randn(784, 10) * 0.01, dtype=tf.float32)
b = tf.Variable(np.zeros((1, 10)), dtype=tf.float32)''', '''input_X = tf.placeholder(tf.float32, shape=(None, 784))
input_y = tf.placeholder(tf.float32, shape=(None, 10))''', '''logits = tf.matmul(input_X, W) + b
probas = tf.nn.softmax(logits, dim=1)
classes = tf.arg_max(probas, 1)
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=input_y, logits=logits, dim=1))
step = tf.train.AdamOptimizer().minimize(loss)''')
WES_MLP = '''s = reset_tf_session()
input_X = tf.placeholder(tf.float32, shape=(None, 784))
input_y = tf.placeholder(tf.float32, shape=(None, 10))
hidden1 = tf.layers.dense(input_X, 300, activation=tf.nn.elu)
hidden2 = tf.layers.dense(hidden1, 100, activation=tf.nn.elu)
logits = tf.layers.dense(hidden2, 10)
probas = tf.nn.softmax(logits, dim=1)
classes = tf.arg_max(probas, 1)
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=input_y, logits=logits, dim=1))
step = tf.train.AdamOptimizer().minimize(loss)'''

# A public solution as nbconvert exports it (.py with "# In[ ]:" markers), TF 1.x.
CORPUS_PARAMS = '''W = tf.get_variable("W", [784, 10], initializer=tf.random_normal_initializer(stddev=0.1))
b = tf.get_variable("b", [10], initializer=tf.constant_initializer(0.0))'''
CORPUS_INPUTS = '''input_X = tf.placeholder(tf.float32, [None, 784], name="input_X")
input_y = tf.placeholder(tf.float32, [None, 10], name="input_y")'''
CORPUS_MODEL = '''logits = tf.matmul(input_X, W) + b
probas = tf.nn.softmax(logits)
classes = tf.argmax(probas, axis=1)
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=input_y, logits=logits))
optimizer = tf.train.AdamOptimizer(learning_rate=0.001, epsilon=1e-6)
step = optimizer.minimize(loss)'''
CORPUS_MLP = '''s = reset_tf_session()
input_X = tf.placeholder(tf.float32, [None, 784], name="input_X")
input_y = tf.placeholder(tf.float32, [None, 10], name="input_y")
is_training = tf.placeholder_with_default(False, shape=())
hidden1 = tf.layers.dense(input_X, 512, activation=tf.nn.relu, kernel_initializer=tf.variance_scaling_initializer())
hidden1 = tf.layers.dropout(hidden1, rate=0.2, training=is_training)
hidden2 = tf.layers.dense(hidden1, 256, activation=tf.nn.relu, kernel_initializer=tf.variance_scaling_initializer())
hidden2 = tf.layers.dropout(hidden2, rate=0.2, training=is_training)
logits = tf.layers.dense(hidden2, 10)
probas = tf.nn.softmax(logits)
classes = tf.argmax(probas, axis=1)
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=input_y, logits=logits))
step = tf.train.AdamOptimizer(learning_rate=0.0007, epsilon=1e-6).minimize(loss)'''
CORPUS_OTHER = '''import tensorflow as tf
import numpy as np
model = tf.keras.Sequential([tf.keras.layers.Flatten(input_shape=(28, 28)),
                             tf.keras.layers.Dense(128, activation="relu"),
                             tf.keras.layers.Dense(10, activation="softmax")])
model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(X_train, y_train, epochs=12, validation_data=(X_val, y_val))
print(model.evaluate(X_test, y_test))'''


def template_cells():
    return nbf.read(TEMPLATE, as_version=4).cells


def solution(linear: tuple[str, str, str], mlp: str, *, extra: dict[int, list[str]] = None,
             replace: dict[int, str] = None) -> list:
    """The template with its gaps filled: ``extra`` adds code cells after a template cell."""
    cells = []
    for index, cell in enumerate(template_cells()):
        cell = nbf.v4.new_code_cell(cell.source) if cell.cell_type == "code" else \
            nbf.v4.new_markdown_cell(cell.source)
        if index in GAPS:
            cell.source = linear[GAPS.index(index)]
        elif index == MLP_GAP:
            cell.source = mlp
        elif replace and index in replace:
            cell.source = replace[index]
        cells.append(cell)
        for source in (extra or {}).get(index, []):
            cells.append(nbf.v4.new_code_cell(source))
    return cells


# --- disguises -------------------------------------------------------------------------------

def rename(source: str, names: dict[str, str], *, requote: bool = False, comments: str = "") -> str:
    """Rename variables as an editor's rename does (not attributes, not keyword arguments), and
    optionally swap "double" quotes for 'single' ones and rewrite every comment; the code is
    written back with tokenize's own spacing (another formatting)."""
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
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
        out.append((token.type, text))  # untokenize's compatible mode: its own spacing
        if token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT):
            previous = token.string
    return tokenize.untokenize(out)


def disguise(cells: list, names: dict[str, str], *, merge: tuple[int, int] | None = None) -> list:
    out = []
    for cell in cells:
        if cell.cell_type == "code":
            cell = nbf.v4.new_code_cell(rename(cell.source, names, requote=True, comments="my notes"))
        else:
            cell = nbf.v4.new_markdown_cell(cell.source)
        out.append(cell)
    if merge:
        first, second = merge
        out[first].source += "\n\n" + out[second].source
        del out[second]
    return out


def merged(cells: list, *runs: tuple[int, ...]) -> list:
    """Each run of adjacent cells (indices in ``cells``) merged into its first cell, as a learner
    who pastes a whole section into one cell does."""
    out = [nbf.v4.new_code_cell(c.source) if c.cell_type == "code" else nbf.v4.new_markdown_cell(c.source)
           for c in cells]
    gone = set()
    for run in runs:
        for index in run[1:]:
            out[run[0]].source += "\n" + out[index].source
            gone.add(index)
    return [cell for index, cell in enumerate(out) if index not in gone]


def write(path: Path, cells: list) -> None:
    notebook = nbf.v4.new_notebook()
    notebook.cells = cells
    for number, cell in enumerate(cells):  # ids of their own: regenerating changes nothing unchanged
        cell["id"] = f"{path.stem}-{number}"
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbf.write(notebook, path)


def write_py(path: Path, cells: list) -> None:
    """A notebook as nbconvert exports it to a .py file (``# In[ ]:`` markers, markdown as comments)."""
    lines = ["#!/usr/bin/env python", "# coding: utf-8", ""]
    for cell in cells:
        if cell.cell_type == "code":
            source = re.sub(r"^%(\w+) ?(.*)$", r"get_ipython().run_line_magic('\1', '\2')", cell.source, flags=re.M)
            source = re.sub(r"^! ?(.*)$", r"get_ipython().system('\1')", source, flags=re.M)
            lines += ["# In[ ]:", "", source, "", ""]
        else:
            lines += ["# " + line for line in cell.source.splitlines()] + [""]
    path.write_text("\n".join(lines), encoding="utf-8")


def main() -> None:
    klass, corpus = OUT / "class", OUT / "corpus"
    for folder in (klass, corpus):
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.rglob("*"):
            if old.is_file():
                old.unlink()

    ada = solution((ADA_PARAMS, ADA_INPUTS, ADA_MODEL), ADA_MLP, replace={TRAIN: ADA_TRAIN, MLP_TRAIN: ADA_TRAIN},
                   extra={12: [ADA_HELPER]})
    write(klass / "ada.ipynb", ada)
    ada_names = {"W": "weights", "b": "bias", "per_example": "losses_each", "learning_rate": "lr",
                 "optimizer": "opt", "history": "log", "epoch": "ep", "epoch_losses": "batch_costs",
                 "xb": "batch_x", "yb": "batch_y", "iterate_minibatches": "batches", "inputs": "data",
                 "targets": "answers", "batchsize": "size", "shuffle": "mix", "indices": "order",
                 "start_idx": "begin", "excerpt": "chunk", "hidden_sizes": "widths", "layer": "h",
                 "depth": "i", "width": "units", "penalty": "reg", "v": "var", "s": "sess"}
    bruno = disguise(ada, ada_names, merge=(14, 15))
    # the helper moved up beside the imports, the loss cell's order kept: cells reordered
    helper = bruno.pop(13)
    bruno.insert(3, helper)
    write(klass / "bruno.ipynb", bruno)

    emma = solution((EMMA_PARAMS, EMMA_INPUTS, EMMA_MODEL), EMMA_MLP)
    write(klass / "emma.ipynb", emma)
    dmitri_mlp = rename(EMMA_MLP, {"fully_connected": "layer", "h1": "a1", "h2": "a2", "z": "pre",
                                   "rate": "lr", "global_step": "counter", "act": "activation"})
    write(klass / "dmitri.ipynb", solution((DMITRI_PARAMS, "", DMITRI_MODEL), dmitri_mlp))
    write(klass / "farid.ipynb", solution((FARID_PARAMS, FARID_INPUTS, FARID_MODEL), FARID_MLP))
    write(klass / "greta.ipynb", solution((GRETA_PARAMS, GRETA_INPUTS, GRETA_MODEL), GRETA_MLP,
                                          extra={16: ["print(s.run(loss, {input_X: X_val_flat, input_y: y_val_oh}))"]}))
    write(klass / "nina.ipynb", solution(OBVIOUS_LINEAR, OBVIOUS_MLP))
    write(klass / "omar.ipynb", solution(OMAR_LINEAR, OMAR_MLP))

    public = solution((CORPUS_PARAMS, CORPUS_INPUTS, CORPUS_MODEL), CORPUS_MLP)
    write_py(corpus / "public_solution.py", public)
    write(corpus / "another_repo" / "keras_version.ipynb", [nbf.v4.new_code_cell(CORPUS_OTHER)])
    write(klass / "carla.ipynb", public)
    write(klass / "kai.ipynb", disguise(public, {"W": "w_out", "b": "b_out", "hidden1": "layer_a",
                                                 "hidden2": "layer_b", "is_training": "train_mode",
                                                 "optimizer": "adam"}))
    lena = [nbf.v4.new_code_cell(c.source) if c.cell_type == "code" else nbf.v4.new_markdown_cell(c.source)
            for c in public]
    lena[13].source = "\n".join([lena[13].source, lena[14].source, lena[15].source])
    del lena[14:16]
    write(klass / "lena.ipynb", [nbf.v4.new_code_cell(rename(c.source, {}, requote=True))
                                 if c.cell_type == "code" else c for c in lena])

    # Short solutions (the case): a copy of a learner, a copy of a corpus file, and two
    # learners who pasted whole cells of a public Colab notebook.
    pia = solution(PIA, PIA_MLP)
    write(klass / "pia.ipynb", pia)
    short_names = {"W": "weights", "b": "bias", "hidden1": "layer1", "hidden2": "layer2", "logits": "scores"}
    quinn = merged(disguise(pia, short_names), (13, 14, 15), (21, 22))
    quinn[13].source = quinn[13].source.replace("\ninput_X", "\nprint(weights.shape, bias.shape)\ninput_X", 1)
    quinn[19].source = quinn[19].source.replace("\nprobas", "\nprint(scores)\nprobas", 1)
    write(klass / "quinn.ipynb", quinn)
    short = solution(SHORT_PUBLIC, SHORT_PUBLIC_MLP)
    write(corpus / "short_solution.ipynb", short)
    rosa = merged(disguise(short, short_names), (13, 14, 15), (21, 22))
    rosa[13].source = rosa[13].source.replace("\ninput_X", "\nprint(weights)\ninput_X", 1)
    rosa[19].source = rosa[19].source.replace("\nprobas", "\nprint(scores.shape)\nprobas", 1)
    rosa[14].source += '\nprint("accuracy", accuracy_score(y_val, s.run(classes, {input_X: X_val_flat})))'
    write(klass / "rosa.ipynb", rosa)
    colab = [nbf.v4.new_code_cell(COLAB_HEADER)] + solution(COLAB_LINEAR, COLAB_MLP)
    write_py(corpus / "colab_solution.py", colab)
    write(klass / "sami.ipynb", solution(SAMI, COLAB_MLP))
    write(klass / "tariq.ipynb", [nbf.v4.new_code_cell(COLAB_HEADER)] + solution(TARIQ, COLAB_MLP))
    write(klass / "uma.ipynb", solution(UMA, UMA_MLP))
    write(klass / "vic.ipynb", solution(VIC, VIC_MLP))
    write(klass / "wes.ipynb", solution(WES, WES_MLP))

    write(klass / "hana.ipynb", template_cells())
    write(klass / "ivan.ipynb", [nbf.v4.new_markdown_cell("I could not get it to work, sorry.")])
    (klass / "jules.ipynb").write_text("this is my homework, see attached", encoding="utf-8")

    expected = {
        # pairs of learners that must stand out (a copy and its source, or two copies of one source)
        "pairs": [["ada", "bruno"], ["dmitri", "emma"], ["carla", "kai"], ["carla", "lena"], ["kai", "lena"],
                  ["pia", "quinn"], ["sami", "tariq"]],
        # learner -> the corpus file their pair with must stand out
        "corpus": {"carla": "public_solution.py", "kai": "public_solution.py", "lena": "public_solution.py",
                   "rosa": "short_solution.ipynb", "sami": "colab_solution.py", "tariq": "colab_solution.py"},
        "clusters": [{"learners": ["carla", "kai", "lena"], "corpus": ["public_solution.py"]},
                     {"learners": ["sami", "tariq"], "corpus": ["colab_solution.py"]}],
        "never_marked": ["farid", "greta", "hana", "ivan", "jules"],
        "honest_obvious": ["nina", "omar", "uma", "vic", "wes"],
    }
    (OUT / "expected.json").write_text(json.dumps(expected, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
