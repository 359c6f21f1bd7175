"""In which order a notebook's cells run: the assignment's order policy.

Two policies (``[kernel] order`` in assignment.toml, ``--order`` on the command line):

``top-down``
    Every code cell once, top to bottom ("Restart & Run All").
``as-run``
    The learner's recorded history, as far as the saved execution counts show it:
    top to bottom, and before a cell, the earlier cells whose counts say they were
    last run between the previous cell and this one, in count order.  The
    course template that says "define the MLP ... and restart training with the cell
    above" makes that re-run the normal workflow: In [31] defines the MLP, In [32] is
    the training cell above it run again, In [35] the MLP's graded cell.  Replayed,
    that is ``..., 16, 12 (again), 17``.

The rules, whatever the saved counts say:

* every code cell runs at its own place, once (a cell without a count too: nothing
  is skipped), and only the learner's own cells run: nothing is inserted;
* the cells that ran *in their place* are a longest run of counted cells whose counts
  increase top to bottom; every other counted cell is out of place (its last run came
  after a later cell's, as the training cell's In [32] after the MLP's In [31]);
* a re-run is of an *earlier* out-of-place cell, placed before the first in-place cell
  whose count and the previous in-place cell's bracket its count, in count order;
  the brackets do not overlap, so each cell is re-run at most once and a schedule has
  at most twice as many runs as the notebook has code cells, whatever counts a
  notebook forges;
* counts that are missing, zero (Colab saves 0), negative or not whole numbers say
  nothing: such stretches run top-down; re-runs the history places after the last
  counted cell change nothing graded and are not replayed.

Parts are measured once, at their graded cell's own place (:mod:`grader.run.execute`);
a re-run of a graded cell only rebuilds state.  Pure logic on the saved notebook:
nothing here runs a kernel.
"""
from __future__ import annotations

from dataclasses import dataclass

TOP_DOWN = "top-down"
AS_RUN = "as-run"
ORDERS = (TOP_DOWN, AS_RUN)


def check_order(order: str) -> str:
    """``order`` when it is a policy; ValueError naming the policies otherwise."""
    if order not in ORDERS:
        raise ValueError(f"order must be {' or '.join(ORDERS)}, got {order!r}")
    return order


@dataclass(frozen=True)
class Step:
    """One run of one code cell."""

    index: int                 # position among all cells of the notebook
    number: int                # 1-based position among code cells (what learners read)
    again: bool = False        # a re-run of a cell that already ran at its own place
    count: int | None = None   # the saved execution count (the run of the learner's it reproduces)


@dataclass(frozen=True)
class Schedule:
    """The runs of one grading, in order, under ``order``."""

    order: str
    steps: tuple[Step, ...]
    counted: int = 0           # code cells whose saved count says something (whole, above 0)
    cells: int = 0             # code cells

    @property
    def replays(self) -> list[Step]:
        return [step for step in self.steps if step.again]

    def differs(self) -> bool:
        """Whether this schedule is not plain top-down."""
        return any(step.again for step in self.steps)

    def groups(self) -> list[tuple[int, list[Step]]]:
        """The re-runs grouped by the run they follow: [(cell number before them, [steps])]."""
        groups: list[tuple[int, list[Step]]] = []
        previous: Step | None = None
        for step in self.steps:
            if step.again:
                if groups and previous is not None and previous.again:
                    groups[-1][1].append(step)
                else:
                    groups.append((previous.number if previous else 0, [step]))
            previous = step
        return groups

    def text(self) -> str:
        """One line: ``graded as you ran it: cell 12 again after cell 16`` (or top to bottom)."""
        if self.order == TOP_DOWN:
            return "graded top to bottom"
        if not self.differs():
            return ("graded as you ran it: top to bottom (no cell was run again before a later one)"
                    if self.counted else
                    "graded as you ran it: top to bottom (your saved notebook records no run order)")
        parts = []
        for after, steps in self.groups():
            numbers = [step.number for step in steps]
            cells = (f"cell {numbers[0]}" if len(numbers) == 1
                     else "cells " + ", ".join(map(str, numbers[:-1])) + f" and {numbers[-1]}")
            parts.append(f"{cells} again after cell {after}")
        return "graded as you ran it: " + "; ".join(parts)

    def to_dict(self) -> dict:
        """What a result records (``schedule`` in the result schema)."""
        return {"order": self.order, "cells": [step.number for step in self.steps],
                "again": [position for position, step in enumerate(self.steps) if step.again],
                "text": self.text()}


def code_cells(notebook) -> list[tuple[int, int]]:
    """(cell index, 1-based code cell number) of every code cell, in order."""
    cells, number = [], 0
    for index, cell in enumerate(notebook.cells):
        if cell.get("cell_type") == "code":
            number += 1
            cells.append((index, number))
    return cells


def saved_counts(notebook) -> dict[int, int]:
    """Cell index -> saved execution count, for the counts that say something.

    A count says something when it is a whole number above 0: Colab saves 0 for every
    cell, a cell never run has none, and a hand-edited file may hold anything.
    """
    counts = {}
    for index, _ in code_cells(notebook):
        count = notebook.cells[index].get("execution_count")
        if isinstance(count, int) and not isinstance(count, bool) and count > 0:
            counts[index] = count
    return counts


def top_down(notebook) -> Schedule:
    cells = code_cells(notebook)
    return Schedule(order=TOP_DOWN, steps=tuple(Step(i, n, count=None) for i, n in cells),
                    counted=len(saved_counts(notebook)), cells=len(cells))


def as_run(notebook) -> Schedule:
    """The learner's history as the saved counts record it (see the module docstring)."""
    cells = code_cells(notebook)
    numbers = dict(cells)
    counts = saved_counts(notebook)
    counted = [index for index, _ in cells if index in counts]
    in_place = _in_place(counted, counts)
    steps: list[Step] = []
    replayed: set[int] = set()
    previous = float("-inf")  # the count of the nearest earlier cell that ran in its place
    for index, number in cells:
        count = counts.get(index)
        if index in in_place:
            due = sorted((j for j in counted if j < index and j not in in_place and j not in replayed
                          and previous < counts[j] < count), key=counts.__getitem__)
            for j in due:
                steps.append(Step(j, numbers[j], again=True, count=counts[j]))
                replayed.add(j)
            previous = count
        steps.append(Step(index, number, count=count))
    return Schedule(order=AS_RUN, steps=tuple(steps), counted=len(counted), cells=len(cells))


def _in_place(counted: list[int], counts: dict[int, int]) -> set[int]:
    """The cells whose saved counts agree with the notebook's order: a longest run of counted
    cells whose counts increase top to bottom.  The others are out of place: each was last run
    after a later cell, or before an earlier one.

    Of several longest runs, the one with the smallest counts (patience sorting keeps the smallest
    last count of every length): with counts 1, 3, 2, 4 the cell showing 3 is the one out of place,
    last run after the cell showing 2, and so run again after it.
    """
    import bisect

    tails: list[int] = []            # tails[k]: the smallest last count of an increasing run of k + 1
    tail_cell: list[int] = []        # the cell holding it
    before: dict[int, int | None] = {}
    for index in counted:
        count = counts[index]
        k = bisect.bisect_left(tails, count)
        before[index] = tail_cell[k - 1] if k else None
        if k == len(tails):
            tails.append(count)
            tail_cell.append(index)
        else:
            tails[k], tail_cell[k] = count, index
    kept, index = set(), tail_cell[-1] if tail_cell else None
    while index is not None:
        kept.add(index)
        index = before[index]
    return kept


def plan(notebook, order: str) -> Schedule:
    """The schedule of ``notebook`` under the policy ``order``."""
    return as_run(notebook) if check_order(order) == AS_RUN else top_down(notebook)
