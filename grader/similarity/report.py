"""``grader similarity OUT``: the instructor's similarity report of a graded class.

Reads what ``grader grade`` wrote (``OUT/results/*.json`` for the model
fingerprints, ``OUT/executed/*.ipynb`` for the code, whose sources are the
submitted ones), compares the code of every learner with every other's and
with a corpus of known solutions, groups identical models, and writes
``OUT/similarity.html`` and ``OUT/similarity.csv``.  Both are instructor files:
no learner page links to them or shows anything of them.

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
from .documents import CORPUS, LEARNER, Document, code_cells, corpus_documents, learner_document, template_lines
from .evidence import Cluster, Pair, Thresholds, clusters, reported
from .models import ModelEvidence

HTML_FILE, CSV_FILE = "similarity.html", "similarity.csv"
CSV_COLUMNS = ["rank", "first", "second", "second_kind", "evidence", "code_score", "overlap_first",
               "overlap_second", "rarity", "shared_fingerprints", "fragments", "shared_models", "cluster"]
# Learner ids (from file names), corpus names and model names: text a spreadsheet must not run.
CSV_TEXT_COLUMNS = ("first", "second", "second_kind", "shared_models")


@dataclass
class SimilarityReport:
    """What ``grader similarity`` found and wrote."""

    pairs: list[Pair]
    clusters: list[Cluster]
    model_groups: list
    learners: int
    compared: int                      # learners with code to compare
    corpus_files: int
    not_compared: dict[str, str] = field(default_factory=dict)   # learner -> why
    common_above: int = 0
    rare_up_to: int = 0
    candidates: int = 0
    seconds: float = 0.0
    html: Path | None = None
    csv: Path | None = None
    notes: list[str] = field(default_factory=list)


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
    template_text = "\n".join(code_cells(template) or []) if template else ""
    index = CodeIndex(documents, template_text=template_text, settings=settings)
    models = ModelEvidence(results, rare_up_to=index.rare_up_to)

    pairs: dict[tuple[str, str, str], Pair] = {}
    # Pairs whose code cannot reach the lowest threshold are not compared (half of it: the bound
    # from shared fingerprints is rough).
    lowest = min(thresholds.code, thresholds.code_with_model, thresholds.corpus_code) / 2
    candidates = index.candidates(at_least=lowest)
    for i, j in candidates:
        first, second = documents[i], documents[j]
        if first.kind == CORPUS:
            first, second, i, j = second, first, j, i
        match = index.compare(i, j, fragments=False)
        pair = Pair(first=first.name, second=second.name, second_kind=second.kind, code=match,
                    models=models.shared(first.name, second.name) if second.kind == LEARNER else [])
        pairs[(pair.first, pair.second, pair.second_kind)] = pair
    chosen = sorted((p for p in pairs.values() if reported(p, thresholds)),
                    key=lambda p: (-p.evidence, p.first, p.second))
    position = {d.name if d.kind == LEARNER else "corpus:" + d.name: k for k, d in enumerate(documents)}
    for pair in chosen:  # side-by-side fragments only for what is shown
        if pair.code is not None:
            i = position[pair.first]
            j = position[pair.second if pair.second_kind == LEARNER else "corpus:" + pair.second]
            pair.code = index.compare(i, j)
    groups = clusters(chosen)
    report = SimilarityReport(
        pairs=chosen, clusters=groups, model_groups=models.groups, learners=len(results),
        compared=len(results) - len(not_compared), corpus_files=len(corpus_docs), not_compared=not_compared,
        common_above=index.common_above, rare_up_to=index.rare_up_to, candidates=len(candidates),
        notes=notes)
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
    for rank, pair in enumerate(report.pairs, start=1):
        code = pair.code
        rows.append([rank, pair.first, pair.second, pair.second_kind, f"{pair.evidence:.3f}",
                     f"{pair.code_score:.3f}", f"{code.score_first:.3f}" if code else "",
                     f"{code.score_second:.3f}" if code else "", f"{code.rarity:.3f}" if code else "",
                     code.shared if code else 0, len(code.fragments) if code else 0,
                     _models_text(pair), pair.cluster or ""])
    return csv_text(CSV_COLUMNS, rows, text_columns=CSV_TEXT_COLUMNS, lineterminator="\n")


def _html(report: SimilarityReport, *, settings: CodeSettings, thresholds: Thresholds, title: str,
          corpus: Path | None) -> str:
    from ..report.html import render_page

    return render_page(
        "similarity.html.j2", heading=title, report=report, settings=settings, thresholds=thresholds,
        corpus=str(corpus) if corpus else "",
        written=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
