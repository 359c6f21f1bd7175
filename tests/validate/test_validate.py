"""`grader validate`: the real assignments pass; deliberately broken copies fail with the right message."""
import argparse
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from grader.authoring.validate import ci_suites, format_report, validate
from grader.cli.validate import add_parser as add_validate_parser, run as run_validate
from tests.conftest import ROOT

XSD = Path(__file__).with_name("junit.xsd")
DIGITS = "sklearn_digits"


def _args(*argv):
    parser = argparse.ArgumentParser(prog="grader")
    add_validate_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["validate", *argv])


def _copy(tmp_path: Path, name: str = DIGITS) -> tuple[Path, Path]:
    """A copy of an assignment and its reference folder, laid out as in the repository."""
    folder = tmp_path / "assignments" / "copy"
    reference = tmp_path / "reference" / "copy"
    ignore = shutil.ignore_patterns("__pycache__", "samples", "calibration.json")
    shutil.copytree(ROOT / "assignments" / name, folder, ignore=ignore)
    shutil.copytree(ROOT / "reference" / name, reference, ignore=ignore)
    return folder, reference


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def _only_problem(report, check_prefix: str):
    problems = [p for c in report.checks if c.name.startswith(check_prefix) for p in c.problems]
    assert not report.ok and len(problems) == 1, format_report(report)
    return problems[0]


# --- consistency: no notebook runs ---------------------------------------------------------------

def test_missing_threshold(tmp_path):
    folder, reference = _copy(tmp_path)
    thresholds = reference / "thresholds.toml"
    text = thresholds.read_text()
    thresholds.write_text(text[:text.index("[parts.mlp_loss]")])
    report = validate(folder)
    problem = _only_problem(report, "every part has a threshold")
    assert problem.file.endswith("reference/copy/thresholds.toml") and problem.field == "parts.mlp_loss"
    assert "no threshold for part 'mlp_loss'" in problem.message and "parts[3]" in problem.message
    # Nothing is run while the assignment is inconsistent.
    assert [c.skipped for c in report.checks[-2:]] == ["fix the problems above first"] * 2
    assert report.solution_runs == [] and report.template_result is None


def test_threshold_without_a_part_and_incomplete_array_threshold(tmp_path):
    folder, reference = _copy(tmp_path)
    thresholds = reference / "thresholds.toml"
    _edit(thresholds, 'expected_file = "class_means.npy"\nmax = 1e-4\n', "")
    thresholds.write_text(thresholds.read_text() + '\n[parts.mlp_acc]\nmin = 0.9\n')
    report = validate(folder, run=False)
    found = {(p.field, p.message.split(":")[0]) for p in report.problems}
    assert ("parts.class_means.expected_file",
            "an array part needs the .npy file of the expected array") in found
    assert ("parts.class_means.max", "an array part needs max") in found
    assert any(p.field == "parts.mlp_acc" and "which" in p.message and "mlp_accuracy" in p.message
               for p in report.problems), format_report(report)


def test_missing_expected_array(tmp_path):
    folder, reference = _copy(tmp_path)
    (reference / "class_means.npy").unlink()
    problem = _only_problem(validate(folder, run=False), "every part has a threshold")
    assert problem.field == "parts.class_means.expected_file" and "does not exist" in problem.message


def test_helper_that_does_not_import(tmp_path):
    folder, _ = _copy(tmp_path)
    (folder / "helpers" / "broken.py").write_text("import numpy\nraise RuntimeError('helper is broken')\n")
    problem = _only_problem(validate(folder, run=False), "helper modules import")
    assert problem.file.endswith("helpers/broken.py") and problem.field == "import"
    assert "RuntimeError: helper is broken" in problem.message


def test_notebooks_that_are_missing_unreadable_or_without_a_graded_cell(tmp_path):
    folder, reference = _copy(tmp_path)
    (folder / "template.ipynb").write_text('{"cells": [')
    notebook = json.loads((reference / "solution.ipynb").read_text())
    notebook["cells"] = [c for c in notebook["cells"] if "mlp_loss" not in "".join(c["source"])
                         or "Grader(" in "".join(c["source"])]
    (reference / "solution.ipynb").write_text(json.dumps(notebook))
    problems = [p for p in validate(folder, run=False).problems]
    assert any(p.file.endswith("template.ipynb") and "not a Jupyter notebook" in p.message for p in problems)
    assert any(p.file.endswith("solution.ipynb") and p.field == "part mlp_loss"
               and "no graded cell submits part 'mlp_loss'" in p.message for p in problems), problems
    (folder / "template.ipynb").unlink()
    problems = validate(folder, run=False).problems
    assert any(p.field == "template" and "does not exist" in p.message for p in problems)


def test_data_that_cannot_be_built(tmp_path):
    folder, _ = _copy(tmp_path)
    toml = folder / "assignment.toml"
    _edit(toml, '"~/.cache/grader/sklearn_digits/digits.npz"', f'"{tmp_path / "cache" / "digits.npz"}"')
    _edit(toml, '"helpers/digits_data.py"', '"helpers/no_such_script.py"')
    problem = _only_problem(validate(folder), "data files")
    assert problem.field == "data.digits" and "the build command" in problem.message
    assert "GRADER_DATA_DIGITS" in problem.message


def test_spec_that_does_not_load(tmp_path):
    folder, _ = _copy(tmp_path)
    _edit(folder / "assignment.toml", 'metric = "cross_entropy"', 'metric = "crossentropy"')
    report = validate(folder)
    problem = _only_problem(report, "specs load")
    assert problem.file.endswith("assignments/copy/assignment.toml") and problem.field == "parts[3].metric"
    assert "unknown metric 'crossentropy'" in problem.message
    assert all(c.skipped for c in report.checks[1:])


def test_consistency_only_passes_without_running(capsys):
    assert run_validate(_args(DIGITS, "--no-run", "--quiet")) == 0
    out = capsys.readouterr().out
    assert "OK (no notebook run)" in out and "skip solution passes (not asked to run notebooks)" in out


def test_not_an_assignment_folder(tmp_path):
    report = validate(tmp_path)
    assert not report.ok and "no assignment.toml" in report.problems[0].message


# --- runs: real kernels -------------------------------------------------------------------------

@pytest.mark.kernel
def test_second_assignment_validates_with_junit_and_github_outputs(tmp_path, monkeypatch, capsys):
    xmlschema = pytest.importorskip("xmlschema")
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    junit = tmp_path / "junit.xml"
    status = run_validate(_args(str(ROOT / "assignments" / DIGITS), "--junit", str(junit), "--quiet"))
    out = capsys.readouterr().out
    assert status == 0, out
    assert "validate sklearn_digits" in out and ": OK in" in out and "margin" in out
    xmlschema.XMLSchema(str(XSD)).validate(str(junit))
    root = ET.parse(junit).getroot()
    assert root.get("failures") == "0" and root.get("errors") == "0"
    names = [s.get("name") for s in root.findall("testsuite")]
    assert names == ["sklearn_digits: checks", "sklearn_digits: solution, seed 0",
                     "sklearn_digits: template fails every part"]
    assert "## grader validate: sklearn_digits" in summary.read_text()
    assert "::error" not in out


@pytest.mark.kernel
def test_reference_solution_that_misses_a_threshold_and_a_weak_notebook_that_passes(tmp_path):
    folder, reference = _copy(tmp_path)
    _edit(reference / "thresholds.toml", "min = 0.90", "min = 0.99")
    weak = ROOT / "reference" / DIGITS / "samples" / "weak_model.ipynb"
    report = validate(folder, weak=[weak])
    # A weak notebook written by hand must fail every part: sklearn's weak sample is weak in its
    # means and its MLP, not in its nearest-mean classifier; the problem names the bound.
    problem = _only_problem(report, "weak notebooks fail")
    assert problem.file.endswith("reference/copy/thresholds.toml") and problem.field == "parts.nearest_mean.min"
    assert "the weak notebook reference/sklearn_digits/samples/weak_model.ipynb passes part 'nearest_mean'" \
        in problem.message and "grader calibrate suggests one" in problem.message
    assert [r.submission for r in report.weak_results] == ["weak_model.ipynb"]
    assert "weak weak_model.ipynb: class_means failed" in format_report(report)
    suite = ci_suites(report)[-1]
    assert suite.name == "sklearn_digits: weak weak_model.ipynb fails every part"
    assert [case.status for case in suite.cases].count("failed") == 1
    problem = next(p for c in report.checks if c.name.startswith("solution passes") for p in c.problems)
    assert problem.file.endswith("reference/copy/thresholds.toml")
    assert problem.field == "parts.mlp_accuracy.min"
    assert "the reference solution" in problem.message and "fails part 'mlp_accuracy' with seed 0" in problem.message
    assert "required >= 0.99" in problem.message
    assert report.calibration["parts"]["mlp_accuracy"]["margin"] < 0
    # Results of the new kinds fit the result schema.
    jsonschema = pytest.importorskip("jsonschema")
    from grader.results import load_schema

    for result in report.solution_runs + [report.template_result]:
        jsonschema.validate(json.loads(result.to_json()), load_schema())


@pytest.mark.kernel
def test_template_that_passes(tmp_path):
    folder, reference = _copy(tmp_path)
    shutil.copy(reference / "solution.ipynb", folder / "template.ipynb")
    report = validate(folder)
    problems = [p for c in report.checks if c.name.startswith("template fails") for p in c.problems]
    assert not report.ok and len(problems) == 4, format_report(report)
    assert all(p.file.endswith("assignments/copy/template.ipynb") for p in problems)
    assert problems[0].field == "part class_means (cell 4)"
    assert "the template passes part 'class_means'" in problems[0].message


@pytest.mark.slow
@pytest.mark.kernel
def test_mnist_assignment_validates(mnist_path):
    report = validate(ROOT / "assignments" / "mnist_digits", options=None)
    assert report.ok, format_report(report)
    margins = {part: entry.get("margin") for part, entry in report.calibration["parts"].items()}
    assert all(margin > 0 for margin in margins.values() if margin is not None), margins
    assert {p.status for p in report.template_result.parts} <= {"failed", "error"}


# --- issue 29: generated notebooks, weak samples, the Keras edition ---------------------------

def test_a_generated_notebook_edited_by_hand_is_stale(tmp_path, mnist_path):
    folder, reference = _copy(tmp_path, "mnist_keras")
    assert (reference / "weak" / "one_epoch.ipynb").is_file()
    assert validate(folder, run=False).ok, format_report(validate(folder, run=False))
    _edit(folder / "template.ipynb", "two hidden layers, then 10 softmax outputs", "an MLP")
    problem = _only_problem(validate(folder, run=False), "template, solution and weak samples")
    assert problem.file.endswith("assignments/copy/template.ipynb")
    assert problem.message.startswith("stale: differs from what the source makes now")
    assert "run grader author" in problem.message and "reference/copy/source.ipynb" in problem.message


def test_weak_notebooks_that_are_missing_or_lack_a_graded_cell(tmp_path, capsys):
    folder, reference = _copy(tmp_path)
    from grader.cli import main

    assert main(["validate", str(folder), "--no-run", "--weak", str(tmp_path / "nothing.ipynb")]) == 2
    assert "nothing.ipynb does not exist: give a notebook or a folder" in capsys.readouterr().err
    problems = validate(folder, run=False, weak=[reference / "solution.ipynb", ROOT / "README.md"]).problems
    assert [p.file.endswith("README.md") for p in problems] == [True], problems


@pytest.mark.slow
@pytest.mark.kernel
def test_the_keras_edition_validates(mnist_path):
    """The one full run of the Keras solution in the suite (with the template's): four model parts,
    measured by the evaluator, pass with a margin; the template fails them all."""
    report = validate(ROOT / "assignments" / "mnist_keras")
    assert report.ok, format_report(report)
    assert all(entry["margin"] > 0 for entry in report.calibration["parts"].values()), report.calibration
    assert report.solution_runs[0].keras.startswith("keras 3.")
    assert {p.status for p in report.template_result.parts} == {"error"}
    assert all("linear_model is still None" in p.message or "mlp_model is still None" in p.message
               for p in report.template_result.parts), [p.message for p in report.template_result.parts]
