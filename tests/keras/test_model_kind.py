"""The model kind with real kernels and a real evaluator: Keras 3 and tf-keras models, honest and not.

Two small notebooks (``tests/keras/notebooks``, made by ``tools/make_keras_fixtures.py``), each
graded once by a real kernel against a test assignment of ``tests/keras/assignments`` (models
trained on 5,000 images in seconds, measured on 2,000), the two gradings side by side: every
part of a notebook is one case of the kind, honest or an attack the evaluator must refuse.
"""
import concurrent.futures
import multiprocessing
import os
from pathlib import Path

import nbformat
import pytest

from grader.assignments import load_assignment
from grader.orchestrate import GradeOptions, grade_notebook

pytestmark = pytest.mark.kernel

HERE = Path(__file__).resolve().parent
NOTEBOOKS = HERE / "notebooks"


def _assignment(name):
    return load_assignment(HERE / "assignments" / name, reference_folder=HERE / "reference" / name)


def _grade(notebook: Path, name: str, executed: Path):
    return grade_notebook(notebook, assignment=_assignment(name), options=GradeOptions(threads=1),
                          executed_path=executed)


def _worker_init(parent: int):
    from grader.kernel.launch import die_with_parent

    die_with_parent(parent)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Both notebooks graded at once, each in its own process (one kernel and evaluator each)."""
    folder = tmp_path_factory.mktemp("executed")
    jobs = {"keras3": (NOTEBOOKS / "keras3_models.ipynb", "keras3_tiny"),
            "keras2": (NOTEBOOKS / "keras2_models.ipynb", "keras2_tiny")}
    with concurrent.futures.ProcessPoolExecutor(
            max_workers=2, mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_init, initargs=(os.getpid(),)) as pool:
        futures = {key: pool.submit(_grade, notebook, name, folder / f"{key}.ipynb")
                   for key, (notebook, name) in jobs.items()}
        results = {key: future.result() for key, future in futures.items()}
    return results, folder


def _summary(result) -> str:
    return "\n".join(f"{p.id} {p.status}: {p.message}" for p in result.parts)


def test_a_keras3_model_is_measured_outside_the_kernel_with_its_architecture(graded):
    result = graded[0]["keras3"]
    summary = _summary(result)
    assert result.status == "graded" and result.keras.startswith("keras 3."), summary
    honest = result.part("honest")
    assert honest.status == "passed" and honest.measured > 0.85, summary
    # The claims were a NumPy float32 and the repr of a float64: each is the number it shows.
    assert not honest.claim_mismatch and not result.part("honest_loss").claim_mismatch, summary
    assert result.part("honest_loss").status == "passed" and 0 < result.part("honest_loss").measured < 0.6
    assert "100.0% same predictions" in honest.integrity
    assert 0.8 < honest.reported["test"]["value"] <= 1 and honest.reported["test"]["hidden"]
    assert honest.evidence["architecture"]["layers"][-1] == {
        "type": "Dense", "units": 10, "activation": "softmax", "params": 7850}
    assert honest.evidence["architecture"]["input_shape"] == [28, 28]
    assert honest.fingerprint is not None
    # What differs from the architecture asked for is said, with the metric beside it.
    two_hidden = result.part("two_hidden")
    assert two_hidden.status == "failed" and two_hidden.measured == honest.measured
    assert ("the model has 1 layer (Dense(10, softmax)), the part asks for 3 (Dense, Dense, Dense)"
            in two_hidden.message)
    # The agent's export and the evaluator's work are timed.
    assert result.timings["export"] > 0 and result.timings["evaluate_models"] > 0


@pytest.mark.parametrize("part, status, fragment", [
    ("lambda", "error", "the model has a Lambda layer"),
    ("custom", "error", "the model uses Answers"),
    ("constant", "failed", "constant gives the same output for every input"),
    ("tensor", "error", "probas is a KerasTensor (the output of a layer), not a model"),
    ("patched", "error", "the grading agent sent no model to run (was it replaced by the notebook?)"),
])
def test_keras3_cheats_and_mistakes_fail_with_their_reason(graded, part, status, fragment):
    result = graded[0]["keras3"]
    found = result.part(part)
    assert found.status == status and fragment in found.message, _summary(result)
    assert found.points == 0


def test_a_stored_model_verdict_is_judged_again_under_new_rules(graded):
    """grader rescore: the architecture the evaluator read is kept, so new rules apply without a run."""
    import dataclasses

    from grader.judge.score import rejudge_part
    from grader.results import SubmissionResult

    result = SubmissionResult.from_json(graded[0]["keras3"].to_json())
    assignment = _assignment("keras3_tiny")
    for part in assignment.parts:
        again = rejudge_part(part, assignment.threshold(part.id), result.part(part.id), result.errors)
        assert again == result.part(part.id), part.id
    looser = dataclasses.replace(assignment.threshold("two_hidden"), layers=("Dense",), units=(10,))
    again = rejudge_part(assignment.part("two_hidden"), looser, result.part("two_hidden"), result.errors)
    assert again.status == "passed", again.message


def test_keras2_gives_tf_keras_to_both_imports_and_models_leave_as_savedmodels(graded):
    results, folder = graded
    result = results["keras2"]
    summary = _summary(result)
    assert result.keras.startswith("tf-keras 2."), summary
    executed = nbformat.read(folder / "keras2.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for o in executed.cells[0].outputs)
    assert "keras: tf_keras | tf.keras: tf_keras." in printed, printed
    honest = result.part("honest")
    assert honest.status == "passed" and honest.measured > 0.85, summary
    assert [layer["type"] for layer in honest.evidence["architecture"]["layers"]] == ["InputLayer", "Flatten", "Dense"]
    assert honest.evidence["architecture"]["params"] == 7850
    assert "Python code inside its graph (EagerPyFunc" in result.part("pyfunc").message, summary
    assert "the output does not depend on the input placeholder" in result.part("labels").message, summary
    assert result.part("pyfunc").points == 0 and result.part("labels").points == 0
