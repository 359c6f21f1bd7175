"""Saved notebook vs clean re-run: what the learner is told."""
import copy

import nbformat

from grader.judge.compare import saved_vs_rerun


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


def test_out_of_order_and_different_values_are_quoted():
    saved = _nb((5, "0.9791\n"), (3, None), (4, None))
    rerun = _nb((1, "0.9312\n"), (2, None), (3, None))
    [note] = saved_vs_rerun(saved, rerun)
    assert "out of order (cell 1 shows In [5] but the later cell 2 shows In [3])" in note
    assert "cell 1 printed 0.9791 when you ran it; the re-run printed 0.9312" in note


def test_colab_zero_counts_are_not_out_of_order():
    saved = _nb((0, None), (0, None), (None, None))
    assert saved_vs_rerun(saved, _nb((1, None), (2, None), (3, None))) == []


def test_interrupted_training_is_reported():
    saved = _nb((1, "interrupt"))
    rerun = _nb((1, "done\n"))
    [note] = saved_vs_rerun(saved, rerun)
    assert "cell 1 was interrupted (KeyboardInterrupt) when you ran it; the re-run ran it to the end" in note
