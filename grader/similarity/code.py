"""Code evidence: winnowing fingerprints (copydetect) over tokens, an inverted index, shared fragments.

copydetect (MIT, https://github.com/blingenf/copydetect) does the matching as
MOSS does: pygments tokenises each document and replaces names by ``V``,
functions by ``F``, strings by ``S`` and drops comments and spaces, so renamed
variables, rewritten comments and reformatting do not hide a copy; k-grams of
that filtered text are hashed and winnowed into fingerprints; two documents'
shared fingerprints become copied slices mapped back to the original text.

What this module adds is what a class needs:

* **what was handed out is not evidence**: k-grams of the assignment's
  template are copydetect's boilerplate (and template lines were blanked
  before, :mod:`grader.similarity.documents`);
* **what many learners share is the assignment**: a fingerprint found in more
  than ``common_share`` of the class (and more than ``common_min`` learners) is
  dropped from every document, as MOSS's ``-m`` does, so that boilerplate from
  a course version we do not have is ignored too;
* **scale**: copydetect's detector compares every file with every other; here
  an inverted index from fingerprint to documents finds the pairs that share
  anything, and only those are compared (:meth:`CodeIndex.candidates`);
  tokenising, the costly step, runs on every core.
"""
from __future__ import annotations

import bisect
import os
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from .defaults import CODE_DEFAULTS
from .documents import BARRIER_DIGITS, CORPUS, LEARNER, Document

_BARRIER = re.compile(r"\d{%d,}" % BARRIER_DIGITS)


@dataclass(frozen=True)
class CodeSettings:
    """How code is fingerprinted and what counts as common (``grader similarity`` options)."""

    # Defaults and meanings: grader.similarity.defaults (shared with the command line).
    noise: int = CODE_DEFAULTS["noise"][0]                 # copydetect's noise threshold
    guarantee: int = CODE_DEFAULTS["guarantee"][0]         # copydetect's guarantee threshold
    common_share: float = CODE_DEFAULTS["common_share"][0]  # common: in more than this share ...
    common_min: int = CODE_DEFAULTS["common_min"][0]       # ... and more than this many learners
    min_shared: int = CODE_DEFAULTS["min_shared"][0]       # fingerprints shared to be compared
    rare_share: float = CODE_DEFAULTS["rare_share"][0]     # rare: in at most this share ...
    rare_min: int = CODE_DEFAULTS["rare_min"][0]           # ... or this many learners
    workers: int | None = None  # processes that tokenise (default: every core)

    def __post_init__(self):
        from ..exceptions import SimilarityError

        if self.noise < 5:
            raise SimilarityError(f"must be at least 5 (got {self.noise})", option="--noise")
        if self.guarantee < self.noise:
            raise SimilarityError(f"must be at least --noise ({self.noise}), got {self.guarantee}",
                                  option="--guarantee")
        if not 0 < self.rare_share <= 1:
            raise SimilarityError(f"must be in (0, 1], got {self.rare_share}", option="--rare-share")
        if self.rare_min < 2:
            raise SimilarityError(f"must be at least 2, got {self.rare_min}", option="--rare-min")
        if not 0 < self.common_share <= 1:
            raise SimilarityError(f"must be in (0, 1], got {self.common_share}", option="--common-share")
        if self.common_min < 2:
            raise SimilarityError(f"must be at least 2, got {self.common_min}", option="--common-min")
        if self.workers is not None and self.workers < 1:
            raise SimilarityError(f"must be at least 1, got {self.workers}", option="--workers")

    @property
    def window(self) -> int:
        return self.guarantee - self.noise + 1

    def common_above(self, learners: int) -> int:
        """A fingerprint found in more learners than this is common (the assignment, not a copy)."""
        return max(self.common_min, int(self.common_share * learners))

    def rare_up_to(self, learners: int) -> int:
        """A fingerprint found in at most this many learners weighs fully; more weigh less."""
        return max(self.rare_min, int(self.rare_share * learners))


@dataclass
class Span:
    """Lines of one code cell (1-based, inclusive) inside a shared fragment."""

    cell: int                # 0 for a .py file of the corpus (lines of the file)
    first: int
    last: int
    lines: list[str] = field(default_factory=list)


@dataclass
class Fragment:
    """One stretch of code found in both documents: where it is in each, and its text."""

    first: list[Span]
    second: list[Span]
    tokens: int = 0  # filtered characters of the stretch in the first document


@dataclass
class CodeMatch:
    """What two documents share after the template and common fragments are left out."""

    first: int                       # index of a document in the index
    second: int
    shared: int                      # fingerprints in common
    score_first: float = 0.0         # share of the first document's own code found in the second
    score_second: float = 0.0        # and the other way round (copydetect's similarities)
    rarity: float = 1.0              # how few other learners have the shared fingerprints (1: none)
    fragments: list[Fragment] = field(default_factory=list)

    @property
    def overlap(self) -> float:
        """The larger share: a learner who copied half of their notebook is still seen."""
        return max(self.score_first, self.score_second)

    @property
    def score(self) -> float:
        """The code evidence: the overlap, weighed by the rarity of what is shared."""
        return self.overlap * self.rarity


@dataclass
class Fingerprint:
    """One document's winnowed fingerprints, with what copydetect's comparison reads
    (``compare_files`` takes any object with these attributes)."""

    filtered_code: str
    offsets: object                  # copydetect's map from filtered to original positions
    raw_code: str
    k: int
    hashes: set = field(default_factory=set)
    hash_idx: dict = field(default_factory=dict)  # hash -> positions in the filtered code
    token_coverage: float = 0.0


def _kgram_hashes(filtered: str, k: int):
    """A hash of every k-gram of the filtered code: a polynomial over its characters.

    copydetect hashes k-grams with Python's ``hash()``, which differs between processes
    (PYTHONHASHSEED): the winnowed fingerprints, hence the scores, would change from one run of
    the report to the next.  This hash is the same everywhere; winnowing is copydetect's.
    """
    import numpy as np

    codes = np.frombuffer(filtered.encode("utf-32-le"), dtype="<u4").astype(np.uint64)
    if len(codes) < k:
        return np.zeros(0, dtype=np.int64)
    powers = np.power(np.uint64(1_000_003), np.arange(k - 1, -1, -1, dtype=np.uint64))
    windows = np.lib.stride_tricks.sliding_window_view(codes, k)
    return (windows * powers).sum(axis=1, dtype=np.uint64).view(np.int64)  # wraps modulo 2**64


def _winnowed(text: str, k: int, window: int):
    """copydetect's filter and winnowing of one text: (filtered, offsets, hashes, positions)."""
    from copydetect.utils import filter_code, winnow

    import numpy as np

    filtered, offsets = filter_code(text, "notebook.py", "python")
    hashes, positions = winnow(_kgram_hashes(filtered, k), window, remove_duplicates=False)
    # k-grams that touch a barrier (grader.similarity.documents.build_document) are nobody's code.
    touching = np.zeros(len(filtered) + 1, dtype=bool)
    for barrier in _BARRIER.finditer(filtered):
        touching[max(0, barrier.start() - k + 1):barrier.end()] = True
    keep = ~touching[positions]
    return filtered, offsets, hashes[keep], positions[keep]


def _winnow_all(texts: list[str], k: int, window: int, workers: int | None):
    workers = max(1, workers or os.cpu_count() or 1)
    if workers == 1 or len(texts) < 64:
        return [_winnowed(text, k, window) for text in texts]
    import concurrent.futures
    import functools

    with concurrent.futures.ProcessPoolExecutor(workers) as pool:
        return list(pool.map(functools.partial(_winnowed, k=k, window=window), texts,
                             chunksize=max(1, len(texts) // (workers * 8))))


def _fingerprint(document: Document, winnowed, k: int, boilerplate) -> Fingerprint:
    import numpy as np
    from copydetect.utils import get_token_coverage

    filtered, offsets, hashes, positions = winnowed
    if len(boilerplate):  # as copydetect's get_document_fingerprints drops boilerplate
        keep = ~np.isin(hashes, boilerplate)
        hashes, positions = hashes[keep], positions[keep]
    fingerprint = Fingerprint(filtered_code=filtered, offsets=offsets, raw_code=document.text, k=k)
    for value, position in zip(hashes.tolist(), positions.tolist()):
        fingerprint.hash_idx.setdefault(value, []).append(position)
    fingerprint.hashes = set(fingerprint.hash_idx)
    fingerprint.token_coverage = get_token_coverage(fingerprint.hash_idx, k, len(filtered))
    return fingerprint


class CodeIndex:
    """Fingerprints of a class (and a corpus), with the template and common fragments left out."""

    def __init__(self, documents: list[Document], *, template_text: str = "",
                 settings: CodeSettings = CodeSettings()):
        import numpy as np

        self.documents = documents
        self.settings = settings
        k = settings.noise
        # Every k-gram of the template, as copydetect builds boilerplate (window 1).
        boilerplate = np.unique(_winnowed(template_text, k, 1)[2]) if template_text.strip() \
            else np.zeros(0, dtype=np.int64)
        present = [i for i, d in enumerate(documents) if not d.empty]
        winnowed = _winnow_all([documents[i].text for i in present], k, settings.window, settings.workers)
        self.fingerprints = {i: _fingerprint(documents[i], w, k, boilerplate)
                             for i, w in zip(present, winnowed)}
        self.learners = sum(1 for d in documents if d.kind == LEARNER)
        learner_df = Counter()
        for i, fingerprint in self.fingerprints.items():
            if documents[i].kind == LEARNER:
                learner_df.update(fingerprint.hashes)
        self.common_above = settings.common_above(self.learners)
        self.common = {h for h, count in learner_df.items() if count > self.common_above}
        self.rare_up_to = settings.rare_up_to(self.learners)
        self.learner_df = learner_df
        if self.common:
            from copydetect.utils import get_token_coverage

            for fingerprint in self.fingerprints.values():
                fingerprint.hashes -= self.common
                for value in self.common.intersection(fingerprint.hash_idx):
                    del fingerprint.hash_idx[value]
                fingerprint.token_coverage = get_token_coverage(
                    fingerprint.hash_idx, settings.noise, len(fingerprint.filtered_code))

    def weight(self, value: int) -> float:
        """What one shared fingerprint weighs: 1 when at most ``rare_up_to`` learners have it,
        less the more learners have it (``rare_up_to / learners``)."""
        count = self.learner_df.get(value, 0)
        return 1.0 if count <= self.rare_up_to else self.rare_up_to / count

    def candidates(self, *, at_least: float = 0.0) -> dict[tuple[int, int], tuple[int, float]]:
        """(i, j) -> (fingerprints shared, their weight), for the learner-learner and learner-corpus
        pairs that share at least ``min_shared`` fingerprints and whose code score can reach
        ``at_least``: an inverted index, so that only documents that share something meet."""
        postings: dict[int, list[int]] = defaultdict(list)
        for i, fingerprint in self.fingerprints.items():
            for value in fingerprint.hashes:
                postings[value].append(i)
        shared: Counter = Counter()
        weighted: Counter = Counter()
        corpus = {i for i, d in enumerate(self.documents) if d.kind == CORPUS}
        for value, members in postings.items():
            if len(members) < 2:
                continue
            weight = self.weight(value)
            for position, i in enumerate(members):
                for j in members[position + 1:]:
                    if i in corpus and j in corpus:
                        continue
                    pair = (i, j) if i < j else (j, i)
                    shared[pair] += 1
                    weighted[pair] += weight
        sizes = {i: len(f.hashes) for i, f in self.fingerprints.items()}
        found = {}
        for (i, j), count in shared.items():
            # Shared fingerprints over the smaller document's bound the overlap copydetect finds.
            if count >= self.settings.min_shared and \
                    weighted[(i, j)] / max(1, min(sizes[i], sizes[j])) >= at_least:
                found[(i, j)] = (count, weighted[(i, j)])
        return found

    def compare(self, i: int, j: int, *, fragments: bool = True) -> CodeMatch:
        """copydetect's comparison of two documents, and their shared fragments side by side."""
        from copydetect import compare_files

        first, second = self.fingerprints[i], self.fingerprints[j]
        _, (score_first, score_second), _ = compare_files(first, second)
        common = first.hashes & second.hashes
        rarity = sum(self.weight(h) for h in common) / len(common) if common else 1.0
        match = CodeMatch(first=i, second=j, shared=len(common), score_first=float(score_first),
                          score_second=float(score_second), rarity=rarity)
        if fragments:
            match.fragments = self._fragments(i, j, common)
        return match

    # --- shared fragments, side by side ---------------------------------------------------------

    def _fragments(self, i: int, j: int, common: set) -> list[Fragment]:
        """Runs of shared fingerprints that follow each other in both documents."""
        first, second = self.fingerprints[i], self.fingerprints[j]
        k = self.settings.noise
        matches = sorted((x, y) for h in common for x in first.hash_idx[h][:4] for y in second.hash_idx[h][:4])
        runs: list[list[int]] = []  # [start1, end1, start2, end2, tokens]
        reach = k + self.settings.window
        for x, y in sorted(matches, key=lambda m: (m[1] - m[0], m[0])):
            run = runs[-1] if runs else None
            if run and abs((y - x) - (run[2] - run[0])) <= reach and x <= run[1] + reach \
                    and run[0] <= x:
                run[1], run[3] = max(run[1], x + k), max(run[3], y + k)
            else:
                runs.append([x, x + k, y, y + k])
        runs.sort()
        merged: list[list[int]] = []
        for run in runs:
            if merged and run[0] < merged[-1][1] and run[2] < merged[-1][3] and run[3] > merged[-1][2]:
                last = merged[-1]
                last[1], last[2], last[3] = max(last[1], run[1]), min(last[2], run[2]), max(last[3], run[3])
            else:
                merged.append(run)
        # One-to-one: code repeated in a notebook (a training loop pasted twice) matches each of its
        # copies in the other; keep, largest first, the matches whose places are not taken yet.
        chosen: list[list[int]] = []
        for run in sorted(merged, key=lambda r: r[0] - r[1]):
            if not any(run[0] < c[1] and c[0] < run[1] or run[2] < c[3] and c[2] < run[3] for c in chosen):
                chosen.append(run)
        fragments = []
        for start1, end1, start2, end2 in sorted(chosen):
            fragments.append(Fragment(
                first=self._spans(i, start1, end1), second=self._spans(j, start2, end2),
                tokens=end1 - start1))
        return fragments

    def _spans(self, index: int, start: int, end: int) -> list[Span]:
        """Filtered positions [start, end) as lines of code cells of the document."""
        import numpy as np

        fingerprint, document = self.fingerprints[index], self.documents[index]
        positions = np.array([start, end - 1])
        offsets = fingerprint.offsets
        if len(offsets) > 0:  # copydetect's own mapping from filtered to original positions
            positions = positions + offsets[:, 1][np.clip(np.searchsorted(offsets[:, 0], positions), 0,
                                                          offsets.shape[0] - 1)]
        starts = _line_starts(document)
        first_line = bisect.bisect_right(starts, int(positions[0])) - 1
        last_line = bisect.bisect_right(starts, int(positions[1])) - 1
        spans: list[Span] = []
        for line in range(first_line, last_line + 1):
            cell, number = document.place(line)
            if not document.kept[line]:
                continue  # a left-out line (template, magic), a barrier, an empty line
            if spans and spans[-1].cell == cell:
                spans[-1].last = number
            else:
                spans.append(Span(cell=cell, first=number, last=number))
        for span in spans:
            span.lines = document.sources[span.cell][span.first - 1:span.last]
            if not document.cells_numbered:
                span.cell = 0  # a .py file: its lines, no cells
        return spans


def _line_starts(document: Document) -> list[int]:
    cached = getattr(document, "_line_starts", None)
    if cached is None:
        cached, position = [], 0
        for line in document.text.split("\n"):
            cached.append(position)
            position += len(line) + 1
        document._line_starts = cached  # type: ignore[attr-defined]
    return cached
