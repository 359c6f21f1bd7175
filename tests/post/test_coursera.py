"""The course platform destination against a real endpoint on 127.0.0.1."""
from __future__ import annotations

import importlib.util
import json
import time

import pytest

from grader.post import post_results
from grader.post.scores import course_output
from tests.conftest import ASSIGNMENT_DIR

from .conftest import COURSE_KEY, FAST, make_result, write_results
from .servers import LEARNER_MESSAGE, free_port


def _post(results_dir, learners_csv, url, **kwargs):
    retry = {**FAST, **kwargs.pop("retry", {})}
    return post_results(results_dir, to="coursera", learners=learners_csv,
                        settings={"url": url}, retry=retry, **kwargs)


def test_posts_measured_values_of_every_part_as_the_course_did(course, results_dir, learners_csv,
                                                               tokens, tmp_path):
    hardcoded = write_results(tmp_path / "hc", [make_result("alice", accuracy=0.8893,
                                                            claimed_accuracy=0.99)])
    report = _post(hardcoded, learners_csv, course.url)
    assert report.complete and report.outcomes[0].message == "accepted by Coursera (HTTP 201)"
    (request,) = course.requests
    assert "Content-Type" not in request["headers"]          # like the course's Grader
    body = json.loads(request["body"])
    assert body == {
        "assignmentKey": COURSE_KEY, "submitterEmail": "alice@example.org",
        "secret": tokens["alice"],
        "parts": {"9XaAS": {"output": "784 10 10 None 784 None 10"},
                  "vmogZ": {"output": "0.2563"},
                  "RMv95": {"output": "0.8893"},      # measured, not the claimed 0.99
                  "i8bgs": {},                         # not measured: no answer
                  "rE763": {}},                        # absent from the result: still sent
    }


def test_course_output_matches_the_course_grader_text():
    spec = importlib.util.spec_from_file_location("grading_helper",
                                                  ASSIGNMENT_DIR / "helpers" / "grading.py")
    grading = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(grading)
    for value in (0.2563, 0.93, 1, "784 10 10 None", [784, 10], (None, 10), 0.1 + 0.2):
        assert course_output(value) == grading.answer_text(value)
    assert course_output(None) is None


def test_401_is_failed_with_the_learner_message_and_not_retried(course, results_dir,
                                                                learners_csv, tokens):
    course.plan = ["401"]
    report = _post(results_dir, learners_csv, course.url)
    alice = report.outcomes[0]
    assert (alice.learner, alice.status, alice.attempts, alice.http_status) == \
        ("alice", "failed", 1, 401)
    assert alice.message == f"HTTP 401: {LEARNER_MESSAGE}"
    assert [o.status for o in report.outcomes[1:]] == ["sent", "sent"]
    # A re-run leaves the refused score alone; --retry-failed sends it again.
    again = _post(results_dir, learners_csv, course.url)
    assert again.outcomes[0].status == "failed" and len(course.requests) == 3
    fixed = _post(results_dir, learners_csv, course.url, retry_failed=True)
    assert fixed.complete and len(course.requests) == 4
    assert all(n == 1 for n in course.accept_count.values())


def test_500_html_page_three_times_then_201_is_delivered_once(course, results_dir, learners_csv,
                                                              tokens):
    course.plan = ["500", "500", "500"]
    report = _post(results_dir, learners_csv, course.url)
    assert report.complete
    assert report.outcomes[0].attempts == 4
    assert course.raw_count("alice@example.org") == 4
    assert sorted(course.accept_count.values()) == [1, 1, 1]   # every learner accepted once


def test_500_html_page_is_described_when_retries_run_out(course, results_dir, learners_csv, tokens):
    course.plan = ["500"] * 2
    report = _post(results_dir, learners_csv, course.url, retry={"attempts": 2})
    alice = report.outcomes[0]
    assert alice.status == "pending" and alice.http_status == 500
    assert alice.message.startswith("HTTP 500: Internal Server Error: 500 Internal Server Error "
                                    "Internal Server Error The server encountered an internal "
                                    "error. (still pending after 2 tries")
    assert "<" not in alice.message


def test_slow_answer_past_the_timeout_is_retried(course, results_dir, learners_csv, tokens):
    course.plan = [("slow", 2.0)]
    started = time.monotonic()
    report = _post(results_dir, learners_csv, course.url, retry={"timeout": 0.3})
    assert time.monotonic() - started < 5
    assert report.complete and report.outcomes[0].attempts == 2
    # The platform had accepted the first, slow request too; it keeps the latest submission
    # per learner, and both are the same submission: one grade.
    key = (COURSE_KEY, "alice@example.org")
    assert course.accept_count[key] == 2 and len(course.distinct[key]) == 1


def test_429_honours_retry_after(course, results_dir, learners_csv, tokens):
    course.plan = [("429", 1)]
    report = _post(results_dir, learners_csv, course.url)
    assert report.complete
    first, second = course.requests[0]["at"], course.requests[1]["at"]
    assert second - first >= 0.95


def test_closed_port_stays_pending_then_goes_when_the_endpoint_is_up(results_dir, learners_csv,
                                                                     tokens):
    from .servers import CourseServer

    port = free_port()
    down = _post(results_dir, learners_csv, f"http://127.0.0.1:{port}", retry={"attempts": 2})
    assert [o.status for o in down.outcomes] == ["pending"] * 3
    assert "could not reach http://127.0.0.1:" in down.outcomes[0].message
    assert "Connection refused" in down.outcomes[0].message
    server = CourseServer(port)
    try:
        up = _post(results_dir, learners_csv, server.url)
        assert up.complete
        assert sorted(server.accept_count.values()) == [1, 1, 1]
        assert len(server.requests) == 3                # nothing was received while down
    finally:
        server.close()


def test_missing_email_or_token_fails_that_learner_only(course, results_dir, tmp_path, tokens,
                                                        clean_env):
    learners = tmp_path / "some.csv"
    learners.write_text("learner,email\nalice,alice@example.org\nbob,\ncarol,carol@example.org\n")
    clean_env.delenv("GRADER_COURSERA_TOKEN_CAROL")
    report = _post(results_dir, learners, course.url)
    status = {o.learner: (o.status, o.message) for o in report.outcomes}
    assert status["alice"][0] == "sent"
    assert status["bob"] == ("failed", "no email for learner 'bob': add it to the learners file "
                                       "(--learners FILE, columns learner,email,lms_user_id)")
    assert status["carol"][0] == "failed" and "GRADER_COURSERA_TOKEN_CAROL" in status["carol"][1]
    assert len(course.requests) == 1


def test_token_from_owner_only_config_file(course, results_dir, learners_csv, clean_env, tmp_path):
    config = tmp_path / "post.toml"
    config.write_text('[coursera]\ncourse_key = "OTHERKEY"\n[coursera.tokens]\nalice = "t-a-123456"\n'
                      'bob = "t-b-123456"\ncarol = "t-c-123456"\n')
    config.chmod(0o600)
    report = _post(results_dir, learners_csv, course.url, config=config)
    assert report.complete
    assert {b["secret"] for b in course.bodies()} == {"t-a-123456", "t-b-123456", "t-c-123456"}
    assert {b["assignmentKey"] for b in course.bodies()} == {"OTHERKEY"}


def test_ungradable_result_posts_every_part_empty(course, tmp_path, learners_csv, tokens):
    from grader.results import SubmissionResult

    result = SubmissionResult(learner="alice", assignment="mnist_digits", status="ungradable",
                              reason="not a notebook", max_total=5.0)
    out = write_results(tmp_path / "u", [result])
    assert _post(out, learners_csv, course.url).complete
    assert course.bodies()[0]["parts"] == {p: {} for p in
                                           ("9XaAS", "vmogZ", "RMv95", "i8bgs", "rE763")}


@pytest.mark.parametrize("url", ["http://grades.example.org/api", "ftp://127.0.0.1/x", "nonsense"])
def test_unsafe_or_invalid_url_is_a_config_error(results_dir, learners_csv, tokens, url):
    from grader.exceptions import DestinationConfigError

    with pytest.raises(DestinationConfigError) as info:
        _post(results_dir, learners_csv, url)
    assert "url" in str(info.value)
