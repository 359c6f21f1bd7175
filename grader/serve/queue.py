"""Accepted submissions: never lost across a restart or a kill, each graded once.

:meth:`SubmissionQueue.accept` hands the upload to the queue's committer thread, which
decides (deadline, attempts, rate: :mod:`grader.serve.policy`) and records the submission -
its row and the notebook's bytes (table ``uploads``) - in one transaction, committed before
the learner is told "accepted".  The committer takes whatever arrived while it committed the
previous group, and records the whole group in a handful of statements and one fsync (group
commit).  Its files are written after the answer: the flusher thread writes each notebook
to ``OUT/serve/submissions/ID/notebook.ipynb``, syncs it, and only then drops its copy from
``uploads``; a grading that starts before the flusher got there writes the file itself
(:meth:`SubmissionQueue.notebook`), and a start after a kill writes what the killed service
had not (:meth:`recover`).  Nothing is written for a refused submission.

Why so (bench/bench_serve.py): a burst of 200 uploads at a deadline, each written and
synced through the thread pool, then its row committed by itself, spent most of its time
waiting for the interpreter's lock between the event loop and those threads - every system
call and every SQLite statement let go of it, and getting it back meant waiting for the
event loop's turn to end.

The grading side :meth:`claim`\\ s the oldest queued submission (``running``),
and :meth:`finish`\\ es it once its result is on disk (``done``).  At a start,
:meth:`recover` puts back what a killed service was running: a submission whose
result was already written is finished, not graded again
(:meth:`grader.serve.service.GradingService.start`).
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import os
import secrets
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..specs.model import Assignment
from .policy import Refused, Timing, check_limits, timing
from .store import close_connections, connect, iso, serve_folder, submission_folder, utc_now
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
    _sync_folder(path.parent)


class SubmissionQueue:
    """The queue of one results folder's service (see the module docstring)."""

    def __init__(self, out: Path, assignment: Assignment):
        self.out, self.assignment = Path(out), assignment   # the default one (a row of version 1 has no id)
        self.arrived = threading.Event()   # set when a submission is accepted

    # --- accepting ---------------------------------------------------------------------------

    def accept(self, learner: Learner, upload: Upload, assignment: Assignment | None = None) -> Accepted:
        """Record ``upload`` for ``learner`` to ``assignment`` (default: the queue's), or raise
        :class:`Refused` (nothing kept).  Deadline, attempts and rate are the assignment's; the
        answer comes once the submission is on disk (see the module docstring)."""
        return self._committer().submit((learner, upload, assignment or self.assignment)).result()

    async def accept_async(self, learner: Learner, upload: Upload, assignment: Assignment | None = None,
                           clock=None) -> Accepted:
        """:meth:`accept` for the event loop: the commit is awaited without holding a thread, and
        a group's answers reach the loop in one call (not one wake-up of the loop each)."""
        import asyncio

        accepted = await self._committer().submit((learner, upload, assignment or self.assignment),
                                                  asyncio.get_running_loop())
        if clock is not None:
            clock.lap("commit")
        return accepted

    def start(self) -> None:
        """Start the committer and the flusher (before the first submission, so that none waits)."""
        self._committer()

    def _committer(self) -> "_Committer":
        with _COMMITTERS_LOCK:
            committer = getattr(self, "_commits", None)
            if committer is None or not committer.is_alive():
                if getattr(self, "_files", None) is None or not self._files.is_alive():
                    self._files = _Flusher(self)
                    self._files.start()
                committer = self._commits = _Committer(self, self._files)
                committer.start()
        return committer

    def _record(self, db, group: list[tuple]) -> list:
        """The decisions and rows of a group of (learner, upload, assignment), inside the
        committer's transaction: an :class:`Accepted` or a :class:`Refused` each, in order.
        A few statements for the whole group, whatever its size (each statement lets go of the
        interpreter's lock, and getting it back waits for the event loop's turn)."""
        now = utc_now()
        clock = now.timestamp()
        learners = sorted({learner.learner for learner, _, _ in group})
        times: dict[tuple[str, str], list[float]] = {}
        for chunk in _chunks(learners, 500):
            for row in db.execute(f"SELECT learner, assignment, received_unix FROM submissions WHERE learner IN "
                                  f"({', '.join('?' * len(chunk))})", chunk):
                times.setdefault((row[0], row[1] or self.assignment.id), []).append(row[2])
        waiting = db.execute("SELECT COUNT(*) FROM submissions WHERE state!='done'").fetchone()[0]
        answers, rows, uploads = [], [], []
        for learner, upload, assignment in group:
            theirs = times.setdefault((learner.learner, assignment.id), [])
            try:
                when = timing(assignment.submissions, now)
                check_limits(assignment.submissions, accepted=theirs, now=clock)
            except Refused as refused:   # decided before its row: the others go on
                answers.append(refused)
                continue
            submission_id, key = secrets.token_hex(8), secrets.token_urlsafe(18)
            theirs.append(clock)
            waiting += 1
            rows.append((submission_id, assignment.id, learner.learner, learner.email, iso(now), clock,
                         upload.file_name, len(upload.content), upload.sha256, len(theirs), when.label,
                         when.late_by_s, when.penalty, digest(key)))
            uploads.append((submission_id, upload.content))
            answers.append(Accepted(id=submission_id, key=key, attempt=len(theirs), timing=when,
                                    position=waiting, received_at=iso(now)))
        for chunk in _chunks(rows, 999 // 14):   # (SQLite before 3.32 takes at most 999 values a statement)
            db.execute("INSERT INTO submissions (id, assignment, learner, email, received_at, received_unix, "
                       "file_name, size, sha256, attempt, timing, late_by_s, penalty, view_key_sha256) VALUES "
                       + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk)),
                       [value for row in chunk for value in row])
        for chunk in _chunks(uploads, 999 // 2):
            db.execute("INSERT INTO uploads (id, content) VALUES " + ", ".join(["(?, ?)"] * len(chunk)),
                       [value for pair in chunk for value in pair])
        return answers

    # --- the notebooks' files ------------------------------------------------------------------

    def notebook(self, submission_id: str) -> Path:
        """The file of a submission's notebook, written and synced now if the flusher has not yet."""
        path = submission_folder(self.out, submission_id) / NOTEBOOK_FILE
        files = getattr(self, "_files", None)
        if files is not None:
            files.flush(submission_id)
        if not path.is_file():   # committed, not yet handed to the flusher (or no flusher: a start)
            with files.lock if files is not None else _NO_LOCK:
                self._write_from_database([submission_id])
        return path

    def _write_from_database(self, ids: list[str]) -> None:
        """The files of ``ids`` written and synced from their copy in ``uploads``, then the copy dropped."""
        db = connect(self.out)
        for chunk in _chunks(ids, 500):
            marks = ", ".join("?" * len(chunk))
            for row in db.execute(f"SELECT id, content FROM uploads WHERE id IN ({marks})", chunk):
                _write_notebook(self.out, row[0], row[1])
            db.execute(f"DELETE FROM uploads WHERE id IN ({marks})", chunk)

    def stop(self) -> None:
        """Commit what waits, write the files the flusher still holds, and end both threads (a
        stop, not a kill: a kill leaves the files to :meth:`recover`)."""
        with _COMMITTERS_LOCK:
            threads = [getattr(self, "_commits", None), getattr(self, "_files", None)]
            self._commits = self._files = None
        for thread in threads:   # the committer first: what it commits, it hands to the flusher
            if thread is not None:
                thread.finish()

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
        self._write_from_database([row[0] for row in db.execute("SELECT id FROM uploads")])
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
_QUIET_S, _LONGEST_WAIT_S = 0.25, 5.0   # the flusher writes once no submission came for _QUIET_S
_NO_LOCK = contextlib.nullcontext()


class _QueueThread(threading.Thread):
    """A thread of the queue that waits on its ``condition`` for work, and that :meth:`finish`
    ends once it has done what it holds (its loop returns when ``stopping`` and nothing is left)."""

    def __init__(self, queue: SubmissionQueue, name: str):
        super().__init__(name=name, daemon=True)
        self.queue = queue
        self.condition = threading.Condition()
        self.stopping = False

    def finish(self) -> None:
        """Do what is held, then end."""
        with self.condition:
            self.stopping = True
            self.condition.notify()
        self.join()


class _Committer(_QueueThread):
    """Records submissions in groups (see the module docstring): each waiting caller gets its
    :class:`Accepted`, or its own :class:`Refused` (a limit reached: no row), once the group's
    one transaction is on disk; ``files`` (the flusher) then writes their notebooks."""

    def __init__(self, queue: SubmissionQueue, files: "_Flusher"):
        super().__init__(queue, "grader-serve-commits")
        self.files = files
        self.waiting: list[tuple[tuple, concurrent.futures.Future]] = []

    def submit(self, item: tuple, loop=None):
        """The future :class:`Accepted` of ``item`` (or its :class:`Refused`), once committed: an
        asyncio future of ``loop`` (called from it), else a :class:`concurrent.futures.Future`."""
        future = loop.create_future() if loop is not None else concurrent.futures.Future()
        with self.condition:
            self.waiting.append((item, future))
            self.condition.notify()
        return future

    def run(self) -> None:
        connect(self.queue.out)   # opened now: the first submission of a burst does not wait for it
        try:
            while True:
                with self.condition:
                    while not self.waiting and not self.stopping:
                        self.condition.wait()
                    if not self.waiting:
                        return
                    group, self.waiting = self.waiting, []
                self._commit(group)
        finally:
            close_connections()

    def _commit(self, group: list) -> None:
        db = connect(self.queue.out)
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                answers = self.queue._record(db, [item for item, _ in group])
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        except BaseException as exc:  # noqa: BLE001 - the database failed: every caller of the group is told
            answers = [exc] * len(group)
        notebooks = {answer.id: item[1].content for (item, _), answer in zip(group, answers)
                     if isinstance(answer, Accepted)}
        self.files.hand(notebooks)
        if notebooks:
            self.queue.arrived.set()
        loops: dict = {}
        for (_, future), answer in zip(group, answers):
            if isinstance(future, concurrent.futures.Future):
                _settle(((future, answer),))
            else:
                loops.setdefault(future.get_loop(), []).append((future, answer))
        for loop, settled in loops.items():
            try:
                loop.call_soon_threadsafe(_settle, settled)
            except RuntimeError:   # the loop is closed: nobody waits for these answers any more
                pass


class _Flusher(_QueueThread):
    """Writes committed submissions' notebooks to their files and syncs them, then drops their
    copies from ``uploads`` - after the learners had their answers, once a burst is over."""

    def __init__(self, queue: SubmissionQueue):
        super().__init__(queue, "grader-serve-files")
        self.pending: dict[str, bytes] = {}
        self.lock = threading.Lock()   # one writer of a file at a time (this thread, or a grading's)

    def hand(self, notebooks: dict[str, bytes]) -> None:
        if notebooks:
            with self.condition:
                self.pending.update(notebooks)
                self.condition.notify()

    def flush(self, submission_id: str) -> None:
        """The file of ``submission_id`` on disk now (a grading about to read it)."""
        with self.lock:
            with self.condition:
                content = self.pending.pop(submission_id, None)
            if content is not None:
                _write_notebook(self.queue.out, submission_id, content)
                self._forget([submission_id])

    def run(self) -> None:
        try:
            while True:
                with self.condition:
                    while not self.pending and not self.stopping:
                        self.condition.wait()
                    # Within a burst, after it: each file's system calls would take turns with the
                    # event loop for the interpreter's lock.  The copies are on disk already, and a
                    # grading writes the file it takes itself (flush).
                    first = time.monotonic()
                    while not self.stopping and self.condition.wait(_QUIET_S) and \
                            time.monotonic() - first < _LONGEST_WAIT_S:
                        pass
                    last = self.stopping
                self._drain()
                if last:
                    return
        finally:
            close_connections()

    def _drain(self) -> None:
        """Every pending file on disk (one at a time: a grading's :meth:`flush` never waits for
        more than one), their folders' entries synced, and their copies dropped."""
        done = []
        while True:
            with self.lock:
                with self.condition:
                    if not self.pending:
                        break
                    submission_id = next(iter(self.pending))
                    content = self.pending.pop(submission_id)
                _write_notebook(self.queue.out, submission_id, content)
            done.append(submission_id)
        if done:
            self._forget(done)

    def _forget(self, ids: list[str]) -> None:
        _sync_folder(submission_folder(self.queue.out, ids[0]).parent)   # the new folders' entries
        db = connect(self.queue.out)
        for chunk in _chunks(ids, 500):
            db.execute(f"DELETE FROM uploads WHERE id IN ({', '.join('?' * len(chunk))})", chunk)


def _settle(settled) -> None:
    """Each (future, answer): the future's result, or its exception (a refusal, a failure)."""
    for future, answer in settled:
        if future.cancelled():
            continue   # the client went away (an asyncio future): its submission stays accepted
        if isinstance(answer, BaseException):
            future.set_exception(answer)
        else:
            future.set_result(answer)


def _write_notebook(out: Path, submission_id: str, content: bytes) -> None:
    folder = submission_folder(out, submission_id)
    folder.mkdir(parents=True, exist_ok=True)
    _write_synced(folder / NOTEBOOK_FILE, content)


def _sync_folder(path: Path) -> None:
    """The entries of ``path`` (new submission folders) on disk."""
    folder = os.open(path, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def _chunks(values: list, size: int):
    for start in range(0, len(values), size):
        yield values[start:start + size]


def refuse_unknown(row) -> None:
    if row is None:
        raise Refused(404, "No such submission (or not yours): open the link your submission printed.",
                      code="not-found")
