"""Overrides: course staff set a part's points, for a reason, in the log.

Everything is checked before anything is written: the results folder, the
learner (a result file for them), the part (one of their result's parts), the
points (between 0 and the part's maximum), the reason (shown to the learner)
and who is correcting.  A bad request raises :class:`CorrectionError` with one
line saying what to fix, and the log is left as it was (not even created).
"""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from pathlib import Path

from ..exceptions import CorrectionError
from ..results import SubmissionResult, load_results
from ..textutil import safe_name
from .grades import Corrections, Grade, Override, under
from .log import CLEAR, OVERRIDE, Event, Log, default_author


def results_folder(out: str | Path) -> Path:
    """``out/results``, or an error saying what ``out`` should be."""
    folder = Path(out) / "results"
    if not folder.is_dir():
        raise CorrectionError(f"{out} is not a results folder of `grader grade` (it has no "
                              f"results/ folder): give the --out folder of the grading",
                              path=str(out))
    return folder


def graded_results(out: str | Path) -> list[SubmissionResult]:
    """Every readable result file of ``out/results``, or an error when ``out`` is no results folder."""
    results_folder(out)
    return load_results(out)


def find_result(out: str | Path, learner: str) -> SubmissionResult:
    """The result of ``learner`` in ``out``, or an error naming the learners there."""
    folder = results_folder(out)
    path = folder / f"{safe_name(learner)}.json"
    try:
        result = SubmissionResult.from_json(path.read_text(encoding="utf-8"))
        if result.learner == learner:
            return result
    except (OSError, ValueError, TypeError, KeyError):
        pass
    known = {r.learner: r for r in graded_results(out)}
    if learner in known:
        return known[learner]
    close = difflib.get_close_matches(learner, list(known), n=3)
    hint = f"did you mean {', '.join(close)}?" if close else \
        f"{len(known)} learner(s) there" + (f", e.g. {', '.join(sorted(known)[:3])}" if known else "")
    raise CorrectionError(f"no result for learner {learner!r} in {folder} ({hint})",
                          learner=learner)


def _part(result: SubmissionResult, part: str):
    try:
        return result.part(part)
    except KeyError:
        raise CorrectionError(f"learner {result.learner!r} has no part {part!r}; the parts are "
                              f"{', '.join(p.id for p in result.parts)}",
                              learner=result.learner, part=part) from None


def _author(by: str | None) -> str:
    by = (by if by is not None else default_author()).strip()
    if not by:
        raise CorrectionError("--by is empty: say who is making the correction")
    return by


def set_override(out: str | Path, *, learner: str, part: str, points: float, reason: str,
                 by: str | None = None) -> Event:
    """Record that ``learner``'s ``part`` is worth ``points``, because ``reason``."""
    result = find_result(out, learner)
    stored = _part(result, part)
    if not isinstance(points, (int, float)) or not math.isfinite(points):
        raise CorrectionError(f"points must be a number, got {points!r}", learner=learner,
                              part=part)
    if not 0 <= points <= stored.max_points:
        raise CorrectionError(f"points must be between 0 and {stored.max_points:g} (the most "
                              f"part {part} is worth), got {points:g}", learner=learner, part=part)
    reason = (reason or "").strip()
    if not reason:
        raise CorrectionError("an override needs a reason (--reason TEXT): the learner sees it "
                              "on their feedback page and it stays in the audit log",
                              learner=learner, part=part)
    by = _author(by)
    grade = Corrections.load(out).grade(result)
    event = Event(action=OVERRIDE, learner=learner, part=part, by=by,
                  old_points=grade.result.part(part).points, new_points=float(points),
                  reason=reason, result_id=grade.result_id,
                  detail={"under": under(grade.judged[part]), "max_points": stored.max_points})
    with Log.open(out) as log:
        return log.append([event])[0]


def clear_override(out: str | Path, *, learner: str, part: str, reason: str = "",
                   by: str | None = None) -> Event:
    """Withdraw the override of ``learner``'s ``part``: the grader's verdict counts again."""
    result = find_result(out, learner)
    _part(result, part)
    grade = Corrections.load(out).grade(result)
    if part not in grade.overrides:
        raise CorrectionError(f"part {part} of {learner!r} has no override to clear "
                              f"(`grader override {out} --list` shows them)",
                              learner=learner, part=part)
    by = _author(by)
    event = Event(action=CLEAR, learner=learner, part=part, by=by,
                  old_points=grade.overrides[part].points, new_points=grade.judged[part].points,
                  reason=(reason or "").strip(), result_id=grade.result_id,
                  detail={"under": under(grade.judged[part])})
    with Log.open(out) as log:
        return log.append([event])[0]


@dataclass(frozen=True)
class Listed:
    """An override in force, with the grade it belongs to (None: the result file is gone)."""

    learner: str
    override: Override
    grade: Grade | None


def overrides_in_force(out: str | Path) -> list[Listed]:
    """Every override in force in ``out``, by learner and part."""
    results = {r.learner: r for r in graded_results(out)}
    corrections = Corrections.load(out)
    listed = []
    for learner in corrections.learners():
        result = results.get(learner)
        if result is not None:
            grade = corrections.grade(result)
            listed += [Listed(learner, o, grade) for _, o in sorted(grade.overrides.items())]
            continue
        latest: dict[str, Event] = {}
        for event in corrections.events(learner):
            if event.action in (OVERRIDE, CLEAR):
                latest[event.part] = event
        listed += [Listed(learner, Override(part=e.part, points=float(e.new_points),
                                            reason=e.reason, by=e.by, at=e.at,
                                            under=e.detail.get("under", {}),
                                            changed="the learner's result file is gone"), None)
                   for _, e in sorted(latest.items()) if e.action == OVERRIDE]
    return listed
