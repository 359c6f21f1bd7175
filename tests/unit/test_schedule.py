"""The order policy: which cells run, in which order, from the saved execution counts alone."""
import nbformat
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.run.schedule import AS_RUN, TOP_DOWN, as_run, plan, saved_counts, top_down


def _nb(*counts, markdown_first=True):
    """A notebook whose code cells have these saved execution counts (a markdown cell first)."""
    nb = nbformat.v4.new_notebook()
    if markdown_first:
        nb.cells.append(nbformat.v4.new_markdown_cell("# title"))
    for k, count in enumerate(counts, 1):
        cell = nbformat.v4.new_code_cell(f"x{k} = {k}")
        cell["execution_count"] = count  # as a hand-edited file may hold it (nbformat would refuse)
        nb.cells.append(cell)
    return nb


def _runs(schedule):
    return [f"{s.number}*" if s.again else s.number for s in schedule.steps]


def test_top_down_runs_every_code_cell_once_in_order():
    schedule = top_down(_nb(3, 1, 2))
    assert _runs(schedule) == [1, 2, 3] and not schedule.differs()
    assert schedule.text() == "graded top to bottom"
    assert schedule.steps[0].index == 1  # the markdown cell is not run and not numbered


def test_the_issues_notebook_replays_the_training_cell_after_the_mlp():
    # Cells 1-11 and 13-14 in order; the training cell 12 shows In [32]; In [30] resets the graph
    # (cell 15), In [31] defines the MLP (16), In [35] is its graded cell (17).
    counts = [*range(1, 12), 32, 13, 14, 30, 31, 35, 36]
    schedule = as_run(_nb(*counts))
    assert _runs(schedule) == [*range(1, 17), "12*", 17, 18]
    assert schedule.text() == "graded as you ran it: cell 12 again after cell 16"
    assert schedule.to_dict() == {"order": AS_RUN, "cells": [*range(1, 17), 12, 17, 18], "again": [16],
                                  "text": "graded as you ran it: cell 12 again after cell 16"}
    assert [s.count for s in schedule.replays] == [32]


def test_several_reruns_before_one_cell_run_in_count_order_and_are_grouped():
    # The reset (8) and placeholders (10) cells re-run (In [16], In [15]) before the MLP cell (15).
    counts = [*range(1, 8), 16, 9, 15, 11, 18, 13, 14, 17, 19]
    schedule = as_run(_nb(*counts))
    assert _runs(schedule) == [*range(1, 15), "10*", "8*", 15, "12*", 16]
    assert schedule.text() == ("graded as you ran it: cells 10 and 8 again after cell 14; "
                               "cell 12 again after cell 15")


def test_a_token_cell_re_run_at_the_end_is_not_replayed():
    # Cell 4 re-run last: nothing later depends on it, and nothing runs after the last cell.
    schedule = as_run(_nb(1, 2, 3, 9, 5, 6, 7, 8))
    assert _runs(schedule) == [*range(1, 9)] and not schedule.differs()
    assert schedule.text() == "graded as you ran it: top to bottom (no cell was run again before a later one)"


def test_of_two_orders_the_one_with_earlier_counts_is_in_place():
    # In [3] (cell 2) ran after In [2] (cell 3): cell 2 runs again after cell 3.
    assert _runs(as_run(_nb(1, 3, 2, 4))) == [1, 2, 3, "2*", 4]


@pytest.mark.parametrize("count", [0, None, -3, True, "7", 2.5])
def test_counts_that_say_nothing_run_top_down(count):
    nb = _nb(count, count, count, count)
    assert saved_counts(nb) == {}
    schedule = as_run(nb)
    assert _runs(schedule) == [1, 2, 3, 4] and schedule.counted == 0
    assert "records no run order" in schedule.text()


def test_a_stretch_without_counts_runs_in_its_place():
    # Colab zeros in the middle; cell 2's In [9] came after cell 6's In [8]: replayed before cell 7.
    schedule = as_run(_nb(1, 9, 0, 0, None, 8, 10))
    assert _runs(schedule) == [1, 2, 3, 4, 5, 6, "2*", 7]


def test_plan_chooses_by_policy_and_refuses_others():
    nb = _nb(2, 1)
    assert plan(nb, TOP_DOWN).order == TOP_DOWN and plan(nb, AS_RUN).order == AS_RUN
    with pytest.raises(ValueError, match="top-down or as-run"):
        plan(nb, "random")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(-5, 60)), max_size=40))
def test_any_counts_run_every_cell_once_in_place_and_rerun_only_earlier_cells_once(counts):
    """Whatever counts a notebook forges: nothing skipped, nothing inserted, nothing repeated."""
    schedule = as_run(_nb(*counts))
    own = [s.number for s in schedule.steps if not s.again]
    assert own == list(range(1, len(counts) + 1))
    replayed = [s.number for s in schedule.replays]
    assert len(replayed) == len(set(replayed)) and len(schedule.steps) <= 2 * len(counts)
    for position, step in enumerate(schedule.steps):
        if step.again:
            # only a cell that already ran in its place, before a later one's place, with a count
            ran = [s.number for s in schedule.steps[:position] if not s.again]
            following = next(s.number for s in schedule.steps[position:] if not s.again)
            assert step.number in ran and step.number < following
            assert isinstance(step.count, int) and step.count > 0
