"""How far out a pair lies in its class (grader.similarity.evidence) and what fingerprints see
(grader.similarity.code): no notebooks on disk, no kernel."""
from __future__ import annotations

import pytest

from grader.similarity import CodeSettings, Thresholds
from grader.similarity.code import CodeIndex, normalise
from grader.similarity.documents import build_document
from grader.similarity.evidence import GROWTH, MIN_SPREAD, REFERENCE_PAIRS, Distribution


def test_the_typical_pair_the_spread_and_the_mark_grow_with_the_pairs():
    thresholds = Thresholds(stands_out=8, with_model=5)
    values = [0.1] * 51 + [0.2] * 49 + [0.9]
    d = Distribution.of(values, thresholds)
    assert d.pairs == 101 and d.typical == pytest.approx(0.1)
    assert d.spread == pytest.approx(MIN_SPREAD)  # half the pairs at the median: the spread's floor
    d = Distribution.of([0.1, 0.2, 0.3, 0.4, 0.5] * 20, thresholds)
    assert d.typical == pytest.approx(0.3) and d.spread == pytest.approx(1.4826 * 0.1)
    assert d.spreads(0.3 + 2 * d.spread) == pytest.approx(2) and d.similarity_at(2) == pytest.approx(0.3 + 2 * d.spread)
    assert (d.stands_out, d.with_model) == (8, 5)  # up to REFERENCE_PAIRS: as set
    many = Distribution.of([0.1, 0.2, 0.3] * (REFERENCE_PAIRS * 10 // 3), thresholds)  # ten times as many
    assert GROWTH * 2.3026 == pytest.approx(1.73, abs=0.01)
    assert many.stands_out == pytest.approx(8 + 1.73, abs=0.01) and many.with_model == pytest.approx(5 + 1.73, abs=0.01)
    assert Distribution.of([], thresholds).pairs == 0


def test_the_learners_names_are_normalised_the_librarys_are_kept():
    first, _, lines = normalise("hidden1 = tf.layers.dense(input_X, 256, activation=tf.nn.relu)  # mine\n"
                                "W = tf.Variable(tf.zeros([784, 10]), name='W')")
    assert first == 'V=V.layers.dense(V,256,activation=V.nn.relu)V=V.Variable(V.zeros([784,10]),name="S")'
    assert lines == ["V=V.layers.dense(V,256,activation=V.nn.relu)", 'V=V.Variable(V.zeros([784,10]),name="S")']
    renamed, _, _ = normalise("layer_a = tf.layers.dense(pixels , 256, activation = tf.nn.relu)\n"
                              'weights = tf.Variable(tf.zeros([784, 10]), name="W")  # other comment')
    assert renamed == first  # other names, spacing, quotes and comments: the same code
    elu, _, _ = normalise("hidden1 = tf.layers.dense(input_X, 256, activation=tf.nn.elu)")
    assert elu != first.split("V=V.Variable")[0]  # another activation is another line


def _document(name, cells):
    return build_document(name, ["\n".join(cell) for cell in cells])


LINES = ["W = tf.Variable(tf.truncated_normal([784, 10], stddev=0.07))",
         "b = tf.Variable(tf.constant(0.3, shape=[10]))",
         "input_X = tf.placeholder('float32', shape=[None, 784])",
         "logits = tf.nn.xw_plus_b(input_X, W, b)",
         "step = tf.train.RMSPropOptimizer(0.0007, decay=0.8).minimize(loss)"]


def test_lines_in_another_order_and_merged_cells_still_match():
    original = _document("a", [LINES[:2], LINES[2:]])
    shuffled = _document("b", [[LINES[4], LINES[1], LINES[3], LINES[0], LINES[2]]])
    other = _document("c", [["W = tf.get_variable('W', shape=(784, 10))", "b = tf.get_variable('b', shape=(10,))"]])
    index = CodeIndex([original, shuffled, other], settings=CodeSettings(workers=1))
    match = index.compare(0, 1)
    # every line is found; the k-grams across the lines' ends are not (they were cut by the moves)
    assert 0.5 < match.share_first < 1 and match.unique >= 5
    assert index.compare(0, 2).shared == 0
    lines = sorted(line for f in match.fragments for s in f.first for line in s.lines)
    assert lines == sorted(LINES)


def test_a_fingerprint_every_notebook_has_weighs_nothing_one_of_two_weighs_one():
    common = ["probas = tf.nn.softmax(logits_of_all_learners)"]
    documents = [_document(f"l{n}", [common + ([LINES[0]] if n < 2 else [f"x = {n} * 12345678"])])
                 for n in range(5)]
    index = CodeIndex(documents, settings=CodeSettings(workers=1))
    everyone = set.intersection(*(index.fingerprints[i].hashes for i in range(5)))
    assert everyone and all(index.weight(h) == 0 for h in everyone)
    pair = index.fingerprints[0].hashes & index.fingerprints[1].hashes
    assert pair - everyone and all(index.weight(h) == 1 for h in pair - everyone)
    assert all(index.others(h) == 0 for h in pair - everyone)
