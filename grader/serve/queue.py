"""Accepted submissions: never lost across a restart or a kill, each graded once.

:meth:`SubmissionQueue.accept` writes the notebook to its folder and syncs it to
disk, then decides (deadline, attempts, rate: :mod:`grader.serve.policy`) and
records the submission in one transaction, which is committed before the
learner is told "accepted".  A kill before the commit leaves a folder without a
row, removed at the next start; after it, the submission is in the queue.

The grading side :meth:`claim`\\ s the oldest queued submission (``running``),
and :meth:`finish`\\ es it once its result is on disk (``done``).  At a start,
:meth:`recover` puts back what a killed service was running: a submission whose
result was already written is finished, not graded again
(:meth:`grader.serve.service.GradingService.start`).
"""
from __future__ import annotations

import concurrent.futures
import os
import secrets
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..specs.model import Assignment
from .policy import Refused, Timing, check_limits, timing
from .store import connect, iso, serve_folder, submission_folder, utc_now
from .tokens import Learner, digest
from .upload import Upload

NOTEBOOK_FILE = "notebook.ipynb"
RESULT_FILE = "result.json"
PROGRESS_FILE = "progress.jsonl"


@dataclass(frozen=True)
class Accepted:
    """What the learner is told about an accepted submission (``key`` opens its page)."""

    id: str
    key: str
    attempt: int
    timing: Timing
    position: int
    received_at: str


def _write_synced(path: Path, data: bytes) -> None:
    """``data`` in ``path``, on disk (file and folder entry) before this returns."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


class SubmissionQueue:
    """The queue of one results folder's service (see the module docstring)."""

    def __init__(self, out: Path, assignment: Assignment):
        self.out, self.assignment = Path(out), assignment   # the default one (a row of version 1 has no id)
        self.arrived = threading.Event()   # set when a submission is accepted

    # --- accepting ---------------------------------------------------------------------------

    def accept(self, learner: Learner, upload: Upload, assignment: Assignment | None = None) -> Accepted:
        """Record ``upload`` for ``learner`` to ``assignment`` (default: the queue's), or raise
        :class:`Refused` (nothing kept).  Deadline, attempts and rate are the assignment's.

        The notebook is written and synced here, in the caller's thread (uploads sync their files
        side by side); its row is committed by the queue's committer thread, in one transaction
        with whatever other rows arrived meanwhile - one fsync for a group of submissions instead
        of one each, which a burst at a deadline queued behind each other (group commit)."""
        item = self.write(learner, upload, assignment)
        try:
            accepted = self._committer().submit(item).result()
        except BaseException:
            self.discard(item)
            raise
        self.arrived.set()
        return accepted

    async def accept_async(self, learner: Learner, upload: Upload, assignment: Assignment | None = None) -> Accepted:
        """:meth:`accept` for the event loop: the file is written in the thread pool, and the commit
        is awaited without holding a thread (a burst's uploads never wait for threads held by others'
        commits)."""
        import asyncio

        from starlette.concurrency import run_in_threadpool

        item = await run_in_threadpool(self.write, learner, upload, assignment)
        try:
            accepted = await asyncio.wrap_future(self._committer().submit(item))
        except BaseException:
            await run_in_threadpool(self.discard, item)
            raise
        self.arrived.set()
        return accepted

    def write(self, learner: Learner, upload: Upload, assignment: Assignment | None = None) -> tuple:
        """The notebook of a submission to be, written and synced: what :meth:`_insert` records."""
        submission_id, key = secrets.token_hex(8), secrets.token_urlsafe(18)
        folder = submission_folder(self.out, submission_id)
        folder.mkdir(parents=True)
        try:
            _write_synced(folder / NOTEBOOK_FILE, upload.content)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return submission_id, key, learner, upload, assignment or self.assignment

    def discard(self, item: tuple) -> None:
        """The files of a submission refused at its commit (no row: as if it never came)."""
        shutil.rmtree(submission_folder(self.out, item[0]), ignore_errors=True)

    def start(self) -> None:
        """Start the committer (before the first submission, so that none waits for its start)."""
        self._committer()

    def _committer(self) -> "_Committer":
        with _COMMITTERS_LOCK:
            committer = getattr(self, "_commits", None)
            if committer is None or not committer.is_alive():
                committer = self._commits = _Committer(self)
                committer.start()
        return committer

    def _insert(self, db, submission_id: str, key: str, learner: Learner, upload: Upload,
                assignment: Assignment) -> Accepted:
        """The decision and the row of one submission, inside the committer's transaction."""
        now = utc_now()
        clock = now.timestamp()
        when = timing(assignment.submissions, now)
        same = (assignment.id, "") if assignment.id == self.assignment.id else (assignment.id,)
        times = [row[0] for row in db.execute(
            f"SELECT received_unix FROM submissions WHERE learner=? AND assignment IN "
            f"({', '.join('?' * len(same))})", (learner.learner, *same))]
        check_limits(assignment.submissions, accepted=times, now=clock)
        db.execute(
            "INSERT INTO submissions (id, assignment, learner, email, received_at, received_unix, file_name, "
            "size, sha256, attempt, timing, late_by_s, penalty, view_key_sha256) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (submission_id, assignment.id, learner.learner, learner.email, iso(now), clock, upload.file_name,
             len(upload.content), upload.sha256, len(times) + 1, when.label, when.late_by_s,
             when.penalty, digest(key)))
        position = db.execute("SELECT COUNT(*) FROM submissions WHERE state!='done'").fetchone()[0]
        return Accepted(id=submission_id, key=key, attempt=len(times) + 1, timing=when,
                        position=position, received_at=iso(now))

    # --- grading -------------------------------------------------------------------------------

    def claim(self):
        """The oldest queued submission, now ``running`` (None when none waits)."""
        db = connect(self.out)
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute("SELECT * FROM submissions WHERE state='queued' ORDER BY seq LIMIT 1").fetchone()
            if row is not None:
                db.execute("UPDATE submissions SET state='running', runs=runs+1, started_at=? WHERE id=?",
                           (iso(utc_now()), row["id"]))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return row

    def finish(self, submission_id: str, *, status: str, total: float, max_total: float,
               grading_key: str) -> None:
        connect(self.out).execute(
            "UPDATE submissions SET state='done', finished_at=?, finished_unix=?, status=?, total=?, "
            "max_total=?, grading_key=? WHERE id=?",
            (iso(utc_now()), time.time(), status, total, max_total, grading_key, submission_id))

    def requeue(self, submission_id: str) -> None:
        connect(self.out).execute("UPDATE submissions SET state='queued' WHERE id=? AND state='running'",
                                  (submission_id,))

    def recover(self) -> list:
        """At a start: the rows a killed service left ``running`` (the caller finishes or requeues
        them), after removing folders of submissions that were never committed."""
        db = connect(self.out)
        known = {row[0] for row in db.execute("SELECT id FROM submissions")}
        root = serve_folder(self.out) / "submissions"
        if root.is_dir():
            for folder in root.iterdir():
                if folder.is_dir() and folder.name not in known:
                    shutil.rmtree(folder, ignore_errors=True)  # accepted never: its commit did not happen
        return list(db.execute("SELECT * FROM submissions WHERE state='running' ORDER BY seq"))

    # --- reading -------------------------------------------------------------------------------

    def row(self, submission_id: str):
        return connect(self.out).execute("SELECT * FROM submissions WHERE id=?", (submission_id,)).fetchone()

    def opens(self, submission_id: str, key: str):
        """The row when ``key`` is its page key, else None (no difference told between the two)."""
        row = self.row(submission_id)
        if row is None or not isinstance(key, str) or not secrets.compare_digest(row["view_key_sha256"],
                                                                                 digest(key)):
            return None
        return row

    def of_learner(self, learner: str) -> list:
        return list(connect(self.out).execute("SELECT * FROM submissions WHERE learner=? ORDER BY seq",
                                              (learner,)))

    def position(self, row) -> int:
        """How many submissions are ahead of ``row`` (queued or running before it), 0 when running."""
        if row["state"] != "queued":
            return 0
        return connect(self.out).execute(
            "SELECT COUNT(*) FROM submissions WHERE state!='done' AND seq<?", (row["seq"],)).fetchone()[0]

    def learner_row(self, learner: str):
        """The roster's row of ``learner`` (None when not on it)."""
        return connect(self.out).execute("SELECT * FROM learners WHERE learner=?", (learner,)).fetchone()

    def all(self) -> list:
        return list(connect(self.out).execute("SELECT * FROM submissions ORDER BY seq"))


_COMMITTERS_LOCK = threading.Lock()


class _Committer(threading.Thread):
    """Commits submissions' rows in groups (see :meth:`SubmissionQueue.accept`): each waiting caller
    gets its :class:`Accepted`, or its own :class:`Refused` (a limit reached: no row), once the
    group's one transaction is on disk."""

    def __init__(self, queue: SubmissionQueue):
        super().__init__(name="grader-serve-commits", daemon=True)
        self.queue = queue
        self.waiting: list[tuple[tuple, concurrent.futures.Future]] = []
        self.condition = threading.Condition()

    def submit(self, item: tuple) -> "concurrent.futures.Future":
        """The future :class:`Accepted` of ``item`` (or its :class:`Refused`), once committed."""
        future: concurrent.futures.Future = concurrent.futures.Future()
        with self.condition:
            self.waiting.append((item, future))
            self.condition.notify()
        return future

    def run(self) -> None:
        connect(self.queue.out)   # opened now: the first submission of a burst does not wait for it
        while True:
            with self.condition:
                while not self.waiting:
                    self.condition.wait()
                group, self.waiting = self.waiting, []
            answers = []
            db = connect(self.queue.out)
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    for item, _ in group:
                        try:
                            answers.append(self.queue._insert(db, *item))
                        except Refused as refused:   # decided before its row: the others go on
                            answers.append(refused)
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
            except BaseException as exc:  # noqa: BLE001 - the database failed: every caller of the group is told
                answers = [exc] * len(group)
            for (_, future), result in zip(group, answers):
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)


def refuse_unknown(row) -> None:
    if row is None:
        raise Refused(404, "No such submission (or not yours): open the link your submission printed.",
                      code="not-found")
