"""``grader similarity OUT``: the instructor's similarity report of a graded class.

Reads what ``grader grade`` wrote (``OUT/results/*.json`` for the model
fingerprints, ``OUT/executed/*.ipynb`` for the code, whose sources are the
submitted ones), scores every pair of learners and every learner with every
file of a corpus of known solutions, ranks them, marks the pairs that stand
out from the class (:mod:`grader.similarity.evidence`), groups identical
models, and writes ``OUT/similarity.html`` and ``OUT/similarity.csv``.  Both
are instructor files: no learner page links to them or shows anything of them.

It is evidence for a person to judge, never a verdict: nothing here changes a
grade.
"""
from __future__ import annotations

import datetime
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..exceptions import GraderError, SimilarityError
from ..results import SubmissionResult, write_atomic
from ..specs.model import Assignment
from ..textutil import csv_text, safe_name
from .code import CodeIndex, CodeSettings
from .documents import CORPUS, LEARNER, Document, corpus_documents, learner_document, template_code, template_lines
from .evidence import Cluster, Distribution, Pair, Thresholds, clusters, judge
from .models import ModelEvidence, rare_up_to

HTML_FILE, CSV_FILE = "similarity.html", "similarity.csv"
CSV_COLUMNS = ["rank", "first", "second", "second_kind", "similarity", "spreads", "stands_out", "share_first",
               "share_second", "shared_fingerprints", "in_no_other_notebook", "fragments", "shared_models",
               "cluster", "why"]
# Learner ids (from file names), corpus names, model names and the sentence naming them: text a
# spreadsheet must not run.
CSV_TEXT_COLUMNS = ("first", "second", "second_kind", "shared_models", "why")


@dataclass
class SimilarityReport:
    """What ``grader similarity`` found and wrote."""

    pairs: list[Pair]                  # the listed pairs, closest first (those that stand out among them)
    clusters: list[Cluster]
    model_groups: list
    learners: int
    compared: int                      # learners with code to compare
    corpus_files: int
    distribution: Distribution | None = None
    not_compared: dict[str, str] = field(default_factory=dict)   # learner -> why
    scored: int = 0                    # pairs scored
    seconds: float = 0.0
    html: Path | None = None
    csv: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def standing_out(self) -> list[Pair]:
        return [pair for pair in self.pairs if pair.stands_out]


def check_corpus(corpus: str | Path | None) -> Path | None:
    """The corpus folder, or a :class:`GraderError` saying what to fix (before any grading)."""
    if corpus is None:
        return None
    folder = Path(corpus)
    if not folder.is_dir():
        raise SimilarityError(f"{corpus} is not a folder; give a folder of notebooks or .py files",
                              option="--corpus")
    if not any(p.suffix in (".ipynb", ".py") for p in folder.rglob("*") if p.is_file()):
        raise SimilarityError(f"{corpus} holds no .ipynb or .py file", option="--corpus")
    return folder


def similarity_report(out: str | Path, *, corpus: str | Path | None = None,
                      assignment: Assignment | str | Path | None = None,
                      settings: CodeSettings = CodeSettings(), thresholds: Thresholds = Thresholds(),
                      results: list[SubmissionResult] | None = None, write: bool = True) -> SimilarityReport:
    """Compare a graded class (``out``: the ``--out`` folder of ``grader grade``); write the report.

    ``assignment`` gives the template whose code is left out (default: the one the results
    name, when it can be found).  ``results`` saves reading ``out/results`` again.
    """
    import numpy as np

    started = time.monotonic()
    out = Path(out)
    corpus_folder = check_corpus(corpus)
    if results is None:
        from ..results import load_results

        if not out.is_dir():
            raise SimilarityError(f"{out} does not exist: give the --out folder of grader grade")
        results = load_results(out)
    if not results:
        raise SimilarityError(f"{out}/results/ holds no result files: run grader grade first")
    notes: list[str] = []
    template = _template(assignment, results, notes)
    keys = template_lines(template)
    documents: list[Document] = [learner_document(r.learner, out / "executed" / f"{safe_name(r.learner)}.ipynb",
                                                  template=keys) for r in results]
    not_compared = {d.name: d.note for d in documents if d.empty}
    corpus_docs = corpus_documents(corpus_folder, template=keys) if corpus_folder else []
    documents += corpus_docs
    index = CodeIndex(documents, template_text="\n".join(template_code(template)), settings=settings)
    models = ModelEvidence(results, rare_up_to=rare_up_to(len(results)))

    scores = index.scores()
    distribution = Distribution.of(scores.similarity, thresholds)
    order = np.lexsort((scores.second, scores.first, -scores.similarity))  # closest first, ties by name order
    rank = np.empty(len(order), dtype=int)
    rank[order] = np.arange(1, len(order) + 1)
    # The listed pairs, and every pair close enough to stand out with a rare model in common.
    candidates = set(order[:thresholds.top].tolist())
    candidates.update(np.nonzero(scores.similarity >= distribution.similarity_at(distribution.with_model))[0].tolist())
    pairs = []
    for k in sorted(candidates, key=lambda k: rank[k]):
        i, j = int(scores.first[k]), int(scores.second[k])
        if documents[i].kind == CORPUS:
            i, j = j, i
        first, second = documents[i], documents[j]
        pair = Pair(first=first.name, second=second.name, second_kind=second.kind,
                    code=index.compare(i, j, fragments=False), rank=int(rank[k]),
                    models=models.shared(first.name, second.name) if second.kind == LEARNER else [])
        judge(pair, distribution, thresholds)
        if pair.rank <= thresholds.top or pair.stands_out:
            pair.code = index.compare(i, j)  # the fragments side by side, only for what is shown
            pairs.append(pair)
    groups = clusters(pairs)
    if len(results) - len(not_compared) < 3 and not corpus_docs:
        notes.append("fewer than three learners with code: no class to measure a pair against")
    report = SimilarityReport(
        pairs=pairs, clusters=groups, model_groups=models.groups, learners=len(results),
        compared=len(results) - len(not_compared), corpus_files=len(corpus_docs), distribution=distribution,
        not_compared=not_compared, scored=len(scores), notes=notes)
    report.seconds = round(time.monotonic() - started, 2)
    if write:
        report.csv, report.html = out / CSV_FILE, out / HTML_FILE
        write_atomic(report.csv, _csv(report))
        write_atomic(report.html, _html(report, settings=settings, thresholds=thresholds,
                                        title=results[0].assignment, corpus=corpus_folder))
    return report


def _template(assignment, results: list[SubmissionResult], notes: list[str]) -> Path | None:
    """The assignment's template notebook, or None (with a note) when it cannot be found."""
    from ..assignments import find_assignment

    if not isinstance(assignment, Assignment):
        try:
            assignment = find_assignment(assignment or results[0].assignment)
        except GraderError as exc:
            if assignment is not None:
                raise
            notes.append(f"the assignment's template was not found ({exc}): only fragments common "
                         f"to the class are left out")
            return None
    path = assignment.template_path
    if not path.is_file():
        notes.append(f"the template {path} does not exist: only fragments common to the class are left out")
        return None
    return path


def _models_text(pair: Pair) -> str:
    return "; ".join(f"{g.model}: {g.size} of {g.among} learners" for g in pair.models)


def _csv(report: SimilarityReport) -> str:
    rows = []
    for pair in report.pairs:
        code = pair.code
        rows.append([pair.rank, pair.first, pair.second, pair.second_kind, f"{pair.similarity:.3f}",
                     f"{pair.spreads:.1f}", "yes" if pair.stands_out else "", f"{code.share_first:.3f}",
                     f"{code.share_second:.3f}", code.shared, code.unique, len(code.fragments),
                     _models_text(pair), pair.cluster or "", pair.why])
    return csv_text(CSV_COLUMNS, rows, text_columns=CSV_TEXT_COLUMNS, lineterminator="\n")


def _html(report: SimilarityReport, *, settings: CodeSettings, thresholds: Thresholds, title: str,
          corpus: Path | None) -> str:
    from ..report.html import render_page

    return render_page(
        "similarity.html.j2", heading=title, report=report, settings=settings, thresholds=thresholds,
        corpus=str(corpus) if corpus else "",
        written=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
