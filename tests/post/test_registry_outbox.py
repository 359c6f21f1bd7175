"""The registry, the outbox, the retry policy and the command line's wiring."""
from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from grader.exceptions import DestinationConfigError
from grader.post.delivery import RETRY, Attempt, RetryPolicy, deliver, parse_retry_after
from grader.post.destinations.base import Destination
from grader.post.outbox import Outbox
from grader.post.registry import Registry, default_registry
from tests.conftest import ROOT


def test_registry_is_one_explicit_table():
    registry = default_registry()
    assert registry.names() == ["coursera", "gradescope", "lti", "webhook"]
    # Importing a destination module registers nothing.
    import grader.post.destinations.webhook  # noqa: F401

    assert Registry().names() == []
    with pytest.raises(ValueError, match="already registered"):
        registry.register("webhook", Destination)
    with pytest.raises(TypeError):
        registry.register("other", object)
    with pytest.raises(ValueError):
        registry.register("retry", Destination)   # a reserved config table
    with pytest.raises(DestinationConfigError, match="known: coursera, gradescope, lti, webhook"):
        registry.get("canvas")


def test_cli_help_names_every_registered_destination():
    from grader.cli.post import DESTINATIONS_HELP

    assert all(name in DESTINATIONS_HELP for name in default_registry().names())


def test_importing_the_cli_is_cheap():
    code = ("import sys, argparse; import grader.cli.post as c; p = argparse.ArgumentParser(); "
            "s = p.add_subparsers(); c.add_parser(s); c.add_post_option(s.add_parser('grade'));"
            "heavy = [m for m in sys.modules if m.split('.')[0] in ('requests', 'sqlite3', 'jwt', "
            "'cryptography', 'tensorflow', 'numpy')]; assert not heavy, heavy")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr


def test_wired_into_grader_cli():
    from grader.cli import build_parser

    help_text = build_parser().format_help()
    if " post " not in help_text and "post," not in help_text and "post}" not in help_text:
        pytest.skip("`grader post` is not wired into grader/cli.py yet (see docs/posting.md)")
    out = subprocess.run([sys.executable, "-m", "grader", "post", "--help"], capture_output=True,
                         text=True, cwd=ROOT)
    assert out.returncode == 0 and "--retry-failed" in out.stdout
    out = subprocess.run([sys.executable, "-m", "grader", "grade", "--help"], capture_output=True,
                         text=True, cwd=ROOT)
    assert "--post NAME" in out.stdout


def test_outbox_records_once_and_supersedes(tmp_path):
    with Outbox.open(tmp_path) as outbox:
        common = dict(destination="webhook", target="https://h/x?token=abc", target_shown="https://h/x",
                      learner="alice", result_file="results/alice.json", score=3, max_score=5)
        first = outbox.record(digest="d1", **common)
        assert outbox.record(digest="d1", **common).key == first.key
        second = outbox.record(digest="d2", **common)
        assert second.key != first.key and outbox.get(first.key).status == "superseded"
        outbox.mark_sent(second.key, http_status=200, message="ok")
        third = outbox.record(digest="d1", **common)   # back to the first grade: a new event
        assert third.key not in (first.key, second.key) and third.seq == 2
        assert [r.key for r in outbox.due(destination="webhook", target=common["target"])] == \
            [third.key]
    assert (tmp_path / "outbox.sqlite").stat().st_mode & 0o077 == 0
    assert b"token=abc" not in (tmp_path / "outbox.sqlite").read_bytes()


def test_outbox_for_out_and_out_results_is_the_same(results_dir, clean_env):
    from grader.post.scores import locate

    assert locate(results_dir)[0] == locate(results_dir / "results")[0] == results_dir


def test_retry_after_seconds_and_http_date():
    now = datetime(2026, 1, 5, 10, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True),
                             now=now) == 30.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True),
                             now=now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_backoff_doubles_with_jitter_and_honours_retry_after():
    policy = RetryPolicy(base_delay=1.0, max_delay=10.0, max_retry_after=60.0)
    assert [policy.wait(n, rng=lambda: 0.0) for n in (1, 2, 3, 4, 5)] == [0.5, 1, 2, 4, 5]
    assert [policy.wait(n, rng=lambda: 1.0) for n in (1, 2, 5)] == [1, 2, 10]
    assert policy.wait(1, retry_after=20.0, rng=lambda: 0.0) == 20.0
    assert policy.wait(1, retry_after=120.0) is None


def test_retry_after_beyond_the_limit_leaves_it_for_a_later_run():
    waits = []
    attempt, tries = deliver(lambda: Attempt(RETRY, "HTTP 429: slow down", 429, 3600.0),
                             policy=RetryPolicy(attempts=5), sleep=waits.append)
    assert tries == 1 and not waits and attempt.outcome == RETRY
    assert "asked to wait 3600 s" in attempt.message


def test_results_folder_errors(tmp_path, clean_env):
    from grader.exceptions import PostError
    from grader.post import post_results

    with pytest.raises(PostError, match="is not a folder of results"):
        post_results(tmp_path / "nope", to="gradescope")
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "broken.json").write_text("{not json")
    with pytest.raises(PostError, match="broken.json: not a readable result file"):
        post_results(tmp_path / "r", to="gradescope")


def _grade_args(argv):
    """Parse like `grader grade` does once add_post_option is wired in."""
    import argparse

    from grader.cli.post import add_post_option

    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="results")
    parser.add_argument("--quiet", "-q", action="store_true")
    parser.add_argument("--assignment")
    add_post_option(parser)
    return parser.parse_args(argv)


def test_grade_post_options_check_early_and_post_after(results_dir, receiver, learners_csv,
                                                       clean_env, capsys):
    from grader.cli.post import check_post_options, post_after_grade

    from .conftest import WEBHOOK_SECRET

    args = _grade_args(["--out", str(results_dir), "--post", "webhook", "--post", "gradescope",
                        "--post-url", receiver.url, "--post-learners", str(learners_csv), "-q"])
    with pytest.raises(DestinationConfigError, match="GRADER_WEBHOOK_SECRET"):
        check_post_options(args)                 # before any grading happens
    clean_env.setenv("GRADER_WEBHOOK_SECRET", WEBHOOK_SECRET)
    check_post_options(args)
    assert post_after_grade(args, results_dir) == 0
    out = capsys.readouterr().out
    assert "webhook -> http://127.0.0.1:" in out and "gradescope -> " in out
    assert sorted(receiver.applied.values()) == [1, 1, 1]
    assert (results_dir / "gradescope" / "bob" / "results.json").is_file()
    assert _grade_args([]).post == []
