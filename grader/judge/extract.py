"""Turn what the kernel reported into claimed and measured values per part.

The kernel only ever returns the learner's *objects' outputs* (shapes,
predicted probabilities, predicted classes on inputs the harness chose).
Metrics are computed here, in the harness, against labels that never enter
the kernel: the part's kind (:mod:`grader.judge.kinds`) names the handler
(:mod:`grader.judge.measures`) that does it.
"""
from __future__ import annotations

from ..specs.model import Part
from .kinds import get_kind
from .measures import Extracted, decode_array, extract_reports, shapes_string

__all__ = ["Extracted", "decode_array", "extract", "extract_reports", "shapes_string"]


def extract(part: Part, measurement: dict | None, answer: dict | None, reference=None) -> Extracted:
    """Combine the agent's measurement and the notebook's claim for one part.

    ``reference`` is what the harness holds and the kernel never sees: the
    split's labels, or the expected array (see :mod:`grader.judge.kinds`).
    """
    kind = get_kind(part.kind)
    out = Extracted(part=part.id)
    if answer is not None:
        out.claimed = answer.get("value")
        out.claimed_text = answer.get("text")
        if kind.summarise_claim is not None and out.claimed is not None:
            out.claimed_value, out.claimed = out.claimed, kind.summarise_claim(out.claimed)
    if measurement is None:
        return out
    out.cell = measurement.get("cell")
    if not measurement.get("ok"):
        out.error = str(measurement.get("error") or "the measurement failed")
        return out
    try:
        kind.extract(out, measurement.get("value"), reference, part)
    except (ValueError, KeyError, TypeError) as exc:
        out.error = f"the grading agent sent an unreadable measurement ({exc})"
    return out


