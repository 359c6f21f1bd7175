"""Find assignment folders by name or path."""
from __future__ import annotations

import os
from pathlib import Path

from .exceptions import AssignmentNotFoundError
from .spec import ASSIGNMENT_FILE, Assignment, load_assignment


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


def find_assignment(name_or_path: str | Path | None = None) -> Assignment:
    """Load an assignment given its name, its folder, or nothing when only one exists."""
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
    raise AssignmentNotFoundError(
        f"several assignments exist ({', '.join(sorted(found))}); choose one with --assignment")
