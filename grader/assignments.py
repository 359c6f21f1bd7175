"""Find assignment folders by name or path, and load them ready to grade."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterable

from .exceptions import AssignmentNotFoundError, GraderError
from .judge.kinds import check_parts
from .specs.model import ASSIGNMENT_FILE, Assignment, read_assignment


def load_assignment(folder: str | Path, *, reference_folder: str | Path | None = None) -> Assignment:
    """Read an assignment folder and its reference, and check every part against its kind.

    :func:`grader.specs.read_assignment` reads and checks the files' structure;
    this also asks the kind table (:mod:`grader.judge.kinds`) whether each part
    names a known kind with the fields that kind needs.  Raises
    :class:`grader.exceptions.SpecError` naming the file and field to fix.
    """
    assignment = read_assignment(folder, reference_folder=reference_folder)
    check_parts(assignment, assignment.folder / ASSIGNMENT_FILE)
    return assignment


def search_roots() -> list[Path]:
    """Folders searched for ``<name>/assignment.toml``, in order.

    ``$GRADER_ASSIGNMENTS`` (os.pathsep-separated), ``./assignments``, and the
    ``assignments/`` folder beside the grader package (a source checkout).
    """
    roots = [Path(p) for p in os.environ.get("GRADER_ASSIGNMENTS", "").split(os.pathsep) if p]
    roots.append(Path.cwd() / "assignments")
    roots.append(Path(__file__).resolve().parent.parent / "assignments")
    unique: list[Path] = []
    for root in roots:
        if root.is_dir() and root.resolve() not in [u.resolve() for u in unique]:
            unique.append(root)
    return unique


def available() -> dict[str, Path]:
    """Every assignment found in the search roots: name -> folder."""
    found: dict[str, Path] = {}
    for root in search_roots():
        for toml in sorted(root.glob(f"*/{ASSIGNMENT_FILE}")):
            found.setdefault(toml.parent.name, toml.parent)
    return found


def find_assignment(name_or_path: str | Path | None = None, *,
                    notebooks: Iterable[str | Path] = ()) -> Assignment:
    """Load an assignment given its name or its folder.

    Given neither: the only assignment found; when several exist, the one whose
    part ids the given ``notebooks`` mention (see :func:`infer_assignment`).
    """
    if name_or_path is not None:
        path = Path(name_or_path)
        if (path / ASSIGNMENT_FILE).is_file():
            return load_assignment(path)
        found = available()
        if str(name_or_path) in found:
            return load_assignment(found[str(name_or_path)])
        raise AssignmentNotFoundError(
            f"no assignment {str(name_or_path)!r}: give a folder with {ASSIGNMENT_FILE} or one of: "
            f"{', '.join(sorted(found)) or '(none found)'} (searched "
            f"{', '.join(str(r) for r in search_roots()) or 'no folders'}; set GRADER_ASSIGNMENTS)")
    found = available()
    if len(found) == 1:
        return load_assignment(next(iter(found.values())))
    if not found:
        raise AssignmentNotFoundError(
            "no assignments found: pass --assignment FOLDER or set GRADER_ASSIGNMENTS")
    inferred = infer_assignment(found, notebooks)
    if inferred is not None:
        return inferred
    raise AssignmentNotFoundError(
        f"several assignments exist ({', '.join(sorted(found))}) and the notebook does not tell "
        f"which it is for; choose one with --assignment")


_MAX_NOTEBOOKS_READ = 50


def infer_assignment(found: dict[str, Path], notebooks: Iterable[str | Path]) -> Assignment | None:
    """The assignment whose part ids the notebooks mention most often, when one clearly does.

    A notebook "mentions" an assignment when its text holds one of the assignment's part
    ids as a quoted string (as in ``grader.set_answer("ID", ...)``).  Broken assignment
    folders and unreadable files are left out; a tie or no mention at all gives None.
    """
    texts = []
    for notebook in list(notebooks)[:_MAX_NOTEBOOKS_READ]:
        try:
            texts.append(Path(notebook).read_text(encoding="utf-8", errors="replace"))
        except OSError:
            continue
    if not texts:
        return None
    scores: dict[str, int] = {}
    loaded: dict[str, Assignment] = {}
    for name, folder in found.items():
        try:
            loaded[name] = load_assignment(folder)
        except GraderError:
            continue
        ids = [part.id for part in loaded[name].parts]
        # In the notebook's JSON a quoted id reads \"ID\" (or 'ID'): a quote before, a quote or
        # backslash after.
        patterns = [re.compile("[\"']" + re.escape(i) + "[\"'\\\\]") for i in ids]
        scores[name] = sum(any(p.search(text) for p in patterns) for text in texts)
    ranked = sorted(scores.items(), key=lambda item: -item[1])
    if not ranked or ranked[0][1] == 0 or (len(ranked) > 1 and ranked[1][1] == ranked[0][1]):
        return None
    return loaded[ranked[0][0]]
