"""The per-kind pass rules: a measured value against its threshold, in words a learner reads.

Three handlers per kind, named by the kind table (:mod:`grader.judge.kinds`):
``text_*`` (the rule as text), ``judge_*`` (passed or not, and why) and
``claim_*`` (what to say when the notebook reported another value); and, for
kinds whose rule reads more than the measured number, ``evidence_*``: what a
result keeps so that the rule can be applied again without the notebook
(``grader rescore``).  The dispatchers are :func:`grader.judge.score.score_part`
and :func:`grader.judge.score.rejudge_part`.
"""
from __future__ import annotations

import re

from ..specs.model import Part, Threshold
from ..textutil import fmt_value
from . import architecture
from .measures import Extracted



def text_min_max(part: Part, threshold: Threshold) -> str:
    """``>= 0.92``, ``<= 0.3`` or both."""
    rules = []
    if threshold.min is not None:
        rules.append(f">= {threshold.min:g}")
    if threshold.max is not None:
        rules.append(f"<= {threshold.max:g}")
    return " and ".join(rules)


def text_model(part: Part, threshold: Threshold) -> str:
    """The metric's bounds and the architecture rules in a few words."""
    return "; ".join(text for text in (text_min_max(part, threshold), architecture.rules_text(threshold))
                     if text)


def text_shapes(part: Part, threshold: Threshold) -> str:
    """Accepted shapes per object."""
    return ", ".join(f"{name} ({alts.replace(' | ', ' or ')})"
                     for name, alts in zip(part.objects, threshold.expected))


def text_array(part: Part, threshold: Threshold) -> str:
    """The largest absolute difference allowed."""
    return f"max |diff| <= {threshold.max if threshold.max is not None else 0:g}"


def judge_min_max(part: Part, threshold: Threshold, extracted: Extracted, what: str) -> tuple[bool, str]:
    """A number (loss, accuracy, a function's metric) against min and/or max."""
    value = float(extracted.measured)
    subject = f"The {part.model} model's {what}" if part.model else f"The {what}"
    if threshold.min is not None and value < threshold.min:
        return False, (f"{subject} is {value:.4f}, below the required "
                       f"{threshold.min:g}: train it longer or improve it.")
    if threshold.max is not None and value > threshold.max:
        return False, (f"{subject} is {value:.4f}, above the allowed "
                       f"{threshold.max:g}: train it longer or improve it.")
    return True, f"{what[0].upper() + what[1:]} {value:.4f} ({text_min_max(part, threshold)})."


def judge_model(part: Part, threshold: Threshold, extracted: Extracted, what: str) -> tuple[bool, str]:
    """A Keras model: its architecture against the rules, then its metric against min and/or max."""
    model = (extracted.detail or {}).get("architecture")
    differs = architecture.problems(threshold, model)
    if threshold.min is None and threshold.max is None:
        passed, verdict = True, ""
    else:
        passed, verdict = judge_min_max(part, threshold, extracted, what)
    if differs:
        return False, (f"The architecture of {part.object} is not the one asked for: "
                       + "; ".join(differs) + ". " + (verdict if not passed else
                                                      f"(Its {what} is {float(extracted.measured):.4f}.)"))
    if not verdict:
        return True, f"{what[0].upper() + what[1:]} {float(extracted.measured):.4f}; architecture as asked."
    return passed, verdict


def judge_shapes(part: Part, threshold: Threshold, extracted: Extracted, _what: str) -> tuple[bool, str]:
    """Each object's shape against its accepted alternatives."""
    shapes = extracted.detail["shapes"]
    wrong = []
    for name, shape, accepted in zip(part.objects, shapes, threshold.expected):
        text = " ".join("None" if d is None else str(d) for d in shape)
        alternatives = [alt.strip() for alt in accepted.split("|")]
        if text not in alternatives:
            wrong.append(f"{name} has shape ({text.replace(' ', ', ')}), expected "
                         + " or ".join(f"({a.replace(' ', ', ')})" for a in alternatives))
    if wrong:
        return False, "Wrong shapes: " + "; ".join(wrong) + "."
    return True, f"Shapes {extracted.measured}."


def judge_array(part: Part, threshold: Threshold, extracted: Extracted, _what: str) -> tuple[bool, str]:
    """The largest absolute difference from the expected array against max."""
    value = float(extracted.measured)
    allowed = threshold.max if threshold.max is not None else 0.0
    if value <= allowed:
        return True, (f"{part.object} matches the expected array (largest difference {value:.3g}, "
                      f"allowed {allowed:g}).")
    where = (extracted.detail or {}).get("worst_index")
    at = f" at index [{', '.join(str(i) for i in where)}]" if where else ""
    return False, (f"{part.object} differs from the expected array by up to {value:.4g}{at}, more "
                   f"than the allowed {allowed:g}: check how you compute it.")


def claim_number(part: Part, threshold: Threshold, extracted: Extracted) -> str:
    """A message when the reported number is not the measured one."""
    claimed = extracted.claimed
    if claimed is None:
        return ""
    value = claimed_number(claimed)
    if value is None:
        return f"Reported {claimed!r}, which is not a number; measured {fmt_value(extracted.measured)}."
    measured = float(extracted.measured)
    # A claim computed in float32 (Keras, TensorFlow) differs from the harness's float64 in the
    # last digits: that is no disagreement.
    if abs(value - measured) > threshold.claim_tolerance + 1e-6 * max(1.0, abs(measured)):
        return (f"Reported {value:.4g}, measured {float(extracted.measured):.4g}: the grade uses the "
                f"measured value.")
    return ""


# The repr of a number wrapped by a library: np.float32(0.93), tensor(0.93), array(0.93, dtype=...),
# <tf.Tensor: shape=(), dtype=float32, numpy=0.93>. A helper that sends repr(answer) as the claim
# still claims that number.
_WRAPPED_NUMBER = re.compile(r"^\s*(?:[\w.]+\(\s*(?P<call>[-+0-9.eEinfa]+)\s*(?:,[^()]*)?\)"
                             r"|<[^<>]*numpy=(?P<tensor>[-+0-9.eEinfa]+)>)\s*$")


def claimed_number(claimed) -> float | None:
    """The number a claim stands for: a number, a numeric string, or a library's repr of a number."""
    if isinstance(claimed, bool):
        return None
    try:
        return float(claimed)
    except (TypeError, ValueError):
        pass
    if isinstance(claimed, str):
        match = _WRAPPED_NUMBER.match(claimed)
        if match:
            try:
                return float(match["call"] or match["tensor"])
            except ValueError:
                return None
    return None


def claim_shapes(part: Part, threshold: Threshold, extracted: Extracted) -> str:
    """A message when the reported shapes string is not the objects' shapes."""
    claimed = extracted.claimed
    if claimed is None:
        return ""
    text = str(extracted.claimed_text if extracted.claimed_text is not None else claimed).split()
    measured = str(extracted.measured).split()
    extra = [d for shape in extracted.detail.get("extra") or [] if shape for d in
             ("None" if x is None else str(x) for x in shape)]
    if text == measured or text == measured + extra:
        return ""
    return f"Reported \"{' '.join(text)}\", but the objects' shapes are \"{' '.join(measured)}\"."


def array_claim_facts(part: Part, extracted: Extracted) -> dict:
    """How the reported array compares with the learner's own, whatever the tolerance.

    ``{}`` (nothing to compare), ``{"problem": text}`` (not comparable) or
    ``{"difference": largest |difference|}`` (None when not finite).  Kept in the
    result (``evidence``), so that a new claim_tolerance can be applied without the arrays.
    """
    import numpy as np

    claimed = extracted.claimed_value if extracted.claimed_value is not None else extracted.claimed
    values = (extracted.detail or {}).get("values")
    if claimed is None or values is None:
        return {}
    try:
        reported = np.asarray(claimed, dtype=np.float64)
    except (TypeError, ValueError):
        return {"problem": f"Reported something that is not an array of numbers; the grade uses "
                           f"{part.object} itself."}
    if reported.shape != values.shape:
        return {"problem": f"Reported an array of shape {list(reported.shape)}, but {part.object} "
                           f"has shape {list(values.shape)}: the grade uses {part.object} itself."}
    if reported.size == 0:
        return {}
    difference = float(np.nanmax(np.abs(reported - values.astype(np.float64))))
    return {"difference": difference if np.isfinite(difference) else None}


def claim_array(part: Part, threshold: Threshold, extracted: Extracted) -> str:
    """A message when the reported array is not the learner's own object."""
    facts = (extracted.detail or {}).get("claim")
    if facts is None:  # a fresh measurement; a stored one carries its facts (grader rescore)
        facts = array_claim_facts(part, extracted)
    if "problem" in facts:
        return facts["problem"]
    if "difference" not in facts:
        return ""
    difference = facts["difference"]
    if difference is None or not difference <= threshold.claim_tolerance + 1e-12:
        shown = "nan" if difference is None else f"{difference:.3g}"
        return (f"Reported an array that differs from {part.object} by up to {shown}: the "
                f"grade uses {part.object} itself.")
    return ""


# --- what a verdict keeps so that it can be judged again (grader rescore) -----------------------

def evidence_shapes(part: Part, extracted: Extracted) -> dict:
    """Per-object shapes, and the claimed text when the notebook sent one."""
    detail = extracted.detail or {}
    kept = {"shapes": detail.get("shapes"), "extra": detail.get("extra") or []}
    if extracted.claimed_text is not None:
        kept["claimed_text"] = extracted.claimed_text
    return kept


def evidence_model(part: Part, extracted: Extracted) -> dict:
    """The architecture the evaluator read (layers, parameters, shapes): the rules judge it again."""
    return {"architecture": (extracted.detail or {}).get("architecture")}


def evidence_array(part: Part, extracted: Extracted) -> dict:
    """Where the largest difference is, and how the claim compares (not the arrays)."""
    return {"worst_index": (extracted.detail or {}).get("worst_index"),
            "claim": array_claim_facts(part, extracted)}
