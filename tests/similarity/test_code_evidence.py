"""The similarity report on the fixture class (tools/make_similarity_fixtures.py): code evidence.

No kernel: the class is laid out as ``grader grade`` leaves it (``OUT/executed/LEARNER.ipynb``,
``OUT/results/LEARNER.json``), from the fixture notebooks; the ungradable one has a result and no
re-run notebook, as after a real batch.  What each fixture is: the generator's docstring.
"""
from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from grader.report.html import write_reports
from grader.results import SubmissionResult, write_atomic
from grader.similarity import CodeSettings, Thresholds, similarity_report
from tests.conftest import ROOT

FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())


def lay_out_class(out: Path, notebooks: dict[str, Path | None]) -> None:
    """OUT as grader grade leaves it: a result per learner, a re-run notebook per gradable one."""
    for learner, notebook in notebooks.items():
        status = "graded" if notebook is not None else "ungradable"
        result = SubmissionResult(learner=learner, assignment="mnist_digits", status=status,
                                  submission=f"{learner}.ipynb")
        write_atomic(out / "results" / f"{learner}.json", result.to_json())
        if notebook is not None:
            (out / "executed").mkdir(parents=True, exist_ok=True)
            shutil.copy(notebook, out / "executed" / f"{learner}.ipynb")


def fixture_class() -> dict[str, Path | None]:
    notebooks = {}
    for path in sorted((FIXTURES / "class").glob("*.ipynb")):
        try:
            nbformat.read(path, as_version=4)
            notebooks[path.stem] = path
        except Exception:  # not a notebook: grader grade marks it ungradable and runs nothing
            notebooks[path.stem] = None
    return notebooks


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    lay_out_class(out, fixture_class())
    return out


@pytest.fixture(scope="module")
def report(graded_class):
    return similarity_report(graded_class, corpus=FIXTURES / "corpus")


def _marked(report, kind="learner"):
    """The pairs that stand out, by their two names (sorted for learners)."""
    return {(tuple(sorted((p.first, p.second))) if kind == "learner" else (p.first, p.second)): p
            for p in report.pairs if p.second_kind == kind and p.stands_out}


def _listed(report):
    return {tuple(sorted((p.first, p.second))): p for p in report.pairs if p.second_kind == "learner"}


def test_the_copies_stand_out_and_nothing_else(report):
    expected = {tuple(sorted(pair)) for pair in EXPECTED["pairs"]}
    assert set(_marked(report)) == expected
    assert {first: second for first, second in _marked(report, "corpus")} == EXPECTED["corpus"]
    marked = {name for pair in _marked(report) for name in pair} | {first for first, _ in _marked(report, "corpus")}
    for learner in EXPECTED["never_marked"] + EXPECTED["honest_obvious"]:
        assert learner not in marked, learner
    # every mark says why, in measured facts
    for pair in report.standing_out:
        assert "code is in" in pair.why and "spreads above the class's typical pair" in pair.why, pair.why
    assert not [p for p in report.pairs if not p.stands_out and p.why]


def test_the_list_is_ranked_and_the_marks_lead_it(report):
    ranks = [p.rank for p in report.pairs]
    assert ranks == sorted(ranks) and ranks[0] == 1 and len(report.pairs) == Thresholds().top
    similarities = [p.similarity for p in report.pairs]
    assert similarities == sorted(similarities, reverse=True)
    # here every pair that stands out is closer than every pair that does not
    marks = [p.stands_out for p in report.pairs]
    assert marks == sorted(marks, reverse=True) and sum(marks) == 13
    honest = [p for p in report.pairs if not p.stands_out]
    d = report.distribution
    assert max(p.spreads for p in honest) < d.stands_out <= min(p.spreads for p in report.standing_out)
    assert d.pairs == report.scored == 19 * 18 // 2 + 19 * 4  # 19 learners with code, 4 corpus files


def test_short_copies_stand_out_with_their_shares(report):
    """The issue's case: copies of short solutions (19 lines), names renamed, comments rewritten,
    a section's cells merged into one, prints added, of a learner and of a corpus file.  The fixed
    rules before missed quinn's (32 fingerprints in common, 76% of hers in pia's notebook)."""
    pair = _listed(report)[("pia", "quinn")]
    assert pair.stands_out and pair.rank <= 12
    share = {pair.first: pair.code.share_first, pair.second: pair.code.share_second}
    assert share["pia"] >= 0.95           # the copy holds (nearly) all of its source
    assert 0.6 < share["quinn"] < 0.9     # merged cells and her prints: fingerprints pia's has not
    corpus = _marked(report, "corpus")[("rosa", "short_solution.ipynb")]
    assert corpus.rank <= 12 and corpus.code.share_second >= 0.95 and corpus.code.share_first < 0.9
    for short in (pair, corpus):
        assert any("dense" in line for f in short.code.fragments for s in f.first + f.second for line in s.lines)


def test_three_notebooks_sharing_whole_cells_are_one_cluster(report):
    """Two learners and a public Colab notebook share the placeholder and MLP cells token for token,
    an argument nobody else wrote included; their linear models are their own."""
    pair = _marked(report)[("sami", "tariq")]
    assert 0.3 < pair.code.share_first < 0.7 and 0.3 < pair.code.share_second < 0.7
    assert "are in only one or two other notebooks" in pair.why and "in no other notebook" not in pair.why
    shared = "\n".join(line for f in pair.code.fragments for s in f.first for line in s.lines)
    assert "glorot_normal_initializer(seed=7)" in shared and "RMSPropOptimizer" not in shared
    rare = [f for f in pair.code.fragments if any("seed=7" in line for s in f.first for line in s.lines)]
    assert rare and all(f.others == 1 for f in rare)  # the third notebook is the corpus file


def test_the_disguised_copy_shows_its_fragments_side_by_side(report):
    pair = _listed(report)[("ada", "bruno")]
    assert pair.rank == 1 and pair.code.overlap >= 0.99 and pair.code.unique > 200
    fragments = pair.code.fragments
    assert fragments
    # ada's training loop (her cell 18) is in bruno's notebook under other names, in another cell
    # (he moved a cell up and merged two): found with both places.
    places = [(span.cell, s2.cell) for f in fragments for span in f.first for s2 in f.second]
    assert any(a != b for a, b in places)
    for fragment in fragments:
        for span in fragment.first + fragment.second:
            assert span.cell >= 1 and 1 <= span.first <= span.last and span.lines
    text_ada = "\n".join(line for f in fragments for s in f.first for line in s.lines)
    text_bruno = "\n".join(line for f in fragments for s in f.second for line in s.lines)
    assert "iterate_minibatches" in text_ada and "batches" in text_bruno
    assert "iterate_minibatches" not in text_bruno


def test_corpus_matches_name_the_corpus_file(report):
    pair = _marked(report, "corpus")[("carla", "public_solution.py")]
    # the .py file's side names its lines (no cells); the learner's side names cells
    assert all(span.cell == 0 and span.lines for f in pair.code.fragments for span in f.second)
    assert all(span.cell > 0 for f in pair.code.fragments for span in f.first)


def test_learners_sharing_one_source_are_clusters(report):
    found = [{"learners": c.learners, "corpus": c.corpus} for c in report.clusters]
    assert found == EXPECTED["clusters"]
    for cluster in report.clusters:
        assert all(p.cluster == cluster.number for p in report.standing_out if p.first in cluster.learners)


def test_the_partial_copy_is_found_in_the_mlp_section(report):
    pair = _marked(report)[("dmitri", "emma")]
    # dmitri wrote his own linear model: only part of his code is emma's
    assert pair.code.share_first < 0.9 and pair.code.share_second < 0.9
    mlp_cell = 16  # the MLP's gap is the template's 16th code cell
    largest = max(pair.code.fragments, key=lambda f: f.lines)
    assert [s.cell for s in largest.first] == [mlp_cell] and [s.cell for s in largest.second] == [mlp_cell]
    assert largest.lines >= 15 and largest.others == 0
    assert any("def layer" in line for s in largest.first for line in s.lines)
    assert any("def fully_connected" in line for s in largest.second for line in s.lines)


def test_template_empty_and_ungradable_notebooks_are_listed_not_compared(report):
    assert set(report.not_compared) == {"hana", "ivan", "jules"}
    assert "no re-run notebook" in report.not_compared["jules"]
    assert "template" in report.not_compared["hana"]
    assert report.compared == report.learners - 3


def test_code_the_class_has_in_common_is_not_evidence(tmp_path):
    """Eight honest learners paste the same helper (a course version we do not have): common."""
    helper = '''def shuffled_batches(features, labels, size, seed=0):
    """Course helper of an older edition: batches in a random order."""
    order = np.random.RandomState(seed).permutation(len(features))
    for start in range(0, len(features), size):
        picked = order[start:start + size]
        yield features[picked], labels[picked]
for features, labels in shuffled_batches(X_train_flat, y_train_oh, 128):
    print(features.shape, labels.shape)
    break
'''
    notebooks = {}
    for name in ("farid", "greta", "nina", "omar", "emma", "ada", "kai", "hana"):
        notebook = nbformat.read(FIXTURES / "class" / f"{name}.ipynb", as_version=4)
        notebook.cells.insert(12, nbformat.v4.new_code_cell(helper))
        path = tmp_path / "in" / f"{name}.ipynb"
        path.parent.mkdir(exist_ok=True)
        nbformat.write(notebook, path)
        notebooks[name] = path
    out = tmp_path / "out"
    lay_out_class(out, notebooks)
    report = similarity_report(out, write=False)
    assert report.standing_out == [] and report.pairs
    # every one of the eight has it: it weighs nothing and is shown in no fragment
    assert not [f for p in report.pairs for f in p.code.fragments
                if any("shuffled_batches" in line for s in f.first for line in s.lines)]
    # in two notebooks only, the same helper is a shared fragment that no other notebook has
    lay_out_class(tmp_path / "two", {n: notebooks[n] for n in ("farid", "greta")})
    two = similarity_report(tmp_path / "two", write=False)
    assert [(p.first, p.second) for p in two.pairs] == [("farid", "greta")]
    helper_fragments = [f for f in two.pairs[0].code.fragments
                        if any("shuffled_batches" in line for s in f.first for line in s.lines)]
    assert helper_fragments and helper_fragments[0].others == 0


def test_short_solutions_written_alike_by_a_whole_class_do_not_stand_out():
    """Twelve learners write the hints' obvious lines, each with one line of their own, and two of
    them add the same rare line: the obvious lines are the class's, and only what is rare counts."""
    from grader.similarity.code import CodeIndex
    from grader.similarity.documents import build_document
    from grader.similarity.evidence import Distribution

    obvious = ["W = tf.get_variable('W', shape=(784, 10))", "b = tf.get_variable('b', shape=(10,))",
               "input_X = tf.placeholder(tf.float32, shape=(None, 784))",
               "input_y = tf.placeholder(tf.float32, shape=(None, 10))", "logits = input_X @ W + b",
               "probas = tf.nn.softmax(logits)", "classes = tf.argmax(probas, 1)",
               "loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=input_y, logits=logits))"]
    documents = []
    for number in range(12):
        own = [f"step = tf.train.AdamOptimizer({number + 2}e-4).minimize(loss)"]
        if number in (3, 7):
            own.append("hidden = tf.layers.dense(input_X, 77, activation=tf.nn.softplus, use_bias=False)")
        documents.append(build_document(f"l{number}", ["\n".join(obvious), "\n".join(own)]))
    index = CodeIndex(documents, settings=CodeSettings(workers=1))
    scores = index.scores()
    assert len(scores) == 66
    distribution = Distribution.of(scores.similarity, Thresholds())
    top = max(range(len(scores)), key=lambda k: scores.similarity[k])
    assert {documents[scores.first[top]].name, documents[scores.second[top]].name} == {"l3", "l7"}
    # The obvious lines weigh nothing: every pair shares them in full, and the typical pair shares
    # nothing else (a few share a digit of their learning rates: "2e-4" is in "12e-4").
    assert distribution.typical == 0
    assert sum(distribution.spreads(s) >= distribution.stands_out for s in scores.similarity) == 1
    match = index.compare(scores.first[top], scores.second[top])
    assert match.unique >= 1 and match.shared > match.unique
    assert match.share_first == match.share_second and match.share_first < 0.8


def test_the_report_files(graded_class, report):
    with open(graded_class / "similarity.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(report.pairs)
    assert [int(r["rank"]) for r in rows] == [p.rank for p in report.pairs]
    assert {(r["first"], r["second"], r["second_kind"], r["stands_out"]) for r in rows} == \
        {(p.first, p.second, p.second_kind, "yes" if p.stands_out else "") for p in report.pairs}
    assert all(r["why"] for r in rows if r["stands_out"]) and not any(r["why"] for r in rows if not r["stands_out"])
    html = (graded_class / "similarity.html").read_text(encoding="utf-8")
    assert "evidence for a person to judge, never a verdict" in html
    assert "corpus file <code>public_solution.py</code>" in html
    assert html.count('data-stands-out="yes"') == len(report.standing_out)
    assert html.count('<tr class="ranked') == len(report.pairs)
    assert "dmitri: cell 16, lines 2-19" in html and "emma: cell 16, lines 2-19" in html


def test_feedback_pages_show_nothing_of_another_learner(graded_class, report):
    results = [SubmissionResult.from_json(p.read_text()) for p in (graded_class / "results").glob("*.json")]
    write_reports(results, graded_class, assignment_title="MNIST")
    summary = (graded_class / "summary.html").read_text(encoding="utf-8")
    assert 'href="similarity.html"' in summary
    learners = [r.learner for r in results]
    for result in results:
        page = (graded_class / "feedback" / f"{result.learner}.html").read_text(encoding="utf-8")
        assert "similarity" not in page.lower()
        assert not [other for other in learners if other != result.learner and f">{other}<" in page]


def test_the_summary_links_the_report_only_when_there_is_one(tmp_path):
    lay_out_class(tmp_path, {"farid": FIXTURES / "class" / "farid.ipynb"})
    results = [SubmissionResult.from_json((tmp_path / "results" / "farid.json").read_text())]
    write_reports(results, tmp_path)
    assert "similarity" not in (tmp_path / "summary.html").read_text(encoding="utf-8")


def _cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "grader", "similarity", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_command_line(graded_class, tmp_path):
    run = _cli(graded_class, "--corpus", FIXTURES / "corpus", "--top", "20")
    assert run.returncode == 0, run.stderr
    assert "   1. ada <-> bruno: similarity" in run.stdout
    assert "carla <-> corpus public_solution.py" in run.stdout and "STANDS OUT: 100% of" in run.stdout
    assert "13 pair(s) standing out, 2 cluster(s), 20 closest pair(s) listed of 247" in run.stdout
    assert "evidence for a person to judge" in run.stdout
    for args, message in (((tmp_path / "nothing",), "does not exist"),
                          ((tmp_path,), "holds no result files: run grader grade first"),
                          ((graded_class, "--corpus", tmp_path / "none"), "--corpus:"),
                          ((graded_class, "--model-weight", "1.5"), "--model-weight: must be between 0 and 1"),
                          ((graded_class, "--stands-out", "0"), "--stands-out: must be more than 0"),
                          ((graded_class, "--guarantee", "10"), "--guarantee: must be at least --noise")):
        bad = _cli(*args)
        assert bad.returncode == 2, (args, bad.stdout, bad.stderr)
        lines = bad.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (args, bad.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nothing"] or not (tmp_path / "nothing").exists()
