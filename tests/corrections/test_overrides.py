"""Overrides: recorded with who, when and why; gradebook, feedback page and summary show them;
a clear restores the grader's verdict; bad input is one line, and nothing is written."""
from __future__ import annotations

import csv
import json
import os
import sqlite3
import stat
import subprocess
import sys

import pytest

from grader.api import corrections
from grader.corrections import LOG_FILE, Corrections
from grader.corrections.log import read_events
from tests.conftest import ROOT
from tests.integration.test_report_render import browser  # noqa: F401 - headless Chromium

from .factory import mnist_result, write_class

REASON = "regrade accepted: the notebook read a data file <b>she</b> forgot to submit"


def _grader(*args, env=None):
    return subprocess.run([sys.executable, "-m", "grader", *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=120)


def _rows(out):
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as handle:
        return {row["learner"]: row for row in csv.DictReader(handle)}


@pytest.fixture
def graded(tmp_path, mnist_copy):
    """ada passes everything; bea's linear accuracy (0.911) fails."""
    assignment = mnist_copy.load()
    out = write_class(tmp_path / "out", [mnist_result(assignment, "ada"),
                                         mnist_result(assignment, "bea", linear_accuracy=0.911)])
    corrections.refresh_reports(out)
    return out


def test_override_is_in_gradebook_feedback_page_and_summary(graded, browser):  # noqa: F811
    from selenium.webdriver.common.by import By

    out = graded
    before = (out / "results" / "bea.json").read_bytes()
    run = _grader("override", out, "bea", "RMv95", "--points", "1", "--reason", REASON,
                  "--by", "prof.lee")
    assert run.returncode == 0, run.stderr
    assert "bea RMv95: 0 -> 1 point(s), by prof.lee" in run.stdout
    assert (out / "results" / "bea.json").read_bytes() == before  # never an edit of a result

    (event,) = read_events(out)
    assert (event.action, event.learner, event.part, event.by, event.old_points,
            event.new_points, event.reason) == ("override", "bea", "RMv95", "prof.lee", 0, 1,
                                                REASON)
    assert event.at.endswith("+00:00") and event.detail["under"] == {
        "status": "failed", "points": 0.0, "measured": 0.911}

    row = _rows(out)["bea"]
    assert (row["total"], row["RMv95"], row["grader_total"], row["overridden"]) == \
        ("5", "1", "4", "RMv95")
    assert "RMv95 overridden to 1 (grader: 0) by prof.lee" in row["corrections"]
    assert REASON in row["corrections"]
    assert json.loads((out / "gradebook.json").read_text())["rows"][1]["overridden"] == "RMv95"
    assert _rows(out)["ada"]["overridden"] == ""

    browser.get((out / "feedback" / "bea.html").as_uri())
    assert browser.find_element(By.ID, "total").text.startswith("5 / 5 points")
    note = browser.find_element(By.CSS_SELECTOR, 'tr.correction[data-part="RMv95"]')
    assert note.is_displayed()
    assert "Your instructor set this part to 1 point(s)" in note.text
    assert "(the grader gave 0)" in note.text and REASON in note.text  # as text, not markup
    part = browser.find_element(By.CSS_SELECTOR, 'tr.part[data-part="RMv95"]')
    assert "1 / 1" in part.text and "failed" in part.text  # the grader's verdict stays visible
    browser.get((out / "summary.html").as_uri())
    counts = browser.find_element(By.ID, "counts").text
    assert "1 with overridden parts" in counts and "mean score 5.00 / 5" in counts

    listed = _grader("override", out, "--list")
    assert listed.returncode == 0 and "bea  RMv95  1  by prof.lee" in listed.stdout


def test_clear_restores_the_measured_grade(graded):
    out = graded
    corrections.override(out, "bea", "RMv95", points=1, reason="regrade", by="lee")
    corrections.override(out, "bea", "RMv95", points=0.5, reason="second look: half", by="kim")
    assert _rows(out)["bea"]["total"] == "4.5"
    run = _grader("override", out, "bea", "--clear", "RMv95", "--by", "lee")
    assert run.returncode == 0, run.stderr
    assert "override cleared by lee; 0.5 -> 0 point(s)" in run.stdout
    row = _rows(out)["bea"]
    assert (row["total"], row["RMv95"], row["overridden"], row["corrections"]) == ("4", "0", "", "")
    page = (out / "feedback" / "bea.html").read_text()
    assert "Your instructor" not in page and 'class="correction"' not in page
    assert [e.action for e in read_events(out)] == ["override", "override", "clear"]

    again = _grader("override", out, "bea", "--clear", "RMv95")
    assert again.returncode == 2
    assert again.stderr == "grader: error: part RMv95 of 'bea' has no override to clear " \
                           f"(`grader override {out} --list` shows them)\n"


@pytest.mark.parametrize("args, message", [
    (["nobody", "RMv95", "--points", "1", "--reason", "x"], "no result for learner 'nobody'"),
    (["ade", "RMv95", "--points", "1", "--reason", "x"], "(did you mean ada?)"),
    (["bea", "RMv96", "--points", "1", "--reason", "x"],
     "learner 'bea' has no part 'RMv96'; the parts are 9XaAS, vmogZ, RMv95, i8bgs, rE763"),
    (["bea", "RMv95", "--points", "1.5", "--reason", "x"],
     "points must be between 0 and 1 (the most part RMv95 is worth), got 1.5"),
    (["bea", "RMv95", "--points", "-1", "--reason", "x"], "points must be between 0 and 1"),
    (["bea", "RMv95", "--points", "nan", "--reason", "x"], "--points expects a finite number"),
    (["bea", "RMv95", "--points", "one", "--reason", "x"], "--points expects a number, got 'one'"),
    (["bea", "RMv95", "--points", "1"], "an override needs a reason (--reason TEXT)"),
    (["bea", "RMv95", "--points", "1", "--reason", "  "], "an override needs a reason"),
    (["bea", "RMv95", "--reason", "x"], "give the part's points: --points P"),
    (["bea", "RMv95", "--points", "1", "--reason", "x", "--by", ""], "--by is empty"),
    (["bea", "--list"], "--list takes no LEARNER"),
])
def test_bad_input_is_one_line_and_nothing_is_written(graded, args, message):
    out = graded
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    run = _grader("override", out, *args)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("grader: error: "), run.stderr
    assert message in run.stderr
    assert not (out / LOG_FILE).exists()
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_not_a_results_folder(tmp_path):
    run = _grader("override", tmp_path, "ada", "RMv95", "--points", "1", "--reason", "x")
    assert run.returncode == 2 and "is not a results folder of `grader grade`" in run.stderr
    assert run.stderr.count("\n") == 1 and not (tmp_path / LOG_FILE).exists()


def test_the_log_is_append_only_and_private(graded):
    out = graded
    corrections.override(out, "bea", "RMv95", points=1, reason="regrade", by="lee")
    path = out / LOG_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    db = sqlite3.connect(path)
    for statement in ("UPDATE events SET new_points = 0", "DELETE FROM events"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute(statement)
    db.close()
    assert len(read_events(out)) == 1


def test_by_defaults_to_grader_user(graded, monkeypatch):
    monkeypatch.setenv("GRADER_USER", "ta-kim")
    event = corrections.override(graded, "ada", "9XaAS", points=0, reason="copied shapes cell",
                                 reports=False)
    assert event.by == "ta-kim"
    grade = Corrections.load(graded).grade(corrections.graded_results(graded)[0])
    assert grade.result.total == 4 and grade.grader_total == 5
