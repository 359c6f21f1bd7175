"""A TF 1.x notebook, unmodified, gets the same grade as the same model written for tf.compat.v1.

``tf1_plain`` is written the TF1 way (``import tensorflow as tf``, ``tf.arg_max``, ``dim=``,
``softmax_cross_entropy_with_logits``, ``tf.summary.FileWriter``); ``passes_all`` builds the same
models with ``tensorflow.compat.v1``. With the harness's seeding, the measured values agree exactly
(tests/integration/test_golden.py compares the two, from the gradings of the golden notebooks).
"""
import pytest

from grader.orchestrate import GradeOptions, grade_notebook
from tests.conftest import NOTEBOOKS

pytestmark = [pytest.mark.kernel, pytest.mark.slow]


def test_without_compat_mode_the_tf1_notebook_fails_in_its_first_model_cell(assignment):
    result = grade_notebook(NOTEBOOKS / "tf1_plain.ipynb", assignment=assignment,
                            options=GradeOptions(tf1_compat=False))
    assert result.errors and "has no attribute" in result.errors[0].evalue
    assert all(p.status != "passed" for p in result.parts[1:])
