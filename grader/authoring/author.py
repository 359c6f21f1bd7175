"""One source notebook: the template, the reference solution and the weak samples generated from it.

An author edits one notebook, the solution, with markers in its code cells
(all of them comments, so the source runs as it is); :func:`generate` makes
the notebooks the assignment needs, and :func:`author` writes them
(``grader author``).  The markers, each on a line of its own:

``### BEGIN SOLUTION`` ... ``### END SOLUTION``
    The solution's lines.  The template gets, at the first marker's
    indentation, ``### YOUR CODE HERE ###`` and ``raise
    NotImplementedError(...)`` instead, or the TEMPLATE block that follows.
``### BEGIN TEMPLATE`` ... ``### END TEMPLATE``
    Right after a solution block: what the template has instead of it, each
    line commented out in the source (``# model = None``) and written without
    its first ``# `` in the template.  Elsewhere: lines of the template only.
``### BEGIN WEAK name`` ... ``### END WEAK``
    Right after a solution (or TEMPLATE) block: what the weak sample ``name``
    has instead of the solution's lines, commented out like a TEMPLATE block.
    Each name is one weak sample: the solution with its WEAK blocks in place
    (``weak/name.ipynb`` beside the solution), which ``grader calibrate`` and
    ``grader validate --weak`` grade: it must fail every part graded in or
    after the first cell its WEAK blocks change (its metadata says which
    cell, ``weak_from_cell``); the parts before it measure the solution's code.
``### BEGIN HIDDEN`` ... ``### END HIDDEN``
    Lines of the solution only, left out of the template and the weak samples
    with no stub (the author's own checks, a print of the answer).
``### HIDDEN CELL`` (the cell's first line), or the cell tag ``hidden``
    The whole cell is the solution's only.
``NAME = EXPRESSION  ### SOLUTION``
    One line: the template has ``NAME = None  ### YOUR CODE HERE ###``.

Markdown cells may hold ``### BEGIN SOLUTION`` / ``### END SOLUTION`` too (the
template says ``YOUR ANSWER HERE``) and ``### HIDDEN CELL``.  Outputs and
execution counts are cleared, cell ids kept (or numbered, for a source in
Jupytext's percent format, ``.py``, read with jupytext), and every generated
notebook says in its metadata what it was generated from, so that
:func:`stale` finds a template or solution edited by hand, or left behind by
an older source (``grader validate`` fails then).
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..exceptions import SpecError, UsageError

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_TEMPLATE, END_TEMPLATE = "### BEGIN TEMPLATE", "### END TEMPLATE"
BEGIN_WEAK, END_WEAK = "### BEGIN WEAK", "### END WEAK"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN", "### END HIDDEN"
HIDDEN_CELL = "### HIDDEN CELL"
HIDDEN_TAG = "hidden"
YOUR_CODE = "### YOUR CODE HERE ###"
YOUR_ANSWER = "YOUR ANSWER HERE"
_LINE_SOLUTION = re.compile(r"^(?P<indent>\s*)(?P<names>[A-Za-z_][\w]*(?:\s*,\s*[A-Za-z_]\w*)*)\s*=(?!=)"
                            r".*?\s*### SOLUTION\s*$")
_WEAK_NAME = re.compile(r"^[A-Za-z0-9][\w-]*$")
_MARKERS = (BEGIN_SOLUTION, END_SOLUTION, BEGIN_TEMPLATE, END_TEMPLATE, BEGIN_WEAK, END_WEAK,
            BEGIN_HIDDEN, END_HIDDEN, HIDDEN_CELL)


@dataclass
class Generated:
    """The notebooks made from one source: template, solution, weak samples by name."""

    source: Path
    template: object
    solution: object
    weak: dict = field(default_factory=dict)


def read_source(path: Path):
    """The source notebook: a .ipynb, or a script in Jupytext's percent format (``# %%`` cells)."""
    import nbformat

    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: no such source notebook", argument="source", value=str(path))
    try:
        if path.suffix == ".ipynb":
            notebook = nbformat.read(path, as_version=4)
        else:
            import jupytext

            notebook = jupytext.read(path)
    except Exception as exc:  # nbformat and jupytext raise many types for a file they cannot read
        raise SpecError(f"cannot be read as a notebook: {type(exc).__name__}: {exc}"[:400],
                        path=str(path)) from None
    notebook.nbformat, notebook.nbformat_minor = 4, 5
    for index, cell in enumerate(notebook.cells):
        if path.suffix != ".ipynb" or not cell.get("id"):
            # Stable ids (jupytext makes random ones): the files are compared byte for byte.
            cell["id"] = f"{re.sub(r'[^A-Za-z0-9_-]', '-', path.stem)[:50]}-{index}"
    return notebook


def generate(source: str | Path) -> Generated:
    """Read the source notebook and make its template, solution and weak samples (in memory).

    Raises :class:`SpecError` naming the cell and line of a marker out of place.
    """
    source = Path(source)
    notebook = read_source(source)
    names = _weak_names(notebook, source)
    made = {"template": _empty(notebook), "solution": _empty(notebook)}
    made.update({f"weak:{name}": _empty(notebook) for name in names})
    first_weak: dict[str, int] = {}  # weak sample -> the index of its first cell that differs
    for number, cell in enumerate(notebook.cells, start=1):
        versions = _cell_versions(cell, source=source, number=number, weak_names=names)
        for name in names:
            if name not in first_weak and f"{BEGIN_WEAK} {name}" in " ".join(
                    line.strip() for line in str(cell.get("source", "")).splitlines()):
                first_weak[name] = len(made[f"weak:{name}"].cells)
        for role, text in versions.items():
            if text is None:
                continue
            copied = copy.deepcopy(cell)
            copied["source"] = text
            _clean(copied)
            made[role].cells.append(copied)
    for role, generated in made.items():
        generated.metadata["grader"] = {"generated_from": source.name, "generated_as": role,
                                        "note": "written by grader author: edit the source, not this file"}
        if role.startswith("weak:"):
            # The parts graded in this cell or after it are the ones the sample must fail.
            generated.metadata["grader"]["weak_from_cell"] = first_weak.get(role[5:], 0)
    return Generated(source=source, template=made["template"], solution=made["solution"],
                     weak={name: made[f"weak:{name}"] for name in names})


def _empty(notebook):
    from nbformat.v4 import new_notebook

    empty = new_notebook()
    empty.metadata = {key: copy.deepcopy(value) for key, value in notebook.metadata.items()
                      if key not in ("jupytext", "widgets", "grader")}
    return empty


def _clean(cell) -> None:
    if cell.get("cell_type") == "code":
        cell["outputs"] = []
        cell["execution_count"] = None
    metadata = cell.get("metadata", {})
    tags = [tag for tag in metadata.get("tags", []) if tag != HIDDEN_TAG]
    if tags:
        metadata["tags"] = tags
    else:
        metadata.pop("tags", None)
    for key in ("execution", "collapsed", "scrolled"):
        metadata.pop(key, None)


def _weak_names(notebook, source: Path) -> list[str]:
    names = []
    for number, cell in enumerate(notebook.cells, start=1):
        for line_number, line in enumerate(str(cell.get("source", "")).splitlines(), start=1):
            if line.strip().startswith(BEGIN_WEAK):
                name = line.strip()[len(BEGIN_WEAK):].strip()
                if not _WEAK_NAME.match(name):
                    raise _error(source, number, line_number,
                                 f"{BEGIN_WEAK} needs the weak sample's name (letters, digits, _ and -), "
                                 f"got {name!r}")
                if name not in names:
                    names.append(name)
    return names


def _error(source: Path, cell: int, line: int, message: str) -> SpecError:
    return SpecError(message, path=str(source), field=f"cell {cell}, line {line}")


def _uncomment(line: str, source: Path, cell: int, number: int, block: str) -> str:
    stripped = line.lstrip()
    indent = line[:len(line) - len(stripped)]
    if not stripped:
        return ""
    if not stripped.startswith("#"):
        raise _error(source, cell, number, f"the lines of a {block} block are commented out in the "
                                           f"source (they must not run in the solution): write "
                                           f"'# {stripped}'")
    return indent + (stripped[2:] if stripped.startswith("# ") else stripped[1:])


def _cell_versions(cell, *, source: Path, number: int, weak_names: list[str]) -> dict:
    """The cell's text in each generated notebook (None: the notebook leaves the cell out)."""
    text = str(cell.get("source", ""))
    lines = text.split("\n")
    roles = ["template", "solution"] + [f"weak:{name}" for name in weak_names]
    hidden = HIDDEN_TAG in cell.get("metadata", {}).get("tags", [])
    if lines and lines[0].strip() == HIDDEN_CELL:
        hidden, lines = True, lines[1:]
    markdown = cell.get("cell_type") != "code"
    out = {role: [] for role in roles}
    state = None          # None, "solution", "template", "weak", "hidden"
    weak_name = ""
    pending: dict = {}     # after a solution block: the stub each role gets unless a block replaces it
    indent = ""

    def flush() -> None:
        for role, stub in pending.items():
            out[role].extend(stub)
        pending.clear()

    for line_number, line in enumerate(lines, start=1 + (len(text.split("\n")) - len(lines))):
        marker = line.strip()
        if marker == HIDDEN_CELL:
            raise _error(source, number, line_number, f"{HIDDEN_CELL} is the first line of a cell")
        if marker == BEGIN_SOLUTION:
            if state is not None:
                raise _error(source, number, line_number, f"{BEGIN_SOLUTION} inside a {state} block")
            flush()
            state, indent = "solution", line[:len(line) - len(line.lstrip())]
            solution_lines: list[str] = []
            continue
        if marker == END_SOLUTION:
            if state != "solution":
                raise _error(source, number, line_number, f"{END_SOLUTION} without a {BEGIN_SOLUTION}")
            state = None
            stub = ([f"{indent}{YOUR_ANSWER}"] if markdown else
                    [f"{indent}{YOUR_CODE}", f'{indent}raise NotImplementedError("write this part")'])
            out["solution"].extend(solution_lines)
            pending.update({"template": stub})
            pending.update({role: list(solution_lines) for role in roles if role.startswith("weak:")})
            continue
        if marker == BEGIN_TEMPLATE:
            if state is not None:
                raise _error(source, number, line_number, f"{BEGIN_TEMPLATE} inside a {state} block")
            state = "template"
            pending.pop("template", None)
            continue
        if marker == END_TEMPLATE:
            if state != "template":
                raise _error(source, number, line_number, f"{END_TEMPLATE} without a {BEGIN_TEMPLATE}")
            state = None
            continue
        if marker.startswith(BEGIN_WEAK):
            if state is not None:
                raise _error(source, number, line_number, f"{BEGIN_WEAK} inside a {state} block")
            weak_name = marker[len(BEGIN_WEAK):].strip()
            if f"weak:{weak_name}" not in pending:
                raise _error(source, number, line_number, f"a WEAK block comes right after the "
                                                          f"{BEGIN_SOLUTION} block it replaces")
            pending[f"weak:{weak_name}"] = []
            state = "weak"
            continue
        if marker == END_WEAK:
            if state != "weak":
                raise _error(source, number, line_number, f"{END_WEAK} without a {BEGIN_WEAK}")
            state = None
            continue
        if marker == BEGIN_HIDDEN:
            if state is not None:
                raise _error(source, number, line_number, f"{BEGIN_HIDDEN} inside a {state} block")
            flush()
            state = "hidden"
            continue
        if marker == END_HIDDEN:
            if state != "hidden":
                raise _error(source, number, line_number, f"{END_HIDDEN} without a {BEGIN_HIDDEN}")
            state = None
            continue
        if state == "solution":
            solution_lines.append(line)
        elif state == "template":
            out["template"].append(_uncomment(line, source, number, line_number, "TEMPLATE"))
        elif state == "weak":
            pending[f"weak:{weak_name}"].append(_uncomment(line, source, number, line_number, "WEAK"))
        elif state == "hidden":
            out["solution"].append(line)
        else:
            flush()
            single = _LINE_SOLUTION.match(line) if not markdown else None
            for role in roles:
                if single and role == "template":
                    out[role].append(f"{single['indent']}{single['names']} = None  {YOUR_CODE}")
                else:
                    out[role].append(line.replace("### SOLUTION", "").rstrip() if single else line)
            if "### SOLUTION" in line and not single and not markdown:
                raise _error(source, number, line_number, "### SOLUTION ends a line NAME = EXPRESSION; "
                                                          "for anything else use a BEGIN/END SOLUTION block")
    if state is not None:
        raise _error(source, number, len(text.split("\n")), f"a {state} block is not closed "
                                                              f"(### END {state.upper()} is missing)")
    flush()
    versions = {role: "\n".join(found) for role, found in out.items()}
    if hidden:  # the solution's only: weak samples are learners' notebooks, which do not have it
        versions = {role: (text if role == "solution" else None) for role, text in versions.items()}
    return versions


# --- writing, and what is stale ----------------------------------------------------------------

@dataclass
class AuthorReport:
    """What :func:`author` wrote (or, with ``check``, found stale): paths and why."""

    source: Path
    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    stale: list[tuple[Path, str]] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)


def _text(notebook) -> str:
    import nbformat

    return nbformat.writes(notebook) + "\n"


def targets(assignment, generated: Generated) -> dict[Path, object]:
    """Where each generated notebook goes: the template and solution the assignment names, and
    ``weak/NAME.ipynb`` in the reference folder."""
    if assignment.reference_folder is None:
        raise UsageError(f"the assignment {assignment.id} has no reference folder: create "
                         f"reference/{assignment.id} beside assignments/ (it holds the solution)",
                         argument="assignment", value=assignment.id)
    found = {assignment.template_path: generated.template, assignment.solution_path: generated.solution}
    for name, notebook in generated.weak.items():
        found[assignment.weak_folder / f"{name}.ipynb"] = notebook
    return found


def _generated_weak_files(assignment, source: Path) -> list[Path]:
    """Weak samples in ``weak/`` that this source generated before (their metadata says so)."""
    import json

    folder = assignment.weak_folder
    found = []
    if folder is None or not folder.is_dir():
        return found
    for path in sorted(folder.glob("*.ipynb")):
        try:
            meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {}).get("grader", {})
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(meta, dict) and meta.get("generated_from") == source.name:
            found.append(path)
    return found


def stale(assignment, source: str | Path | None = None) -> list[tuple[Path, str]]:
    """The generated notebooks that differ from what the source makes now: (path, why)."""
    source = Path(source) if source else assignment.source_path
    generated = generate(source)
    wanted = targets(assignment, generated)
    found = []
    for path, notebook in wanted.items():
        if not path.is_file():
            found.append((path, "missing"))
        elif path.read_text(encoding="utf-8") != _text(notebook):
            found.append((path, "differs from what the source makes now"))
    for path in _generated_weak_files(assignment, source):
        if path not in wanted:
            found.append((path, "generated by an older source, which no longer has this weak sample"))
    return found


def author(assignment, *, source: str | Path | None = None, check: bool = False) -> AuthorReport:
    """Write the template, the solution and the weak samples of ``source`` (default: the
    assignment's ``source``); with ``check``, write nothing and report what is stale.

    Everything is generated before anything is written: a marker out of place writes nothing.
    """
    from ..results import write_atomic

    source = Path(source) if source else assignment.source_path
    if source is None:
        raise UsageError(f"the assignment {assignment.id} names no source notebook: give SOURCE, or add "
                         f"source = \"source.ipynb\" to its assignment.toml", argument="source", value=None)
    generated = generate(source)
    wanted = targets(assignment, generated)
    report = AuthorReport(source=source)
    if check:
        report.stale = stale(assignment, source)
        return report
    for path, notebook in wanted.items():
        text = _text(notebook)
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            report.unchanged.append(path)
            continue
        write_atomic(path, text)
        report.written.append(path)
    for path in _generated_weak_files(assignment, source):
        if path not in wanted:
            path.unlink()
            report.removed.append(path)
    return report


def assignment_of_source(source: Path):
    """The assignment a source notebook belongs to, from where it lies: ``reference/NAME/...`` ->
    ``assignments/NAME`` (None when there is no such folder)."""
    from ..assignments import load_assignment
    from ..specs.model import ASSIGNMENT_FILE

    reference = Path(source).resolve().parent
    folder = reference.parent.parent / "assignments" / reference.name
    if (folder / ASSIGNMENT_FILE).is_file():
        return load_assignment(folder, reference_folder=reference)
    return None


def weak_parts(path: str | Path, part_ids) -> set[str] | None:
    """The parts a weak notebook must fail: those graded in or after the first cell its WEAK blocks
    changed, for a weak sample of ``grader author``; None (every part) for one written by hand."""
    from ..run.execute import find_graded_cells

    import nbformat

    try:
        notebook = nbformat.reads(Path(path).read_text(encoding="utf-8"), as_version=4)
        first = notebook.metadata.get("grader", {}).get("weak_from_cell")
    except Exception:  # not a notebook: grading it says so
        return None
    if not isinstance(first, int) or isinstance(first, bool):
        return None
    graded = find_graded_cells(notebook, list(part_ids))
    return {part for index, parts in graded.items() if index >= first for part in parts}
