"""The unit of work of a batch: one submission graded, wherever it runs.

A :class:`Job` is what the engine hands an executor; :func:`grade_job` is what
every executor runs for it, in a worker process of this machine or on a Dask
worker, so each notebook gets the same kernel, sandbox, limits and time budgets
wherever it is graded.  What comes back is an :class:`Outcome`: the result, and
the executed notebook's text when the worker could not write it where the
engine wants it (no shared disk).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..textutil import safe_name

if TYPE_CHECKING:  # pragma: no cover
    from ..orchestrate import GradeOptions
    from ..results import SubmissionResult
    from ..specs.model import Assignment
    from .inputs import Submission


# A worker that dies twice on one submission: that submission is the cause, and gets a row.
MAX_ATTEMPTS = 2


@dataclass(frozen=True)
class BatchContext:
    """What every job of one batch shares: sent once per batch, or with each job (local pool)."""

    assignment: Assignment
    options: GradeOptions
    data_paths: dict = field(default_factory=dict)   # data file name -> path on the grading machine
    executed_dir: Path | None = None                  # where executed notebooks go (None: return them)
    ledger: object = None                             # grader.run.process_register.Ledger (gradings on this machine)


@dataclass(frozen=True)
class Job:
    """One submission to grade, with its grading key (see :func:`grader.batch.engine.grading_key`).

    ``name`` names the job's files (the executed notebook) when a learner may have several
    jobs at once (a grading service's attempts; default: the learner id); ``progress`` is a
    file on the engine's machine where the grading's events go, one JSON line each
    (:mod:`grader.events`; a Dask worker sends them to the engine, which writes them there);
    ``context``: the job's own context when its assignment is not the batch's (a grading
    service that serves a course of several assignments; local executors only).
    """

    submission: Submission
    key: str
    name: str = ""
    progress: str = ""
    context: BatchContext | None = None

    @property
    def learner(self) -> str:
        return self.submission.learner

    @property
    def file_name(self) -> str:
        return safe_name(self.name or self.submission.learner)


@dataclass
class Outcome:
    """A job's result, and the executed notebook's text when the engine must write it itself."""

    result: SubmissionResult
    executed: str | None = None


class WorkerLost(Exception):
    """The process grading a job died (killed, out of memory, its machine gone).

    ``deaths`` is how many times it died for this job before the executor gave
    up (a Dask scheduler retries on its own); ``worker`` names the worker when
    the executor knows it.  The engine decides whether to try again.
    """

    def __init__(self, deaths: int = 1, worker: str = ""):
        self.deaths, self.worker = deaths, worker
        super().__init__(f"the grading worker process died ({deaths}x)")


class JobLost(Exception):
    """The executor lost track of a job without a worker dying (a scheduler restarted)."""


class ProgressFile:
    """A listener that appends each event to a file, one JSON line each, flushed at once."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __call__(self, event) -> None:
        import json

        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(event.to_dict(), ensure_ascii=False, default=str) + "\n")


def grade_job(context: BatchContext, job: Job, executed_dir: Path | None = None, *,
              on_event=None) -> Outcome:
    """Grade one submission (in a worker process); never raises because of the learner.

    Progress events go to ``on_event`` when given, else to the job's ``progress`` file.
    """
    # Imported here: `grader --help` imports this module (through --cluster) and must stay fast.
    from ..orchestrate import grade_notebook, ungradable

    submission, assignment = job.submission, context.assignment
    started = time.monotonic()
    executed_dir = executed_dir or context.executed_dir
    if on_event is None and job.progress:
        on_event = ProgressFile(job.progress)
    if submission.problem or submission.notebook is None:
        result = ungradable(Path(submission.source or submission.learner), assignment,
                            submission.problem or "no notebook", started, "", submission.learner)
    else:
        # Extra files keep their place relative to the learner's folder (the notebook may sit
        # in a subfolder of it).
        root = (submission.root or submission.notebook.parent) if submission.files else None
        result = grade_notebook(submission.notebook, assignment=assignment, options=context.options,
                                learner=submission.learner, data_paths=context.data_paths,
                                executed_path=(executed_dir / f"{job.file_name}.ipynb"
                                               if executed_dir else None),
                                files=submission.files, files_root=root, ledger=context.ledger,
                                on_event=on_event)
    result.submission = submission.source
    result.grading_key = job.key
    return Outcome(result)
