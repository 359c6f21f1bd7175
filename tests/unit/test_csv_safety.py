"""Every CSV the grader writes keeps learner text from running in a spreadsheet (formula injection).

OWASP's rule: a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a
leading single quote.  Numbers the grader formats itself (points, totals, seconds, scores) are not
learner text and stay numbers.  The writers: the gradebook (``grader grade``, ``report``, the
service's ``/instructor/gradebook.csv``, which uses the same function), the similarity CSV, and the
tokens file of ``grader tokens issue``.
"""
import csv
import io
import json

import pytest

from grader.report.table import gradebook_csv, gradebook_rows, write_gradebook
from grader.results import PartResult, SubmissionResult
from grader.textutil import csv_text, spreadsheet_text

FORMULAS = ['=HYPERLINK("http:evil.example";"open") x', "+1+2", "-2+3", "@SUM(A1:A9)", "\t=1+1", "\r=1+1"]


@pytest.mark.parametrize("text", FORMULAS)
def test_a_cell_a_spreadsheet_would_run_gets_a_leading_quote(text):
    assert spreadsheet_text(text) == "'" + text


@pytest.mark.parametrize("text", ["ann", "ann=1", " =1", "'=1", "", "0.5", "é=1"])
def test_other_text_is_left_as_it_is(text):
    assert spreadsheet_text(text) == text


def test_only_the_text_columns_are_touched():
    text = csv_text(["learner", "points"], [{"learner": "-1", "points": "-1"}, ["=1", "-0.5"]],
                    text_columns=("learner",))
    assert list(csv.reader(io.StringIO(text))) == [["learner", "points"], ["'-1", "-1"], ["'=1", "-0.5"]]


def _result(learner: str, submission: str, message: str) -> SubmissionResult:
    return SubmissionResult(learner=learner, assignment="demo", submission=submission, status="graded",
                            total=0.0, max_total=1.0, duration_s=2.0, reason="@cmd|' /C calc'!A0",
                            parts=[PartResult(id="acc", status="failed", points=0.0, max_points=1.0,
                                              message=message)])


def test_the_gradebook_file_neutralises_learner_text_and_keeps_numbers(tmp_path):
    learner = '=HYPERLINK("http:evil.example";"open") x'
    write_gradebook([_result(learner, f"{learner}.ipynb", "-1+2 is not the answer")], tmp_path)
    (row,) = csv.DictReader(io.StringIO((tmp_path / "gradebook.csv").read_text()))
    assert row["learner"] == "'" + learner and row["submission"] == f"'{learner}.ipynb"
    assert row["reason"] == "'@cmd|' /C calc'!A0 | acc: -1+2 is not the answer"
    assert row["failed_parts"] == "acc:failed"
    assert (row["total"], row["acc"], row["max_total"], row["duration_s"]) == ("0", "0", "1", "2.0")
    # The JSON gradebook is data for programs, not a spreadsheet: it keeps the text as it is.
    (kept,) = json.loads((tmp_path / "gradebook.json").read_text())["rows"]
    assert kept["learner"] == learner


def test_a_negative_number_the_grader_wrote_stays_a_number():
    result = _result("ann", "ann.ipynb", "")
    result.parts[0].points = -1.0      # none is negative today (overrides are 0 or more); were one
    result.total = -1.0
    columns, rows = gradebook_rows([result])
    (row,) = csv.DictReader(io.StringIO(gradebook_csv(columns, rows)))
    assert row["acc"] == "-1" and row["total"] == "-1"


def test_the_similarity_csv_neutralises_learner_ids(tmp_path):
    from grader.similarity.code import CodeMatch
    from grader.similarity.evidence import Pair
    from grader.similarity.report import CSV_COLUMNS, SimilarityReport, _csv

    pair = Pair(first="=1+2 x", second="@SUM(1)", second_kind="learner", code=CodeMatch(first=0, second=1),
                stands_out=True, why="-2+3 shared with =1+2 x only", rank=1)
    report = SimilarityReport(pairs=[pair], clusters=[], model_groups=[], learners=2, compared=2, corpus_files=0)
    (row,) = list(csv.DictReader(io.StringIO(_csv(report))))
    assert list(row) == CSV_COLUMNS
    assert (row["first"], row["second"], row["second_kind"]) == ("'=1+2 x", "'@SUM(1)", "learner")
    assert row["why"] == "'-2+3 shared with =1+2 x only" and row["similarity"] == "0.000"


def test_the_tokens_file_neutralises_roster_text(tmp_path):
    from grader.serve import tokens
    from grader.serve.store import close_connections

    roster = tmp_path / "roster.csv"
    roster.write_text('email,learner,name\nann@example.org,=cmd,"=HYPERLINK(""x"")"\n')
    try:
        issued = tokens.issue(roster, out=tmp_path / "out")
    finally:
        close_connections()
    with open(issued.tokens_file, newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert (row["learner"], row["name"]) == ("'=cmd", "'=HYPERLINK(\"x\")")
    assert not row["token"].startswith(("-", "'"))


def test_grader_grade_of_a_file_named_as_a_formula(tmp_path, capsys):
    """`grader grade` takes learner ids from file names: the gradebook keeps them as text.

    The file is not a notebook, so it is ungradable at once (no kernel starts)."""
    from grader.cli import main

    name = '=HYPERLINK("http:evil.example";"open") x'
    (tmp_path / "class").mkdir()
    (tmp_path / "class" / f"{name}.ipynb").write_text("not a notebook")
    assert main(["grade", str(tmp_path / "class"), "--assignment", "sklearn_digits", "--out",
                 str(tmp_path / "out")]) == 1
    capsys.readouterr()
    (row,) = csv.DictReader(io.StringIO((tmp_path / "out" / "gradebook.csv").read_text()))
    assert (row["learner"], row["submission"], row["status"]) == ("'" + name, f"'{name}.ipynb", "ungradable")
