"""The grading side of ``grader serve``: the batch engine, fed from the queue as submissions arrive.

:class:`GradingService` holds the results folder as ``grader grade`` does
(:class:`grader.batch.guard.BatchGuard`: one writer per folder, a sweep of what a
killed run left, the watchdog), and runs the one batch engine
(:meth:`grader.batch.engine.BatchEngine.drain`) in a thread of its own, on the
local process pool or a Dask cluster, taking submissions from the queue
(:mod:`grader.serve.queue`) in the order they were accepted.  Each job's progress
events go to the submission's folder, where the learner's page reads them.

When a grading ends, :meth:`GradingService.finalize` - idempotent, so that a
restart can finish what a kill interrupted - writes the submission's result, a
``penalty`` event in the corrections log for a late one, then *publishes* the
learner's grade: the submission that counts (the last graded, or the best
after penalties) becomes ``results/LEARNER.json`` and ``executed/LEARNER.ipynb``,
its feedback page and the gradebook are rewritten - the files every other
command reads - and only then is the submission marked done.
"""
from __future__ import annotations

import shutil
import sys
import threading
import time
from pathlib import Path

from ..batch.engine import BatchEngine, Journal, JobSource, grading_key, load_result
from ..batch.inputs import Submission
from ..batch.job import Job, Outcome
from ..corrections import Corrections
from ..corrections.grades import result_id
from ..corrections.log import PENALTY, Event, Log
from ..orchestrate import GradeOptions
from ..results import GRADER_ERROR, SubmissionResult, write_atomic
from ..specs.model import Assignment
from ..textutil import safe_name
from .policy import Timing, describe_late
from .queue import NOTEBOOK_FILE, PROGRESS_FILE, RESULT_FILE, SubmissionQueue
from .store import close_connections, executed_folder, submission_folder

SERVICE = "grader serve"
_MAX_RUNS = 3   # a submission the grader could not run (a machine's fault) is tried this often


class _QueueJobs(JobSource):
    """The engine's view of the queue: the oldest queued submission, until the service stops."""

    def __init__(self, service: "GradingService"):
        self.service = service

    def take(self) -> Job | None:
        row = self.service.queue.claim()
        return None if row is None else self.service.job(row)

    def wait(self, timeout: float) -> None:
        arrived = self.service.queue.arrived
        arrived.wait(timeout)
        arrived.clear()

    def exhausted(self) -> bool:
        return False

    def stopped(self) -> bool:
        return self.service.stopping.is_set()


class _ServeEngine(BatchEngine):
    """The batch engine, recording into the service's submission folders instead of results/."""

    service: "GradingService"

    def _started(self, job: Job) -> None:
        self.journal.write("start", learner=job.learner, submission=job.name, key=job.key)

    def _write(self, job: Job, outcome: Outcome) -> None:
        self.service.finalize(job.name, outcome)


class _Log:
    """The service's lines on stderr: one per accepted and per graded submission."""

    def __init__(self, quiet: bool):
        self.quiet = quiet

    def __call__(self, text: str) -> None:
        if not self.quiet:
            sys.stderr.write(f"{time.strftime('%H:%M:%S')} {text}\n")
            sys.stderr.flush()


class GradingService:
    """Grades what the queue holds, as it arrives; see the module docstring."""

    def __init__(self, *, out: Path, assignment: Assignment, options: GradeOptions, data_paths: dict,
                 workers: int = 1, cluster: str | None = None, quiet: bool = False):
        from ..batch.guard import BatchGuard

        self.out, self.assignment, self.options = Path(out), assignment, options
        self.workers, self.cluster = workers, cluster
        self.queue = SubmissionQueue(self.out, assignment)
        self.journal = Journal(self.out / "journal.jsonl")
        self.guard = BatchGuard(self.out, journal=self.journal, holder="grader serve")
        self.engine = _ServeEngine(assignment=assignment, options=options, data_paths=data_paths,
                                   out=self.out, ledger=None)
        self.engine.service = self
        self.engine.executed_dir = executed_folder(self.out)
        self.stopping = threading.Event()
        self.log = _Log(quiet)
        self.failure: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._publish = threading.Lock()
        self._results: dict[str, SubmissionResult] = {}
        self.grades = None   # grader.serve.lti_services.GradeSync: grades to the LMSs' line items

    # --- life ----------------------------------------------------------------------------------

    def start(self) -> "GradingService":
        """Take the results folder, finish or requeue what a killed service left, start grading."""
        self.guard.__enter__()
        try:
            self.engine.ledger = self.guard.ledger
            if self.guard.describe_swept():
                self.log(self.guard.describe_swept())
            from ..results import load_results

            self._results = {r.learner: r for r in load_results(self.out)}
            for row in self.queue.recover():
                stored = load_result(submission_folder(self.out, row["id"]) / RESULT_FILE)
                if stored is not None and stored.grading_key == self._key(row):
                    self.finalize(row["id"], Outcome(stored))   # graded before the kill: not again
                else:
                    self.queue.requeue(row["id"])
            self.journal.write("serve", assignment=self.assignment.id, workers=self.workers,
                               cluster=self.cluster or "", queued=self.counts().get("queued", 0))
            self._thread = threading.Thread(target=self._grade, name="grader-serve-engine", daemon=True)
            self._thread.start()
            from .lti_services import GradeSync

            self.grades = GradeSync(self.out, {self.assignment.id: self.folder_of(self.assignment.id)}, self.log)
            self.grades.start()
        except BaseException:
            self.guard.__exit__(None, None, None)
            raise
        return self

    def stop(self, timeout: float = 60.0) -> None:
        """Stop taking submissions to grade; gradings in flight are cancelled (queued again at the
        next start: their rows stay ``running``)."""
        self.stopping.set()
        self.queue.arrived.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self.grades is not None:
            self.grades.stop()
        try:
            from ..report.html import write_summary

            write_summary(list(self._results.values()), self.out, assignment_title=self.assignment.title)
        finally:
            self.guard.__exit__(None, None, None)

    def _executor(self):
        from ..batch.executor import LocalPoolExecutor

        if self.cluster:
            from ..batch.dask import DaskExecutor

            return DaskExecutor(self.cluster)
        # Worker processes even for one worker: a grading never shares the web server's process.
        return LocalPoolExecutor(self.workers)

    def _grade(self) -> None:
        from dataclasses import replace

        options = self.options
        if options.threads is None:
            import os

            options = replace(options, threads=max(1, (os.cpu_count() or 1) // max(1, self.workers)))
        try:
            with self._executor() as executor:
                executor.open(self.engine.context(executor, options), events=self.journal.write)
                try:
                    self.engine.drain(_QueueJobs(self), executor)
                finally:
                    if self.stopping.is_set():
                        executor.stop_now()   # what runs is queued again at the next start
        except KeyboardInterrupt:
            pass   # Ctrl-C reached the workers too: the service is stopping
        except BaseException as exc:  # the executor itself failed (a cluster gone): say so, stop grading
            if not self.stopping.is_set():
                self.failure = exc
                self.log(f"grading stopped: {type(exc).__name__}: {exc}")
        finally:
            close_connections()

    # --- one submission ------------------------------------------------------------------------

    def _submission(self, row) -> Submission:
        folder = submission_folder(self.out, row["id"])
        return Submission(learner=row["learner"], notebook=folder / NOTEBOOK_FILE, source=row["file_name"])

    def _key(self, row) -> str:
        return grading_key(self._submission(row), self.assignment, self.options)

    def job(self, row) -> Job:
        folder = submission_folder(self.out, row["id"])
        (folder / PROGRESS_FILE).unlink(missing_ok=True)   # a grading started again starts its view again
        return Job(self._submission(row), self._key(row), name=row["id"], progress=str(folder / PROGRESS_FILE))

    def finalize(self, submission_id: str, outcome: Outcome) -> None:
        """Record a submission's result and publish its learner's grade (see the module docstring)."""
        row = self.queue.row(submission_id)
        result = outcome.result
        folder = submission_folder(self.out, submission_id)
        if result.status == GRADER_ERROR and row["runs"] < _MAX_RUNS and not self.stopping.is_set():
            self.journal.write("requeue", learner=row["learner"], submission=submission_id, reason=result.reason)
            self.queue.requeue(submission_id)
            return
        if outcome.executed is not None:
            write_atomic(executed_folder(self.out) / f"{safe_name(submission_id)}.ipynb", outcome.executed)
        write_atomic(folder / RESULT_FILE, result.to_json())
        if row["penalty"] > 0 and result.status != GRADER_ERROR:
            self._penalise(row, result)
        with self._publish:
            counted = self._publish_learner(row["learner"], also=(row, result))
        grade = self._corrections().grade(result)
        self.queue.finish(submission_id, status=result.status, total=grade.result.total,
                          max_total=result.max_total, grading_key=result.grading_key)
        self.journal.write("done", learner=row["learner"], submission=submission_id, key=result.grading_key,
                           total=grade.result.total, status=result.status,
                           counts=counted == submission_id)
        if self.grades is not None:
            self.grades.wake.set()   # the LMS's copy of the grade, through the outbox
        self.log(f"graded {row['learner']} (submission {submission_id}, attempt {row['attempt']}): "
                 f"{grade.result.total:g}/{result.max_total:g} in {result.duration_s:.0f} s"
                 + (f" ({result.reason})" if result.reason else ""))

    def _corrections(self) -> Corrections:
        return Corrections.load(self.out)

    def _penalise(self, row, result: SubmissionResult) -> None:
        rid = result_id(result)
        if any(e.action == PENALTY and e.result_id == rid for e in self._corrections().events(row["learner"])):
            return  # recorded before a kill
        reason = describe_late(self.assignment.submissions,
                               Timing(late=True, late_by_s=row["late_by_s"], penalty=row["penalty"]))
        with Log.open(self.out) as log:
            log.append([Event(action=PENALTY, learner=row["learner"], by=SERVICE, reason=reason,
                              result_id=rid, detail={"fraction": row["penalty"], "late_by_s": row["late_by_s"],
                                                     "submission": row["id"],
                                                     "deadline": str(self.assignment.submissions.deadline)})])

    def _publish_learner(self, learner: str, *, also=None) -> str | None:
        """Make the learner's counting submission the one in results/, executed/, feedback/ and the
        gradebook; returns its id."""
        from ..report.html import feedback_page, notebook_images
        from ..report.table import write_gradebook

        corrections = self._corrections()
        candidates = []
        for row in self.queue.of_learner(learner):
            if also is not None and row["id"] == also[0]["id"]:
                result = also[1]
            elif row["state"] == "done":
                result = load_result(submission_folder(self.out, row["id"]) / RESULT_FILE)
            else:
                continue
            if result is not None and result.status != GRADER_ERROR:
                candidates.append((row, result))
        if not candidates:
            return None
        if self.assignment.submissions.counts == "best":
            row, result = max(candidates, key=lambda c: (corrections.grade(c[1]).result.total, c[0]["seq"]))
        else:
            row, result = max(candidates, key=lambda c: c[0]["seq"])
        name = safe_name(learner)
        write_atomic(self.out / "results" / f"{name}.json", result.to_json())
        executed = executed_folder(self.out) / f"{safe_name(row['id'])}.ipynb"
        target = self.out / "executed" / f"{name}.ipynb"
        if executed.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(executed, target.with_name(f".{target.name}.tmp"))
            target.with_name(f".{target.name}.tmp").replace(target)
        self._results[learner] = result
        write_atomic(self.out / "feedback" / f"{name}.html",
                     feedback_page(result, assignment_title=self.assignment.title,
                                   images=notebook_images(target), corrections=corrections))
        write_gradebook(list(self._results.values()), self.out, corrections=corrections)
        return row["id"]

    def folder_of(self, assignment_id: str) -> Path:
        """The results folder of one of the service's assignments."""
        return self.out

    def accept(self, learner, upload, assignment=None):
        """Queue ``upload`` of ``learner`` (:meth:`SubmissionQueue.accept`)."""
        return self.queue.accept(learner, upload)

    # --- what the pages show -------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        from .store import connect

        return {row[0]: row[1] for row in connect(self.out).execute(
            "SELECT state, COUNT(*) FROM submissions GROUP BY state")}

    def results(self) -> list[SubmissionResult]:
        with self._publish:
            return list(self._results.values())
