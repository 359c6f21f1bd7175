"""The history of a grade: gradings, rescores, overrides and posts, in time order.

Read from what each stage already keeps in the results folder, never from a
log of its own: the batch journal (``journal.jsonl``: every grading), the
result files, the corrections log (``corrections.sqlite``: overrides, clears,
rescores) and the outbox (``outbox.sqlite``: every version of every score,
where it went, when, and the receiver's answer).  ``grader audit OUT
[LEARNER]`` prints it; :func:`history` is the library call.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..corrections import Corrections, Grade
from ..corrections.log import CLEAR, JUDGED, OVERRIDE, RESCORE, Event
from ..corrections.overrides import find_result, graded_results, results_folder
from ..post.outbox import FAILED, PENDING, SENT, SUPERSEDED, Row
from ..post.send import outbox_status


@dataclass(frozen=True)
class Entry:
    """One thing that happened to a learner's grade."""

    at: str                  # ISO 8601 (UTC)
    learner: str
    kind: str                # graded | rescore | override | clear | post
    text: str                # one line, as printed
    detail: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Audit:
    """A results folder's history (of one learner), and the grades as they count now."""

    out: Path
    entries: list[Entry]
    grades: dict[str, Grade]     # learner -> grade now


def history(out: str | Path, learner: str | None = None) -> Audit:
    """Everything recorded about ``learner``'s grade (every learner's: None), oldest first.

    Raises :class:`grader.exceptions.CorrectionError` when ``out`` is not a results
    folder or ``learner`` has no result there.
    """
    out = Path(out)
    results_folder(out)
    results = [find_result(out, learner)] if learner is not None else graded_results(out)
    corrections = Corrections.load(out)
    grades = {result.learner: corrections.grade(result) for result in results}
    wanted = set(grades) if learner is None else {learner}
    entries = _gradings(out, grades, wanted)
    for event in corrections.events(learner):
        entry = _correction(event)
        if entry is not None:
            entries.append(entry)
    for row in outbox_status(out, learner=learner):
        entries += _posts(row)
    entries.sort(key=lambda e: _when(e.at))  # stable: ties keep the order of the sources
    return Audit(out=out, entries=entries, grades=grades)


def _when(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return datetime.min.replace(tzinfo=timezone.utc)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _gradings(out: Path, grades: dict[str, Grade], wanted: set[str]) -> list[Entry]:
    """Every grading in the batch journal; the result file's when the journal has none."""
    entries, seen = [], set()
    journal = out / "journal.jsonl"
    lines = journal.read_text(encoding="utf-8").splitlines() if journal.is_file() else []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a line cut by a kill: the journal is only ever appended to
        if event.get("event") != "done" or event.get("learner") not in wanted:
            continue
        seen.add(event["learner"])
        total = event.get("total")
        # grader serve grades submissions: which one, and whether it is the one that counts.
        served = (f"submission {event['submission']}" + ("" if event.get("counts", True) else
                                                         ", not the one that counts") + ", "
                  if event.get("submission") else "")
        entries.append(Entry(
            at=event.get("time", ""), learner=event["learner"], kind="graded",
            text=f"graded by running the notebook: {total:g} point(s) ({served}{event.get('status', '?')}), "
                 f"grading key {str(event.get('key', ''))[:12]}" if isinstance(total, (int, float))
            else f"graded by running the notebook ({served}{event.get('status', '?')})",
            detail={"total": total, "status": event.get("status"), "key": event.get("key"),
                    "submission": event.get("submission")}))
    for learner in sorted(wanted - seen):
        if learner in grades:
            measured = grades[learner].measured
            entries.append(Entry(
                at=measured.started_at, learner=learner, kind="graded",
                text=f"graded: {measured.total:g}/{measured.max_total:g}, {measured.status} "
                     f"(result file; no journal entry)",
                detail={"total": measured.total, "status": measured.status}))
    return entries


def _correction(event: Event) -> Entry | None:
    detail = {"by": event.by, "part": event.part, "old_points": event.old_points,
              "new_points": event.new_points, "reason": event.reason, "run": event.run}
    if event.action == OVERRIDE:
        text = (f"override {event.part}: {event.old_points:g} -> {event.new_points:g} point(s) "
                f"by {event.by}: {event.reason}")
    elif event.action == CLEAR:
        text = (f"override of {event.part} cleared by {event.by}: {event.old_points:g} -> "
                f"{event.new_points:g} (the grader's verdict)"
                + (f": {event.reason}" if event.reason else ""))
    elif event.action == RESCORE:
        before, after = event.detail.get("before", {}), event.detail.get("after", {})
        rule = after.get("threshold", "")
        if before.get("threshold") != rule:
            rule = f"{before.get('threshold') or '(none)'} -> {rule or '(none)'}"
        same = (before.get("status"), before.get("points")) == (after.get("status"), after.get("points"))
        change = (f"{before.get('status')} {before.get('points', 0):g} -> {after.get('status')} "
                  f"{after.get('points', 0):g}" if not same else
                  f"still {after.get('status')} {after.get('points', 0):g}")
        text = (f"rescore {event.part}: {change} by {event.by} (rule {rule}, notebook not run): "
                f"{event.reason}")
        detail.update(before=before, after=after)
    elif event.action == JUDGED:
        changed = event.detail.get("changed") or []
        if changed:
            return None  # the rescore lines of its parts say it
        text = (f"rescore by {event.by}: judged again with thresholds.toml "
                f"{event.detail.get('thresholds_digest', '')[:12]}, no change: {event.reason}")
    else:
        return None
    return Entry(at=event.at, learner=event.learner, kind=event.action if event.action != JUDGED
                 else RESCORE, text=text, detail=detail)


def _posts(row: Row) -> list[Entry]:
    """A version recorded in the outbox, and what became of it."""
    where = f"{row.destination} {row.target}"
    detail = {"destination": row.destination, "target": row.target, "version": row.version,
              "key": row.key, "status": row.status, "attempts": row.attempts,
              "http_status": row.http_status, "message": row.message}
    entries = [Entry(at=row.recorded_at, learner=row.learner, kind="post",
                     text=f"post v{row.version} to {where}: recorded "
                          f"{row.change or f'{row.score:g}/{row.max_score:g}'}, key {row.key[:12]}",
                     detail=detail)]
    tries = f"{row.attempts} tr{'y' if row.attempts == 1 else 'ies'}"
    if row.status == SENT:
        entries.append(Entry(at=row.sent_at or row.recorded_at, learner=row.learner, kind="post",
                             text=f"post v{row.version} to {row.destination}: delivered after "
                                  f"{tries}; answer: {row.message}", detail=detail))
    elif row.status in (FAILED, PENDING) and row.attempts:
        word = "refused" if row.status == FAILED else "still pending"
        entries.append(Entry(at=row.last_attempt_at or row.recorded_at, learner=row.learner,
                             kind="post", text=f"post v{row.version} to {row.destination}: {word} "
                                               f"after {tries}; answer: {row.message}",
                             detail=detail))
    elif row.status in (FAILED, SUPERSEDED):
        entries.append(Entry(at=row.last_attempt_at or row.recorded_at, learner=row.learner,
                             kind="post", text=f"post v{row.version} to {row.destination}: "
                                               f"{row.status}: {row.message}", detail=detail))
    return entries


def format_audit(audit: Audit, learner: str | None = None) -> str:
    """The history as text: for one learner a header and a timeline; for all, one line each."""
    lines = []
    if learner is not None:
        grade = audit.grades[learner]
        lines.append(f"{learner}: {grade.summary()} (result file: {grade.measured.total:g}/"
                     f"{grade.measured.max_total:g}, graded {grade.measured.started_at or '?'})")
        for part, override in grade.overrides.items():
            if override.changed:
                lines.append(f"  CHECK override of {part}: {override.changed}")
    for entry in audit.entries:
        who = "" if learner is not None else f"{entry.learner}  "
        lines.append(f"{entry.at[:19].replace('T', ' ')}  {who}{entry.text}")
    if not audit.entries:
        lines.append("nothing recorded yet")
    return "\n".join(lines)
