"""The batch engine: what to grade, and where results go, whatever runs the gradings.

One engine for every place gradings run.  It owns:

* **resumption**: every result is written atomically to ``OUT/results/LEARNER.json``
  the moment it is ready, stamped with a *grading key* (:func:`grading_key`: a
  digest of the submission's bytes, what the measurement depends on in the
  assignment and reference, the harness version and the grading options); a
  learner whose result has the current key is not graded again (``force``
  regrades everything); new thresholds alone are a recorded rescore, not a re-run;
* the **journal** (``OUT/journal.jsonl``): the batch's events, one JSON line each;
* **retries**: a job whose worker process died is tried again, once; a second
  death makes the submission the cause, and its row says so;
* **faults**: whatever one grading raises (or an executor raises for it, or
  recording its result raises) is that learner's row (``grader-error``: the
  grader could not run it, never a grade; the next run of the same batch grades
  it again), and the batch goes on recording the others as they finish;
* **progress**, and **recording**: results and executed notebooks written here,
  in the process that started the batch, one learner at a time.

Where gradings run is an executor's business (:mod:`grader.batch.executor`):
the local process pool, or a Dask cluster (:mod:`grader.batch.dask`).  What
it grades comes from a :class:`JobSource`: the jobs of a batch
(:class:`JobList`), or the queue of the grading service, which keeps giving
jobs while the engine runs (:mod:`grader.serve.service`).
"""
from __future__ import annotations

import concurrent.futures
import datetime
import hashlib
import json
import os
import threading
import time
from collections import deque
from dataclasses import asdict
from pathlib import Path

from ..version import __version__
from ..orchestrate import GradeOptions, ungradable
from ..results import GRADER_ERROR, SubmissionResult, write_atomic
from ..specs.model import Assignment
from ..textutil import safe_name
from .executor import GradingExecutor
from .inputs import Submission
from .job import MAX_ATTEMPTS, BatchContext, Job, JobLost, Outcome, WorkerLost, grade_job
from .progress import Progress

_MAX_RESUBMITS = 3  # jobs an executor lost track of (a scheduler restarted): try again, then give up
_POLL_S = 0.5       # how often a draining engine looks for new jobs while others run


class JobSource:
    """What :meth:`BatchEngine.drain` grades: jobs that may keep coming (a service's queue)."""

    def take(self) -> Job | None:
        """The next job to start now, or None."""
        raise NotImplementedError

    def wait(self, timeout: float) -> None:
        """Block until a job may have come (or ``timeout`` seconds)."""

    def exhausted(self) -> bool:
        """No job will come any more: drain what runs, then return."""
        return True

    def stopped(self) -> bool:
        """Return now, leaving what runs to the executor (cancelled when it closes)."""
        return False


class _Draining:
    """What :meth:`BatchEngine.drain` keeps while it runs: jobs in flight, to run again, deaths."""

    def __init__(self):
        self.running: dict[concurrent.futures.Future, Job] = {}
        self.again: deque = deque()            # jobs to run again (a lost worker) before any new one
        self.deaths: dict[str, int] = {}       # job -> worker deaths while grading it
        self.resubmits: dict[str, int] = {}    # job -> times the executor lost track of it


class JobList(JobSource):
    """The jobs of a batch, in order."""

    def __init__(self, jobs):
        self._jobs = deque(jobs)

    def take(self) -> Job | None:
        return self._jobs.popleft() if self._jobs else None

    def exhausted(self) -> bool:
        return not self._jobs


def grading_key(submission: Submission, assignment: Assignment, options: GradeOptions) -> str:
    """Changes whenever the measurement could change: submission bytes, assignment, harness, options.

    The thresholds are not in it: a change of thresholds.toml alone does not run notebooks
    again; the stored measurements are judged again and the rescore is recorded in the
    corrections log (:mod:`grader.corrections.rescore`, called by :func:`grader.api.grade`).
    """
    digest = hashlib.sha256()
    for path in ([submission.notebook] if submission.notebook else []) + list(submission.files):
        digest.update(path.name.encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    digest.update(submission.problem.encode())
    digest.update(assignment.measurement_digest.encode())
    digest.update(__version__.encode())
    relevant = {k: v for k, v in asdict(options).items() if k not in ("keep_workdir", "threads", "data")}
    digest.update(json.dumps(relevant, sort_keys=True).encode())
    return digest.hexdigest()


class Journal:
    """Append-only event log of a batch (``journal.jsonl``), flushed to disk on every line.

    Executors report events from their own threads; a lock keeps lines whole.
    """

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, event: str, **fields) -> None:
        line = json.dumps({"time": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"), "event": event, **fields}, ensure_ascii=False)
        with self._lock, open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())


def load_result(path: Path) -> SubmissionResult | None:
    """A stored result, or None when it is missing or of another schema (grade again)."""
    try:
        return SubmissionResult.from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _died(times: int) -> str:
    return "twice" if times == 2 else f"{times} times"


class BatchEngine:
    """Grades the submissions of one results folder ``out`` with one assignment and options."""

    def __init__(self, *, assignment: Assignment, options: GradeOptions, data_paths: dict, out: Path,
                 force: bool = False, ledger=None):
        self.assignment, self.options, self.data_paths = assignment, options, data_paths
        self.out, self.force = Path(out), force
        self.ledger = ledger  # grader.run.process_register.Ledger: where local gradings record their kernels
        self.results_dir, self.executed_dir = self.out / "results", self.out / "executed"
        self.journal = Journal(self.out / "journal.jsonl")
        self.finished: dict[str, SubmissionResult] = {}

    def resume(self, submissions: list[Submission]) -> list[Job]:
        """The jobs still to grade; results already stored with the current key count as done."""
        todo = []
        for submission in submissions:
            key = grading_key(submission, self.assignment, self.options)
            previous = None if self.force else load_result(self.result_path(submission.learner))
            if previous is not None and previous.grading_key == key and previous.status != GRADER_ERROR:
                self.finished[submission.learner] = previous
            else:
                todo.append(Job(submission, key))
        return todo

    def result_path(self, learner: str) -> Path:
        return self.results_dir / f"{safe_name(learner)}.json"

    def run(self, submissions: list[Submission], todo: list[Job], *, executor: GradingExecutor,
            options: GradeOptions, progress: Progress) -> list[SubmissionResult]:
        """Grade ``todo`` on ``executor``; returns every submission's result, in input order."""
        self.progress = progress
        context = self.context(executor, options)
        # Nothing to run (not a notebook, two notebooks, ...): the row is made here.
        remote = []
        for job in todo:
            if job.submission.problem or job.submission.notebook is None:
                self._started(job)
                self._record(job, grade_job(context, job))
            else:
                remote.append(job)
        if remote:
            with executor:
                executor.open(context, events=self.journal.write)
                self.drain(JobList(remote), executor)
        self.progress.close()
        self.journal.write("finished", graded=len(todo), total=len(self.finished))
        return [self.finished[s.learner] for s in submissions if s.learner in self.finished]

    def context(self, executor: GradingExecutor, options: GradeOptions) -> BatchContext:
        """What every job shares when graded on ``executor``."""
        return BatchContext(assignment=self.assignment, options=options, data_paths=self.data_paths,
                            executed_dir=self.executed_dir,
                            ledger=self.ledger if executor.local else None)

    def _started(self, job: Job) -> None:
        self.journal.write("start", learner=job.learner, key=job.key)
        self.progress.start(job.learner)

    def drain(self, jobs: "JobSource", executor: GradingExecutor) -> None:
        """Grade what ``jobs`` gives, at most ``executor.slots`` at a time, until it is exhausted
        (a batch's list) or stopped (a service shutting down: what runs is left to the executor
        to cancel).  The executor must be open.  Finished gradings are recorded once the freed
        workers have their next jobs, so that recording never keeps a worker waiting."""
        state = _Draining()
        finished: list[tuple[Job, Outcome]] = []
        while not jobs.stopped():
            self._fill(jobs, executor, state)
            for job, outcome in finished:
                self._record(job, outcome)
            finished = []
            if not state.running:
                if not state.again and jobs.exhausted():
                    break
                jobs.wait(_POLL_S)
                continue
            done, _ = concurrent.futures.wait(state.running, timeout=None if jobs.exhausted() else _POLL_S,
                                              return_when=concurrent.futures.FIRST_COMPLETED)
            for future in done:
                settled = self._settle(state, future)
                if settled is not None:
                    finished.append(settled)
        for job, outcome in finished:
            self._record(job, outcome)

    def _fill(self, jobs: "JobSource", executor: GradingExecutor, state: "_Draining") -> None:
        while len(state.running) < executor.slots:
            job = state.again.popleft() if state.again else jobs.take()
            if job is None:
                return
            tag = job.name or job.learner
            if tag not in state.deaths:
                state.deaths[tag] = 0
                self._started(job)
            try:
                state.running[executor.submit(job)] = job
            except Exception as exc:  # the executor could not take it: this learner's row
                self._record(job, Outcome(self._row(job, _fault(exc), status=GRADER_ERROR)))

    def _settle(self, state: "_Draining", future) -> tuple[Job, Outcome] | None:
        """A finished future: its job and outcome to record, or None when the job runs again."""
        job = state.running.pop(future)
        tag = job.name or job.learner
        try:
            return job, future.result()
        except WorkerLost as lost:
            state.deaths[tag] += lost.deaths
            if state.deaths[tag] < MAX_ATTEMPTS:
                state.again.appendleft(job)
                return None
            return job, Outcome(self._row(job, f"the grading worker process died {_died(state.deaths[tag])} "
                                               f"while grading this submission"))
        except JobLost as lost:
            state.resubmits[tag] = state.resubmits.get(tag, 0) + 1
            if state.resubmits[tag] <= _MAX_RESUBMITS:
                self.journal.write("resubmit", learner=job.learner, reason=str(lost))
                state.again.appendleft(job)
                return None
            return job, Outcome(self._row(job, f"the grader lost this grading {state.resubmits[tag]} "
                                               f"times ({lost})", status=GRADER_ERROR))
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # a fault of the grader: this learner's row; the batch goes on
            return job, Outcome(self._row(job, _fault(exc), status=GRADER_ERROR))

    def _row(self, job: Job, reason: str, *, status: str | None = None) -> SubmissionResult:
        extra = {"status": status} if status else {}
        result = ungradable(Path(job.submission.source or job.learner), self.assignment, reason,
                            time.monotonic(), "", job.learner, **extra)
        result.submission = job.submission.source
        result.grading_key = job.key
        return result

    def _record(self, job: Job, outcome: Outcome) -> None:
        try:
            self._write(job, outcome)
        except Exception as exc:
            # The result could not be written as it is (a value JSON cannot hold, say): the row says
            # so and the batch goes on.  When even that fails (a full disk), the batch cannot go on.
            self._write(job, Outcome(self._row(job, _fault(exc), status=GRADER_ERROR)))

    def _write(self, job: Job, outcome: Outcome) -> None:
        if outcome.executed is not None:
            write_atomic(self.executed_dir / f"{job.file_name}.ipynb", outcome.executed)
        result = outcome.result
        write_atomic(self.result_path(job.learner), result.to_json())
        self.journal.write("done", learner=job.learner, key=job.key, total=result.total,
                           status=result.status)
        self.finished[job.learner] = result
        self.progress.finish(job.learner, result)


def _fault(exc: BaseException) -> str:
    """One line for a fault of the grader, for the learner's row."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return (f"the grader could not run this notebook ({type(exc).__name__}{': ' + text if text else ''}); "
            f"not a grade: run the same command again to grade it")
