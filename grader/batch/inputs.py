"""What a batch grades: submissions found in a folder, a folder of folders, or an LMS zip.

Learner ids come from file names (``alice.ipynb`` -> ``alice``) or folder
names (``alice/work.ipynb`` -> ``alice``), unless a CSV mapping says
otherwise (columns ``submission,learner``; ``submission`` is the file or
folder name as found).  Every entry becomes a :class:`Submission`; the odd
ones (two notebooks for one learner, a PDF, an empty folder) carry a
``problem`` and become a clear row in the gradebook instead of an abort.
"""
from __future__ import annotations

import csv
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..exceptions import GraderError

_IGNORED = {"__MACOSX", ".DS_Store", "Thumbs.db", ".ipynb_checkpoints", "README.md"}


@dataclass
class Submission:
    """One learner's submission as found on disk."""

    learner: str
    notebook: Path | None = None                 # the notebook to grade
    files: list[Path] = field(default_factory=list)  # other files submitted with it
    source: str = ""                             # file or folder name as found
    root: Path | None = None                     # the learner's folder, for folder submissions
    problem: str = ""                            # why it cannot be graded, if so


def read_mapping(path: Path | None) -> dict[str, str]:
    """``submission name -> learner id`` from a CSV with columns submission,learner."""
    if path is None:
        return {}
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or not {"submission", "learner"} <= set(reader.fieldnames):
                raise GraderError(f"{path}: the learner mapping needs the columns submission,learner "
                                  f"(found: {', '.join(reader.fieldnames or []) or 'none'})")
            return {row["submission"].strip(): row["learner"].strip() for row in reader
                    if row.get("submission") and row.get("learner")}
    except OSError as exc:
        raise GraderError(f"cannot read the learner mapping {path}: {exc.strerror}") from None


def extract_zip(archive: Path, target: Path) -> Path:
    """Unpack an LMS download safely (no paths outside ``target``) and return the folder."""
    target.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                name = PurePosixPath(info.filename)
                if name.is_absolute() or ".." in name.parts or info.is_dir():
                    continue
                if any(part in _IGNORED for part in name.parts):
                    continue
                destination = target.joinpath(*name.parts)
                destination.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as source, open(destination, "wb") as out:
                    shutil.copyfileobj(source, out)
    except zipfile.BadZipFile:
        raise GraderError(f"{archive} is not a readable zip archive") from None
    # An LMS zip often wraps everything in one top folder.
    entries = [p for p in target.iterdir() if p.name not in _IGNORED]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return target


def count_notebooks(source: Path) -> int:
    """How many notebooks (.ipynb) a folder (at any depth) or a .zip holds, without unpacking it."""
    if source.is_file():
        if source.suffix.lower() != ".zip":
            return 0
        try:
            with zipfile.ZipFile(source) as zf:
                names = [PurePosixPath(info.filename) for info in zf.infolist() if not info.is_dir()]
        except zipfile.BadZipFile:
            raise GraderError(f"{source} is not a readable zip archive") from None
        return sum(1 for name in names if name.suffix.lower() == ".ipynb"
                   and not any(part in _IGNORED or part.startswith(".") for part in name.parts))
    if not source.is_dir():
        return 0
    return sum(1 for path in source.rglob("*.ipynb") if path.is_file() and all(
        _visible(Path(part)) for part in path.relative_to(source).parts))


def _visible(path: Path) -> bool:
    return not path.name.startswith(".") and path.name not in _IGNORED


def collect(source: Path, *, mapping: dict[str, str] | None = None,
            unpack_to: Path | None = None) -> list[Submission]:
    """Every submission in ``source`` (a folder or a .zip), one per learner, sorted by learner."""
    mapping = mapping or {}
    if source.is_file() and source.suffix.lower() == ".zip":
        if unpack_to is None:
            raise GraderError("a zip archive needs a folder to unpack into")
        source = extract_zip(source, unpack_to)
    if not source.is_dir():
        raise GraderError(f"{source} is neither a folder of submissions nor a .zip archive")

    found: dict[str, list[Submission]] = {}
    for entry in sorted(source.iterdir()):
        if not _visible(entry):
            continue
        learner = mapping.get(entry.name) or (entry.stem if entry.is_file() else entry.name)
        if entry.is_file():
            submission = Submission(learner=learner, source=entry.name)
            if entry.suffix.lower() == ".ipynb":
                submission.notebook = entry
            else:
                submission.problem = (f"{entry.name} is not a notebook (.ipynb); submit the notebook "
                                      f"saved from Jupyter")
        else:
            files = sorted(p for p in entry.rglob("*") if p.is_file() and all(
                _visible(Path(part)) for part in p.relative_to(entry).parts))
            notebooks = [p for p in files if p.suffix.lower() == ".ipynb"]
            submission = Submission(learner=learner, source=entry.name + "/", root=entry)
            if not notebooks:
                submission.problem = f"the folder {entry.name}/ holds no notebook (.ipynb)"
            elif len(notebooks) > 1:
                names = ", ".join(str(p.relative_to(entry)) for p in notebooks)
                submission.problem = f"the folder {entry.name}/ holds several notebooks ({names}): submit one"
            else:
                submission.notebook = notebooks[0]
                submission.files = [p for p in files if p != notebooks[0]]
        found.setdefault(learner, []).append(submission)

    submissions = []
    for learner, entries in sorted(found.items()):
        if len(entries) == 1:
            submissions.append(entries[0])
        else:
            names = ", ".join(e.source for e in entries)
            submissions.append(Submission(learner=learner, source=names,
                                          problem=f"several submissions for learner {learner} ({names}): "
                                                  f"keep one, or map them in the learner CSV"))
    return submissions
