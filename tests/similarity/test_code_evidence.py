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


def _pairs(report, kind="learner"):
    return {tuple(sorted((p.first, p.second))): p for p in report.pairs if p.second_kind == kind}


def test_every_copy_is_paired_and_nothing_else(report):
    expected = {tuple(sorted(pair)) for pair in EXPECTED["pairs"]}
    assert set(_pairs(report)) == expected
    paired = {name for pair in _pairs(report) for name in pair}
    for learner in EXPECTED["never_paired"] + EXPECTED["honest_obvious"]:
        assert learner not in paired, learner


def test_the_disguised_copy_shows_its_fragments_side_by_side(report):
    pair = _pairs(report)[("ada", "bruno")]
    assert pair.code.score >= 0.9 and pair.code.rarity == 1.0
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
    corpus = {p.first: p.second for p in report.pairs if p.second_kind == "corpus"}
    assert corpus == EXPECTED["corpus"]
    pair = _pairs(report, "corpus")[("carla", "public_solution.py")]
    # the .py file's side names its lines (no cells); the learner's side names cells
    assert all(span.cell == 0 and span.lines for f in pair.code.fragments for span in f.second)
    assert all(span.cell > 0 for f in pair.code.fragments for span in f.first)


def test_three_learners_sharing_one_source_are_one_group(report):
    assert len(report.clusters) == 1
    cluster = report.clusters[0]
    assert cluster.learners == sorted(EXPECTED["cluster"]) and cluster.corpus == ["public_solution.py"]
    assert all(p.cluster == cluster.number for p in report.pairs if p.first in cluster.learners)


def test_the_partial_copy_is_found_in_the_mlp_section(report):
    pair = _pairs(report)[("dmitri", "emma")]
    assert pair.code.score >= Thresholds().code
    # dmitri wrote his own linear model: only part of his code is emma's
    assert pair.code.score_first < 0.9
    mlp_cell = 16  # the MLP's gap is the template's 16th code cell
    assert {span.cell for f in pair.code.fragments for span in f.first} == {mlp_cell}
    largest = max(pair.code.fragments, key=lambda f: f.tokens)
    assert [s.cell for s in largest.first] == [mlp_cell] and [s.cell for s in largest.second] == [mlp_cell]
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
    report = similarity_report(out, settings=CodeSettings(common_min=5))
    assert report.common_above == 5
    assert report.pairs == []
    everything = Thresholds(code=0.01, code_with_model=1, corpus_code=1, min_weight=1)
    low = similarity_report(out, settings=CodeSettings(common_min=5), thresholds=everything, write=False)
    assert low.pairs and not [f for p in low.pairs for f in p.code.fragments
                              if any("shuffled_batches" in line for s in f.first for line in s.lines)]
    # in two notebooks only, the same helper is a shared fragment
    lay_out_class(tmp_path / "two", {n: notebooks[n] for n in ("farid", "greta")})
    two = similarity_report(tmp_path / "two", thresholds=everything, write=False)
    assert [(p.first, p.second) for p in two.pairs] == [("farid", "greta")]
    shared = [line for f in two.pairs[0].code.fragments for s in f.first for line in s.lines]
    assert any("shuffled_batches" in line for line in shared)


def test_the_report_files(graded_class, report):
    with open(graded_class / "similarity.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(report.pairs)
    assert [int(r["rank"]) for r in rows] == list(range(1, len(rows) + 1))
    assert {(r["first"], r["second"], r["second_kind"]) for r in rows} == \
        {(p.first, p.second, p.second_kind) for p in report.pairs}
    html = (graded_class / "similarity.html").read_text(encoding="utf-8")
    assert "evidence for a person to judge, never a verdict" in html
    assert "corpus file <code>public_solution.py</code>" in html
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
    run = _cli(graded_class, "--corpus", FIXTURES / "corpus")
    assert run.returncode == 0, run.stderr
    assert "ada <-> bruno" in run.stdout and "carla <-> corpus public_solution.py" in run.stdout
    assert "evidence for a person to judge" in run.stdout
    for args, message in (((tmp_path / "nothing",), "does not exist"),
                          ((tmp_path,), "holds no result files: run grader grade first"),
                          ((graded_class, "--corpus", tmp_path / "none"), "--corpus:"),
                          ((graded_class, "--code", "1.5"), "--code: must be between 0 and 1"),
                          ((graded_class, "--guarantee", "10"), "--guarantee: must be at least --noise")):
        bad = _cli(*args)
        assert bad.returncode == 2, (args, bad.stdout, bad.stderr)
        lines = bad.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (args, bad.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nothing"] or not (tmp_path / "nothing").exists()
