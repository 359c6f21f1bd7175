"""What the learner saw versus what the clean re-run shows.

The grade always comes from a clean top-to-bottom re-run.  When the saved
notebook tells another story (cells run out of order, a training loop
interrupted, a printed accuracy the re-run does not reproduce), the learner
must be told, quoting both values, or the grade looks arbitrary.
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


def saved_vs_rerun(saved, rerun) -> list[str]:
    """Differences worth telling the learner, one short sentence each."""
    items: list[str] = []
    code = [(i, c) for i, c in enumerate(saved.cells) if c.get("cell_type") == "code"]
    numbers = {index: n for n, (index, _) in enumerate(code, 1)}

    counts = [(numbers[i], c.get("execution_count")) for i, c in code
              if isinstance(c.get("execution_count"), int) and c.get("execution_count") > 0]
    inversions = [(a, b) for a, b in zip(counts, counts[1:]) if b[1] < a[1]]
    if inversions:
        (cell_a, count_a), (cell_b, count_b) = inversions[0]
        items.append(f"cells were run out of order (cell {cell_a} shows In [{count_a}] but the later "
                     f"cell {cell_b} shows In [{count_b}]"
                     + (f", and {len(inversions) - 1} more such place(s)" if len(inversions) > 1 else "")
                     + ")")

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
