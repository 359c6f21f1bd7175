"""What the order the learner ran the cells in means for each graded part, and what to change.

The course's template says "define the MLP ... and restart training with the cell above", and
learners did: the MLP is trained by running the linear model's training cell again after the
MLP's cell.  Graded top to bottom, that MLP is never trained; graded as run, it is, but a clean
run of the same notebook fails.  Either way the learner is told the cell and the fix: "your MLP
is defined in cell 16 but only trained when cell 12 runs again: add the training loop after
cell 16".

Per graded part, from the saved notebook alone (no kernel): the cell that *defines* its model
(the last cell up to the graded cell that assigns the part's object: ``probas``, ``classes``, a
function), the cells that *train* it (a cell that reads a name the defining cell assigns and runs
a loop or calls ``fit``/``minimize``/``train``), and, from the as-run schedule
(:mod:`grader.run.schedule`), which cells the learner ran again between the definition and the
graded cell.  The names come from Python's own parser (``ast``) on the cell as IPython
transforms it (magics and shell lines become calls), so a cell that is not Python says nothing.
"""
from __future__ import annotations

import ast
import functools
from dataclasses import dataclass, field

from ..results import PASSED

# A call that trains wherever it is (Keras, scikit-learn)...
_TRAINING_CALLS = {"fit", "fit_generator", "partial_fit", "train", "train_on_batch"}
# ... and one that trains when a loop repeats it (a TF1 session's run of the optimiser's step,
# PyTorch's backward and step).  Building the step (`minimize`) trains nothing.
_LOOP_CALLS = _TRAINING_CALLS | {"run", "step", "backward", "eval"}


@dataclass(frozen=True)
class CellNames:
    """What one cell does with names."""

    assigned: frozenset = frozenset()
    read: frozenset = frozenset()
    trains: bool = False       # a loop that runs a training step, or a call of fit / train...
    functions: tuple = ()      # (name, global names its body reads) of each function the cell defines
    imported: frozenset = frozenset()


@dataclass(frozen=True)
class PartHistory:
    """One graded part's model in the saved notebook (code cell numbers throughout)."""

    part: str
    model: str
    graded: int
    defined: int | None = None        # the cell that defines the part's model
    trained_after: bool = False       # a cell from `defined` to `graded` trains it (top to bottom)
    trainer: int | None = None        # the last cell above `defined` that would train it
    rerun: tuple = ()                 # cells the learner ran again between `defined` and `graded`
    rerun_trainer: int | None = None  # the first of `rerun` that trains it
    counts: dict = field(default_factory=dict)  # cell number -> saved execution count (whole, above 0)


@functools.lru_cache(maxsize=4096)
def cell_names(source: str) -> CellNames:
    """The names ``source`` assigns and reads, and whether it looks like training."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        tree = ast.parse(TransformerManager().transform_cell(source))
    except Exception:  # not Python (a %%bash cell, a syntax error): it says nothing
        return CellNames()
    assigned, read, trains, functions, imported = set(), set(), False, [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (assigned if isinstance(node.ctx, (ast.Store, ast.Del)) else read).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            assigned.add(node.name)
            if not isinstance(node, ast.ClassDef):
                arguments = {arg.arg for arg in ast.walk(node.args) if isinstance(arg, ast.arg)}
                functions.append((node.name, frozenset(
                    inner.id for inner in ast.walk(node) if isinstance(inner, ast.Name)
                    and isinstance(inner.ctx, ast.Load) and inner.id not in arguments)))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = {(alias.asname or alias.name).split(".")[0] for alias in node.names}
            assigned.update(names)
            imported.update(names)
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
            trains = trains or any(_calls(inner, _LOOP_CALLS) for inner in ast.walk(node))
        elif _calls(node, _TRAINING_CALLS):
            trains = True
    return CellNames(frozenset(assigned), frozenset(read), trains, tuple(functions), frozenset(imported))


def _calls(node, names: set) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in names


def _key_names(part) -> list[str]:
    """The names whose assignment defines a part's model."""
    if getattr(part, "output", ""):
        return [part.output]
    if getattr(part, "object", ""):
        return [part.object]
    return list(getattr(part, "objects", ()))


def part_histories(notebook, parts, graded: dict[int, list[str]], history) -> dict[str, PartHistory]:
    """Per graded part, its :class:`PartHistory`.

    ``parts``: the assignment's parts; ``graded``: cell index -> part ids measured after it
    (:func:`grader.run.execute.find_graded_cells`); ``history``: the as-run schedule
    (:func:`grader.run.schedule.as_run`), whatever the policy.
    """
    code = [(index, cell) for index, cell in enumerate(notebook.cells) if cell.get("cell_type") == "code"]
    number_of = {index: n for n, (index, _) in enumerate(code, 1)}
    names = {number_of[index]: cell_names(str(cell.get("source", ""))) for index, cell in code}
    counts = {}
    for index, cell in code:
        count = cell.get("execution_count")
        if isinstance(count, int) and not isinstance(count, bool) and count > 0:
            counts[number_of[index]] = count
    by_id = {part.id: part for part in parts}
    result = {}
    for index, part_ids in graded.items():
        graded_number = number_of[index]
        for part_id in part_ids:
            part = by_id.get(part_id)
            if part is None:
                continue
            result[part_id] = _history(part, graded_number, names, counts, history)
    return result


def _history(part, graded: int, names: dict[int, CellNames], counts: dict, history) -> PartHistory:
    keys = set(_key_names(part))
    defined = next((n for n in range(graded, 0, -1) if keys & names[n].assigned), None)
    base = PartHistory(part=part.id, model=part.model, graded=graded, counts=counts)
    if defined is None or defined == graded or not keys:
        return base
    # A part measured through the learner's functions (predict(X) returning model.predict(X)):
    # its model is the object those functions read, made in an earlier cell.
    used = {name for function, reads in names[defined].functions if function in keys for name in reads}
    used -= names[defined].assigned | {name for cell in names.values() for name in cell.imported}
    model_cell = next((n for n in range(defined - 1, 0, -1) if used & names[n].assigned), None)
    # A cell trains this model when it reads what its defining cell made (the optimiser step; the
    # model object itself when functions measure it), other than the part's own object, and loops
    # or fits; a cell that makes the object again is another definition, not training.
    if model_cell is not None:
        keys, defined = used, model_cell
        made = names[defined].assigned
    else:
        made = names[defined].assigned - keys

    def trains(number: int) -> bool:
        cell = names[number]
        return cell.trains and bool(cell.read & made) and not (cell.assigned & keys)

    trained_after = names[defined].trains or any(trains(n) for n in range(defined + 1, graded))
    trainer = next((n for n in range(defined - 1, 0, -1) if trains(n)), None)
    rerun: list[int] = []
    if history is not None:
        steps = list(history.steps)
        own = next((k for k, step in enumerate(steps) if step.number == graded and not step.again), None)
        if own is not None:
            last_defined = max((k for k, step in enumerate(steps[:own]) if step.number == defined), default=None)
            if last_defined is not None:
                rerun = [step.number for step in steps[last_defined + 1:own] if step.again]
    rerun_trainer = next((n for n in rerun if trains(n)), None)
    return PartHistory(part=part.id, model=part.model, graded=graded, defined=defined,
                       trained_after=trained_after, trainer=trainer, rerun=tuple(rerun),
                       rerun_trainer=rerun_trainer, counts=counts)


def _your(model: str) -> str:
    if not model:
        return "your model"
    return f"your {model}" if model.isupper() else f"your {model} model"


def advice(history: PartHistory | None, *, status: str, order: str) -> str:
    """What the learner should change, naming the cells; "" when the order is not the story.

    Under ``as-run``, a part that passes because a cell ran again after its model's cell is told
    that a clean top-to-bottom run does not do that; under ``top-down``, a part that does not pass
    while the saved notebook shows that re-run is told the same from the other side.  Under
    either, a part that does not pass whose model no cell after its definition trains (the
    training loop is above it) is told which cell to copy where.
    """
    if history is None or history.defined is None:
        return ""
    defined, trainer = history.defined, history.rerun_trainer
    you = _your(history.model)
    if trainer is not None:
        fix = f"add the training loop after cell {defined} (a copy of cell {trainer})"
        if order == "as-run" and status == PASSED:
            return (f"Graded as you ran it: {you} is defined in cell {defined} but only trained when "
                    f"cell {trainer} runs again after it. A clean top-to-bottom run (Restart & Run "
                    f"All) does not do that: {fix}.")
        if order == "top-down" and status != PASSED:
            seen = ""
            if trainer in history.counts and defined in history.counts:
                seen = (f" (your saved notebook shows In [{history.counts[trainer]}] after "
                        f"In [{history.counts[defined]}])")
            return (f"{you[0].upper() + you[1:]} is defined in cell {defined} but only trained when cell "
                    f"{trainer} runs again{seen}; the grade runs the cells top to bottom: {fix}.")
        return ""
    if status != PASSED and not history.trained_after and history.trainer is not None:
        return (f"{you[0].upper() + you[1:]} is defined in cell {defined} but no cell after it trains "
                f"it (the training loop of cell {history.trainer} runs before it exists): add the "
                f"training loop after cell {defined} (a copy of cell {history.trainer}).")
    return ""
