"""grader serve for real: the command on 127.0.0.1, real uploads, real kernels grading them.

One service (``service``, shared by the package's tests: conftest.py) takes the submissions of
most tests; the late-policy test and the kill test start their own.  The notebooks are the second assignment's (no TensorFlow), so a
grading takes a few seconds.
"""
import datetime
import hashlib
import importlib.util
import json
import os
import re
import signal
import sqlite3
import threading
import time

from pathlib import Path

import pytest
import requests

from grader.corrections.log import read_events
from tests.conftest import ROOT
from tests.serve.harness import SOLUTION, WEAK, Service, assignment_copy, body

pytestmark = [pytest.mark.kernel]

def test_a_submission_is_queued_graded_and_published(service):
    response = service.submit("ann", service.tokens["ann"], SOLUTION)
    assert response.status_code == 201, response.text
    accepted = response.json()
    assert accepted["attempt"] == 1 and accepted["timing"] == "on time" and accepted["penalty"] == 0
    assert accepted["url"].startswith(f"{service.url}/submissions/{accepted['id']}?key=")
    assert accepted["learnerMessage"].startswith("Submitted solution.ipynb for grading (Handwritten digits")
    assert accepted["learnerMessage"].endswith(f"see your result at {accepted['url']}")
    # The service's own time, and on what (bench/bench_serve.py reads it).
    timing = dict(re.findall(r"(\w+);dur=([0-9.]+)", response.headers["server-timing"]))
    assert list(timing) == ["accept", "read", "parse", "signin", "check", "commit"]
    assert float(timing["accept"]) >= sum(float(v) for k, v in timing.items() if k != "accept") - 0.5
    (status,) = service.wait_done([accepted])
    assert status["result"] == {"status": "graded", "total": 4.0, "max_total": 4.0}
    # What every other command reads: the result, the executed notebook, the page, the gradebook.
    result = json.loads((service.out / "results" / "ann.json").read_text())
    assert result["total"] == 4 and result["submission"] == "solution.ipynb"
    assert (service.out / "executed" / "ann.ipynb").is_file()
    assert "4 / 4 points" in (service.out / "feedback" / "ann.html").read_text()
    assert "ann,solution.ipynb,graded,4,4" in (service.out / "gradebook.csv").read_text()
    feedback = requests.get(accepted["url"].replace("?key=", "/feedback?key="), timeout=30)
    assert feedback.status_code == 200 and "4 / 4 points" in feedback.text
    journal = [json.loads(line) for line in (service.out / "journal.jsonl").read_text().splitlines()]
    assert [e["event"] for e in journal if e.get("submission") == accepted["id"]] == ["start", "done"]
    events = (service.out / "serve" / "submissions" / accepted["id"] / "progress.jsonl").read_text()
    assert '"event": "part_judged"' in events and '"event": "finished"' in events
    (row,) = [r for r in service.rows() if r["id"] == accepted["id"]]
    assert row["sha256"] == hashlib.sha256(SOLUTION.read_bytes()).hexdigest() and row["runs"] == 1


def _huge() -> bytes:
    return b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5, "x": "' + b"x" * (21 * 2**20) + b'"}'


BAD = [
    ("malformed JSON", lambda t: b'{"submitterEmail": "ben@example.org", ', 400, "bad-json",
     "The submission is not valid JSON"),
    ("no notebook (the course's old grading.py)",
     lambda t: json.dumps({"assignmentKey": "skl-2026", "submitterEmail": "ben@example.org", "secret": t,
                           "parts": {}}).encode(), 400, "no-notebook", "carries no notebook"),
    ("another assignment's key", lambda t: body("ben@example.org", t, SOLUTION.read_bytes(), key="XtD7ho3TEeiHQBWLWejjYAA"),
     422, "other-assignment", "This submission is for another assignment"),
    ("a zip", lambda t: body("ben@example.org", t, b"PK\x03\x04" + b"\0" * 100, "work.zip"), 415, "zip",
     "work.zip is a zip archive, not a notebook"),
    ("not a notebook", lambda t: body("ben@example.org", t, b"%PDF-1.7 ...", "work.pdf"), 415, "not-a-notebook",
     "work.pdf is not a Jupyter notebook"),
    ("a notebook of another assignment", lambda t: body("ben@example.org", t, (ROOT / "submissions" / "reference_solution.ipynb").read_bytes(), "mnist.ipynb"),
     422, "other-notebook", "mnist.ipynb mentions none of the parts"),
    ("a huge upload", lambda t: body("ben@example.org", t, _huge(), "big.ipynb"), 413, "too-large",
     "larger than this assignment accepts (20 MB)"),
    ("a wrong token", lambda t: body("ben@example.org", "0" * 32, SOLUTION.read_bytes()), 401, "wrong-token",
     "This is not the token issued for ben@example.org"),
    ("an unknown learner", lambda t: body("zed@example.org", t, SOLUTION.read_bytes()), 401, "unknown-email",
     "zed@example.org is not on this course's roster"),
]


@pytest.mark.parametrize("what, make, status, code, message", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_a_clear_4xx_and_nothing_is_written(service, what, make, status, code, message):
    before = (len(service.rows()), sorted(p.name for p in (service.out / "serve" / "submissions").iterdir()))
    response = service.post(make(service.tokens["ben"]))
    assert response.status_code == status, response.text
    answer = response.json()
    assert answer["errorCode"] == code and message in answer["details"]["learnerMessage"], answer
    after = (len(service.rows()), sorted(p.name for p in (service.out / "serve" / "submissions").iterdir()))
    assert after == before


def _helper():
    spec = importlib.util.spec_from_file_location("course_grading",
                                                  ROOT / "assignments" / "mnist_digits" / "helpers" / "grading.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_course_helper_submits_the_saved_notebook(service, tmp_path, monkeypatch, capsys):
    grading = _helper()
    monkeypatch.setenv("GRADER_SUBMIT_URL", f"{service.url}/submit")
    saved = tmp_path / "week2.ipynb"
    saved.write_bytes(WEAK.read_bytes())
    grader = grading.Grader("skl-2026", all_parts=["class_means", "nearest_mean"])
    grader.set_answer("class_means", [0.5, 0.25])
    result = grader.submit("cid@example.org", service.tokens["cid"], notebook=str(saved))
    printed = capsys.readouterr().out.splitlines()
    assert result.accepted and result.status_code == 201
    assert printed[0].startswith("Submitting week2.ipynb as saved at ") and "not submitted" in printed[0]
    assert printed[1].startswith("Submitted week2.ipynb for grading") and "/submissions/" in printed[1]
    (row,) = [r for r in service.rows() if r["learner"] == "cid"]
    assert row["sha256"] == hashlib.sha256(saved.read_bytes()).hexdigest()
    # Found through the front end's variable when no path is given.
    monkeypatch.setenv("JPY_SESSION_NAME", str(saved))
    assert grader.submit("cid@example.org", "wrong" * 7).status_code == 401
    assert "This is not the token issued for cid@example.org" in capsys.readouterr().out
    monkeypatch.delenv("JPY_SESSION_NAME")
    monkeypatch.chdir(tmp_path)
    lost = grader.submit("cid@example.org", service.tokens["cid"])
    assert not lost.accepted and lost.status_code == 400
    assert "this server grades the notebook itself, and which notebook file this is cannot be told here" \
        in capsys.readouterr().out


def test_a_learner_sees_only_their_own_submissions(service):
    mine = service.submit("dee", service.tokens["dee"], WEAK).json()
    other = service.submit("ben", service.tokens["ben"], WEAK).json()
    page = requests.get(mine["url"], timeout=30)
    assert page.status_code == 200 and "dee" in page.text
    base = mine["url"].split("?")[0]
    for url in (base, base + "?key=wrong", base + "?key=" + other["url"].split("key=")[1]):
        assert requests.get(url, timeout=30).status_code == 404
        assert requests.get(url.replace(mine["id"], mine["id"] + "/status"), timeout=30).status_code == 404
    browser = requests.Session()
    refused = browser.post(f"{service.url}/me", data={"email": "ben@example.org", "token": "nope"}, timeout=30)
    assert refused.status_code == 401 and "This is not the token issued for ben@example.org" in refused.text
    listed = browser.post(f"{service.url}/me", data={"email": "ben@example.org", "token": service.tokens["ben"]},
                          timeout=30)
    assert listed.status_code == 200 and f"/submissions/{other['id']}" in listed.text
    assert mine["id"] not in listed.text
    assert browser.get(base, timeout=30).status_code == 404               # ben's session, dee's page
    assert browser.get(other["url"].split("?")[0], timeout=30).status_code == 200
    assert requests.get(f"{service.url}/instructor", timeout=30).status_code == 403
    service.wait_done([mine, other])


def test_late_submissions_pay_their_penalty_and_limits_hold(tmp_path, services):
    now = datetime.datetime.now(datetime.timezone.utc)
    window = (f"deadline = {(now - datetime.timedelta(hours=2)).strftime('%Y-%m-%dT%H:%M:%SZ')}\n"
              f"late_until = {(now + datetime.timedelta(hours=2)).strftime('%Y-%m-%dT%H:%M:%SZ')}\n"
              "late_penalty = 0.25\nattempts = 2\nmin_interval_s = 1.5\ncounts = \"best\"\n")
    served = services(Service(assignment_copy(tmp_path, window), tmp_path / "out", workers=1))
    tokens = served.issue(["eve"])
    served.start()
    try:
        first = served.submit("eve", tokens["eve"], SOLUTION)
        assert first.status_code == 201 and first.json()["timing"] == "late" and first.json()["penalty"] == 0.25
        assert "attempt 1, late, 25% late penalty" in first.json()["learnerMessage"]
        too_soon = served.submit("eve", tokens["eve"], SOLUTION)
        assert too_soon.status_code == 429 and "Too soon after your last submission" in too_soon.json()["message"]
        (status,) = served.wait_done([first.json()])
        assert status["result"]["total"] == 3.0      # 4 points, 25 % off
        (penalty,) = [e for e in read_events(served.out) if e.action == "penalty"]
        assert penalty.by == "grader serve" and penalty.learner == "eve" and penalty.detail["fraction"] == 0.25
        assert "after the deadline of" in penalty.reason
        assert "eve,solution.ipynb,graded,3,4" in (served.out / "gradebook.csv").read_text()
        time.sleep(1.6)
        second = served.submit("eve", tokens["eve"], WEAK)
        assert second.status_code == 201 and second.json()["attempt"] == 2
        time.sleep(1.6)
        third = served.submit("eve", tokens["eve"], SOLUTION)
        assert third.status_code == 403 and "used all 2 submissions" in third.json()["message"]
        assert "your grade is that of your best graded one" in third.json()["message"]
        (weaker,) = served.wait_done([second.json()])
        assert weaker["result"]["total"] < 3.0
        # counts = "best": the first submission stays the one that counts.
        assert "eve,solution.ipynb,graded,3,4" in (served.out / "gradebook.csv").read_text()
        assert json.loads((served.out / "results" / "eve.json").read_text())["submission"] == "solution.ipynb"
    finally:
        assert served.stop(signal.SIGTERM) == 143
        assert served.output().strip().splitlines()[-1] == "grader: terminated"


def _age(pid: int) -> float:
    """Seconds since process ``pid`` started (0 when it is gone)."""
    try:
        started = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return 0.0
    return float(Path("/proc/uptime").read_text().split()[0]) - started / os.sysconf("SC_CLK_TCK")


def test_a_service_killed_mid_burst_grades_every_accepted_submission_once(tmp_path, services):
    from grader.api import grade

    served = services(Service(assignment_copy(tmp_path), tmp_path / "out"))
    learners = [f"l{i}" for i in range(8)]
    tokens = served.issue(learners)
    served.start()
    notebooks = {learner: (SOLUTION if i % 2 else WEAK) for i, learner in enumerate(learners)}
    answers = {}

    def send(learner):
        answers[learner] = served.submit(learner, tokens[learner], notebooks[learner])

    threads = [threading.Thread(target=send, args=(learner,)) for learner in learners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(a.status_code == 201 for a in answers.values()), [a.text for a in answers.values()]
    deadline = time.monotonic() + 120
    while not any(r["state"] == "running" for r in served.rows()):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    # Grading is batch work, answering a learner is not: the kernels run at niceness 10, and so do
    # their sessions (Linux shares the CPU between sessions first), the service itself at 0.
    # (A kernel that has run for a second: one just started may not have set its new session's yet.)
    kernels = {}
    while not kernels and time.monotonic() < deadline:
        kernels = {pid: c for pid, c in served.run.snapshot().items()
                   if "ipykernel_launcher" in c and "bwrap" not in c and _age(pid) > 1.0}
        time.sleep(0.05)
    assert kernels
    for pid in kernels:
        assert os.getpriority(os.PRIO_PROCESS, pid) == 10
        if Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() == "1":
            assert Path(f"/proc/{pid}/autogroup").read_text().split()[-1] == "10"
    assert os.getpriority(os.PRIO_PROCESS, served.process.pid) == 0
    served.kill()                                   # mid-burst: some queued, some running, maybe one done
    processes, cgroups = served.run.wait_clean(timeout=30)
    assert not processes and not cgroups, (processes, cgroups)
    served.start()
    states = served.wait_done([a.json() for a in answers.values()])
    rows = served.rows()
    assert len(rows) == 8 and all(r["state"] == "done" for r in rows)
    for row in rows:
        assert (served.out / "serve" / "submissions" / row["id"] / "result.json").is_file()
    journal = [json.loads(line) for line in (served.out / "journal.jsonl").read_text().splitlines()]
    done = [e["submission"] for e in journal if e["event"] == "done" and "submission" in e]
    assert sorted(done) == sorted(r["id"] for r in rows)     # each recorded once, none lost
    # The gradebook is the one grader grade gives the same notebooks (two kinds: one of each graded).
    folder = tmp_path / "class"
    folder.mkdir()
    for notebook in (SOLUTION, WEAK):
        (folder / notebook.name).write_bytes(notebook.read_bytes())
    batch = {r.submission: r for r in grade(folder, assignment=served.assignment, out=tmp_path / "batch", workers=2)}
    expected = {learner: (batch[nb.name].status, batch[nb.name].total, [p.points for p in batch[nb.name].parts])
                for learner, nb in notebooks.items()}
    served_results = {s["learner"]: s["result"]["total"] for s in states}
    assert served_results == {learner: total for learner, (_, total, _) in expected.items()}
    gradebook = {line.split(",")[0]: line.split(",")[2:4] for line in
                 (served.out / "gradebook.csv").read_text().splitlines()[1:]}
    assert gradebook == {learner: [status, f"{total:g}"] for learner, (status, total, _) in expected.items()}
    assert served.stop(signal.SIGINT) == 130
    processes, cgroups = served.run.wait_clean(timeout=30)
    assert not processes and not cgroups, (processes, cgroups)
    db = sqlite3.connect(served.out / "serve" / "serve.sqlite")
    assert db.execute("SELECT COUNT(*) FROM submissions WHERE runs > 1").fetchone()[0] >= 1  # regraded after the kill
    db.close()


def test_the_commands_of_grade_work_on_what_the_service_graded(service, monkeypatch, capsys):
    from grader.cli import main
    from grader.post import post_results
    from tests.post.conftest import FAST, WEBHOOK_SECRET
    from tests.post.servers import WebhookReceiver

    service.wait_done([service.submit("gus", service.tokens["gus"], SOLUTION).json()])
    out = str(service.out)
    assert main(["override", out, "gus", "class_means", "--points", "0", "--reason", "copied from ann",
                 "--by", "prof.lee"]) == 0
    gradebook = (service.out / "gradebook.csv").read_text()
    assert "gus,solution.ipynb,graded,3,4" in gradebook and "overridden to 0" in gradebook
    assert main(["audit", out, "gus"]) == 0
    audit = capsys.readouterr().out
    assert "override class_means: 1 -> 0 point(s) by prof.lee: copied from ann" in audit, audit
    assert main(["rescore", out, "--assignment", str(service.assignment)]) in (0, 1)
    assert main(["report", out]) == 0 and (service.out / "summary.html").is_file()
    assert main(["similarity", out, "--assignment", str(service.assignment)]) == 0
    assert (service.out / "similarity.html").is_file()
    monkeypatch.setenv("GRADER_WEBHOOK_SECRET", WEBHOOK_SECRET)
    receiver = WebhookReceiver(WEBHOOK_SECRET)
    try:
        report = post_results(service.out, to="webhook", settings={"url": receiver.url}, retry=FAST)
    finally:
        receiver.close()
    assert report.complete
    posted = {doc["learner"]: doc["total"] for doc in receiver.documents.values()}
    assert posted["gus"] == 3.0 and posted["ann"] == 4.0


def test_usage_mistakes_are_one_line_and_exit_2(service, tmp_path, capsys):
    import socket

    from grader.batch.guard import BatchGuard
    from grader.cli import main

    folder = str(service.assignment)
    assert main(["serve", "--assignment", folder, "--port", "70000"]) == 2
    assert "--port: must be a port number from 0 to 65535, got 70000" in capsys.readouterr().err
    assert main(["serve", "--assignment", folder, "--request-timeout", "0"]) == 2
    assert "--request-timeout: must be a number of seconds above 0, got 0" in capsys.readouterr().err
    assert main(["serve", "--assignment", folder, "--max-connections", "0"]) == 2
    assert "--max-connections: must be a whole number of 1 or more, got 0" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert main(["serve", "--assignment", folder, "--out", str(tmp_path / "file")]) == 2
    assert "is a file: give a folder" in capsys.readouterr().err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--assignment", folder, "--out", str(tmp_path / "a"), "--port", str(port)]) == 2
        err = capsys.readouterr().err
        assert f"cannot listen on 127.0.0.1:{port}" in err and "give another --port" in err
    with BatchGuard(tmp_path / "b"):
        assert main(["serve", "--assignment", folder, "--out", str(tmp_path / "b"), "--port", "0"]) == 2
        assert "another `grader grade` (pid " in capsys.readouterr().err
    # And the other way round: the running service holds its folder.
    (tmp_path / "class").mkdir()
    (tmp_path / "class" / "x.ipynb").write_bytes(SOLUTION.read_bytes())
    assert main(["grade", str(tmp_path / "class"), "--out", str(service.out), "--assignment", folder]) == 2
    err = capsys.readouterr().err
    assert "another `grader serve` (pid " in err and "stop it first" in err and "Traceback" not in err
