"""What the learner saw versus what the clean re-run shows.

The grade always comes from a clean re-run in a fresh kernel (top to bottom, or
as the learner ran it: the assignment's order policy).  When the saved notebook
tells another story (cells run out of order, a training loop interrupted, a
printed accuracy the re-run does not reproduce), the learner must be told,
quoting both values, or the grade looks arbitrary.  Of the places where cells
ran out of order, the note names the one that matters: a cell run again before a
graded cell (the part's model depended on it), or a graded cell run after later
cells (what it saved comes from a later state) - never a token cell re-run at
the end.
"""
from __future__ import annotations

import re

_NUMBER = re.compile(r"(?<![\w.])-?\d+\.\d+(?:[eE][-+]?\d+)?")
_MAX_ITEMS = 5


def _text(cell) -> str:
    parts = []
    for output in cell.get("outputs", []):
        kind = output.get("output_type")
        if kind == "stream" and output.get("name") == "stdout":
            parts.append(_join(output.get("text", "")))
        elif kind in ("execute_result", "display_data"):
            parts.append(_join(output.get("data", {}).get("text/plain", "")))
    return "".join(parts)


def _join(text) -> str:
    return "".join(text) if isinstance(text, list) else str(text)


def _numbers(text: str) -> list[float]:
    return [float(m) for m in _NUMBER.findall(text)]


def _differs(a: float, b: float) -> bool:
    # Two honest runs of the same cell differ in the third decimal (other seeds, other
    # machines); a value that comes from another model differs by far more.
    return abs(a - b) > 0.01 and abs(a - b) > 0.02 * max(abs(a), abs(b))


def _interrupted(cell) -> bool:
    return any(o.get("output_type") == "error" and o.get("ename") == "KeyboardInterrupt"
               for o in cell.get("outputs", []))


def _error(cell) -> str | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return str(output.get("ename"))
    return None


def _inversion_that_matters(counts: dict, history, graded: dict, statuses: dict, order: str) -> str:
    """The out-of-order place that changes a graded part, in a sentence; "" when none does."""
    if history is None or not graded:
        return ""
    steps = list(history.steps)
    own = {step.number: k for k, step in enumerate(steps) if not step.again}
    # 1. A cell run again before a graded cell: the part's model depended on it.  Graded cells
    # of parts that did not pass first, then in the notebook's order.
    candidates = []
    start = 0
    for cell in sorted(graded, key=lambda n: own.get(n, 0)):
        position = own.get(cell)
        if position is None:
            continue
        # A graded cell run again only rebuilds state (its part is measured at its own place).
        again = [k for k in range(start, position) if steps[k].again and steps[k].number not in graded]
        if again:
            failing = any(statuses.get(part) not in (None, "passed") for part in graded[cell])
            candidates.append((not failing, position, again[-1], cell))
        start = position + 1
    if candidates and order != "as-run":  # as run, the grade re-ran it there too (the schedule says so)
        _, _, k, cell = min(candidates)
        step, before = steps[k], steps[k - 1]
        text = (f"cells were run out of order: cell {step.number} shows In [{step.count}], after cell "
                f"{before.number}" + (f" (In [{before.count}])" if before.count else "")
                + f" and before the graded cell {cell}"
                + (f" (In [{counts[cell]}])" if cell in counts else ""))
        return (text + f"; the grade runs the cells top to bottom, so cell {step.number} ran before "
                       f"cell {before.number} instead")
    # 2. A graded cell run after later cells: what it saved comes from a later state.
    for cell in sorted(graded):
        later = [(count, number) for number, count in counts.items() if number > cell and cell in counts
                 and count < counts[cell]]
        if later:
            count, number = max(later)
            return (f"cells were run out of order: the graded cell {cell} shows In [{counts[cell]}], "
                    f"after the later cell {number} (In [{count}]), so what it saved comes from a later "
                    f"state; the grade measures it at its own place")
    return ""


def saved_vs_rerun(saved, rerun, *, history=None, graded: dict | None = None,
                   statuses: dict | None = None, order: str = "top-down") -> list[str]:
    """Differences worth telling the learner, one short sentence each.

    ``history``: the as-run schedule of ``saved`` (:func:`grader.run.schedule.as_run`);
    ``graded``: code cell number -> the part ids measured after it; ``statuses``: part id ->
    its verdict's status, so that an inversion before a part that did not pass is named first;
    ``order``: the policy the re-run followed.
    """
    items: list[str] = []
    code = [(i, c) for i, c in enumerate(saved.cells) if c.get("cell_type") == "code"]
    numbers = {index: n for n, (index, _) in enumerate(code, 1)}
    counts = {numbers[i]: c.get("execution_count") for i, c in code
              if isinstance(c.get("execution_count"), int) and not isinstance(c.get("execution_count"), bool)
              and c.get("execution_count") > 0}
    inversion = _inversion_that_matters(counts, history, graded or {}, statuses or {}, order)
    if inversion:
        items.append(inversion)

    for index, cell in code:
        number = numbers[index]
        after = rerun.cells[index] if index < len(rerun.cells) else None
        if after is None:
            continue
        if _interrupted(cell):
            error = _error(after)
            items.append(f"cell {number} was interrupted (KeyboardInterrupt) when you ran it; the re-run "
                         + (f"raised {error} there" if error else "ran it to the end"))
            continue
        if "version" in cell.get("source", ""):
            continue  # `print(tf.__version__)`: the learner's TensorFlow was another one, by design
        before_numbers, after_numbers = _numbers(_text(cell)), _numbers(_text(after))
        if not before_numbers or not after_numbers:
            continue
        for old, new in zip(reversed(before_numbers), reversed(after_numbers)):
            if _differs(old, new):
                items.append(f"cell {number} printed {old:g} when you ran it; the re-run printed {new:g}")
                break
    if not items:
        return []
    shown = items[:_MAX_ITEMS]
    more = f"; and {len(items) - _MAX_ITEMS} more difference(s)" if len(items) > _MAX_ITEMS else ""
    return ["Your saved notebook differs from the clean re-run, which is what is graded: "
            + "; ".join(shown) + more + "."]
