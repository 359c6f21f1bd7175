"""How far out a pair lies in its class, which pairs stand out and why, and the clusters they form.

Every pair of the class (and every learner with every corpus file) has a
*similarity* (:mod:`grader.similarity.code`).  Most pairs are honest: the
class's own pairs are the measure.  Its *typical pair* is the median
similarity, its *spread* the median absolute deviation around it (scaled as
a standard deviation); a pair lies ``(similarity - typical) / spread``
*spreads* out.  Short solutions and long ones are judged alike: a class whose
learners all write the same few lines has a high typical pair and a wide
spread, so sharing those lines is not far out.

A pair **stands out** when it lies at least ``stands_out`` spreads out, in a
class of up to :data:`REFERENCE_PAIRS` pairs.  The more pairs a class has, the
further out its closest honest pair lies by chance, and so does the mark:
``+ GROWTH * ln(pairs / REFERENCE_PAIRS)``, +1.7 spreads for every ten times
as many pairs (:data:`GROWTH`, measured: on the benchmark the closest honest
pair of a class lay 8.2 spreads out at 2,000 pairs, 10.4 at 20,000 and 12.1 at
460,000).  A pair also stands out from ``with_model`` spreads (grown alike)
when the two have the same rare model (:class:`grader.similarity.models.ModelGroup`
weight at least ``model_weight``): a copy keeps its model, which honest
learners who vary the model rarely share.  A shared model alone never marks a
pair.

Standing out is a mark on a ranked list, not a cut: the closest pairs are
listed whether or not they stand out, and every mark comes with a sentence
saying why.  Learners joined by pairs that stand out form clusters; three
learners or more, or two with a corpus file, are shown as a cluster.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from .code import CodeMatch
from .defaults import REPORT_DEFAULTS
from .documents import CORPUS
from .models import ModelGroup

REFERENCE_PAIRS = 2000   # the pairs of a class of about 60 with a corpus of a few files
GROWTH = 0.75            # spreads more per e-fold of pairs beyond REFERENCE_PAIRS (1.7 per tenfold)
MIN_SPREAD = 0.02        # a class whose pairs are all alike (or a class of three) still has a scale; below
#                          every spread of the benchmark's classes (0.027 to 0.042)


@dataclass(frozen=True)
class Thresholds:
    """When a pair stands out, and how many pairs are listed (``grader similarity`` options)."""

    # Defaults and meanings: grader.similarity.defaults (shared with the command line).
    stands_out: float = REPORT_DEFAULTS["stands_out"][0]     # spreads above the typical pair
    with_model: float = REPORT_DEFAULTS["with_model"][0]     # ... with a rare model in common
    model_weight: float = REPORT_DEFAULTS["model_weight"][0]  # a shared model is rare
    top: int = REPORT_DEFAULTS["top"][0]                     # closest pairs listed

    def __post_init__(self):
        from ..exceptions import SimilarityError

        for name in ("stands_out", "with_model"):
            if getattr(self, name) <= 0:
                raise SimilarityError(f"must be more than 0, got {getattr(self, name)}",
                                      option="--" + name.replace("_", "-"))
        if not 0 <= self.model_weight <= 1:
            raise SimilarityError(f"must be between 0 and 1, got {self.model_weight}", option="--model-weight")
        if self.top < 0:
            raise SimilarityError(f"must be 0 or more, got {self.top}", option="--top")


@dataclass(frozen=True)
class Distribution:
    """The class's pairs: how many, the typical pair, the spread, and from where a pair stands out."""

    pairs: int
    typical: float
    spread: float
    stands_out: float    # spreads, for this class's number of pairs
    with_model: float

    @classmethod
    def of(cls, similarities, thresholds: Thresholds) -> "Distribution":
        import numpy as np

        values = np.asarray(similarities, dtype=float)
        if len(values) == 0:
            return cls(0, 0.0, MIN_SPREAD, thresholds.stands_out, thresholds.with_model)
        typical = float(np.median(values))
        spread = max(MIN_SPREAD, 1.4826 * float(np.median(np.abs(values - typical))))
        more = GROWTH * max(0.0, math.log(len(values) / REFERENCE_PAIRS))
        return cls(len(values), typical, spread, thresholds.stands_out + more, thresholds.with_model + more)

    def spreads(self, similarity: float) -> float:
        """How far out a similarity lies: spreads above the typical pair."""
        return (similarity - self.typical) / self.spread

    def similarity_at(self, spreads: float) -> float:
        return self.typical + spreads * self.spread


@dataclass
class Pair:
    """Two learners, or a learner and a corpus file, and what they share."""

    first: str
    second: str
    second_kind: str               # learner | corpus
    code: CodeMatch
    spreads: float = 0.0
    models: list[ModelGroup] = field(default_factory=list)
    stands_out: bool = False
    why: str = ""                  # the sentence saying why it stands out
    cluster: int | None = None
    rank: int = 0                  # place among all the pairs of the class, closest first

    @property
    def similarity(self) -> float:
        return self.code.similarity

    @property
    def second_label(self) -> str:
        return f"corpus file {self.second}" if self.second_kind == CORPUS else self.second


def rare_models(pair: Pair, thresholds: Thresholds) -> list[ModelGroup]:
    return [group for group in pair.models if group.weight >= thresholds.model_weight]


def judge(pair: Pair, distribution: Distribution, thresholds: Thresholds) -> None:
    """Mark the pair when it stands out, with the sentence that says why."""
    pair.spreads = distribution.spreads(pair.similarity)
    rare = rare_models(pair, thresholds)
    if pair.spreads >= distribution.stands_out:
        pair.stands_out = True
    elif rare and pair.spreads >= distribution.with_model:
        pair.stands_out = True
    if pair.stands_out:
        pair.why = because(pair, distribution, rare)


def because(pair: Pair, distribution: Distribution, rare: list[ModelGroup]) -> str:
    """Why a pair stands out, in one sentence of measured facts (never a verdict)."""
    code = pair.code
    if pair.second_kind == CORPUS:
        shares = (f"{code.share_first:.0%} of {pair.first}'s code is in {pair.second_label}, and "
                  f"{code.share_second:.0%} of the file's in {pair.first}'s")
    else:
        shares = (f"{code.share_first:.0%} of {pair.first}'s code is in {pair.second}'s notebook, and "
                  f"{code.share_second:.0%} of {pair.second}'s in {pair.first}'s")
    parts = [shares]
    if code.unique and code.few > code.unique:
        parts.append(f"of the {code.shared} fingerprints they share, {code.unique} are in no other notebook "
                     f"and {code.few - code.unique} more in only one or two others")
    elif code.unique:
        parts.append(f"of the {code.shared} fingerprints they share, {code.unique} are in no other notebook")
    elif code.few:
        parts.append(f"of the {code.shared} fingerprints they share, {code.few} are in only one or two other "
                     f"notebooks")
    elif code.shared:
        parts.append(f"they share {code.shared} fingerprints, each in three other notebooks or more")
    parts.append(f"{pair.spreads:.1f} spreads above the class's typical pair (stands out from "
                 f"{distribution.stands_out:.1f})")
    sentence = "; ".join(parts)
    if rare:
        sentence += "; and the same " + " and ".join(
            f"{g.model} model ({g.size} of {g.among} learners)" for g in rare)
        if pair.spreads < distribution.stands_out:
            sentence += f", so {distribution.with_model:.1f} spreads suffice"
    return sentence[0].upper() + sentence[1:] + "."


@dataclass
class Cluster:
    """Learners joined by pairs that stand out (and corpus files matched by any of them)."""

    number: int
    learners: list[str]
    corpus: list[str] = field(default_factory=list)


def clusters(pairs: list[Pair]) -> list[Cluster]:
    """Connected groups of the pairs that stand out with three learners or more, or two learners and a
    corpus file.  Sets ``pair.cluster`` for the pairs of each group."""
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

    marked = [pair for pair in pairs if pair.stands_out]
    for pair in marked:
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
        for pair in marked:
            if pair.first in names:
                pair.cluster = number
    return groups
