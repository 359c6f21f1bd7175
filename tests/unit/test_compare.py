"""Saved notebook vs clean re-run: what the learner is told."""
import copy

import nbformat

from grader.judge.compare import saved_vs_rerun
from grader.run.schedule import as_run


def _nb(*cells):
    nb = nbformat.v4.new_notebook()
    for count, text in cells:
        cell = nbformat.v4.new_code_cell("print(x)", execution_count=count)
        if text == "interrupt":
            cell.outputs = [nbformat.v4.new_output("error", ename="KeyboardInterrupt", evalue="",
                                                   traceback=[])]
        elif text is not None:
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
        nb.cells.append(cell)
    return nb


def test_identical_runs_say_nothing():
    saved = _nb((1, "acc 0.9312\n"), (2, None))
    assert saved_vs_rerun(saved, copy.deepcopy(saved)) == []


def test_small_run_to_run_noise_is_not_reported():
    saved = _nb((1, "val loss 0.2561 acc 0.9317\n"))
    rerun = _nb((1, "val loss 0.2563 acc 0.9309\n"))
    assert saved_vs_rerun(saved, rerun) == []


def test_different_values_are_quoted():
    saved = _nb((5, "0.9791\n"), (3, None), (4, None))
    rerun = _nb((1, "0.9312\n"), (2, None), (3, None))
    [note] = saved_vs_rerun(saved, rerun)
    assert "cell 1 printed 0.9791 when you ran it; the re-run printed 0.9312" in note


def _course(counts):
    """Code cells 1-17 of a course notebook with these counts: 12 trains, 15 defines the MLP,
    13 and 16 are graded; cell 4 (the token) was re-run last."""
    return _nb(*((count, None) for count in counts))


# Cell 4 re-run last (In [30]), the training cell 12 (In [21]) after the MLP's cell 15 (In [20]).
COUNTS = [1, 2, 3, 30, 5, 6, 7, 8, 9, 10, 11, 21, 13, 14, 20, 22, 23]
GRADED = {13: ["lin"], 16: ["mlp"]}


def test_the_inversion_named_is_the_one_before_a_graded_cell_not_the_first():
    saved = _course(COUNTS)
    [note] = saved_vs_rerun(saved, copy.deepcopy(saved), history=as_run(saved), graded=GRADED,
                            statuses={"lin": "passed", "mlp": "failed"}, order="top-down")
    assert ("cells were run out of order: cell 12 shows In [21], after cell 15 (In [20]) and before "
            "the graded cell 16 (In [22]); the grade runs the cells top to bottom, so cell 12 ran "
            "before cell 15 instead") in note
    assert "cell 4" not in note


def test_as_run_says_nothing_of_an_inversion_it_replayed():
    saved = _course(COUNTS)
    assert saved_vs_rerun(saved, copy.deepcopy(saved), history=as_run(saved), graded=GRADED,
                          statuses={"lin": "passed", "mlp": "passed"}, order="as-run") == []


def test_a_graded_cell_run_after_later_cells_is_named_under_either_order():
    # The linear graded cell 13 run again (In [25]) after the MLP's cells.
    counts = [*range(1, 13), 25, 14, 20, 21, 22]
    saved = _course(counts)
    for order in ("top-down", "as-run"):
        [note] = saved_vs_rerun(saved, copy.deepcopy(saved), history=as_run(saved), graded=GRADED,
                                statuses={}, order=order)
        assert ("the graded cell 13 shows In [25], after the later cell 17 (In [22]), so what it saved "
                "comes from a later state; the grade measures it at its own place") in note


def test_no_graded_cell_no_inversion_note():
    saved = _course(COUNTS)
    assert saved_vs_rerun(saved, copy.deepcopy(saved), history=as_run(saved), graded={}) == []


def test_colab_zero_counts_are_not_out_of_order():
    saved = _nb((0, None), (0, None), (None, None))
    assert saved_vs_rerun(saved, _nb((1, None), (2, None), (3, None))) == []


def test_interrupted_training_is_reported():
    saved = _nb((1, "interrupt"))
    rerun = _nb((1, "done\n"))
    [note] = saved_vs_rerun(saved, rerun)
    assert "cell 1 was interrupted (KeyboardInterrupt) when you ran it; the re-run ran it to the end" in note
