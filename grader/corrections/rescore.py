"""Judge stored measurements again under the current thresholds, without running a notebook.

A result keeps what its parts' pass rules read (``measured``, ``claimed`` and
``evidence``, see :func:`grader.judge.score.rejudge_part`), so a change of
``thresholds.toml`` needs no kernel: each part is judged again with the kind
table's own rules, and every change is *recorded* in the corrections log
(``rescore`` events with the verdict before and after, one ``judged`` event per
learner naming the thresholds), never written into the result files.

What cannot be judged again is reported, not guessed: a result measured with
another ``assignment.toml``, other helpers or other expected arrays (its
``measurement_digest`` differs: ``grader grade`` runs the notebook again), or
written by a grader that did not keep the evidence.
"""
from __future__ import annotations

import dataclasses
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ..exceptions import CorrectionError
from ..judge.score import rejudge_part
from ..results import GRADED, SubmissionResult
from ..specs.model import Assignment
from .grades import Corrections, verdict
from .log import JUDGED, RESCORE, Event, Log, default_author


@dataclass(frozen=True)
class PartChange:
    """One part whose verdict changed in a rescore."""

    part: str
    before: dict        # VERDICT_FIELDS before (the grader's verdict, overrides aside)
    after: dict         # ... and after

    @property
    def grade_changed(self) -> bool:
        return (self.before["status"], self.before["points"]) != \
            (self.after["status"], self.after["points"])

    def why(self) -> str:
        """``RMv95 failed -> passed (0 -> 1): rule >= 0.92 -> >= 0.91; <message>``."""
        rule = self.after["threshold"]
        if self.before["threshold"] != rule:
            rule = f"rule {self.before['threshold'] or '(none)'} -> {rule or '(none)'}"
        else:
            rule = f"rule {rule}"
        return (f"{self.part} {self.before['status']} -> {self.after['status']} "
                f"({self.before['points']:g} -> {self.after['points']:g}): {rule}; "
                f"{self.after['message']}")


@dataclass
class LearnerChange:
    """A learner whose grade (points or a part's status) changed in a rescore."""

    learner: str
    before: float       # the total that counted before (overrides included)
    after: float        # ... and after
    parts: list[PartChange] = field(default_factory=list)
    overridden: list[str] = field(default_factory=list)   # changed parts an override still holds


@dataclass
class RescoreReport:
    """What :func:`rescore` did."""

    assignment: str
    thresholds_digest: str
    run: str = ""
    judged: int = 0                 # results judged again
    current: int = 0                # already judged with these thresholds: left alone
    not_graded: int = 0             # ungradable / grader-error rows: nothing to judge
    changed: list[LearnerChange] = field(default_factory=list)       # grades that changed
    reworded: int = 0               # learners whose verdicts changed in wording only
    stale: list[tuple[str, str]] = field(default_factory=list)       # (learner, why not judged)
    seconds: float = 0.0

    @property
    def learners_changed(self) -> list[str]:
        return [change.learner for change in self.changed]


def judge_again(out: str | Path, *, assignment: Assignment, results: list[SubmissionResult],
            by: str | None = None, reason: str = "", force: bool = False) -> RescoreReport:
    """Judge ``results`` of ``out`` again with ``assignment``'s thresholds; record what changed.

    Results already judged with the current thresholds are left alone unless
    ``force``.  Nothing is written when nothing was judged.  Raises
    :class:`CorrectionError` when none of the results is of ``assignment``.
    """
    started = time.perf_counter()
    by = by or default_author()
    ours = [r for r in results if r.assignment == assignment.id]
    if results and not ours:
        found = ", ".join(sorted({r.assignment for r in results}))
        raise CorrectionError(f"the results in {out} are for {found}, not {assignment.id}: "
                              f"give the assignment they were graded with (--assignment)")
    corrections = Corrections.load(out)
    report = RescoreReport(assignment=assignment.id,
                           thresholds_digest=assignment.thresholds_digest,
                           run=uuid.uuid4().hex[:12])
    reason = reason or f"judged again with thresholds.toml {assignment.thresholds_digest[:12]}"
    events: list[Event] = []
    for result in ours:
        if result.status != GRADED:
            report.not_graded += 1
            continue
        why_not = _cannot_judge(result, assignment)
        if why_not:
            report.stale.append((result.learner, why_not))
            continue
        grade = corrections.grade(result)
        if grade.judged_with == assignment.thresholds_digest and not force:
            report.current += 1
            continue
        report.judged += 1
        changes = []
        for part in assignment.parts:
            now = grade.judged[part.id]
            new = rejudge_part(part, assignment.threshold(part.id), result.part(part.id),
                               result.errors)
            if verdict(new) != verdict(now):
                changes.append(PartChange(part=part.id, before=verdict(now), after=verdict(new)))
        events += [Event(action=RESCORE, learner=result.learner, part=c.part, by=by,
                         old_points=c.before["points"], new_points=c.after["points"],
                         reason=reason, result_id=grade.result_id, run=report.run,
                         detail={"before": c.before, "after": c.after,
                                 "thresholds_digest": assignment.thresholds_digest})
                   for c in changes]
        events.append(Event(action=JUDGED, learner=result.learner, by=by, reason=reason,
                            old_points=grade.result.total, result_id=grade.result_id,
                            run=report.run,
                            detail={"thresholds_digest": assignment.thresholds_digest,
                                    "changed": [c.part for c in changes]}))
        graded = [c for c in changes if c.grade_changed]
        if graded:
            total = grade.result.total + sum(
                c.after["points"] - c.before["points"] for c in graded
                if c.part not in grade.overrides)
            report.changed.append(LearnerChange(
                learner=result.learner, before=grade.result.total, after=total, parts=graded,
                overridden=[c.part for c in graded if c.part in grade.overrides]))
        elif changes:
            report.reworded += 1
    if events:
        # The new totals of the judged events, now that they are known.
        totals = {change.learner: change.after for change in report.changed}
        events = [e if e.action != JUDGED else _with_total(e, totals) for e in events]
        with Log.open(out) as log:
            log.append(events)
    report.seconds = time.perf_counter() - started
    return report


def _with_total(event: Event, totals: dict[str, float]) -> Event:
    return dataclasses.replace(event, new_points=totals.get(event.learner, event.old_points))


def _cannot_judge(result: SubmissionResult, assignment: Assignment) -> str:
    """Why a stored result cannot be judged again ("" when it can)."""
    if not result.measurement_digest:
        return ("graded by a grader that did not keep what judging again needs: "
                "`grader grade --force` grades it again")
    if result.measurement_digest != assignment.measurement_digest:
        return ("measured with another assignment.toml, helpers or expected arrays: "
                "`grader grade` runs the notebook again")
    missing = [p.id for p in assignment.parts if p.id not in {q.id for q in result.parts}]
    if missing:
        return f"the result has no part {', '.join(missing)}: `grader grade` runs it again"
    return ""
