"""With several assignments, the notebooks' part ids tell which one they belong to."""
import pytest

from grader.assignments import find_assignment
from grader.exceptions import AssignmentNotFoundError
from tests.conftest import ROOT


def test_notebooks_choose_their_assignment():
    assert find_assignment(notebooks=[ROOT / "submissions" / "seed_code.ipynb"]).id == "mnist_digits"
    assert find_assignment(notebooks=sorted((ROOT / "submissions").iterdir())).id == "mnist_digits"
    samples = sorted((ROOT / "reference" / "sklearn_digits" / "samples").glob("*.ipynb"))
    assert find_assignment(notebooks=samples).id == "sklearn_digits"


def test_no_hint_asks_for_the_assignment(tmp_path):
    (tmp_path / "empty.ipynb").write_text('{"cells": []}')
    for notebooks in ([], [tmp_path / "empty.ipynb"], [tmp_path / "missing.ipynb"]):
        with pytest.raises(AssignmentNotFoundError, match="several assignments exist"):
            find_assignment(notebooks=notebooks)
