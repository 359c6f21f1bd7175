"""The grade that counts: a result file, with the corrections log applied.

:meth:`Corrections.grade` is the one function every consumer uses (gradebook,
feedback pages, class summary, posting, audit).  In order:

1. the result's parts, as the grader judged them when it graded the notebook;
2. ``rescore`` events made against *this* measurement (:func:`result_id`)
   replace a part's verdict (status, points, rule, message): a notebook graded
   again gets fresh verdicts, and older rescores no longer apply to it;
3. the latest ``override`` of each part (unless a ``clear`` came after it)
   sets the part's points, whatever the measurement under it: an override stays
   attached to its learner and part across regrades, and :attr:`Override.changed`
   says when the measurement or the verdict under it is no longer the one the
   override was set on;
4. a ``penalty`` made against *this* measurement (a submission ``grader serve``
   accepted late) takes its fraction off every part's points.

The total is the sum of the parts' points.  A part's ``status`` stays the
grader's verdict (an overridden part that failed is still "failed", with the
instructor's points): the overrides are listed beside it.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from ..results import PartResult, SubmissionResult
from ..textutil import fmt_value
from .log import CLEAR, JUDGED, OVERRIDE, PENALTY, RESCORE, Event, read_events

# What a rescore may change in a part (and records before and after).
VERDICT_FIELDS = ("status", "points", "max_points", "threshold", "message", "claim_mismatch")


def verdict(part: PartResult) -> dict:
    """The fields of a part a rescore may change."""
    return {name: getattr(part, name) for name in VERDICT_FIELDS}


def result_id(result: SubmissionResult) -> str:
    """Names one measurement of one submission: changes whenever the notebook is graded again.

    Corrections are made against a measurement: a rescore applies to that
    measurement only, and an override remembers what it was set on.
    """
    core = {"learner": result.learner, "grading_key": result.grading_key,
            "started_at": result.started_at, "submission_sha256": result.submission_sha256,
            "status": result.status,
            "parts": [[p.id, p.status, p.points, p.measured, p.claimed, p.evidence]
                      for p in result.parts]}
    text = json.dumps(core, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      default=str)
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:32]


@dataclass(frozen=True)
class Override:
    """An override in force on one part."""

    part: str
    points: float
    reason: str
    by: str
    at: str
    under: dict            # the grader's verdict it was set on: status, points, measured
    changed: str = ""      # "" or how the measurement or verdict under it changed since


@dataclass(frozen=True)
class Rescored:
    """A part whose grade (status or points) differs from the result file's after a rescore."""

    part: str
    before: dict           # the verdict in the result file (VERDICT_FIELDS)
    by: str
    at: str
    reason: str


@dataclass(frozen=True)
class Penalty:
    """A late penalty on one measurement: ``fraction`` of every part's points taken off."""

    fraction: float
    reason: str
    by: str
    at: str


@dataclass
class Grade:
    """One learner's grade: the result as measured and as it counts now."""

    result: SubmissionResult          # as it counts: rescored verdicts, overridden points, total
    measured: SubmissionResult = field(repr=False)     # the result file, as the grader wrote it
    judged: dict[str, PartResult] = field(repr=False)  # part id -> the grader's verdict now
                                                       # (after rescores, before overrides)
    overrides: dict[str, Override] = field(default_factory=dict)
    rescored: dict[str, Rescored] = field(default_factory=dict)
    judged_with: str = ""             # digest of the thresholds.toml the verdicts stand on
    result_id: str = ""
    penalty: Penalty | None = None    # a late submission's penalty, applied after overrides

    @property
    def learner(self) -> str:
        return self.result.learner

    @property
    def corrected(self) -> bool:
        return bool(self.overrides or self.rescored or self.penalty)

    @property
    def grader_total(self) -> float:
        """The grader's own total now (rescores included, overrides not)."""
        return sum(part.points for part in self.judged.values())

    def summary(self) -> str:
        """One line: the total and what made it differ from the result file."""
        head = f"{self.result.total:g}/{self.result.max_total:g}"
        notes = [f"{p} overridden to {o.points:g} by {o.by}" for p, o in self.overrides.items()]
        notes += [f"{p} rescored {r.before['status']} -> {self.judged[p].status}"
                  for p, r in self.rescored.items()]
        if self.penalty is not None:
            notes.append(f"late: {self.penalty.fraction:.0%} off")
        return head + (": " + "; ".join(notes) if notes else " as graded")


class Corrections:
    """The corrections log of a results folder, read once; :meth:`grade` applies it."""

    def __init__(self, events: Iterable[Event] = ()):
        self._by_learner: dict[str, list[Event]] = {}
        for event in events:
            self._by_learner.setdefault(event.learner, []).append(event)

    @classmethod
    def load(cls, out: str | Path) -> "Corrections":
        """The log of ``out`` (empty when there is none; reading never creates one)."""
        return cls(read_events(out))

    def __bool__(self) -> bool:
        return bool(self._by_learner)

    def events(self, learner: str | None = None) -> list[Event]:
        """The events (of one learner), oldest first."""
        if learner is not None:
            return list(self._by_learner.get(learner, []))
        return sorted((e for events in self._by_learner.values() for e in events),
                      key=lambda e: e.id)

    def learners(self) -> list[str]:
        return sorted(self._by_learner)

    def grade(self, result: SubmissionResult) -> Grade:
        """The grade of ``result`` with this log applied (see the module docstring)."""
        rid = result_id(result)
        original = {part.id: part for part in result.parts}
        judged = dict(original)
        rescored: dict[str, Rescored] = {}
        judged_with = result.thresholds_digest
        latest: dict[str, Event] = {}
        penalty: Penalty | None = None
        for event in self._by_learner.get(result.learner, ()):
            if event.action == RESCORE and event.result_id == rid and event.part in judged:
                judged[event.part] = dataclasses.replace(judged[event.part],
                                                         **event.detail["after"])
                rescored[event.part] = Rescored(part=event.part,
                                                before=verdict(original[event.part]),
                                                by=event.by, at=event.at, reason=event.reason)
            elif event.action == JUDGED and event.result_id == rid:
                judged_with = event.detail.get("thresholds_digest", judged_with)
            elif event.action in (OVERRIDE, CLEAR) and event.part:
                latest[event.part] = event
            elif event.action == PENALTY and event.result_id == rid:
                fraction = float(event.detail.get("fraction", 0.0))
                penalty = Penalty(fraction=min(1.0, max(0.0, fraction)), reason=event.reason,
                                  by=event.by, at=event.at) if fraction > 0 else None
        # Listed as corrections: rescores that changed a part's grade (status or points). One that
        # changed only the wording (the rule's text) is applied to the part all the same.
        rescored = {p: r for p, r in rescored.items()
                    if (judged[p].status, judged[p].points) != (r.before["status"], r.before["points"])}

        overrides: dict[str, Override] = {}
        counted = dict(judged)
        for part_id, event in latest.items():
            if event.action != OVERRIDE or part_id not in judged:
                continue
            now = judged[part_id]
            overrides[part_id] = Override(
                part=part_id, points=float(event.new_points), reason=event.reason, by=event.by,
                at=event.at, under=event.detail.get("under", {}),
                changed=_changed(event.detail.get("under", {}), now,
                                 same_measurement=event.result_id == rid))
            counted[part_id] = dataclasses.replace(now, points=_as_graded(event.new_points, now))
        parts = [counted[part.id] for part in result.parts]
        if penalty is not None:
            parts = [dataclasses.replace(p, points=_as_graded(round(p.points * (1 - penalty.fraction), 6), p))
                     for p in parts]
        effective = dataclasses.replace(result, parts=parts, total=sum(p.points for p in parts))
        return Grade(result=effective, measured=result, judged=judged, overrides=overrides,
                     rescored=rescored, judged_with=judged_with, result_id=rid, penalty=penalty)

    def grades(self, results: Iterable[SubmissionResult]) -> list[Grade]:
        return [self.grade(result) for result in results]


def _as_graded(points: float, part: PartResult) -> float:
    """Points written as the grader writes them: full marks as ``max_points``, none as 0.0.

    Equal grades then serialise alike, so posting (which compares digests of the JSON)
    does not see a new version where nothing changed (``1`` and ``1.0``).
    """
    if points == part.max_points:
        return part.max_points
    return 0.0 if points == 0 else float(points)


def under(part: PartResult) -> dict:
    """What an override records of the grader's verdict it is set on."""
    return {"status": part.status, "points": part.points, "measured": part.measured}


def _changed(then: dict, now: PartResult, *, same_measurement: bool) -> str:
    """How the grader's verdict under an override changed since it was set ("" if it did not)."""
    if not then:
        return ""
    before = (then.get("status"), then.get("points"), then.get("measured"))
    if before == (now.status, now.points, now.measured):
        return ""
    what = "the notebook was graded again" if not same_measurement else "the part was rescored"
    return (f"since the override, {what}: {_shown(then.get('measured'))} "
            f"({then.get('status')}, {then.get('points', 0):g} points) then, "
            f"{_shown(now.measured)} ({now.status}, {now.points:g} points) now")


def _shown(value) -> str:
    return "not measured" if value is None else f"measured {fmt_value(value)}"
