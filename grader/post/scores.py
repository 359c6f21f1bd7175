"""What is posted: the result files of a results folder, their digests, shared texts.

``grader grade --out OUT`` writes ``OUT/results/LEARNER.json``; ``grader post``
accepts ``OUT`` (the outbox is ``OUT/outbox.sqlite``), ``OUT/results`` (same
outbox), or any folder of result JSON files (the outbox goes in that folder).

What is posted is the grade that counts: the result with the corrections log
of the base folder applied (:mod:`grader.corrections`: rescores, overrides).  Its
digest is what the outbox compares, so a correction that changes a learner's
points is a new version of their score, and nothing else is sent again.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ..exceptions import PostError
from ..corrections import Corrections, Grade
from ..results import SubmissionResult


@dataclass(frozen=True)
class ResultFile:
    """One learner's grade to post, with where its result was read from and its digest."""

    path: Path
    relative: str              # relative to the base folder (stored in the outbox)
    result: SubmissionResult   # the grade that counts (corrections applied)
    digest: str                # result_digest of it: a new digest is a new version
    grade: Grade | None = None # the result file and its corrections


def _graded(path: Path, relative: str, result: SubmissionResult,
            corrections: Corrections) -> ResultFile:
    grade = corrections.grade(result)
    return ResultFile(path=path, relative=relative, result=grade.result,
                      digest=result_digest(grade.result), grade=grade)


def locate(results_dir: str | Path) -> tuple[Path, Path]:
    """The base folder (home of the outbox) and the folder holding the result files.

    Two spellings of one batch (``OUT`` and ``OUT/results``) must share one outbox,
    or a score could be posted once from each.
    """
    folder = Path(results_dir)
    if not folder.is_dir():
        raise PostError(f"{folder} is not a folder of results (give the --out folder of "
                        f"`grader grade`, or a folder of result JSON files)")
    if (folder / "results").is_dir():
        return folder, folder / "results"
    if folder.name == "results" and (folder.parent / "gradebook.json").is_file():
        return folder.parent, folder
    return folder, folder


def result_digest(result: SubmissionResult) -> str:
    """sha256 over what makes a score: the same digest means the same grade to post.

    Timings, messages and the harness version are left out, so re-grading an
    unchanged notebook gives the same digest and nothing is posted again; the
    submission's sha256 is in, so a new submission is a new score event.
    """
    core = {
        "learner": result.learner, "assignment": result.assignment,
        "assignment_version": result.assignment_version,
        "submission_sha256": result.submission_sha256, "status": result.status,
        "total": result.total, "max_total": result.max_total,
        "parts": [{"id": p.id, "status": p.status, "points": p.points,
                   "max_points": p.max_points, "measured": p.measured} for p in result.parts],
    }
    text = json.dumps(core, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _is_result(data) -> bool:
    return isinstance(data, dict) and "learner" in data and "parts" in data and \
        "schema_version" in data


def find_results(results_dir: str | Path) -> tuple[Path, list[ResultFile], list[str]]:
    """Base folder, the results found (by learner), and notes on files that were skipped.

    A JSON file that is not a result (a gradebook, a Gradescope results.json) is
    skipped with a note; a result file that cannot be read is a :class:`PostError`,
    since posting around it would hide a broken batch.
    """
    base, folder = locate(results_dir)
    corrections = Corrections.load(base)
    found: list[ResultFile] = []
    skipped: list[str] = []
    learners: dict[str, Path] = {}
    for path in sorted(folder.glob("*.json")):
        if path.name.startswith("."):
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PostError(f"{path}: not a readable result file ({exc})") from None
        if not _is_result(data):
            skipped.append(f"{path.name}: not a grading result, skipped")
            continue
        try:
            result = SubmissionResult.from_dict(data)
        except TypeError as exc:
            raise PostError(f"{path}: not a result of this grader version ({exc})") from None
        if result.learner in learners:
            raise PostError(f"learner {result.learner!r} has two results: "
                            f"{learners[result.learner].name} and {path.name}")
        learners[result.learner] = path
        found.append(_graded(path, str(path.relative_to(base)), result, corrections))
    return base, found, skipped


def read_result(base: Path, relative: str,
                corrections: Corrections | None = None) -> ResultFile | None:
    """Re-read one result file named in the outbox, corrections applied (None when it is gone)."""
    path = base / relative
    try:
        result = SubmissionResult.from_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return _graded(path, relative, result,
                   Corrections.load(base) if corrections is None else corrections)


def course_output(value) -> str | None:
    """The text the course's ``Grader.set_answer`` would have stored for a measured value.

    A string is kept as is (the shapes string), a number is its ``repr``, a list
    is the ``repr`` of each element joined by single spaces; None (nothing was
    measured) gives None, posted as an empty part like an unanswered one.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return " ".join(repr(item) for item in value)
    if isinstance(value, dict):
        return " ".join(repr(key) for key in value)  # what iterating a dict gives, as the course did
    return repr(value)


def _measured_text(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def part_summary(result: SubmissionResult, grade: Grade | None = None) -> str:
    """One line per submission a learner may read: total and each part's verdict.

    Values measured on hidden data are left out (the line ends up in an LMS
    comment that the learner sees).  With ``grade``, overridden parts say so,
    with the instructor's reason.
    """
    head = f"{result.assignment}: {result.total:g}/{result.max_total:g}"
    if result.status != "graded":
        head += f" (not graded: {result.reason})" if result.reason else " (not graded)"
    items = []
    for part in result.parts:
        text = f"{part.id} {part.status} {part.points:g}/{part.max_points:g}"
        if part.measured is not None and not part.hidden:
            text += f" (measured {_measured_text(part.measured)})"
        override = grade.overrides.get(part.id) if grade is not None else None
        if override is not None:
            text += f" [set by your instructor: {override.reason}]"
        items.append(text)
    return head + (". " + "; ".join(items) if items else "")
