"""The public entry points: check one notebook, grade a folder of them.

Each submission goes through :func:`grader.orchestrate.grade_notebook`; a
batch writes one result file per submission (atomically) as soon as it is
graded, then the gradebook.  A submission that fails is a row, never an abort.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

from .assignments import find_assignment
from .data import resolve_all
from .orchestrate import GradeOptions, grade_notebook, learner_id
from .report import write_gradebook
from .results import SubmissionResult, write_atomic
from .spec import Assignment


def _assignment(assignment: Assignment | str | Path | None) -> Assignment:
    return assignment if isinstance(assignment, Assignment) else find_assignment(assignment)


def check(notebook: str | Path, *, assignment: Assignment | str | Path | None = None,
          options: GradeOptions = GradeOptions()) -> SubmissionResult:
    """Grade one notebook (a learner's self-check) and return its result."""
    assignment = _assignment(assignment)
    return grade_notebook(notebook, assignment=assignment, options=options)


def collect(directory: Path) -> list[Path]:
    """The submissions in a folder: every file except hidden ones, sorted by name."""
    return sorted(p for p in directory.iterdir()
                  if p.is_file() and not p.name.startswith(".") and p.name != "README.md")


def grade(directory: str | Path = "submissions", *, assignment: Assignment | str | Path | None = None,
          out: str | Path = "results", options: GradeOptions = GradeOptions(),
          progress: Callable[[str], None] | None = None) -> list[SubmissionResult]:
    """Grade every notebook of ``directory``; write results and the gradebook into ``out``."""
    assignment = _assignment(assignment)
    directory, out = Path(directory), Path(out)
    if not directory.is_dir():
        from .exceptions import GraderError

        raise GraderError(f"{directory} is not a folder of submissions")
    data_paths = resolve_all(assignment, explicit=options.data)
    submissions = collect(directory)
    results = []
    for number, path in enumerate(submissions, 1):
        learner = learner_id(path)
        if progress:
            progress(f"[{number}/{len(submissions)}] grading {path.name}")
        result = grade_notebook(path, assignment=assignment, options=options, learner=learner,
                                data_paths=data_paths,
                                executed_path=out / "executed" / f"{learner}.ipynb"
                                if path.suffix == ".ipynb" else None)
        write_atomic(out / "results" / f"{learner}.json", result.to_json())
        results.append(result)
        if progress:
            progress(f"[{number}/{len(submissions)}] {path.name}: {result.total:g}/{result.max_total:g}"
                     + (f" ({result.status}: {result.reason})" if result.reason else ""))
    write_gradebook(results, out)
    return results


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
