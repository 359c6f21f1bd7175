"""Combined evidence: which pairs are reported, in which order, and the groups they form.

A pair of learners (or a learner and a corpus file) is reported when

* its **code score** (the larger share of either's own code found in the
  other, times the rarity of what they share:
  :class:`grader.similarity.code.CodeMatch`) reaches ``code`` (``corpus_code``
  against a corpus file), and what they share weighs at least ``min_weight``
  fingerprints (about a dozen lines of a learner's own code); or
* they share less than that but at least ``min_weight_short`` (weighed alike), and
  *both* shares in common reach ``code_short``: nearly all of each one's code is
  in the other.  The obvious solution is short and honest learners write it
  alike (real learners' notebooks measured 0.46-0.91 against each other with
  20-30 fingerprints), so short code needs to be all but identical both ways; or
* the share of code in common reaches ``code_with_model`` *and* the two share
  a model whose weight (rarity x diversity,
  :class:`grader.similarity.models.ModelGroup`) reaches ``model_weight``: a
  copy of common-looking code keeps its model, which honest learners who
  vary that model rarely share.

A shared model alone never reports a pair: honest learners who build the
obvious model get identical models (the groups are listed, with their size,
in the report's own section).  Pairs are ranked by their *evidence*: the code
score plus the weight of every model they share.  Learners joined by reported
pairs form clusters; a cluster of three or more, or learners matched to one
corpus file, is shown as a group.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .code import CodeMatch
from .defaults import THRESHOLD_DEFAULTS
from .documents import CORPUS
from .models import ModelGroup


@dataclass(frozen=True)
class Thresholds:
    """When a pair is reported (``grader similarity`` options; calibration: docs/instructor/similarity.md)."""

    # Defaults and meanings: grader.similarity.defaults (shared with the command line).
    code: float = THRESHOLD_DEFAULTS["code"][0]                        # reports a pair on its own
    code_with_model: float = THRESHOLD_DEFAULTS["code_with_model"][0]  # ... with a rare model
    model_weight: float = THRESHOLD_DEFAULTS["model_weight"][0]        # a shared model is rare
    corpus_code: float = THRESHOLD_DEFAULTS["corpus_code"][0]          # learner vs corpus file
    min_weight: float = THRESHOLD_DEFAULTS["min_weight"][0]            # shared code that counts
    code_short: float = THRESHOLD_DEFAULTS["code_short"][0]            # less shared code: nearly all
    min_weight_short: float = THRESHOLD_DEFAULTS["min_weight_short"][0]  # ... and at least this

    def __post_init__(self):
        from ..exceptions import SimilarityError

        for name in ("min_weight", "min_weight_short"):
            if getattr(self, name) < 0:
                raise SimilarityError(f"must be 0 or more, got {getattr(self, name)}",
                                      option="--" + name.replace("_", "-"))
        for name in ("code", "code_short", "code_with_model", "model_weight", "corpus_code"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise SimilarityError(f"must be between 0 and 1, got {value}",
                                      option="--" + name.replace("_", "-"))


@dataclass
class Pair:
    """Two learners, or a learner and a corpus file, and what they share."""

    first: str
    second: str
    second_kind: str               # learner | corpus
    code: CodeMatch | None
    models: list[ModelGroup] = field(default_factory=list)
    cluster: int | None = None

    @property
    def code_score(self) -> float:
        return self.code.score if self.code else 0.0

    @property
    def evidence(self) -> float:
        return self.code_score + sum(group.weight for group in self.models)

    @property
    def reasons(self) -> list[str]:
        reasons = [f"code {self.code_score:.2f} ({self.code.overlap:.0%} in common, rarity "
                   f"{self.code.rarity:.2f})"] if self.code_score else []
        reasons += [f"identical {g.model} model ({g.size} of {g.among} learners)" for g in self.models]
        return reasons


def reported(pair: Pair, thresholds: Thresholds) -> bool:
    """Whether the pair's evidence passes the thresholds (see the module docstring)."""
    code = pair.code
    if code is None:
        return False
    weight = code.shared * code.rarity  # shared fingerprints, those many learners have counting less
    if weight >= thresholds.min_weight:
        if code.score >= (thresholds.corpus_code if pair.second_kind == CORPUS else thresholds.code):
            return True
    elif weight >= thresholds.min_weight_short and \
            min(code.score_first, code.score_second) >= thresholds.code_short:
        return True
    if pair.second_kind == CORPUS:
        return False
    rare = any(group.weight >= thresholds.model_weight for group in pair.models)
    return rare and code.overlap >= thresholds.code_with_model


@dataclass
class Cluster:
    """Learners joined by reported pairs (and corpus files matched by any of them)."""

    number: int
    learners: list[str]
    corpus: list[str] = field(default_factory=list)


def clusters(pairs: list[Pair]) -> list[Cluster]:
    """Connected groups of the reported pairs with three members or more, or around a corpus file.

    Sets ``pair.cluster`` for the pairs of each group.
    """
    parent: dict[str, str] = {}

    def root(node: str) -> str:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    def key(pair: Pair) -> tuple[str, str]:
        second = ("corpus:" if pair.second_kind == CORPUS else "learner:") + pair.second
        return "learner:" + pair.first, second

    for pair in pairs:
        first, second = key(pair)
        parent[root(first)] = root(second)
    members: dict[str, list[str]] = {}
    for node in list(parent):
        members.setdefault(root(node), []).append(node)
    groups = []
    for nodes in members.values():
        learners = sorted(n.split(":", 1)[1] for n in nodes if n.startswith("learner:"))
        corpus = sorted(n.split(":", 1)[1] for n in nodes if n.startswith("corpus:"))
        if len(learners) >= 3 or (corpus and len(learners) >= 2):
            groups.append(Cluster(number=0, learners=learners, corpus=corpus))
    groups.sort(key=lambda c: (-len(c.learners), c.learners))
    for number, group in enumerate(groups, start=1):
        group.number = number
        names = set(group.learners)
        for pair in pairs:
            if pair.first in names:
                pair.cluster = number
    return groups
