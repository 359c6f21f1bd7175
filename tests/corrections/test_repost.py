"""After an override or a rescore, `grader post` sends only the changed grades, as new versions,
to real receivers on 127.0.0.1 (tests/post/servers.py); each version is applied once."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from grader.api import corrections
from grader.post import post_results
from tests.conftest import ROOT
from tests.post.conftest import FAST, WEBHOOK_SECRET, write_learners

from .factory import mnist_result, write_class

NAMES = ("ada", "bea", "cem")


@pytest.fixture
def out(tmp_path, mnist_copy):
    """ada 5/5, bea 4/5 (linear accuracy 0.911), cem 5/5 (0.925)."""
    assignment = mnist_copy.load()
    accuracies = {"ada": 0.931, "bea": 0.911, "cem": 0.925}
    return write_class(tmp_path / "out", [mnist_result(assignment, n, linear_accuracy=a)
                                          for n, a in accuracies.items()])


@pytest.fixture
def learners(tmp_path):
    return write_learners(tmp_path / "learners.csv", list(NAMES))


def _webhook(out, receiver, **kwargs):
    return post_results(out, to="webhook", settings={"url": receiver.url}, retry=FAST, **kwargs)


def _keys(receiver, learner):
    return [k for k, d in receiver.documents.items() if d["learner"] == learner]


def test_an_override_is_a_new_version_sent_once(out, receiver, clean_env):
    clean_env.setenv("GRADER_WEBHOOK_SECRET", WEBHOOK_SECRET)
    assert _webhook(out, receiver).complete and len(receiver.requests) == 3

    corrections.override(out, "bea", "RMv95", points=1, reason="regrade accepted", by="lee")
    receiver.plan = [503]  # the first try of the new version fails: retried with the same key
    report = _webhook(out, receiver)
    assert report.complete
    assert {o.learner: o.already_sent for o in report.outcomes} == \
        {"ada": True, "bea": False, "cem": True}
    first, second = _keys(receiver, "bea")
    assert receiver.raw[second] == 2 and receiver.applied[second] == 1  # retried, applied once
    doc = receiver.documents[second]
    assert (doc["version"], doc["total"], doc["grader_total"]) == (2, 5.0, 4.0)
    assert doc["corrections"]["RMv95"] == {
        "overridden": True, "grader_points": 0.0, "reason": "regrade accepted", "by": "lee",
        "at": doc["corrections"]["RMv95"]["at"]}
    assert next(p for p in doc["parts"] if p["id"] == "RMv95")["points"] == 1.0
    assert receiver.documents[first]["version"] == 1 and "corrections" not in \
        receiver.documents[first]

    requests = len(receiver.requests)
    assert all(o.already_sent for o in _webhook(out, receiver).outcomes)
    assert len(receiver.requests) == requests  # nothing changed: nothing sent

    corrections.clear(out, "bea", "RMv95", by="lee")
    _webhook(out, receiver)
    keys = _keys(receiver, "bea")
    assert len(keys) == 3 and len(set(keys)) == 3  # v3 is the v1 grade again, as a new event
    assert receiver.documents[keys[2]]["version"] == 3
    assert receiver.documents[keys[2]]["total"] == 4.0
    assert sorted(receiver.applied.values()) == [1] * 5


def test_a_rescore_reposts_exactly_the_changed_learners_once(tmp_path, mnist_copy, receiver,
                                                             clean_env):
    clean_env.setenv("GRADER_WEBHOOK_SECRET", WEBHOOK_SECRET)
    assignment = mnist_copy.load()
    out = write_class(tmp_path / "class", [
        mnist_result(assignment, f"l{i:02d}", linear_accuracy=0.905 + 0.001 * i)
        for i in range(30)])
    _webhook(out, receiver)
    assert len(receiver.applied) == 30

    mnist_copy.set_threshold("RMv95", "min", "0.912")
    report = corrections.rescore(out, by="lee")
    changed = set(report.learners_changed)
    assert changed == {f"l{i:02d}" for i in range(7, 15)}  # 0.912 .. 0.919 pass now

    posted = _webhook(out, receiver)
    sent_now = {o.learner for o in posted.outcomes if not o.already_sent}
    assert sent_now == changed and posted.complete
    assert len(receiver.applied) == 30 + len(changed)
    assert all(len(_keys(receiver, n)) == (2 if n in changed else 1)
               for n in (f"l{i:02d}" for i in range(30)))
    assert all(receiver.documents[_keys(receiver, n)[1]]["total"] == 5.0 for n in changed)

    requests = len(receiver.requests)
    _webhook(out, receiver)
    assert len(receiver.requests) == requests and sorted(set(receiver.applied.values())) == [1]


def test_lti_gets_the_update(out, learners, platform, keypair, clean_env, tmp_path):
    from tests.post.conftest import CLIENT_ID

    key = tmp_path / "key.pem"
    key.write_text(keypair[0])
    key.chmod(0o600)
    clean_env.setenv("GRADER_LTI_PRIVATE_KEY_FILE", str(key))

    def post():
        return post_results(out, to="lti", learners=learners, retry=FAST,
                            settings={"lineitem": platform.lineitem, "client_id": CLIENT_ID,
                                      "token_url": platform.token_url})

    assert post().complete
    corrections.override(out, "bea", "RMv95", points=1, reason="regrade accepted", by="lee")
    assert post().complete and post().complete
    assert platform.score_count == {"lms-ada": 1, "lms-bea": 2, "lms-cem": 1}
    old, new = [s for s in platform.scores if s["userId"] == "lms-bea"]
    assert (old["scoreGiven"], new["scoreGiven"]) == (4.0, 5.0)
    assert new["timestamp"] > old["timestamp"]  # AGS: a later timestamp replaces the score
    assert "RMv95 failed 1/1 (measured 0.9110) [set by your instructor: regrade accepted]" in \
        new["comment"]


def test_coursera_gets_a_new_submission(out, learners, course, clean_env):
    for name in NAMES:
        clean_env.setenv(f"GRADER_COURSERA_TOKEN_{name.upper()}", f"tok-{name}-1234567890")

    def post():
        return post_results(out, to="coursera", learners=learners, retry=FAST,
                            settings={"url": course.url})

    assert post().complete
    corrections.override(out, "bea", "RMv95", points=1, reason="regrade accepted", by="lee")
    report = post()
    assert report.complete and post().complete
    # The platform grades the measured values with its own grader: the override cannot reach it,
    # and the instructor is told so.
    assert any("corrections of bea" in note and "do not change the grade there" in note
               for note in report.notes)
    counts = {email: n for (_, email), n in course.accept_count.items()}
    assert counts == {"ada@example.org": 1, "bea@example.org": 2, "cem@example.org": 1}


def test_gradescope_results_json_is_rewritten(out, clean_env):
    target = out / "gs" / "{learner}.json"
    post_results(out, to="gradescope", settings={"output": str(target)})
    path = out / "gs" / "bea.json"
    assert json.loads(path.read_text())["score"] == 4.0
    corrections.override(out, "bea", "RMv95", points=1, reason="regrade accepted", by="lee")
    report = post_results(out, to="gradescope", settings={"output": str(target)})
    assert [o.learner for o in report.outcomes if not o.already_sent] == ["bea"]
    data = json.loads(path.read_text())
    test = next(t for t in data["tests"] if t["number"] == "RMv95")
    assert data["score"] == 5.0 and (test["score"], test["status"]) == (1.0, "passed")
    assert "Points set by your instructor (0 from the grader): regrade accepted" in test["output"]


def test_status_shows_versions(out, receiver, clean_env):
    clean_env.setenv("GRADER_WEBHOOK_SECRET", WEBHOOK_SECRET)
    _webhook(out, receiver)
    corrections.override(out, "bea", "RMv95", points=1, reason="regrade accepted", by="lee")
    _webhook(out, receiver)
    run = subprocess.run([sys.executable, "-m", "grader", "post", str(out), "--status"],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert run.returncode == 0, run.stderr
    lines = [line.split() for line in run.stdout.splitlines() if line.startswith("webhook ")]
    assert [(f[1], f[2], f[3]) for f in lines] == [
        ("ada", "1", "sent"), ("bea", "1", "sent"), ("bea", "2", "sent"), ("cem", "1", "sent")]
    assert "5/5: RMv95 overridden to 1 by lee | HTTP 200" in run.stdout
    assert "4/5 as graded | HTTP 200" in run.stdout


def test_an_outbox_of_the_previous_schema_gains_versions(out, receiver, clean_env):
    """An outbox written before versions existed is migrated in place (a column is added)."""
    import sqlite3

    from grader.post.outbox import _SCHEMA, Outbox

    old_schema = _SCHEMA.replace(
        "    change TEXT NOT NULL DEFAULT '',   -- what this version is: the grade and its corrections\n",
        "")
    assert "change" not in old_schema
    db = sqlite3.connect(out / "outbox.sqlite")
    db.executescript(old_schema)
    db.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    db.execute("INSERT INTO deliveries (key, destination, target, target_id, learner, seq, "
               "result_file, result_digest, score, max_score, status, recorded_at) VALUES "
               "('k1', 'webhook', 'x', 't', 'ada', 0, 'results/ada.json', 'd', 5, 5, 'sent', "
               "'2026-01-01T00:00:00.000+00:00')")
    db.commit()
    db.close()
    with Outbox.open(out) as outbox:
        (row,) = outbox.rows()
    assert (row.learner, row.version, row.change) == ("ada", 1, "")


def test_results_with_evidence_follow_the_schema(mnist_copy):
    import jsonschema

    from grader.results import load_schema

    result = mnist_result(mnist_copy.load(), "ada")
    jsonschema.validate(json.loads(result.to_json()), load_schema())
    assert result.part("9XaAS").evidence["shapes"][2] == [None, 784]
