"""Compare measured values with the reference thresholds: one verdict per part.

This is where a validation accuracy meets its threshold.  The grade always
comes from the measured value; a claimed value that disagrees is flagged in
the message, never trusted.  :func:`score_part` judges a fresh measurement;
:func:`rejudge_part` applies the (possibly changed) thresholds again to the
measurement a result kept, with the same rules, without running anything.
"""
from __future__ import annotations

import dataclasses

from ..results import ERROR, FAILED, MISSING, PASSED, CellError, PartResult
from ..specs.model import Part, Threshold
from .kinds import get_kind
from .measures import Extracted


def threshold_text(part: Part, threshold: Threshold | None) -> str:
    """The pass rule as a learner reads it."""
    if threshold is None:
        return ""
    return get_kind(part.kind).threshold_text(part, threshold)


def score_part(part: Part, threshold: Threshold | None, extracted: Extracted, *,
               graded_cell: int | None, cell_errors: list[CellError], failure: str,
               failed_at: int | None, hidden: bool = False, advice=None) -> PartResult:
    """The verdict on one part, with a message that says what to fix.

    ``advice``: a function of the verdict's status giving what to change about the order the
    cells ran in (:func:`grader.judge.history.advice`); its text ends the message and is kept
    in the result, so that a rescore keeps it.
    """
    result = _score(part, threshold, extracted, graded_cell=graded_cell, cell_errors=cell_errors,
                    failure=failure, failed_at=failed_at, hidden=hidden)
    if advice is not None and result.status != MISSING:
        _with_advice(result, advice(result.status))
    return result


def _with_advice(result: PartResult, advice: str) -> PartResult:
    if advice:
        result.advice = advice
        result.message = _join(result.message, advice)
    return result


def _score(part: Part, threshold: Threshold | None, extracted: Extracted, *,
           graded_cell: int | None, cell_errors: list[CellError], failure: str,
           failed_at: int | None, hidden: bool = False) -> PartResult:
    kind = get_kind(part.kind)
    result = PartResult(id=part.id, description=part.description, kind=part.kind, model=part.model,
                        max_points=part.points, claimed=extracted.claimed, measured=extracted.measured,
                        threshold=threshold_text(part, threshold), cell=extracted.cell, hidden=hidden, integrity=extracted.integrity)
    context = _context(graded_cell, extracted.cell, cell_errors)
    if graded_cell is None:
        result.status = MISSING
        result.message = (f"No cell submits part {part.id}: keep the graded cell "
                          f"(grader.set_answer(\"{part.id}\", ...)) from the template.")
        return result
    if extracted.cell is None:
        result.status = ERROR
        reason = failure or "its graded cell did not run"
        if failed_at is not None and failed_at <= graded_cell:
            reason = f"the run stopped before cell {graded_cell} could be measured: {failure}"
        result.message = _join(f"Not measured: {reason}.", context)
        return result
    if extracted.error:
        result.status = ERROR
        result.message = _join(f"Could not measure {kind.what(part)} after cell {extracted.cell}: "
                               f"{extracted.error}.", context)
        return result
    if extracted.invalid:
        result.status = FAILED
        result.message = _join(f"Measured after cell {extracted.cell}: {extracted.invalid}.", context)
        return result
    # From here on the verdict depends on the threshold only: keep what judging it again needs.
    result.evidence = kind.evidence(part, extracted) if kind.evidence else {}
    return _judge(part, threshold, extracted, result, context)


def rejudge_part(part: Part, threshold: Threshold | None, stored: PartResult,
                 errors: list[CellError]) -> PartResult:
    """The verdict on a stored measurement under ``threshold``, as :func:`score_part` gives it.

    ``stored`` is a part of a result file; its ``evidence`` (with ``measured`` and
    ``claimed``) is what the pass rule reads.  A part without evidence was not
    judged by a threshold (not measured, missing, unusable output): it is returned
    unchanged.  ``errors`` are the result's cell errors, quoted as when it was graded.
    """
    if stored.evidence is None:
        return dataclasses.replace(stored)
    evidence = dict(stored.evidence)
    extracted = Extracted(part=part.id, claimed=stored.claimed,
                          claimed_text=evidence.get("claimed_text"), measured=stored.measured,
                          detail=evidence, cell=stored.cell, integrity=stored.integrity)
    result = dataclasses.replace(stored, max_points=part.points, points=0.0, message="", advice="",
                                 claim_mismatch=False, threshold=threshold_text(part, threshold))
    result = _judge(part, threshold, extracted, result, _context(stored.cell, stored.cell, errors))
    return _with_advice(result, stored.advice)


def _judge(part: Part, threshold: Threshold | None, extracted: Extracted, result: PartResult,
           context: str) -> PartResult:
    """Apply the kind's pass rule and claim check; fills status, points and message."""
    kind = get_kind(part.kind)
    if threshold is None:
        result.status = ERROR
        result.message = f"The reference has no threshold for part {part.id} (a fault of the assignment)."
        return result
    passed, verdict = kind.judge(part, threshold, extracted, kind.what(part))
    result.status = PASSED if passed else FAILED
    result.points = part.points if passed else 0.0
    mismatch = kind.claim_mismatch(part, threshold, extracted)
    if mismatch:
        result.claim_mismatch = True
        verdict = _join(verdict, mismatch)
    result.message = _join(verdict, context if not passed or mismatch else "")
    return result


def _context(graded_cell: int | None, measured_cell: int | None, errors: list[CellError]) -> str:
    """Errors of the graded cell and the first earlier error, which often explains a failure."""
    cell = measured_cell or graded_cell
    if cell is None:
        return ""
    notes = []
    own = [e for e in errors if e.cell == cell and not e.again]  # a re-run of it measured nothing
    earlier = [e for e in errors if e.cell < cell]
    if own:
        notes.append(f"The graded cell {own[0].summary()[5:]}.")
    if earlier and (not own or earlier[0].ename != own[0].ename or earlier[0].evalue != own[0].evalue):
        notes.append(f"Earlier, {earlier[0].summary()}" + (
            f" (and {len(earlier) - 1} more cell(s) raised)" if len(earlier) > 1 else "") + ".")
    return " ".join(notes)


def _join(*texts: str) -> str:
    return " ".join(t for t in texts if t)
