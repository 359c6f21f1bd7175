"""Assignment and reference specs: loading, defaults, and errors that name the file and key."""
from pathlib import Path

import pytest

from grader.exceptions import AssignmentNotFoundError, SpecError, UnknownKeyError
from grader.assignments import load_assignment
from grader.specs import Assignment, Part, describe
from tests.conftest import ASSIGNMENT_DIR, REFERENCE_DIR, ROOT


def test_mnist_assignment_has_the_five_parts(assignment):
    assert [p.id for p in assignment.parts] == ["9XaAS", "vmogZ", "RMv95", "i8bgs", "rE763"]
    assert [p.kind for p in assignment.parts] == ["shapes", "loss", "accuracy", "loss", "accuracy"]
    assert assignment.course_key == "XtD7ho3TEeiHQBWLWejjYAA"
    assert assignment.kernel.tf1_compat and assignment.kernel.framework == "tensorflow"
    assert assignment.reference_folder == REFERENCE_DIR
    assert all(assignment.threshold(p.id) is not None for p in assignment.parts)
    assert all(p.description for p in assignment.parts)
    assert assignment.max_points == 5


def test_every_field_documents_itself():
    text = describe(Part)
    assert "kind = ''" in text and "# how the part is measured" in text
    assert all("#" in line and line.split("#", 1)[1].strip() for line in describe(Assignment).splitlines())


def _copy(tmp_path: Path, assignment_text: str | None = None, thresholds_text: str | None = None):
    folder = tmp_path / "assignments" / "copy"
    reference = tmp_path / "reference" / "copy"
    folder.mkdir(parents=True)
    reference.mkdir(parents=True)
    (folder / "assignment.toml").write_text(
        assignment_text if assignment_text is not None else (ASSIGNMENT_DIR / "assignment.toml").read_text())
    (reference / "thresholds.toml").write_text(
        thresholds_text if thresholds_text is not None else (REFERENCE_DIR / "thresholds.toml").read_text())
    return folder


def test_unknown_key_names_key_and_file(tmp_path):
    text = (ASSIGNMENT_DIR / "assignment.toml").read_text().replace(
        'kind = "shapes"', 'kind = "shapes"\npoint = 2', 1)
    folder = _copy(tmp_path, text)
    with pytest.raises(UnknownKeyError) as info:
        load_assignment(folder)
    assert "assignment.toml" in str(info.value) and "parts[0].point" in str(info.value)
    assert "points" in str(info.value)  # lists the known keys


def test_unknown_threshold_key(tmp_path):
    text = (REFERENCE_DIR / "thresholds.toml").read_text() + "\n[parts.zzz]\nminimum = 3\n"
    folder = _copy(tmp_path, thresholds_text=text)
    with pytest.raises(UnknownKeyError, match=r"thresholds.toml: parts.zzz.minimum"):
        load_assignment(folder)


def test_duplicate_part_ids_and_unknown_kind(tmp_path):
    text = (ASSIGNMENT_DIR / "assignment.toml").read_text().replace('id = "vmogZ"', 'id = "9XaAS"')
    with pytest.raises(SpecError, match="appears twice"):
        load_assignment(_copy(tmp_path, text))
    text = (ASSIGNMENT_DIR / "assignment.toml").read_text().replace('kind = "loss"', 'kind = "lost"', 1)
    with pytest.raises(SpecError, match="unknown kind 'lost'"):
        load_assignment(_copy(tmp_path / "b", text))


def test_the_order_policy_is_checked_and_mnist_is_graded_as_run(tmp_path, assignment):
    assert assignment.kernel.order == "as-run"  # its template tells learners to re-run a cell
    assert load_assignment(ROOT / "assignments" / "sklearn_digits").kernel.order == "top-down"  # the default
    text = (ASSIGNMENT_DIR / "assignment.toml").read_text().replace('order = "as-run"', 'order = "as-ran"')
    with pytest.raises(SpecError, match="top-down or as-run, got 'as-ran'") as caught:
        load_assignment(_copy(tmp_path, text))
    assert caught.value.field == "kernel.order"


def test_invalid_toml_is_a_spec_error(tmp_path):
    with pytest.raises(SpecError, match="not valid TOML"):
        load_assignment(_copy(tmp_path, "id = [unclosed"))


def test_missing_folder():
    with pytest.raises(AssignmentNotFoundError):
        load_assignment("/nonexistent/assignment")


def test_digest_changes_with_thresholds(tmp_path):
    first = load_assignment(_copy(tmp_path / "a"))
    text = (REFERENCE_DIR / "thresholds.toml").read_text().replace("min = 0.9", "min = 0.8", 1)
    second = load_assignment(_copy(tmp_path / "b", thresholds_text=text))
    assert first.digest != second.digest


def test_find_assignment_by_name_and_default(monkeypatch):
    from grader.assignments import find_assignment

    assert find_assignment("mnist_digits").id == "mnist_digits"
    assert find_assignment(str(ASSIGNMENT_DIR)).id == "mnist_digits"
    with pytest.raises(AssignmentNotFoundError, match="no assignment 'nope'"):
        find_assignment("nope")
