"""The public entry points: check one notebook, grade a whole class.

:func:`check` runs one notebook through the pipeline (:mod:`grader.orchestrate`).
:func:`grade` finds the submissions, lets the batch engine
(:mod:`grader.batch.engine`) grade what is not graded yet on an executor (this
machine's worker processes, or a Dask cluster), and writes the gradebook and
the HTML reports.  A submission that fails, hangs, dies or is not a notebook is
a row with its reason, never an abort.
"""
from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .assignments import find_assignment
from .exceptions import GraderError
from .orchestrate import GradeOptions, grade_notebook
from .results import SubmissionResult
from .specs.model import Assignment

if TYPE_CHECKING:  # pragma: no cover
    from .batch.progress import Progress


def _assignment(assignment: Assignment | str | Path | None, notebooks=()) -> Assignment:
    if isinstance(assignment, Assignment):
        return assignment
    return find_assignment(assignment, notebooks=list(notebooks))


def check(notebook: str | Path, *, assignment: Assignment | str | Path | None = None,
          options: GradeOptions = GradeOptions()) -> SubmissionResult:
    """Grade one notebook (a learner's self-check) and return its result.

    Its kernel and evaluator are recorded in a ledger of their own, watched by a
    reaper process (:mod:`grader.run.reaper`): if this process is killed, they
    are killed too and their cgroups removed.
    """
    import tempfile

    from .run.evaluation import close_shared
    from .run.ledger import Ledger, run_id
    from .run.reaper import Reaper

    assignment = _assignment(assignment, [Path(notebook)])
    ledger = Ledger(Path(tempfile.mkdtemp(prefix="grader-check-")), run_id())
    with Reaper(ledger, remove_folder=True):
        try:
            return grade_notebook(notebook, assignment=assignment, options=options, ledger=ledger)
        finally:
            close_shared(ledger)


def grade(directory: str | Path = "submissions", *, assignment: Assignment | str | Path | None = None,
          out: str | Path = "results", options: GradeOptions = GradeOptions(), workers: int | None = None,
          force: bool = False, mapping: str | Path | None = None,
          progress: "Progress | Callable[[str], None] | bool | None" = None,
          cluster: str | None = None) -> list[SubmissionResult]:
    """Grade every submission of ``directory`` (a folder or an LMS .zip) into ``out``.

    ``progress``: None/False for silence, True for progress on stderr (a live line on a
    terminal, plain lines otherwise), or a callable that receives each progress line.
    ``cluster``: grade on a Dask cluster instead of local worker processes: a scheduler
    address (``tcp://host:8786``), a scheduler file, or ``local:N`` (:mod:`grader.batch.dask`).
    """
    from .batch.engine import BatchEngine, Journal
    from .batch.executor import InlineExecutor, LocalPoolExecutor
    from .batch.guard import BatchGuard
    from .batch.inputs import collect, read_mapping
    from .batch.progress import Progress
    from .report.html import write_reports
    from .report.table import write_gradebook
    from .specs.data import resolve_all

    directory, out = Path(directory), Path(out)
    if not directory.exists():
        raise GraderError(f"{directory} does not exist: give a folder of submissions or a .zip")
    # One batch per results folder; what a killed run of it left running is killed first.
    with BatchGuard(out, journal=Journal(out / "journal.jsonl")) as guard:
        submissions = collect(directory, mapping=read_mapping(Path(mapping) if mapping else None),
                              unpack_to=out / ".inputs")
        assignment = _assignment(assignment, [s.notebook for s in submissions if s.notebook])
        data_paths = resolve_all(assignment, explicit=options.data)
        engine = BatchEngine(assignment=assignment, options=options, data_paths=data_paths, out=out,
                             force=force, ledger=guard.ledger)
        todo = engine.resume(submissions)

        cores = os.cpu_count() or 1
        workers = min(max(1, workers or cores), max(1, len(todo)))
        if options.threads is None:
            # Kernels side by side share the cores: each gets its share of threads.
            options = replace(options, threads=max(1, cores // workers))
        engine.journal.write("batch", submissions=len(submissions), to_grade=len(todo),
                             resumed=len(engine.finished), workers=workers, threads=options.threads,
                             assignment=assignment.id)
        if not isinstance(progress, Progress):
            progress = Progress(total=len(submissions), already=len(engine.finished), workers=workers,
                                stream=sys.stderr, quiet=not progress,
                                printer=progress if callable(progress) else None)
        if guard.describe_swept():
            progress.note(guard.describe_swept())
        if cluster:
            from .batch.dask import DaskExecutor

            executor = DaskExecutor(cluster)
        elif workers == 1:
            executor = InlineExecutor()
        else:
            executor = LocalPoolExecutor(workers)

        results = engine.run(submissions, todo, executor=executor, options=options, progress=progress)
        write_gradebook(results, out)
        write_reports(results, out, assignment_title=assignment.title)
    return results
