"""Model evidence: learners whose re-run produced the same model, and how many share it.

Every notebook is re-run under the same seed, so the same computation gives
the same model whatever its text looks like.  Each graded part of a model kind
stores a fingerprint of the model's outputs on the validation split
(:mod:`grader.judge.fingerprint`); here they are grouped per model (the parts'
``model`` field in ``assignment.toml``: "linear", "MLP", ...), with a tolerance
that absorbs the last-bit noise of another thread count.

Identical is not copied: the obvious linear model is the same for many honest
learners.  So every group says how many learners share it (its *rarity*: 1 up
to the class's "rare" size, as for code fragments, then falling), and a model
weighs in proportion to how much learners vary it: its *diversity*, distinct
models over learners with one.  A model everybody builds alike
(diversity near 0) is no evidence; one where learners choose layers, sizes and
optimisers (diversity near 1) is.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..judge.fingerprint import SKETCH_TOLERANCE, same_outputs
from ..results import GRADED, SubmissionResult

RARE_MIN, RARE_SHARE = 4, 0.02


def rare_up_to(learners: int) -> int:
    """Groups of at most this many learners are rare (weigh fully): 4, or 2% of a large class."""
    return max(RARE_MIN, int(RARE_SHARE * learners))


@dataclass
class ModelGroup:
    """Learners whose models of one kind gave the same outputs."""

    model: str
    learners: list[str]
    among: int                # learners with a fingerprint of this model
    diversity: float          # distinct models / learners with one, for this model
    rare_up_to: int = 2       # groups this small are rare (:func:`rare_up_to`)
    threads: list[int] = field(default_factory=list)  # thread counts the members were graded with

    @property
    def size(self) -> int:
        return len(self.learners)

    @property
    def rarity(self) -> float:
        """1 for a model at most ``rare_up_to`` learners share, falling as more share it."""
        return 1.0 if self.size <= self.rare_up_to else self.rare_up_to / self.size

    @property
    def weight(self) -> float:
        """What agreeing on this model is worth: rare, and of a model learners vary."""
        return self.rarity * self.diversity


def model_fingerprints(result: SubmissionResult) -> dict[str, dict]:
    """model name -> the fingerprint that best identifies it (probabilities before classes)."""
    chosen: dict[str, dict] = {}
    for part in result.parts:
        fingerprint = part.fingerprint
        if not fingerprint:
            continue
        name = part.model or part.id
        if name not in chosen or ("sketch" in fingerprint and "sketch" not in chosen[name]):
            chosen[name] = fingerprint
    return chosen


class ModelEvidence:
    """Groups of identical models in a class, per model."""

    def __init__(self, results: list[SubmissionResult], *, rare_up_to: int = 2,
                 tolerance: float = SKETCH_TOLERANCE):
        self.tolerance = tolerance
        self.threads = {r.learner: r.threads for r in results}
        by_model: dict[str, dict[str, dict]] = {}
        for result in results:
            if result.status != GRADED:
                continue
            for name, fingerprint in model_fingerprints(result).items():
                by_model.setdefault(name, {})[result.learner] = fingerprint
        self.models = list(by_model)
        self.groups: list[ModelGroup] = []
        self._group_of: dict[tuple[str, str], ModelGroup] = {}
        for name, fingerprints in by_model.items():
            clusters = _cluster(fingerprints, tolerance)
            diversity = len(clusters) / len(fingerprints)
            for members in clusters:
                group = ModelGroup(model=name, learners=sorted(members), among=len(fingerprints),
                                   diversity=diversity, rare_up_to=rare_up_to,
                                   threads=sorted({t for t in (self.threads.get(m) for m in members) if t}))
                for member in members:
                    self._group_of[(name, member)] = group
                if group.size > 1:
                    self.groups.append(group)
        self.groups.sort(key=lambda g: (-g.weight, g.model, g.learners))

    def shared(self, first: str, second: str) -> list[ModelGroup]:
        """The models two learners have in common (identical outputs)."""
        found = []
        for name in self.models:
            group = self._group_of.get((name, first))
            if group is not None and group is self._group_of.get((name, second)):
                found.append(group)
        return found

    def group(self, model: str, learner: str) -> ModelGroup | None:
        return self._group_of.get((model, learner))


def _cluster(fingerprints: dict[str, dict], tolerance: float) -> list[list[str]]:
    """Learners whose fingerprints are the same (transitively), by sorting on the first sketch value."""
    parent = {name: name for name in fingerprints}

    def root(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    sketched = sorted((f["sketch"][0], name) for name, f in fingerprints.items() if f.get("sketch"))
    for index, (value, name) in enumerate(sketched):
        for other_value, other in sketched[index + 1:]:
            if other_value - value > tolerance:
                break  # sorted: nothing further can be within the tolerance
            if same_outputs(fingerprints[name], fingerprints[other], tolerance=tolerance):
                parent[root(other)] = root(name)
    by_classes: dict[tuple, str] = {}
    for name, fingerprint in fingerprints.items():
        if fingerprint.get("sketch"):
            continue
        key = (fingerprint.get("rows"), fingerprint.get("classes"))
        if key in by_classes:
            parent[root(name)] = root(by_classes[key])
        else:
            by_classes[key] = name
    clusters: dict[str, list[str]] = {}
    for name in fingerprints:
        clusters.setdefault(root(name), []).append(name)
    return list(clusters.values())
