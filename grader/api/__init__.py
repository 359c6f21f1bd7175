"""The public entry points: check one notebook, grade a whole class.

:func:`check` runs one notebook through the pipeline (:mod:`grader.orchestrate`).
:func:`grade` finds the submissions, lets the batch engine
(:mod:`grader.batch.engine`) grade what is not graded yet on an executor (this
machine's worker processes, or a Dask cluster), and writes the gradebook and
the HTML reports.  A submission that fails, hangs, dies or is not a notebook is
a row with its reason, never an abort.

Every command is a call of a public function, with keyword arguments; the command
line (:mod:`grader.cli`) only parses, calls and prints:

* this module: :func:`check` and :func:`grade` (also ``grader.check``, ``grader.grade``);
* :mod:`grader.api.corrections`: course staff's corrections (override, clear, rescore),
  recorded in the corrections log (:mod:`grader.corrections`), then the reports rewritten;
* :mod:`grader.api.audit`: a grade's history, from the journal, the results, the
  corrections log and the outbox.
"""
from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..assignments import find_assignment
from ..events import Listener
from ..exceptions import UsageError
from ..orchestrate import GradeOptions, grade_notebook
from ..paths import notebook_file, output_folder
from ..results import SubmissionResult
from ..specs.model import Assignment

if TYPE_CHECKING:  # pragma: no cover
    from ..batch.progress import Progress


def _assignment(assignment: Assignment | str | Path | None, notebooks=()) -> Assignment:
    if isinstance(assignment, Assignment):
        return assignment
    return find_assignment(assignment, notebooks=list(notebooks))


def check(notebook: str | Path, *, assignment: Assignment | str | Path | None = None,
          options: GradeOptions = GradeOptions(), on_event: Listener | None = None,
          executed_path: str | Path | None = None, compare_orders: bool = True) -> SubmissionResult:
    """Grade one notebook (a learner's self-check) and return its result.

    ``compare_orders``: under the as-run order, when cells ran again before a graded cell, also
    grade a clean top-to-bottom run and say which parts pass only as the learner ran them
    (``result.schedule["clean_run"]``): a second kernel run, for those notebooks only.

    ``on_event`` receives the grading's progress as it happens (:mod:`grader.events`: each
    cell as it starts, each part's verdict as soon as it is measured, the result);
    :func:`grader.report.live.check_progress` shows it on a terminal.  ``executed_path``:
    where to write the re-run notebook with its outputs (its plots feed the HTML page).
    Raises :class:`grader.exceptions.UsageError` for a notebook path that is missing or a
    folder, before anything runs.  Its kernel and evaluator are recorded in a ledger of
    their own, watched by a reaper process (:mod:`grader.run.reaper`): if this process is
    killed, they are killed too and their cgroups removed.
    """
    import tempfile

    from ..run.evaluator_client import close_shared
    from ..run.process_register import Ledger, run_id
    from ..run.reaper import Reaper

    path = notebook_file(notebook)
    assignment = _assignment(assignment, [path])
    options = replace(options, compare_orders=compare_orders)
    ledger = Ledger(Path(tempfile.mkdtemp(prefix="grader-check-")), run_id())
    with Reaper(ledger, remove_folder=True):
        try:
            return grade_notebook(path, assignment=assignment, options=options, on_event=on_event,
                                  executed_path=Path(executed_path) if executed_path else None,
                                  ledger=ledger)
        finally:
            close_shared(ledger)


def check_grade_inputs(directory: Path, out: Path, workers: int | None) -> None:
    """Refuse a batch that cannot be what was meant, before anything is written."""
    from ..batch.inputs import count_notebooks

    if workers is not None and not (isinstance(workers, int) and workers >= 1):
        raise UsageError(f"workers must be a whole number of 1 or more, got {workers!r}",
                         argument="workers", value=workers)
    output_folder(out)
    if not directory.exists():
        raise UsageError(f"{directory} does not exist: give a folder of submissions or a .zip",
                         argument="directory", value=str(directory))
    if directory.is_file() and directory.suffix.lower() != ".zip":
        raise UsageError(f"{directory} is a file, not a folder of submissions or a .zip"
                         + ("; to check one notebook, use grader check" if directory.suffix == ".ipynb" else ""),
                         argument="directory", value=str(directory))
    if count_notebooks(directory) == 0:
        what = "archive" if directory.is_file() else "folder"
        raise UsageError(f"the {what} {directory} holds no notebook (.ipynb): give the folder or .zip "
                         f"of the submissions", argument="directory", value=str(directory))


def grade(directory: str | Path = "submissions", *, assignment: Assignment | str | Path | None = None,
          out: str | Path = "results", options: GradeOptions = GradeOptions(), workers: int | None = None,
          force: bool = False, mapping: str | Path | None = None,
          progress: "Progress | Callable[[str], None] | bool | None" = None,
          cluster: str | None = None, similarity: bool = False,
          corpus: str | Path | None = None) -> list[SubmissionResult]:
    """Grade every submission of ``directory`` (a folder or an LMS .zip) into ``out``.

    ``progress``: None/False for silence, True for progress on stderr (a live line on a
    terminal, plain lines otherwise), or a callable that receives each progress line.
    ``cluster``: grade on a Dask cluster instead of local worker processes: a scheduler
    address (``tcp://host:8786``), a scheduler file, or ``local:N`` (:mod:`grader.batch.dask`).
    ``similarity``: at the end, write the instructor's similarity report (``out/similarity.html``,
    :func:`grader.similarity.similarity_report`), comparing with the files of ``corpus`` too.
    """
    from ..batch.engine import BatchEngine, Journal
    from ..batch.executor import InlineExecutor, LocalPoolExecutor
    from ..batch.guard import BatchGuard
    from ..batch.inputs import collect, read_mapping
    from ..batch.progress import Progress
    from ..report.html import write_reports
    from ..report.table import write_gradebook
    from ..specs.data import resolve_all

    directory, out = Path(directory), Path(out)
    check_grade_inputs(directory, out, workers)
    if similarity:
        from ..similarity import check_corpus

        check_corpus(corpus)  # a wrong folder fails now, not after an hour of grading
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
                             assignment=assignment.id, assignment_folder=str(assignment.folder))
        if not isinstance(progress, Progress):
            progress = Progress(total=len(submissions), already=len(engine.finished), workers=workers,
                                stream=sys.stderr, quiet=not progress,
                                printer=progress if callable(progress) else None)
        if guard.describe_swept():
            progress.note(guard.describe_swept())
        if cluster:
            from ..batch.dask import DaskExecutor

            executor = DaskExecutor(cluster)
        elif workers == 1:
            executor = InlineExecutor()
        else:
            executor = LocalPoolExecutor(workers)

        results = engine.run(submissions, todo, executor=executor, options=options, progress=progress)
        _rescore_resumed(out, assignment, results, engine.journal, progress)
        write_gradebook(results, out)
        write_reports(results, out, assignment_title=assignment.title)
        if similarity:
            _similarity(results, out, assignment=assignment, corpus=corpus)
    return results


def _rescore_resumed(out: Path, assignment: Assignment, results: list[SubmissionResult], journal,
                     progress) -> None:
    """Results kept from an earlier run but judged with other thresholds: a recorded rescore.

    A change of thresholds.toml alone does not run notebooks again (it is not in the
    grading key); their stored measurements are judged again and the rescore is
    appended to the corrections log, so the gradebook, the pages and posting use it.
    """
    from ..corrections.rescore import judge_again

    report = judge_again(out, assignment=assignment, results=results,
                     reason="thresholds.toml changed since these results were graded "
                            "(recorded by grader grade)")
    if report.judged:
        journal.write("rescore", run=report.run, judged=report.judged,
                      changed=report.learners_changed, thresholds=assignment.thresholds_digest)
        progress.note(f"rescored {report.judged} result(s) graded under earlier thresholds, "
                      f"without running them: {len(report.changed)} grade(s) changed "
                      f"(grader audit {out} LEARNER shows each)")


def _similarity(results: list[SubmissionResult], out: Path, *, assignment: Assignment, corpus) -> None:
    """The similarity report at the end of a batch, and the summary page that links it."""
    from ..report.html import write_summary
    from ..similarity import similarity_report

    similarity_report(out, corpus=corpus, assignment=assignment, results=results)
    write_summary(results, out, assignment_title=assignment.title)
