"""Paths a user gives (a notebook, an output file), checked before anything runs or is written.

Light on purpose (pathlib only): the command line checks them before it
imports the grading machinery, so that a typo costs a line, not a second.
"""
from __future__ import annotations

from pathlib import Path

from .exceptions import UsageError


def notebook_file(notebook: str | Path) -> Path:
    """``notebook`` as a Path, when it names a file; otherwise a UsageError saying what to give."""
    path = Path(notebook).expanduser()
    if path.is_dir():
        raise UsageError(f"{notebook} is a folder: give a notebook file (.ipynb); "
                         f"to grade every notebook of a folder, use grader grade",
                         argument="notebook", value=str(notebook))
    if not path.exists():
        raise UsageError(f"{notebook} does not exist: give the path of a notebook file (.ipynb)",
                         argument="notebook", value=str(notebook))
    return path


def output_file(value: str | Path | None, option: str) -> Path | None:
    """A file to write (``--html``, ``--junit``): a folder there is a usage error."""
    if value is None:
        return None
    path = Path(value).expanduser()
    if path.is_dir():
        raise UsageError(f"{option} {value} is a folder: give a file name", argument=option,
                         value=str(value))
    return path


def output_folder(value: str | Path, option: str = "out") -> Path:
    """A folder to write into (``--out``), created later if missing: a file there is a usage error."""
    path = Path(value).expanduser()
    if path.exists() and not path.is_dir():
        raise UsageError(f"the output folder {value} is a file: give a folder (it is created if "
                         f"missing)", argument=option, value=str(value))
    return path


def relative(path: str | Path) -> str:
    """``path`` as a user reads it: relative to the working folder when it is under it."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
