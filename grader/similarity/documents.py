"""What is compared: the code a learner wrote, cell by cell, without what was handed out.

A :class:`Document` is the code cells of one notebook (a learner's re-run
notebook ``OUT/executed/LEARNER.ipynb``, whose sources are the submitted ones,
or a file of the instructor's corpus: a notebook or a ``.py`` file), joined
into one text, with the place of every line (code cell number, line in the
cell) kept for the report.  Markdown and outputs are never compared.

Before anything is fingerprinted, lines that are not the learner's evidence are
blanked (kept as empty lines, so that line numbers stay true):

* lines of the assignment's template (compared without spaces, comments and
  quote style, and, for lines long enough to tell, with their variables renamed:
  the template's own lines copied into another cell, or renamed, are still the
  template's), code its markdown shows included (``hidden1 =
  tf.layers.dense(inputs, 256, activation=tf.nn.sigmoid)``: following the hint
  is not evidence);
* IPython magics and shell lines (``%matplotlib inline``, ``!pip install``),
  which are environment, not code.

Fragments of the template that a learner edited are removed later, at the
fingerprint level (:mod:`grader.similarity.code`).
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

LEARNER, CORPUS = "learner", "corpus"
CORPUS_SUFFIXES = (".ipynb", ".py")
_MAGIC = re.compile(r"^\s*([%!]|\w+\s*=\s*!|get_ipython\(\)\.)")  # nbconvert exports magics as get_ipython() calls
_CELL_MAGIC = re.compile(r"^\s*%%")
BARRIER_DIGITS = 16  # a barrier is a number this long (build_document)


@dataclass
class Document:
    """The comparable code of one notebook or file."""

    name: str                      # learner id, or the corpus file's path inside the corpus folder
    kind: str = LEARNER            # learner | corpus
    text: str = ""                 # the code compared: code cells joined, blanked lines kept empty
    places: list[tuple[int, int]] = field(default_factory=list)  # text line -> (code cell, line in cell)
    kept: list[bool] = field(default_factory=list)  # text line -> is it the learner's code
    sources: dict[int, list[str]] = field(default_factory=dict)  # code cell -> its lines, as submitted
    cells_numbered: bool = True    # False for a .py file: places are file lines (cell 1)
    note: str = ""                 # why there is nothing to compare, when there is not

    @property
    def empty(self) -> bool:
        return not any(self.kept)

    def place(self, line: int) -> tuple[int, int]:
        """(code cell, line in the cell) of a 0-based line of :attr:`text`."""
        return self.places[min(max(line, 0), len(self.places) - 1)] if self.places else (0, 0)


def code_cells(path: Path) -> list[str] | None:
    """The sources of a notebook's code cells, or None when the file is not a readable notebook."""
    try:
        notebook = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        return None
    sources = []
    for cell in cells:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = cell.get("source", "")
            sources.append("".join(source) if isinstance(source, list) else str(source))
    return sources


_FENCED = re.compile(r"^```[^\n]*\n(.*?)^```", re.M | re.S)


def template_code(template: Path | None) -> list[str]:
    """The template's code: its code cells, then the code its markdown cells show (fenced blocks)."""
    if template is None:
        return []
    cells = code_cells(template) or []
    try:
        notebook = json.loads(template.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError):
        return cells
    for cell in notebook.get("cells", []) if isinstance(notebook, dict) else []:
        if isinstance(cell, dict) and cell.get("cell_type") == "markdown":
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else str(source)
            cells += [block for block in _FENCED.findall(source) if block.strip()]
    return cells


def line_key(line: str) -> str:
    """A line without its comment, spaces and quote style: how template lines are recognised."""
    return re.sub(r"\s+", "", _strip_comment(line)).replace("'", '"')


def _strip_comment(line: str) -> str:
    """The line up to a ``#`` that is not inside a string literal."""
    if "#" not in line:
        return line
    quote = ""
    index = 0
    while index < len(line):
        char = line[index]
        if quote:
            if char == "\\":
                index += 1
            elif line.startswith(quote, index):
                index += len(quote) - 1
                quote = ""
        elif char in "\"'":
            quote = line[index:index + 3] if line[index:index + 3] in ('"""', "'''") else char
            index += len(quote) - 1
        elif char == "#":
            return line[:index]
        index += 1
    return line


_NAME = re.compile(r"(?<![\w.])[A-Za-z_]\w*")
_SHAPE_MIN = 24  # shorter lines (``s = f()``) are too plain to be recognised by their shape


def shape_key(key: str) -> str:
    """A line key with its names (not attributes) replaced: a template line with renamed variables
    (``Xtr = X_train.reshape(...)``) keeps its shape; "" for lines too short to tell."""
    shape = "~" + _NAME.sub("V", key)
    return shape if len(shape) > _SHAPE_MIN else ""


def template_lines(template: Path | None) -> set[str]:
    """The keys (:func:`line_key`, and :func:`shape_key` of the longer ones) of every code line of
    the assignment's template (:func:`template_code`)."""
    keys = set()
    for source in template_code(template):
        for line in source.splitlines():
            key = line_key(line)
            keys.update((key, shape_key(key)))
    keys.discard("")
    return keys


def build_document(name: str, cells: list[str], *, kind: str = LEARNER, template: set[str] = frozenset(),
                   cells_numbered: bool = True) -> Document:
    """Join code cells into one comparable text, template lines and magics blanked.

    Where lines were left out, and between cells, the text gets a *barrier*: a number found in
    no other document, so that no shared fragment runs across code that is not the learner's
    (two learners' lines on either side of a removed template cell are not a fragment they share).
    """
    document = Document(name=name, kind=kind, cells_numbered=cells_numbered)
    seed = int(hashlib.sha256(name.encode()).hexdigest()[:12], 16)
    lines: list[str] = []
    after_barrier = False

    def add(text: str, *, kept: bool, place: tuple[int, int], barrier: bool = False) -> None:
        nonlocal after_barrier
        if barrier:  # one barrier for a run of left-out lines
            text = "" if after_barrier else str(10 ** (BARRIER_DIGITS - 1) + seed + 7919 * len(lines))
        lines.append(text)
        document.kept.append(kept)
        document.places.append(place)
        after_barrier = barrier or (after_barrier and not text.strip())

    for number, source in enumerate(cells, start=1):
        cell_lines = source.splitlines()
        document.sources[number] = cell_lines
        cell_magic = bool(cell_lines) and bool(_CELL_MAGIC.match(cell_lines[0]))
        for index, line in enumerate(cell_lines, start=1):
            key = line_key(line)
            left_out = bool(key) and (cell_magic or key in template or bool(_MAGIC.match(line))
                                      or shape_key(key) in template)
            add(line if key and not left_out else "", kept=bool(key) and not left_out,
                place=(number, index), barrier=left_out)
        add("", kept=False, place=(number, len(cell_lines) + 1), barrier=True)  # a cell boundary
    document.text = "\n".join(lines)
    return document


def learner_document(name: str, notebook: Path | None, *, template: set[str]) -> Document:
    """A learner's document from the re-run notebook; empty, with a note, when there is none."""
    if notebook is None or not notebook.is_file():
        return Document(name=name, note="no re-run notebook (the submission could not be run)")
    cells = code_cells(notebook)
    if cells is None:
        return Document(name=name, note="the re-run notebook cannot be read")
    document = build_document(name, cells, template=template)
    if document.empty:
        document.note = "no code of the learner's own (only the template, or nothing)"
    return document


def corpus_documents(folder: Path, *, template: set[str]) -> list[Document]:
    """Every notebook and ``.py`` file under ``folder`` (recursively), named by their path in it."""
    documents = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in CORPUS_SUFFIXES
                       and not any(part.startswith(".") for part in p.relative_to(folder).parts)):
        name = path.relative_to(folder).as_posix()
        if path.suffix == ".ipynb":
            cells = code_cells(path)
            if cells is None:
                continue  # not a notebook: nothing to compare with
            documents.append(build_document(name, cells, kind=CORPUS, template=template))
        else:
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            documents.append(build_document(name, [text], kind=CORPUS, template=template,
                                            cells_numbered=False))
    return [d for d in documents if not d.empty]
