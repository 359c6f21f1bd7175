"""Rewrite the reports of a results folder from its result files and corrections log.

``grader report`` rebuilds them all; an override or a rescore rewrites the
gradebook, the summary and the feedback pages of the learners it changed.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from ..exceptions import UsageError
from ..results import SubmissionResult, load_results


@dataclass
class Rebuilt:
    """What :func:`rebuild_reports` wrote from."""

    results: list[SubmissionResult]
    summary: Path


def rebuild_reports(out: str | Path, *, title: str = "", learners: Iterable[str] | None = None,
                    results: list[SubmissionResult] | None = None) -> Rebuilt:
    """Rewrite ``gradebook.csv``/``.json``, ``summary.html`` and the feedback pages of ``learners``
    (every learner: None) of ``out``; ``title`` heads the pages (default: the assignment id).

    Raises :class:`grader.exceptions.UsageError` when ``out`` holds no result file.
    """
    from .html import write_reports
    from .table import write_gradebook

    out = Path(out)
    results = load_results(out) if results is None else results
    if not results:
        raise UsageError(f"{out}/results/ holds no result files: run grader grade first",
                         argument="out", value=str(out))
    write_gradebook(results, out)
    summary = write_reports(results, out, assignment_title=title or results[0].assignment,
                            learners=learners)
    return Rebuilt(results=results, summary=summary)
