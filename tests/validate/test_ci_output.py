"""CI output: JUnit XML that validates against a junit-10 schema, GitHub summary and annotations."""
import argparse
import io
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from grader.cli.options import add_junit_option, ci_outputs as write_ci_outputs
from grader.report.ci import annotations, emit, junit_xml, suites_from_results
from grader.results import CellError, PartResult, SubmissionResult

XSD = Path(__file__).with_name("junit.xsd")


@pytest.fixture(scope="module")
def schema():
    xmlschema = pytest.importorskip("xmlschema")
    return xmlschema.XMLSchema(str(XSD))


def _result(learner="alice", **kw) -> SubmissionResult:
    parts = [
        PartResult(id="p1", description="Shapes of W", kind="shapes", status="passed", points=1,
                   measured="784 10", threshold="W (784 10)", message="Shapes 784 10.", cell=3),
        PartResult(id="p2", description="Accuracy, 100%", kind="accuracy", status="failed",
                   measured=0.8893, claimed=0.99, claim_mismatch=True, threshold=">= 0.92", cell=7,
                   message="The linear model's validation accuracy is 0.8893, below the required 0.92: "
                           "train it longer. Reported 0.99, measured 0.8893."),
        PartResult(id="p3", description="Loss", kind="loss", status="error", cell=7,
                   message="Could not measure validation loss after cell 7: name 'probas' is not defined."),
        PartResult(id="p4", description="MLP", kind="accuracy", status="missing",
                   message='No cell submits part p4: keep the graded cell (grader.set_answer("p4", ...)).'),
        PartResult(id="p5", description="Hidden", kind="accuracy", status="failed", measured=0.5,
                   hidden=True, threshold=">= 0.9", message="The accuracy on hidden data is 0.5000."),
    ]
    base = dict(learner=learner, assignment="demo", submission=f"{learner}.ipynb", total=1, max_total=5,
                started_at="2025-01-02T03:04:05+00:00", duration_s=12.5, parts=parts,
                errors=[CellError(cell=7, ename="NameError", evalue="name 'probas' is not defined",
                                  traceback="\x1b[31mNameError\x1b[0m\x00 trace")],
                notes=["skipped while grading: !pip install"])
    base.update(kw)
    return SubmissionResult(**base)


def test_junit_validates_against_the_schema(schema, tmp_path):
    ungradable = _result("bob", status="ungradable", reason="the file is not a Jupyter notebook")
    xml = junit_xml(suites_from_results([_result(), ungradable], files={"alice": "subs/alice.ipynb"}))
    path = tmp_path / "junit.xml"
    path.write_text(xml)
    schema.validate(str(path))  # raises on the first violation

    root = ET.parse(path).getroot()
    assert root.tag == "testsuites" and root.get("tests") == "10"
    assert (root.get("failures"), root.get("errors")) == ("3", "6")  # bob's 5 parts are errors
    alice = root.find("testsuite[@name='alice']")
    assert alice.get("timestamp") == "2025-01-02T03:04:05"
    cases = {case.get("name").split(":")[0]: case for case in alice.findall("testcase")}
    assert cases["p1"].get("classname") == "alice" and cases["p1"].find("failure") is None
    assert cases["p1"].get("name") == "p1: Shapes of W" and cases["p1"].get("file") == "subs/alice.ipynb"
    failure = cases["p2"].find("failure")
    assert failure.get("type") == "failed" and "Reported 0.99, measured 0.8893" in failure.get("message")
    assert "measured: 0.8893" in failure.text and "threshold: >= 0.92" in failure.text
    assert cases["p3"].find("error").get("type") == "error"
    assert cases["p4"].find("failure").get("type") == "missing"  # a missing part loses its point
    hidden = cases["p5"].find("failure")
    assert "0.5" not in hidden.get("message") and "(hidden)" in hidden.text
    assert "NameError" in alice.find("system-err").text and "\x1b" not in alice.find("system-err").text
    bob = root.find("testsuite[@name='bob']")
    assert all("not a Jupyter notebook" in c.find("error").get("message") for c in bob.findall("testcase"))


def test_annotations_escape_and_point_at_the_notebook(tmp_path):
    suites = suites_from_results([_result()], files={"alice": str(tmp_path / "subs" / "alice.ipynb")})
    lines = annotations(suites, {"GITHUB_WORKSPACE": str(tmp_path)})
    errors = [line for line in lines if line.startswith("::error ")]
    assert len(errors) == 4  # p2 (failed), p3 (error), p4 (missing), p5 (hidden, failed)
    assert errors[0].startswith("::error file=subs/alice.ipynb,title=alice p2%3A failed::The linear model")
    assert all("\n" not in line for line in lines)
    assert "%0A" in annotations(suites_from_results([_result(parts=[PartResult(
        id="x", status="error", message="two\nlines")])]), {})[0]


def test_github_summary_and_annotations_when_github_actions(tmp_path, monkeypatch, capsys):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path))
    parser = argparse.ArgumentParser()
    parser.add_argument("notebook")
    parser.add_argument("--json", action="store_true")
    add_junit_option(parser)
    args = parser.parse_args([str(tmp_path / "alice.ipynb"), "--junit", str(tmp_path / "out" / "j.xml")])
    args.command = "check"
    write_ci_outputs(_result(), args)

    text = summary.read_text()
    assert text.startswith("earlier step\n## grader check: demo")  # appended, not replaced
    assert "| suite | case | verdict | measured | threshold | message |" in text
    assert "| alice | p2: Accuracy, 100% | ❌ fail | 0.8893 | >= 0.92 |" in text
    assert "(hidden)" in text and "**alice.ipynb** (demo): 1/5 points" in text
    out = capsys.readouterr().out
    assert "::error file=alice.ipynb,title=alice p2%3A failed::" in out
    assert (tmp_path / "out" / "j.xml").is_file()


def test_nothing_for_github_outside_github_actions(tmp_path, monkeypatch):
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    stream = io.StringIO()
    emit(suites_from_results([_result()]), stream=stream)
    assert stream.getvalue() == "" and not (tmp_path / "summary.md").exists()


def test_annotations_go_to_stderr_when_stdout_is_json(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    args = argparse.Namespace(command="check", notebook="alice.ipynb", json=True, junit=None)
    write_ci_outputs([_result()], args)
    captured = capsys.readouterr()
    assert captured.out == "" and "::error " in captured.err


def test_grade_annotations_point_into_the_folder(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path))
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    args = argparse.Namespace(command="grade", directory=str(tmp_path / "submissions"), junit=None)
    write_ci_outputs([_result("alice"), _result("bob")], args)
    out = capsys.readouterr().out
    assert "::error file=submissions/bob.ipynb,title=bob p2" in out
