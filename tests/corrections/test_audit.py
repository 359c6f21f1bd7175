"""`grader audit`: a learner's gradings, rescores, overrides and posts, in order, from what each
stage keeps (journal, results, corrections log, outbox)."""
from __future__ import annotations

import json
import subprocess
import sys

from grader.api import corrections
from grader.api.audit import history
from grader.post import post_results
from tests.conftest import ROOT
from tests.post.conftest import FAST, WEBHOOK_SECRET

from .factory import mnist_result, write_class


def _grader(*args):
    return subprocess.run([sys.executable, "-m", "grader", *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)


def test_a_learners_history_in_order(tmp_path, mnist_copy, receiver, clean_env):
    clean_env.setenv("GRADER_WEBHOOK_SECRET", WEBHOOK_SECRET)
    assignment = mnist_copy.load()
    out = write_class(tmp_path / "out", [mnist_result(assignment, "bea", linear_accuracy=0.911),
                                         mnist_result(assignment, "cem", linear_accuracy=0.95)])

    def post():
        return post_results(out, to="webhook", settings={"url": receiver.url}, retry=FAST)

    post()
    corrections.override(out, "bea", "RMv95", points=1, reason="regrade accepted", by="lee")
    receiver.plan = [500]
    post()
    mnist_copy.set_threshold("RMv95", "min", "0.91")
    corrections.rescore(out, by="kim")
    post()

    audit = history(out, "bea")
    kinds = [e.kind for e in audit.entries]
    assert kinds == ["graded", "post", "post", "override", "post", "post", "rescore", "post",
                     "post"]
    assert all(e.learner == "bea" for e in audit.entries)
    texts = [e.text for e in audit.entries]
    assert texts[1].startswith("post v1 to webhook http://127.0.0.1:") and "4/5 as graded" in texts[1]
    assert texts[2] == "post v1 to webhook: delivered after 1 try; answer: HTTP 200"
    assert texts[3] == "override RMv95: 0 -> 1 point(s) by lee: regrade accepted"
    assert "5/5: RMv95 overridden to 1 by lee" in texts[4]
    assert texts[5] == "post v2 to webhook: delivered after 2 tries; answer: HTTP 200"
    assert texts[6].startswith("rescore RMv95: failed 0 -> passed 1 by kim (rule >= 0.92 -> "
                               ">= 0.91, notebook not run)")
    # The rescore moved the grader's verdict under the override (failed -> passed) while the
    # points that count stayed 5/5: a part's verdict is part of the grade, so it is version 3.
    assert "post v3 to webhook" in texts[7] and "RMv95 rescored failed -> passed" in texts[7]
    assert len([k for k, d in receiver.documents.items() if d["learner"] == "bea"]) == 3

    run = _grader("audit", out, "bea")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("bea: 5/5: RMv95 overridden to 1 by lee; RMv95 rescored failed -> "
                               "passed (result file: 4/5, graded 2026-03-02T09:00:00+00:00)")
    assert "CHECK override of RMv95: since the override, the part was rescored" in lines[1]
    assert lines[2] == "2026-03-02 09:00:00  graded by running the notebook: 4 point(s) " \
                       "(graded), grading key " + json.loads(
                           (out / "results" / "bea.json").read_text())["grading_key"][:12]
    assert len(lines) == 2 + len(audit.entries)

    everyone = _grader("audit", out, "--json")
    entries = json.loads(everyone.stdout)
    assert {e["learner"] for e in entries} == {"bea", "cem"}
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)


def test_unknown_learner_is_one_line(tmp_path, mnist_copy):
    out = write_class(tmp_path / "out", [mnist_result(mnist_copy.load(), "bea")])
    run = _grader("audit", out, "bee")
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr == f"grader: error: no result for learner 'bee' in {out}/results (did you " \
                         f"mean bea?)\n"
