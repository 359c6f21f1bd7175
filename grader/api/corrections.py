"""Course staff's corrections as library calls: override, clear, rescore - then the reports.

Each call records its events in the corrections log of the results folder
(:mod:`grader.corrections`; result files are never edited) and rewrites what is
computed from it: ``gradebook.csv`` / ``gradebook.json``, the feedback pages of
the learners concerned and ``summary.html``.  Posting the new versions is the
next ``grader post`` run (it sends only the grades that changed).

::

    from grader.api import corrections
    corrections.override("results", "alice", "RMv95", points=1, reason="regrade accepted")
    corrections.rescore("results")          # after editing reference/NAME/thresholds.toml
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

from ..assignments import find_assignment, load_assignment
from ..exceptions import CorrectionError, GraderError
from ..corrections.log import Event
from ..corrections.overrides import (Listed, clear_override, graded_results, overrides_in_force,
                               results_folder, set_override)
from ..corrections.rescore import RescoreReport
from ..specs.model import Assignment


def override(out: str | Path, learner: str, part: str, *, points: float, reason: str,
             by: str | None = None, reports: bool = True) -> Event:
    """Set ``learner``'s ``part`` to ``points`` for ``reason``; returns the recorded event.

    Raises :class:`CorrectionError` (nothing written) for an unknown learner or
    part, points outside 0..the part's maximum, or an empty reason.
    """
    event = set_override(out, learner=learner, part=part, points=points, reason=reason, by=by)
    if reports:
        refresh_reports(out, learners=[learner])
    return event


def clear(out: str | Path, learner: str, part: str, *, reason: str = "", by: str | None = None,
          reports: bool = True) -> Event:
    """Withdraw the override of ``learner``'s ``part``: the grader's verdict counts again."""
    event = clear_override(out, learner=learner, part=part, reason=reason, by=by)
    if reports:
        refresh_reports(out, learners=[learner])
    return event


def list_overrides(out: str | Path) -> list[Listed]:
    """Every override in force in ``out``."""
    results_folder(out)
    return overrides_in_force(out)


def rescore(out: str | Path, *, assignment: Assignment | str | Path | None = None,
            by: str | None = None, reason: str = "", force: bool = False,
            reports: bool = True) -> RescoreReport:
    """Judge the stored measurements of ``out`` again under the current thresholds.toml.

    No notebook runs.  ``assignment``: by default the folder the latest ``grader grade``
    into ``out`` used (its journal), else the one the results name, found like
    ``grader grade`` finds it.  Results already judged with the current
    thresholds are left alone unless ``force``.  Every change is recorded
    (:mod:`grader.corrections.rescore`); the reports are rewritten when a verdict changed.
    """
    from ..corrections.rescore import judge_again

    results = graded_results(out)
    if not results:
        raise CorrectionError(f"{out}/results/ holds no result files: run grader grade first",
                              path=str(out))
    assignment = _assignment(assignment, results, out)
    report = judge_again(out, assignment=assignment, results=results, by=by, reason=reason,
                             force=force)
    if reports and report.judged:
        changed = {change.learner for change in report.changed}
        refresh_reports(out, learners=changed, results=results, title=assignment.title)
    return report


def refresh_reports(out: str | Path, *, learners: Iterable[str] | None = None,
                    results: list | None = None, title: str = "") -> None:
    """Rewrite the gradebook, ``summary.html`` and the feedback pages of ``learners`` (all: None)."""
    from ..report.rebuild import rebuild_reports

    results = graded_results(out) if results is None else results
    if results:
        rebuild_reports(out, title=title or _title(Path(out), results[0].assignment), learners=learners,
                        results=results)


def _assignment(assignment: Assignment | str | Path | None, results: list,
                out: str | Path) -> Assignment:
    """The given assignment; else the folder the batch was graded with; else the results' id."""
    if isinstance(assignment, Assignment):
        return assignment
    if assignment is not None:
        return find_assignment(assignment)
    ids = sorted({result.assignment for result in results})
    if len(ids) > 1:
        raise CorrectionError(f"the results are of several assignments ({', '.join(ids)}): "
                              f"choose one with --assignment")
    folder = _graded_with(Path(out), ids[0])
    return load_assignment(folder) if folder is not None else find_assignment(ids[0])


def _graded_with(out: Path, assignment_id: str) -> Path | None:
    """The assignment folder of the latest `grader grade` into ``out`` (its journal), if it exists."""
    journal = out / "journal.jsonl"
    folder = None
    for line in journal.read_text(encoding="utf-8").splitlines() if journal.is_file() else []:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == "batch" and event.get("assignment") == assignment_id and \
                event.get("assignment_folder"):
            folder = Path(event["assignment_folder"])
    return folder if folder is not None and folder.is_dir() else None


def _title(out: Path, assignment_id: str) -> str:
    """The title ``grader grade`` gave the pages; the id when the assignment is not here."""
    try:
        folder = _graded_with(out, assignment_id)
        found = load_assignment(folder) if folder is not None else find_assignment(assignment_id)
        return found.title or assignment_id
    except GraderError:
        return assignment_id
