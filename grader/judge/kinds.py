"""Part kinds: the one table that says how each kind of graded part is graded.

``kind = "..."`` in ``assignment.toml`` names an entry of this table.  A
:class:`PartKind` holds, for its kind, the spec fields it needs, what the
harness compares the measurement with (labels of a split, an expected array),
and the handlers of the stages: measure (:mod:`grader.judge.measures`), judge,
threshold text, claim check and the evidence a result keeps to be judged again
(:mod:`grader.judge.rules`).  The stages'
dispatchers (:mod:`grader.judge.extract`, :mod:`grader.judge.score`) look the
kind up here; the spec only names it, so imports run one way: spec <- kinds
<- extract, score.  :func:`register_kind`
adds an entry; the built-in kinds are registered by :func:`register_builtin_kinds`,
called once at the bottom of this module::

    kind      the agent measures, in the kernel        the harness computes      compared with
    shapes    static shapes of `objects`              the shapes string         expected shapes
    loss      graph tensor `output` on a split         mean cross-entropy        the split's labels
    accuracy  graph tensor `output` on a split         accuracy                  the split's labels
    array     the learner's array `object`             largest |difference|      an expected .npy
    function  `object(X)` on a split's inputs          `metric`                  the split's labels
    model     Keras model `object`, exported           `metric`; architecture    the split's labels;
              (.keras file or SavedModel), run by                                architecture rules
              the evaluator on a split's inputs

What the agent does inside the kernel for each kind is in the table of
:mod:`grader.kernel.agent` (``register_measurer``), keyed by the same names.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from . import architecture, measures, metrics, rules
from ..exceptions import SpecError
from ..specs.model import Assignment, Part, Threshold

@dataclass(frozen=True)
class PartKind:
    """How one kind of part is checked, compared and judged in the harness."""

    name: str
    doc: str                                   # one line for `grader spec-fields` and docs
    requires: tuple[str, ...]                  # Part fields that must be set
    extract: Callable                          # (Extracted, agent's value, reference, Part) -> None
    judge: Callable                            # (Part, Threshold, Extracted, what) -> (passed, message)
    threshold_text: Callable                   # (Part, Threshold) -> the rule as learners read it
    claim_mismatch: Callable                   # (Part, Threshold, Extracted) -> message or ""
    what: Callable                             # (Part) -> what is measured, for messages
    reference: Callable | None = None          # (Assignment, Part, data paths) -> labels / array
    uses_split: bool = False                   # measured on `split`: it must exist; hidden applies
    check: Callable | None = None              # (Part) -> [(field, message)]: extra spec checks
    check_threshold: Callable | None = None    # (Part, Threshold) -> [(field, message)]
    summarise_claim: Callable | None = None    # (claimed JSON) -> short text kept in the result
    evidence: Callable | None = None           # (Part, Extracted) -> JSON kept in the result, enough
                                               # with measured and claimed to judge again (rescore)


_KINDS: dict[str, PartKind] = {}


def register_kind(kind: PartKind) -> PartKind:
    """Add a kind to the table; a name can be registered once."""
    if kind.name in _KINDS:
        raise ValueError(f"part kind {kind.name!r} is already registered")
    _KINDS[kind.name] = kind
    return kind


def get_kind(name: str) -> PartKind:
    """The kind registered under ``name`` (KeyError when there is none)."""
    return _KINDS[name]


def kind_names() -> tuple[str, ...]:
    """Every registered kind, in registration order."""
    return tuple(_KINDS)


def part_problems(assignment: Assignment, part: Part, *, where: str) -> list[tuple[str, str]]:
    """What makes ``part`` unusable in ``assignment.toml``: (dotted field, message) pairs."""
    if part.kind not in _KINDS:
        return [(f"{where}.kind", f"unknown kind {part.kind!r}; one of {', '.join(_KINDS)}")]
    kind = _KINDS[part.kind]
    problems = [(f"{where}.{name}", f"a {kind.name} part needs {name}")
                for name in kind.requires if not getattr(part, name)]
    if "object" in kind.requires and part.object and not part.object.isidentifier():
        # `model.predict` would pass the spec and then fail in every kernel: say so now.
        problems.append((f"{where}.object", f"object is the bare name of a variable of the notebook, "
                                            f"not {part.object!r}" + _object_hint(part)))
    if kind.check is not None:
        problems += [(f"{where}.{name}", message) for name, message in kind.check(part)]
    if kind.uses_split:
        try:
            split = assignment.split(part.split)
        except KeyError:
            return problems + [(f"{where}.split", f"no split named {part.split!r}")]
        try:
            assignment.data_file(split.data)
        except KeyError:
            problems.append((f"splits.{split.name}.data", f"no data file named {split.data!r}"))
    return problems


def check_parts(assignment: Assignment, path: Path) -> None:
    """Raise :class:`SpecError` for the first part of ``assignment`` its kind cannot grade."""
    for index, part in enumerate(assignment.parts):
        for field_name, message in part_problems(assignment, part, where=f"parts[{index}]"):
            raise SpecError(message, path=str(path), field=field_name)


def threshold_problems(part: Part, threshold: Threshold) -> list[tuple[str, str]]:
    """What makes a part's threshold unusable: (field under parts.ID, message) pairs."""
    kind = _KINDS.get(part.kind)
    if kind is None:
        return []
    problems = kind.check_threshold(part, threshold) if kind.check_threshold is not None else []
    if part.kind != "model" and architecture.has_rules(threshold):
        problems.append(("layers", f"architecture rules (layers, units, activations, min_params, "
                                   f"max_params, input_shape, output_shape) apply to model parts only; "
                                   f"this is a {part.kind} part"))
    return problems


def _object_hint(part: Part) -> str:
    if part.kind == "function" and "." in part.object:
        return (f": define a function in the template (def predict(X): return "
                f"{part.object}(X)) and name it, or measure a Keras model with a model part")
    if part.kind == "model" and "." in part.object:
        return ": name the variable that holds the Keras model"
    return ""


# --- what the harness compares with (never sent to the kernel) ------------------------------

def split_labels(assignment: Assignment, part: Part, data_paths: Mapping[str, Path]):
    """The labels of the part's split."""
    from ..specs.data import split_labels as labels_of

    return labels_of(assignment, assignment.split(part.split), data_paths)


def expected_array(assignment: Assignment, part: Part, _data_paths: Mapping[str, Path]):
    """The expected array of an array part, from the .npy file its threshold names."""
    import numpy as np

    threshold = assignment.threshold(part.id)
    if threshold is None or assignment.reference_folder is None:
        return None
    path = assignment.reference_folder / threshold.expected_file
    where = dict(path=str(assignment.reference_folder / "thresholds.toml"),
                 field=f"parts.{part.id}.expected_file")
    if not threshold.expected_file:
        raise SpecError("an array part needs expected_file (an .npy file in the reference folder)",
                        **where)
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise SpecError(f"{path} does not exist", **where) from None
    except (OSError, ValueError) as exc:
        raise SpecError(f"{path} is not a readable .npy file ({exc})", **where) from None


# --- small per-kind pieces ------------------------------------------------------------------------

def _check_shapes_threshold(part: Part, threshold: Threshold) -> list[tuple[str, str]]:
    if len(threshold.expected) != len(part.objects):
        return [("expected", f"{len(threshold.expected)} accepted shapes for {len(part.objects)} "
                             f"objects ({', '.join(part.objects)})")]
    return []


def _check_min_max(part: Part, threshold: Threshold) -> list[tuple[str, str]]:
    if threshold.min is None and threshold.max is None:
        return [("min", f"a {part.kind} threshold needs min or max")]
    return []


def _check_array_threshold(part: Part, threshold: Threshold) -> list[tuple[str, str]]:
    problems = []
    if not threshold.expected_file:
        problems.append(("expected_file", "an array part needs the .npy file of the expected array"))
    if threshold.max is None:
        problems.append(("max", "an array part needs max: the largest absolute difference allowed"))
    return problems


def _check_function(part: Part) -> list[tuple[str, str]]:
    if part.metric not in metrics.METRICS:
        return [("metric", f"unknown metric {part.metric!r}; one of "
                           f"{', '.join(metrics.METRICS)}")]
    return []


def _check_model_threshold(part: Part, threshold: Threshold) -> list[tuple[str, str]]:
    problems = architecture.rule_problems(threshold)
    if threshold.min is None and threshold.max is None and not architecture.has_rules(threshold):
        problems.append(("min", "a model threshold needs min or max (of the metric) or "
                                "architecture rules"))
    return problems


def _summarise_array_claim(claimed: Any) -> Any:
    """An array claim is kept in results as its shape, not its (possibly many) numbers."""
    if not isinstance(claimed, list):
        return claimed
    shape, level = [], claimed
    while isinstance(level, list):
        shape.append(len(level))
        level = level[0] if level else None
    return f"array of shape ({', '.join(str(d) for d in shape)}{',' if len(shape) == 1 else ''})"


def _function_what(part: Part) -> str:
    measure = metrics.METRICS.get(part.metric)
    return f"{part.split} {measure.what if measure else part.metric}"


def register_builtin_kinds() -> None:
    """Register the kinds the harness ships with (once; called below)."""
    if _KINDS:
        return
    register_kind(PartKind(
        name="shapes", doc="static shapes of the objects named in `objects`",
        requires=("objects",), extract=measures.extract_shapes, judge=rules.judge_shapes,
        threshold_text=rules.text_shapes, claim_mismatch=rules.claim_shapes,
        what=lambda part: "shapes", check_threshold=_check_shapes_threshold,
        evidence=rules.evidence_shapes))
    register_kind(PartKind(
        name="loss", doc="cross-entropy of the graph tensor `output` (probabilities) run on the "
                         "split's inputs fed to `input`",
        requires=("output", "input"), extract=measures.extract_graph_loss, judge=rules.judge_min_max,
        threshold_text=rules.text_min_max, claim_mismatch=rules.claim_number,
        what=lambda part: f"{part.split} loss", reference=split_labels, uses_split=True,
        check_threshold=_check_min_max))
    register_kind(PartKind(
        name="accuracy", doc="accuracy of the graph tensor `output` (classes) run on the split's "
                             "inputs fed to `input`",
        requires=("output", "input"), extract=measures.extract_graph_accuracy,
        judge=rules.judge_min_max, threshold_text=rules.text_min_max,
        claim_mismatch=rules.claim_number, what=lambda part: f"{part.split} accuracy",
        reference=split_labels, uses_split=True, check_threshold=_check_min_max))
    register_kind(PartKind(
        name="array", doc="the learner's numeric array `object` against the reference's "
                          "expected_file, within max (largest absolute difference)",
        requires=("object",), extract=measures.extract_array, judge=rules.judge_array,
        threshold_text=rules.text_array, claim_mismatch=rules.claim_array,
        what=lambda part: part.object, reference=expected_array,
        check_threshold=_check_array_threshold, summarise_claim=_summarise_array_claim,
        evidence=rules.evidence_array))
    register_kind(PartKind(
        name="function", doc="the learner's function `object` called on the split's inputs; the "
                             "harness scores its outputs with `metric` against the split's labels",
        requires=("object",), extract=measures.extract_function, judge=rules.judge_min_max,
        threshold_text=rules.text_min_max, claim_mismatch=rules.claim_number,
        what=_function_what, reference=split_labels, uses_split=True, check=_check_function,
        check_threshold=_check_min_max))
    register_kind(PartKind(
        name="model", doc="the learner's Keras model `object`, exported from the kernel (.keras file or "
                          "SavedModel) and run by the evaluator on the split's inputs; the harness "
                          "scores its outputs with `metric` against the split's labels and checks the "
                          "architecture rules of the threshold",
        requires=("object",), extract=measures.extract_model, judge=rules.judge_model,
        threshold_text=rules.text_model, claim_mismatch=rules.claim_number, what=_function_what,
        reference=split_labels, uses_split=True, check=_check_function,
        check_threshold=_check_model_threshold, evidence=rules.evidence_model))


register_builtin_kinds()
