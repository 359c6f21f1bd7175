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
import io
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from .documents import CORPUS, LEARNER, Document


@dataclass(frozen=True)
class CodeSettings:
    """How code is fingerprinted and what counts as common (``grader similarity`` options)."""

    noise: int = 25            # shortest match that counts, in filtered characters (copydetect's noise_t)
    guarantee: int = 30        # matches this long are always found (copydetect's guarantee_t)
    common_share: float = 0.1  # a fragment in more than this share of the learners is common ...
    common_min: int = 5        # ... when that is also more than this many learners (MOSS -m)
    min_shared: int = 3        # fingerprints two documents must share to be compared at all
    workers: int | None = None  # processes that tokenise (default: every core)

    @property
    def window(self) -> int:
        return self.guarantee - self.noise + 1

    def common_above(self, learners: int) -> int:
        """A fingerprint found in more learners than this is common (the assignment, not a copy)."""
        return max(self.common_min, int(self.common_share * learners))


@dataclass
class Span:
    """Lines of one code cell (1-based, inclusive) inside a shared fragment."""

    cell: int
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
    score_second: float = 0.0        # and the other way round
    exclusive: float = 0.0           # share of the common fingerprints found in no other learner
    fragments: list[Fragment] = field(default_factory=list)

    @property
    def score(self) -> float:
        """The larger share: a learner who copied half of their notebook is still seen."""
        return max(self.score_first, self.score_second)


def _tokenise(text: str):
    """copydetect's filter: (filtered text, offsets mapping filtered positions back to the text)."""
    from copydetect.utils import filter_code

    filtered, offsets = filter_code(text, "notebook.py", "python")
    return filtered, offsets


def _tokenise_all(texts: list[str], workers: int | None):
    workers = max(1, workers or os.cpu_count() or 1)
    if workers == 1 or len(texts) < 64:
        return [_tokenise(text) for text in texts]
    import concurrent.futures
    import multiprocessing

    # Tokens (not hashes) cross the process boundary: copydetect hashes with Python's hash(),
    # which differs between processes, so every hash is computed here, in one process.
    context = multiprocessing.get_context("fork") if "fork" in multiprocessing.get_all_start_methods() \
        else None
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
        return list(pool.map(_tokenise, texts, chunksize=max(1, len(texts) // (workers * 8))))


def _fingerprint(document: Document, tokens, settings: CodeSettings, boilerplate):
    from copydetect import CodeFingerprint
    from copydetect.utils import get_token_coverage

    filtered, offsets = tokens
    fingerprint = CodeFingerprint(document.name, settings.noise, settings.window, boilerplate=boilerplate,
                                  filter=False, fp=io.StringIO(filtered))
    fingerprint.raw_code, fingerprint.offsets = document.text, offsets
    fingerprint.token_coverage = get_token_coverage(fingerprint.hash_idx, settings.noise, len(filtered))
    return fingerprint


class CodeIndex:
    """Fingerprints of a class (and a corpus), with the template and common fragments left out."""

    def __init__(self, documents: list[Document], *, template_text: str = "",
                 settings: CodeSettings = CodeSettings()):
        import numpy as np
        from copydetect import CodeFingerprint

        self.documents = documents
        self.settings = settings
        template_tokens = _tokenise(template_text)[0] if template_text.strip() else ""
        # Every k-gram of the template, as copydetect builds boilerplate (window 1).
        boilerplate = np.array(sorted(CodeFingerprint(
            "template.py", settings.noise, 1, filter=False, fp=io.StringIO(template_tokens)).hashes)) \
            if template_tokens else np.array([])
        present = [i for i, d in enumerate(documents) if not d.empty]
        tokens = _tokenise_all([documents[i].text for i in present], settings.workers)
        self.fingerprints = {i: _fingerprint(documents[i], t, settings, boilerplate)
                             for i, t in zip(present, tokens)}
        self.learners = sum(1 for d in documents if d.kind == LEARNER)
        learner_df = Counter()
        for i, fingerprint in self.fingerprints.items():
            if documents[i].kind == LEARNER:
                learner_df.update(fingerprint.hashes)
        self.common_above = settings.common_above(self.learners)
        self.common = {h for h, count in learner_df.items() if count > self.common_above}
        self.learner_df = learner_df
        if self.common:
            from copydetect.utils import get_token_coverage

            for fingerprint in self.fingerprints.values():
                fingerprint.hashes -= self.common
                for value in self.common.intersection(fingerprint.hash_idx):
                    del fingerprint.hash_idx[value]
                fingerprint.token_coverage = get_token_coverage(
                    fingerprint.hash_idx, settings.noise, len(fingerprint.filtered_code))

    def candidates(self) -> Counter:
        """(i, j) -> fingerprints shared, for every learner-learner and learner-corpus pair sharing
        at least ``min_shared`` (an inverted index: only documents that share something meet)."""
        postings: dict[int, list[int]] = defaultdict(list)
        for i, fingerprint in self.fingerprints.items():
            for value in fingerprint.hashes:
                postings[value].append(i)
        shared: Counter = Counter()
        kinds = [d.kind for d in self.documents]
        for members in postings.values():
            if len(members) < 2:
                continue
            for position, i in enumerate(members):
                for j in members[position + 1:]:
                    if kinds[i] == CORPUS and kinds[j] == CORPUS:
                        continue
                    shared[(i, j) if i < j else (j, i)] += 1
        return Counter({pair: n for pair, n in shared.items() if n >= self.settings.min_shared})

    def compare(self, i: int, j: int, *, shared: int = 0, fragments: bool = True) -> CodeMatch:
        """copydetect's comparison of two documents, and their shared fragments side by side."""
        from copydetect import compare_files

        first, second = self.fingerprints[i], self.fingerprints[j]
        _, (score_first, score_second), _ = compare_files(first, second)
        common = first.hashes & second.hashes
        # Shared with nobody else in the class: a corpus document does not count as a learner.
        learners_in_pair = sum(1 for k in (i, j) if self.documents[k].kind == LEARNER)
        exclusive = sum(1 for h in common if self.learner_df[h] <= learners_in_pair)
        match = CodeMatch(first=i, second=j, shared=shared or len(common),
                          score_first=float(score_first), score_second=float(score_second),
                          exclusive=exclusive / len(common) if common else 0.0)
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
        fragments = []
        for start1, end1, start2, end2 in merged:
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
            if number > len(document.sources.get(cell, [])):
                continue  # the empty line between two cells
            if spans and spans[-1].cell == cell:
                spans[-1].last = number
            else:
                spans.append(Span(cell=cell, first=number, last=number))
        for span in spans:
            span.lines = document.sources[span.cell][span.first - 1:span.last]
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
