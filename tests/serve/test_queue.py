"""The queue's accepting path on its own (no server, no kernel): group commit, the notebooks'
files written after the answer, and what a kill between the two leaves (grader/serve/queue.py).

A kill is real: a child process accepts and is SIGKILLed; its flusher is held back (a long quiet
period) so that the kill surely falls between the commit and the files.
"""
from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading

from grader.assignments import load_assignment
from grader.serve import queue as queue_module
from grader.serve.policy import Refused
from grader.serve.queue import NOTEBOOK_FILE, SubmissionQueue
from grader.serve.store import close_connections, submission_folder
from grader.serve.tokens import Learner
from grader.serve.upload import Upload
from tests.conftest import ROOT
from tests.serve.harness import assignment_copy


def _upload(number: int) -> Upload:
    content = f'{{"cells": [], "n": {number}}}'.encode()
    return Upload(email=f"l{number}@example.org", token="t", file_name="nb.ipynb", content=content,
                  sha256=hashlib.sha256(content).hexdigest(), claims={}, assignment="sklearn_digits")


def _uploads_left(out) -> int:
    db = sqlite3.connect(out / "serve" / "serve.sqlite")
    try:
        return db.execute("SELECT COUNT(*) FROM uploads").fetchone()[0]
    finally:
        db.close()


def test_limits_hold_inside_one_group_and_other_learners_go_on(tmp_path):
    assignment = load_assignment(assignment_copy(tmp_path, "attempts = 2\n"))
    queue = SubmissionQueue(tmp_path / "out", assignment)
    queue.start()
    same, other = Learner("eve", "eve@example.org"), Learner("bob", "bob@example.org")
    barrier, answers = threading.Barrier(7), []

    def send(learner, number):
        barrier.wait()
        try:
            answers.append((learner.learner, queue.accept(learner, _upload(number))))
        except Refused as refused:
            answers.append((learner.learner, refused))

    threads = [threading.Thread(target=send, args=(same if n < 5 else other, n)) for n in range(7)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    eve = [a for who, a in answers if who == "eve"]
    accepted = sorted(a.attempt for a in eve if not isinstance(a, Refused))
    assert accepted == [1, 2]                                   # attempts = 2, however they were grouped
    assert [a.code for a in eve if isinstance(a, Refused)] == ["attempts"] * 3
    assert sorted(a.attempt for who, a in answers if who == "bob") == [1, 2]
    positions = sorted(a.position for _, a in answers if not isinstance(a, Refused))
    assert positions == [1, 2, 3, 4]
    queue.stop()
    for _, answer in answers:                                   # every accepted one in its file, none else
        if not isinstance(answer, Refused):
            assert (submission_folder(queue.out, answer.id) / NOTEBOOK_FILE).is_file()
    assert len(list((queue.out / "serve" / "submissions").iterdir())) == 4
    assert _uploads_left(queue.out) == 0
    close_connections()


def test_a_grading_that_starts_before_the_flusher_writes_the_file_itself(tmp_path, monkeypatch):
    monkeypatch.setattr(queue_module, "_QUIET_S", 60.0)        # the flusher waits: the file is not there yet
    monkeypatch.setattr(queue_module, "_LONGEST_WAIT_S", 60.0)
    queue = SubmissionQueue(tmp_path / "out", load_assignment(assignment_copy(tmp_path)))
    queue.start()
    upload = _upload(1)
    accepted = queue.accept(Learner("eve", "eve@example.org"), upload)
    path = submission_folder(queue.out, accepted.id) / NOTEBOOK_FILE
    assert not path.exists() and _uploads_left(queue.out) == 1   # answered: on disk in the database only
    assert queue.notebook(accepted.id) == path and path.read_bytes() == upload.content
    assert _uploads_left(queue.out) == 0
    queue.stop()
    close_connections()


_CHILD = """
import os, signal, sys
sys.path.insert(0, {root!r})
from grader.assignments import load_assignment
from grader.serve import queue as queue_module
from grader.serve.queue import SubmissionQueue
from grader.serve.tokens import Learner
from tests.serve.test_queue import _upload

queue_module._QUIET_S = queue_module._LONGEST_WAIT_S = 600.0   # the files wait past the kill
queue = SubmissionQueue({out!r}, load_assignment({assignment!r}))
queue.start()
for number in range(5):
    print(queue.accept(Learner(f"l{{number}}", f"l{{number}}@example.org"), _upload(number)).id, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_kill_between_the_answer_and_the_files_loses_nothing(tmp_path):
    assignment = assignment_copy(tmp_path)
    out = tmp_path / "out"
    child = subprocess.run([sys.executable, "-c", _CHILD.format(root=str(ROOT), out=str(out),
                                                              assignment=str(assignment))],
                           cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stderr
    ids = child.stdout.split()
    assert len(ids) == 5                                        # five learners told "accepted"
    assert not any((submission_folder(out, i) / NOTEBOOK_FILE).exists() for i in ids)
    assert _uploads_left(out) == 5
    queue = SubmissionQueue(out, load_assignment(assignment))
    queue.recover()                                             # what a start does first
    for number, submission_id in enumerate(ids):
        assert (submission_folder(out, submission_id) / NOTEBOOK_FILE).read_bytes() == _upload(number).content
    assert _uploads_left(out) == 0
    assert not [p for p in os.listdir(submission_folder(out, ids[0])) if p.endswith(".tmp")]
    close_connections()


def test_a_group_larger_than_one_statement_is_recorded_whole(tmp_path):
    # 150 submissions in one group: more rows than one INSERT takes (999 values at most, for the
    # SQLite of older systems), each recorded once, in order, with its notebook's bytes.
    from grader.serve.store import connect

    queue = SubmissionQueue(tmp_path / "out", load_assignment(assignment_copy(tmp_path)))
    db = connect(queue.out)
    group = [(Learner(f"l{n}", f"l{n}@example.org"), _upload(n), queue.assignment) for n in range(150)]
    db.execute("BEGIN IMMEDIATE")
    answers = queue._record(db, group)
    db.execute("COMMIT")
    assert [a.position for a in answers] == list(range(1, 151))
    rows = db.execute("SELECT s.learner, u.content FROM submissions s JOIN uploads u ON u.id = s.id "
                      "ORDER BY s.seq").fetchall()
    assert [(r[0], r[1]) for r in rows] == [(f"l{n}", _upload(n).content) for n in range(150)]
    close_connections()
