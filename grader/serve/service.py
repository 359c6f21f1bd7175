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

A course.  One service may grade several assignments (``grader serve --course DIR``): one
queue (the database's ``submissions.assignment`` says whose each is), one pool of workers
taking them in the order accepted, whatever the assignment (each job carries its assignment's
context), and one results folder per assignment, ``OUT/ID/`` - the folder ``grader grade``,
``post``, ``override`` and ``audit`` take - held as ``grader grade`` would hold it.  With one
assignment, ``OUT`` itself is its results folder, as before.
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
from .queue import PROGRESS_FILE, RESULT_FILE, SubmissionQueue
from .store import close_connections, executed_folder, submission_folder

SERVICE = "grader serve"
WORKER_NICENESS = 10   # the grading workers' and their kernels' (see _executor)
_READY_S = 120.0   # the longest a start waits for the grading workers
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
        self.service.slot_of_job(job).journal.write("start", learner=job.learner, submission=job.name, key=job.key)

    def _write(self, job: Job, outcome: Outcome) -> None:
        self.service.finalize(job.name, outcome)

    def _row(self, job: Job, reason: str, *, status: str | None = None) -> SubmissionResult:
        if job.context is None:
            return super()._row(job, reason, status=status)
        default, self.assignment = self.assignment, job.context.assignment   # (the engine's one thread)
        try:
            return super()._row(job, reason, status=status)
        finally:
            self.assignment = default


class _Log:
    """The service's lines on stderr: one per accepted and per graded submission."""

    def __init__(self, quiet: bool):
        self.quiet = quiet

    def __call__(self, text: str) -> None:
        if not self.quiet:
            sys.stderr.write(f"{time.strftime('%H:%M:%S')} {text}\n")
            sys.stderr.flush()


class Slot:
    """One assignment of the service: its results folder, journal, graded results, job context."""

    def __init__(self, assignment: Assignment, folder: Path, data_paths: dict):
        self.assignment, self.folder, self.data_paths = assignment, Path(folder), data_paths
        self.journal = Journal(self.folder / "journal.jsonl")
        self.results: dict[str, SubmissionResult] = {}
        self.context = None   # the BatchContext its jobs carry (a course: set when grading starts)
        self.lock = None      # a course: the flock on the folder (grader.batch.guard.hold_folder)

    @property
    def title(self) -> str:
        return self.assignment.title or self.assignment.id

    def hold(self) -> None:
        """Hold the folder as ``grader grade`` would (a course's: the service holds ``OUT`` itself)."""
        from ..batch.guard import hold_folder

        self.lock = hold_folder(self.folder, "grader serve")

    def release(self) -> None:
        if self.lock is not None:
            self.lock.close()
            self.lock = None


class GradingService:
    """Grades what the queue holds, as it arrives; see the module docstring.

    ``assignment``: the one assignment, or ``assignments``: a course's (several: a results folder
    each, ``OUT/ID``); ``data_paths``: the data files, or per assignment id when several."""

    def __init__(self, *, out: Path, assignment: Assignment | None = None, options: GradeOptions,
                 data_paths: dict, workers: int = 1, cluster: str | None = None, quiet: bool = False,
                 assignments: list[Assignment] | None = None):
        from ..batch.guard import BatchGuard

        assignments = list(assignments or [assignment])
        self.out, self.options = Path(out), options
        self.course = len(assignments) > 1
        self.slots = {a.id: Slot(a, self.out / a.id if self.course else self.out,
                                 data_paths.get(a.id, {}) if self.course else data_paths) for a in assignments}
        self.assignment = assignments[0]   # the default one (the only one, without a course)
        self.assignments = {a.id: a for a in assignments}
        self.workers, self.cluster = workers, cluster
        self.queue = SubmissionQueue(self.out, self.assignment)
        self.journal = Journal(self.out / "journal.jsonl")
        self.guard = BatchGuard(self.out, journal=self.journal, holder="grader serve")
        self.engine = _ServeEngine(assignment=self.assignment, options=options,
                                   data_paths=self.slots[self.assignment.id].data_paths, out=self.out, ledger=None)
        self.engine.service = self
        self.engine.executed_dir = executed_folder(self.out)
        self.stopping = threading.Event()
        self.ready = threading.Event()   # the grading side can take a submission
        self.log = _Log(quiet)
        self.failure: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._publish = threading.Lock()
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

            for slot in self.slots.values():
                if self.course:
                    slot.hold()
                slot.results = {r.learner: r for r in load_results(slot.folder)}
            for row in self.queue.recover():
                stored = load_result(submission_folder(self.out, row["id"]) / RESULT_FILE)
                if stored is not None and stored.grading_key == self._key(row):
                    self.finalize(row["id"], Outcome(stored))   # graded before the kill: not again
                else:
                    self.queue.requeue(row["id"])
            self.journal.write("serve", assignment=",".join(self.slots), workers=self.workers,
                               cluster=self.cluster or "", queued=self.counts().get("queued", 0))
            from ..report.html import warm

            warm()   # Jinja2 and the templates now, not with the first grading published
            self._thread = threading.Thread(target=self._grade, name="grader-serve-engine", daemon=True)
            self._thread.start()
            self.ready.wait(_READY_S)   # the workers are up before the service says it listens
            self.queue.start()
            from .lti_services import GradeSync

            self.grades = GradeSync(self.out, {i: slot.folder for i, slot in self.slots.items()}, self.log)
            self.grades.start()
        except BaseException:
            for slot in self.slots.values():
                slot.release()
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
        self.queue.stop()   # the notebooks accepted last, in their files
        try:
            from ..report.html import write_summary

            for slot in self.slots.values():
                write_summary(list(slot.results.values()), slot.folder, assignment_title=slot.assignment.title)
        finally:
            for slot in self.slots.values():
                slot.release()
            self.guard.__exit__(None, None, None)

    def _executor(self):
        from ..batch.executor import LocalPoolExecutor

        if self.cluster:
            from ..batch.dask import DaskExecutor

            return DaskExecutor(self.cluster)
        # Worker processes even for one worker: a grading never shares the web server's process.
        # Their niceness: a submission accepted is a learner waiting for the answer; a grading is
        # batch work (its kernels inherit it) - on a machine with as many workers as cores, a burst
        # of submissions at the deadline would otherwise wait for the cores the gradings hold.
        return LocalPoolExecutor(self.workers, nice=WORKER_NICENESS)

    def _grade(self) -> None:
        from dataclasses import replace

        options = self.options
        if options.threads is None:
            import os

            options = replace(options, threads=max(1, (os.cpu_count() or 1) // max(1, self.workers)))
        try:
            with self._executor() as executor:
                from ..batch.job import BatchContext

                for slot in self.slots.values():   # what each assignment's jobs carry
                    slot.context = BatchContext(assignment=slot.assignment, options=options,
                                                data_paths=slot.data_paths, executed_dir=executed_folder(self.out),
                                                ledger=self.guard.ledger if executor.local else None)
                executor.open(self.engine.context(executor, options), events=self.journal.write)
                executor.warm()   # the workers start now, not with the first submission
                self.ready.set()
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
            self.ready.set()
            close_connections()

    # --- one submission ------------------------------------------------------------------------

    def slot(self, row) -> Slot:
        """The assignment of a queue's row (a row of a version-1 database: the default one)."""
        return self.slots.get(row["assignment"] or self.assignment.id) or self.slots[self.assignment.id]

    def slot_of_job(self, job: Job) -> Slot:
        return self.slots[job.context.assignment.id] if job.context is not None else self.slots[self.assignment.id]

    def _submission(self, row) -> Submission:
        return Submission(learner=row["learner"], notebook=self.queue.notebook(row["id"]), source=row["file_name"])

    def _key(self, row) -> str:
        return grading_key(self._submission(row), self.slot(row).assignment, self.options)

    def job(self, row) -> Job:
        folder = submission_folder(self.out, row["id"])
        (folder / PROGRESS_FILE).unlink(missing_ok=True)   # a grading started again starts its view again
        return Job(self._submission(row), self._key(row), name=row["id"], progress=str(folder / PROGRESS_FILE),
                   context=self.slot(row).context if self.course else None)

    def finalize(self, submission_id: str, outcome: Outcome) -> None:
        """Record a submission's result and publish its learner's grade (see the module docstring)."""
        row = self.queue.row(submission_id)
        slot = self.slot(row)
        result = outcome.result
        folder = submission_folder(self.out, submission_id)
        if result.status == GRADER_ERROR and row["runs"] < _MAX_RUNS and not self.stopping.is_set():
            slot.journal.write("requeue", learner=row["learner"], submission=submission_id, reason=result.reason)
            self.queue.requeue(submission_id)
            return
        if outcome.executed is not None:
            write_atomic(executed_folder(self.out) / f"{safe_name(submission_id)}.ipynb", outcome.executed)
        write_atomic(folder / RESULT_FILE, result.to_json())
        if row["penalty"] > 0 and result.status != GRADER_ERROR:
            self._penalise(slot, row, result)
        with self._publish:
            counted = self._publish_learner(slot, row["learner"], also=(row, result))
        grade = Corrections.load(slot.folder).grade(result)
        self.queue.finish(submission_id, status=result.status, total=grade.result.total,
                          max_total=result.max_total, grading_key=result.grading_key)
        slot.journal.write("done", learner=row["learner"], submission=submission_id, key=result.grading_key,
                           total=grade.result.total, status=result.status,
                           counts=counted == submission_id)
        if self.grades is not None:
            self.grades.wake.set()   # the LMS's copy of the grade, through the outbox
        self.log(f"graded {row['learner']} (submission {submission_id}, attempt {row['attempt']}): "
                 f"{grade.result.total:g}/{result.max_total:g} in {result.duration_s:.0f} s"
                 + (f" ({result.reason})" if result.reason else ""))

    def _penalise(self, slot: Slot, row, result: SubmissionResult) -> None:
        rid = result_id(result)
        if any(e.action == PENALTY and e.result_id == rid for e in Corrections.load(slot.folder).events(row["learner"])):
            return  # recorded before a kill
        reason = describe_late(slot.assignment.submissions,
                               Timing(late=True, late_by_s=row["late_by_s"], penalty=row["penalty"]))
        with Log.open(slot.folder) as log:
            log.append([Event(action=PENALTY, learner=row["learner"], by=SERVICE, reason=reason,
                              result_id=rid, detail={"fraction": row["penalty"], "late_by_s": row["late_by_s"],
                                                     "submission": row["id"],
                                                     "deadline": str(slot.assignment.submissions.deadline)})])

    def _publish_learner(self, slot: Slot, learner: str, *, also=None) -> str | None:
        """Make the learner's counting submission the one in results/, executed/, feedback/ and the
        gradebook; returns its id."""
        from ..report.html import feedback_page, notebook_images
        from ..report.table import write_gradebook

        corrections = Corrections.load(slot.folder)
        candidates = []
        for row in self.queue.of_learner(learner):
            if self.slot(row) is not slot:
                continue
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
        if slot.assignment.submissions.counts == "best":
            row, result = max(candidates, key=lambda c: (corrections.grade(c[1]).result.total, c[0]["seq"]))
        else:
            row, result = max(candidates, key=lambda c: c[0]["seq"])
        name = safe_name(learner)
        write_atomic(slot.folder / "results" / f"{name}.json", result.to_json())
        executed = executed_folder(self.out) / f"{safe_name(row['id'])}.ipynb"
        target = slot.folder / "executed" / f"{name}.ipynb"
        if executed.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(executed, target.with_name(f".{target.name}.tmp"))
            target.with_name(f".{target.name}.tmp").replace(target)
        slot.results[learner] = result
        write_atomic(slot.folder / "feedback" / f"{name}.html",
                     feedback_page(result, assignment_title=slot.assignment.title,
                                   images=notebook_images(target), corrections=corrections))
        write_gradebook(list(slot.results.values()), slot.folder, corrections=corrections)
        return row["id"]

    def folder_of(self, assignment_id: str) -> Path:
        """The results folder of one of the service's assignments."""
        return self.slots[assignment_id].folder

    def accept(self, learner, upload, assignment=None):
        """Queue ``upload`` of ``learner`` to ``assignment`` (:meth:`SubmissionQueue.accept`)."""
        return self.queue.accept(learner, upload, assignment)

    async def accept_async(self, learner, upload, assignment=None, clock=None):
        """:meth:`accept` on the event loop (:meth:`SubmissionQueue.accept_async`)."""
        return await self.queue.accept_async(learner, upload, assignment, clock=clock)

    # --- what the pages show -------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        from .store import connect

        return {row[0]: row[1] for row in connect(self.out).execute(
            "SELECT state, COUNT(*) FROM submissions GROUP BY state")}

    def results(self, assignment_id: str | None = None) -> list[SubmissionResult]:
        with self._publish:
            return list(self.slots[assignment_id or self.assignment.id].results.values())
