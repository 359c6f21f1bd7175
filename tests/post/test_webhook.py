"""The webhook destination: signed documents, idempotency keys, exactly-once with a receiver."""
from __future__ import annotations

import threading
import time

from grader.post import post_results
from grader.post.destinations.webhook import sign

from .conftest import FAST, WEBHOOK_SECRET, make_result, write_results
from .servers import WebhookReceiver, free_port


def _post(results_dir, url, **kwargs):
    retry = {**FAST, **kwargs.pop("retry", {})}
    return post_results(results_dir, to="webhook", settings={"url": url}, retry=retry, **kwargs)


def test_signed_document_per_learner(receiver, results_dir, learners_csv, clean_env):
    clean_env.setenv("GRADER_WEBHOOK_SECRET", WEBHOOK_SECRET)
    report = _post(results_dir, receiver.url, learners=learners_csv)
    assert report.complete and receiver.bad_signatures == 0
    assert sorted(receiver.applied.values()) == [1, 1, 1]
    request = receiver.requests[0]
    assert request["headers"]["X-Grader-Signature"] == sign(request["body"], WEBHOOK_SECRET)
    assert request["headers"]["Content-Type"] == "application/json"
    (key,) = receiver.keys_for("alice")
    doc = receiver.documents[key]
    assert doc["idempotency_key"] == key == request["headers"]["Idempotency-Key"]
    assert (doc["assignment"], doc["learner"], doc["total"], doc["max_total"]) == \
        ("mnist_digits", "alice", 3.0, 5.0)
    assert doc["email"] == "alice@example.org" and doc["lms_user_id"] == "lms-alice"
    assert doc["harness_version"] == "0.1.0" and doc["timestamp"].endswith("+00:00")
    assert doc["parts"][2] == {"id": "RMv95", "status": "passed", "points": 1.0,
                               "max_points": 1.0, "measured": 0.9312, "message": "",
                               "hidden": False}


def test_rerun_sends_nothing_and_a_new_grade_is_a_new_key(receiver, tmp_path, clean_env):
    clean_env.setenv("GRADER_WEBHOOK_SECRET", WEBHOOK_SECRET)
    out = write_results(tmp_path / "out", [make_result("alice", accuracy=0.95)])
    _post(out, receiver.url)
    again = _post(out, receiver.url)
    assert again.outcomes[0].already_sent and len(receiver.requests) == 1
    # Re-grading the same notebook to the same score changes timings only: same digest.
    same = make_result("alice", accuracy=0.95)
    same.duration_s, same.started_at = 99.0, "2026-02-01T00:00:00+00:00"
    write_results(out, [same])
    assert _post(out, receiver.url).outcomes[0].already_sent and len(receiver.requests) == 1
    # A different grade, then the first one again: each is a score event of its own.
    write_results(out, [make_result("alice", accuracy=0.80)])
    _post(out, receiver.url)
    write_results(out, [make_result("alice", accuracy=0.95)])
    _post(out, receiver.url)
    assert len(receiver.requests) == 3 and len(receiver.applied) == 3
    assert [d["total"] for d in receiver.documents.values()] == [3.0, 2.0, 3.0]


def test_wrong_secret_is_refused_with_the_receivers_message(results_dir, clean_env):
    clean_env.setenv("GRADER_WEBHOOK_SECRET", "not-the-receivers-secret")
    receiver = WebhookReceiver(WEBHOOK_SECRET)
    try:
        report = _post(results_dir, receiver.url)
    finally:
        receiver.close()
    assert {(o.status, o.message, o.attempts) for o in report.outcomes} == \
        {("failed", "HTTP 401: bad signature", 1)}


def test_500_three_times_then_accepted_is_applied_once(receiver, results_dir, clean_env):
    clean_env.setenv("GRADER_WEBHOOK_SECRET", WEBHOOK_SECRET)
    receiver.plan = [500, 503, 502]
    report = _post(results_dir, receiver.url)
    assert report.complete and report.outcomes[0].attempts == 4
    (alice,) = receiver.keys_for("alice")
    assert receiver.raw[alice] == 4 and receiver.applied[alice] == 1
    assert sorted(receiver.applied.values()) == [1, 1, 1]


def test_endpoint_down_then_up_during_one_run(results_dir, clean_env):
    clean_env.setenv("GRADER_WEBHOOK_SECRET", WEBHOOK_SECRET)
    port = free_port()
    servers = []
    starter = threading.Timer(0.4, lambda: servers.append(WebhookReceiver(WEBHOOK_SECRET, port)))
    starter.start()
    try:
        started = time.monotonic()
        report = _post(results_dir, f"http://127.0.0.1:{port}",
                       retry={"attempts": 8, "base_delay": 0.1, "max_delay": 0.3})
        assert report.complete and report.outcomes[0].attempts > 1
        assert time.monotonic() - started < 5
        (receiver,) = servers
        assert sorted(receiver.applied.values()) == [1, 1, 1]
        assert sorted(receiver.raw.values()) == [1, 1, 1]
    finally:
        starter.join()
        for server in servers:
            server.close()


def test_missing_secret_is_a_config_error(results_dir, clean_env, receiver):
    import pytest

    from grader.exceptions import DestinationConfigError

    with pytest.raises(DestinationConfigError, match="GRADER_WEBHOOK_SECRET"):
        _post(results_dir, receiver.url)
    assert not (results_dir / "outbox.sqlite").exists() or not receiver.requests
