"""Fault tests: the harness killed mid-post, and the outbox's exactly-once promise.

``grader post`` runs in a subprocess; the server receives (and applies) a
score, then holds its answer; the test SIGKILLs the harness while it waits -
after the destination has the score, before the outbox could mark it sent -
and posts again.  The re-run sends only what was not confirmed, under the
same idempotency key.
"""
from __future__ import annotations

import os
import signal

import pytest

from grader.exceptions import PostError
from grader.post import outbox_status, post_results

from .conftest import COURSE_KEY, FAST, WEBHOOK_SECRET, popen_post_cli


def _env(tmp_path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRADER_POST", "GRADER_WEB",
                                                                     "GRADER_COURSERA"))}
    env.update(HOME=str(tmp_path / "home"), **extra)
    return env


def _kill_when(proc, server, seen) -> None:
    try:
        server.wait_for(seen, timeout=20)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL


def _status(results_dir) -> dict:
    return {row.learner: (row.status, row.attempts) for row in outbox_status(results_dir)}


def test_killed_after_the_receiver_applied_before_the_outbox_knew(receiver, results_dir,
                                                                  clean_env, tmp_path):
    # alice is answered at once; bob's score is applied, then the answer is held back.
    receiver.plan = [None, ("apply-then-wait", 30)]
    proc = popen_post_cli([str(results_dir), "--to", "webhook", "--url", receiver.url,
                           "--base-delay", "0.01"],
                          env=_env(tmp_path, GRADER_WEBHOOK_SECRET=WEBHOOK_SECRET))
    try:
        receiver.wait_for(lambda: receiver.keys_for("bob"))
        # Meanwhile the folder is locked: a second run cannot send bob's pending score too.
        clean_env.setenv("GRADER_WEBHOOK_SECRET", WEBHOOK_SECRET)
        with pytest.raises(PostError, match="another `grader post` is posting"):
            post_results(results_dir, to="webhook", settings={"url": receiver.url}, retry=FAST)
    finally:
        _kill_when(proc, receiver, lambda: receiver.keys_for("bob"))
    assert _status(results_dir) == {"alice": ("sent", 1), "bob": ("pending", 1),
                                    "carol": ("pending", 0)}

    report = post_results(results_dir, to="webhook", settings={"url": receiver.url}, retry=FAST)
    assert report.complete
    by_learner = {o.learner: o for o in report.outcomes}
    assert by_learner["alice"].already_sent and by_learner["alice"].attempts == 0
    assert by_learner["bob"].attempts == 1 and by_learner["carol"].attempts == 1
    raw = {name: receiver.raw[receiver.keys_for(name)[0]] for name in ("alice", "bob", "carol")}
    assert raw == {"alice": 1, "bob": 2, "carol": 1}       # bob re-sent under the same key ...
    assert sorted(receiver.applied.values()) == [1, 1, 1]  # ... and applied exactly once
    assert len(receiver.documents) == 3


def test_killed_mid_post_to_the_course_platform(course, results_dir, learners_csv, tokens,
                                                tmp_path):
    course.plan = [None, ("accept-then-wait", 30)]
    env = _env(tmp_path, **{f"GRADER_COURSERA_TOKEN_{n.upper()}": t for n, t in tokens.items()})
    proc = popen_post_cli([str(results_dir), "--to", "coursera", "--url", course.url,
                           "--learners", str(learners_csv), "--base-delay", "0.01"], env=env)
    bob = (COURSE_KEY, "bob@example.org")
    _kill_when(proc, course, lambda: bob in course.accepted)
    assert _status(results_dir)["bob"] == ("pending", 1)

    report = post_results(results_dir, to="coursera", learners=learners_csv,
                          settings={"url": course.url}, retry=FAST)
    assert report.complete
    assert course.raw_count("alice@example.org") == 1 and course.raw_count("carol@example.org") == 1
    # The platform has no idempotency key: bob's submission arrived twice, identical, and the
    # platform keeps one (the latest) per learner - one grade.
    assert course.raw_count("bob@example.org") == 2 and len(course.distinct[bob]) == 1
    assert len(course.accepted) == 3


def test_status_lists_pending_sent_failed(course, results_dir, learners_csv, tokens, capsys):
    from tests.post.conftest import post_main as main

    course.plan = ["401"]
    assert main([str(results_dir), "--to", "coursera", "--url", course.url, "--learners",
                 str(learners_csv), "--base-delay", "0.01", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "alice" in out and "failed" in out and "1 failed" in out and "2 sent" in out
    assert main([str(results_dir), "--status"]) == 1
    status = capsys.readouterr().out
    assert "# coursera -> http://127.0.0.1:" in status and "1 failed, 2 sent" in status
    assert main([str(results_dir), "--to", "coursera", "--url", course.url, "--learners",
                 str(learners_csv), "--retry-failed", "--quiet"]) == 0
    assert main([str(results_dir), "--status"]) == 0
    assert "3 sent" in capsys.readouterr().out
