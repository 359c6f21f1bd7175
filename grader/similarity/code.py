"""Code evidence: fingerprints of each notebook's own code, how rare each one is, what two notebooks share.

Fingerprints are MOSS's: the code is tokenised (pygments), normalised, cut
into k-grams that are hashed and *winnowed* (copydetect's ``winnow``,
https://github.com/blingenf/copydetect, MIT).  Two choices fit them to short
notebook solutions, measured on ``bench/bench_similarity_detection.py``:

* **the learner's own names are normalised, the library's are not**: every
  name becomes ``V`` except attributes (``tf.nn.relu``, ``.minimize``) and
  keyword arguments (``stddev=``, ``activation=``).  A rename does not hide a
  copy, and two learners who chose ``tf.nn.relu`` and ``tf.nn.elu`` did not
  write the same line (copydetect's own filter makes every name ``V``: in a
  solution of twenty short TensorFlow lines, most learners then "share" most
  lines);
* **every line of the learner's own code is a fingerprint too** (its
  normalised text, when at least :data:`LINE_MIN` characters long), so that
  lines put in another order, and cells merged or split, still match; k-grams
  run across line ends and are cut by such moves.

What was handed out is not evidence: k-grams and lines of the assignment's
template are left out (and template lines were blanked before,
:mod:`grader.similarity.documents`).

What many share is the assignment: every fingerprint *weighs* by how rare it
is among the notebooks compared (the class and the corpus): 1 when no other
notebook has it, ``log((n - 1) / (k - 1)) / log(n - 1)`` when ``k`` of the ``n``
notebooks have it, 0 when all do.  A notebook's *own code* is the weight of its
fingerprints; the *share* of A found in B is the weight A and B have in common
over A's own code (a copy holds all of its source: 100%).  The pair's
*similarity* is the mean of both shares, each over the notebook's own code
plus a typical learner's (the class's median), so that a few common lines
shared in full (the obvious solution, short) count less than a whole
solution shared.  Every pair of the class (and every learner with every corpus
file) is scored at once, as sparse matrix products.
"""
from __future__ import annotations

import bisect
import hashlib
import os
import re
from dataclasses import dataclass, field

from .defaults import CODE_DEFAULTS
from .documents import BARRIER_DIGITS, CORPUS, LEARNER, Document

_BARRIER = re.compile(r"\d{%d,}" % BARRIER_DIGITS)
LINE_MIN = 10      # a line of fewer normalised characters (``x = f(y)``) is no fingerprint of its own
COMMON_SHOWN = 0.5  # a shared fragment whose every fingerprint is in more than this share of the
#                     notebooks is the assignment: weighed (little), never shown as a fragment


@dataclass(frozen=True)
class CodeSettings:
    """How code is fingerprinted (``grader similarity`` options)."""

    # Defaults and meanings: grader.similarity.defaults (shared with the command line).
    noise: int = CODE_DEFAULTS["noise"][0]          # k: shortest shared fragment, normalised characters
    guarantee: int = CODE_DEFAULTS["guarantee"][0]  # fragments this long are always found
    workers: int | None = None  # processes that tokenise (default: every core)

    def __post_init__(self):
        from ..exceptions import SimilarityError

        if self.noise < 5:
            raise SimilarityError(f"must be at least 5 (got {self.noise})", option="--noise")
        if self.guarantee < self.noise:
            raise SimilarityError(f"must be at least --noise ({self.noise}), got {self.guarantee}",
                                  option="--guarantee")
        if self.workers is not None and self.workers < 1:
            raise SimilarityError(f"must be at least 1, got {self.workers}", option="--workers")

    @property
    def window(self) -> int:
        return self.guarantee - self.noise + 1


@dataclass
class Span:
    """Lines of one code cell (1-based, inclusive) inside a shared fragment."""

    cell: int                # 0 for a .py file of the corpus (lines of the file)
    first: int
    last: int
    lines: list[str] = field(default_factory=list)


@dataclass
class Fragment:
    """One stretch of code found in both notebooks: where it is in each, and how rare it is."""

    first: list[Span]
    second: list[Span]
    lines: int = 0        # lines of the first notebook's code in it
    others: int = 0       # other notebooks (class and corpus) that have its rarest fingerprint
    weight: float = 0.0   # the weight of its fingerprints


@dataclass
class CodeMatch:
    """What two notebooks share: both shares, the similarity, the fragments side by side."""

    first: int                      # index of a document in the index
    second: int
    shared: int = 0                 # fingerprints in common
    unique: int = 0                 # ... of which no other notebook of the class or corpus has
    few: int = 0                    # ... of which at most two other notebooks have (a cluster's)
    shared_weight: float = 0.0
    share_first: float = 0.0        # weighted share of the first's own code found in the second
    share_second: float = 0.0       # and the other way round
    similarity: float = 0.0
    fragments: list[Fragment] = field(default_factory=list)

    @property
    def overlap(self) -> float:
        """The larger share: a copy holds all of its source."""
        return max(self.share_first, self.share_second)


@dataclass
class Fingerprint:
    """One document's fingerprints: winnowed k-grams (positions in the normalised code) and lines."""

    filtered: str
    offsets: object                  # copydetect's map from normalised to original positions
    kgrams: dict = field(default_factory=dict)  # hash -> positions in the normalised code
    lines: dict = field(default_factory=dict)   # hash -> text lines (0-based)

    @property
    def hashes(self) -> set:
        return set(self.kgrams) | set(self.lines)


# --- tokens, k-grams, lines -------------------------------------------------------------------------

_LEXER = None


def normalise(text: str):
    """The code as fingerprints see it: ``(normalised, offsets, lines)``.

    As copydetect's ``filter_code`` (names ``V``, functions ``F``, classes ``O``, strings ``S``,
    comments and spaces dropped; ``offsets`` in its format, for mapping positions back), except
    that attributes and keyword-argument names are kept (module docstring).  ``lines`` is the
    normalised text of each line of ``text``.
    """
    global _LEXER
    import numpy as np
    from pygments import lexers, token

    if _LEXER is None:
        # stripnl=False: leading empty lines stay, so that positions map back to the right lines.
        _LEXER = lexers.PythonLexer(stripnl=False, ensurenl=False)
    names = (token.Name, token.Name.Variable, token.Name.Attribute)
    tokens = list(_LEXER.get_tokens(text))
    out: list[str] = []
    lines = [[] for _ in range(text.count("\n") + 1)]
    length = offset = depth = line = 0
    offsets = [[0, 0]]
    previous = ""
    for index, (kind, value) in enumerate(tokens):
        if kind in token.Text or (kind in token.Comment and kind not in (token.Comment.Preproc,
                                                                          token.Comment.Hashbang)):
            offsets.append([length - 1, offset])
            offset += len(value)
            line += value.count("\n")
            continue
        if value in ("(", "[", "{"):
            depth += 1
        elif value in (")", "]", "}"):
            depth = max(0, depth - 1)
        if kind in names:
            following = next((v for k, v in tokens[index + 1:index + 4] if k not in token.Text), "")
            keyword = depth > 0 and following == "=" and previous in ("(", ",")
            piece = value if previous == "." or keyword else "V"
        elif kind in token.Name.Function:
            piece = "F"
        elif kind in token.Name.Class:
            piece = "O"
        elif kind in (token.Comment.Preproc, token.Comment.Hashbang):
            piece = "P"
        elif kind in token.Literal.String:
            piece = '"' if value in ("'", '"') else "S"
        else:
            piece = value
        out.append(piece)
        length += len(piece)
        if piece != value:
            offsets.append([length - 1, offset])
            offset += len(value) - len(piece)
        lines[min(line, len(lines) - 1)].append(piece)
        line += value.count("\n")
        previous = value
    return "".join(out), np.array(offsets), ["".join(pieces) for pieces in lines]


def _kgram_hashes(filtered: str, k: int):
    """A hash of every k-gram of the normalised code: a polynomial over its characters.

    copydetect hashes k-grams with Python's ``hash()``, which differs between processes
    (PYTHONHASHSEED): the fingerprints, hence the scores, would change from one run of the
    report to the next.  This hash is the same everywhere; winnowing is copydetect's.
    """
    import numpy as np

    codes = np.frombuffer(filtered.encode("utf-32-le"), dtype="<u4").astype(np.uint64)
    if len(codes) < k:
        return np.zeros(0, dtype=np.int64)
    powers = np.power(np.uint64(1_000_003), np.arange(k - 1, -1, -1, dtype=np.uint64))
    windows = np.lib.stride_tricks.sliding_window_view(codes, k)
    return (windows * powers).sum(axis=1, dtype=np.uint64).view(np.int64)  # wraps modulo 2**64


def _line_hash(normalised: str) -> int:
    return int.from_bytes(hashlib.blake2b(normalised.encode(), digest_size=8).digest(), "little", signed=True)


def _fingerprints_of(text: str, kept: list[bool] | None, k: int, window: int):
    """(normalised, offsets, k-gram hashes, their positions, [(line hash, line)]) of one text."""
    from copydetect.utils import winnow

    import numpy as np

    filtered, offsets, lines = normalise(text)
    hashes, positions = winnow(_kgram_hashes(filtered, k), window, remove_duplicates=False)
    # k-grams that touch a barrier (grader.similarity.documents.build_document) are nobody's code.
    touching = np.zeros(len(filtered) + 1, dtype=bool)
    for barrier in _BARRIER.finditer(filtered):
        touching[max(0, barrier.start() - k + 1):barrier.end()] = True
    keep = ~touching[positions]
    line_hashes = [(_line_hash(normalised), number) for number, normalised in enumerate(lines)
                   if len(normalised) >= LINE_MIN and (kept is None or (number < len(kept) and kept[number]))]
    return filtered, offsets, hashes[keep], positions[keep], line_hashes


def _fingerprint_all(jobs: list[tuple[str, list[bool]]], k: int, window: int, workers: int | None):
    workers = max(1, workers or os.cpu_count() or 1)
    if workers == 1 or len(jobs) < 64:
        return [_fingerprints_of(text, kept, k, window) for text, kept in jobs]
    import concurrent.futures

    with concurrent.futures.ProcessPoolExecutor(workers) as pool:
        return list(pool.map(_fingerprints_of, *zip(*jobs), [k] * len(jobs), [window] * len(jobs),
                             chunksize=max(1, len(jobs) // (workers * 8))))


def template_fingerprints(template_text: str, k: int) -> set:
    """Every k-gram (window 1, as copydetect builds boilerplate) and every line of the template."""
    if not template_text.strip():
        return set()
    _, _, hashes, _, lines = _fingerprints_of(template_text, None, k, 1)
    return set(hashes.tolist()) | {value for value, _ in lines}


# --- the index ------------------------------------------------------------------------------------

@dataclass
class PairScores:
    """Every pair compared, as parallel arrays (positions in :attr:`CodeIndex.documents`)."""

    first: object       # numpy int arrays
    second: object
    similarity: object  # numpy float arrays

    def __len__(self) -> int:
        return len(self.first)


class CodeIndex:
    """Fingerprints of a class (and a corpus), their weights, and the scores of every pair."""

    def __init__(self, documents: list[Document], *, template_text: str = "",
                 settings: CodeSettings = CodeSettings()):
        import numpy as np

        self.documents = documents
        self.settings = settings
        k = settings.noise
        boilerplate = template_fingerprints(template_text, k)
        self.present = [i for i, d in enumerate(documents) if not d.empty]
        made = _fingerprint_all([(documents[i].text, documents[i].kept) for i in self.present], k,
                                settings.window, settings.workers)
        self.fingerprints: dict[int, Fingerprint] = {}
        for i, (filtered, offsets, hashes, positions, lines) in zip(self.present, made):
            fingerprint = Fingerprint(filtered=filtered, offsets=offsets)
            for value, position in zip(hashes.tolist(), positions.tolist()):
                if value not in boilerplate:
                    fingerprint.kgrams.setdefault(value, []).append(position)
            for value, line in lines:
                if value not in boilerplate:
                    fingerprint.lines.setdefault(value, []).append(line)
            self.fingerprints[i] = fingerprint
        self.learners = sum(1 for i in self.present if documents[i].kind == LEARNER)
        # Document frequency and weight of every fingerprint, over the notebooks compared.
        columns: dict[int, int] = {}
        rows, cols = [], []
        for row, i in enumerate(self.present):
            for value in self.fingerprints[i].hashes:
                rows.append(row)
                cols.append(columns.setdefault(value, len(columns)))
        self._columns = columns
        self._rows = np.array(rows, dtype=np.int64)
        self._cols = np.array(cols, dtype=np.int64)
        self.frequency = np.bincount(self._cols, minlength=len(columns))
        self.notebooks = len(self.present)
        self._row = {i: row for row, i in enumerate(self.present)}
        n = self.notebooks
        if n >= 3:
            self.weights = np.log((n - 1) / np.maximum(1, self.frequency - 1)) / np.log(n - 1)
        else:
            self.weights = np.ones(len(columns))
        self.own = np.bincount(self._rows, weights=self.weights[self._cols], minlength=n)
        learners_own = [self.own[row] for row, i in enumerate(self.present) if documents[i].kind == LEARNER]
        self.typical = float(np.median(learners_own)) if learners_own else float(np.median(self.own) if n else 0)

    def weight(self, value: int) -> float:
        return float(self.weights[self._columns[value]])

    def others(self, value: int) -> int:
        """Notebooks besides the two of a pair that have this (shared) fingerprint."""
        return int(self.frequency[self._columns[value]]) - 2

    def scores(self) -> PairScores:
        """The similarity of every learner-learner and learner-corpus pair, in one sparse product."""
        import numpy as np
        import scipy.sparse  # scikit-learn's own dependency

        n = self.notebooks
        if n < 2:
            return PairScores(np.zeros(0, int), np.zeros(0, int), np.zeros(0))
        matrix = scipy.sparse.csr_matrix((np.ones(len(self._rows)), (self._rows, self._cols)),
                                         shape=(n, len(self._columns)))
        shared = (matrix.multiply(self.weights[np.newaxis, :]).tocsr() @ matrix.T).toarray()
        first, second = np.triu_indices(n, 1)
        corpus = np.array([self.documents[i].kind == CORPUS for i in self.present])
        keep = ~(corpus[first] & corpus[second])
        first, second = first[keep], second[keep]
        common = shared[first, second]
        similarity = (common / (self.own[first] + self.typical) + common / (self.own[second] + self.typical)) / 2
        index = np.array(self.present)
        return PairScores(first=index[first], second=index[second], similarity=similarity)

    def compare(self, i: int, j: int, *, fragments: bool = True) -> CodeMatch:
        """What two documents share, their shares and similarity, and the fragments side by side."""
        first, second = self.fingerprints[i], self.fingerprints[j]
        common = first.hashes & second.hashes
        weight = sum(self.weight(h) for h in common)
        own_i, own_j = float(self.own[self._row[i]]), float(self.own[self._row[j]])
        match = CodeMatch(first=i, second=j, shared=len(common),
                          unique=sum(1 for h in common if self.others(h) == 0),
                          few=sum(1 for h in common if self.others(h) <= 2), shared_weight=weight,
                          share_first=weight / own_i if own_i else 0.0,
                          share_second=weight / own_j if own_j else 0.0,
                          similarity=(weight / (own_i + self.typical) + weight / (own_j + self.typical)) / 2)
        if fragments:
            match.fragments = self._fragments(i, j, common)
        return match

    # --- shared fragments, side by side -----------------------------------------------------------

    def _fragments(self, i: int, j: int, common: set) -> list[Fragment]:
        """Stretches of lines matched in both documents, one-to-one, largest first in the list."""
        pairs: dict[tuple[int, int], set] = {}
        for value in common:
            for a_first, a_last in self._line_ranges(i, value)[:4]:
                for b_first, b_last in self._line_ranges(j, value)[:4]:
                    for step in range(max(a_last - a_first, b_last - b_first) + 1):
                        key = (min(a_first + step, a_last), min(b_first + step, b_last))
                        pairs.setdefault(key, set()).add(value)
        # Matched lines that follow each other in both documents (a gap of a blank or left-out line
        # or two allowed) form one fragment.
        parent = {key: key for key in pairs}

        def root(key):
            while parent[key] != key:
                parent[key] = parent[parent[key]]
                key = parent[key]
            return key

        for a, b in pairs:
            for da in range(0, 3):
                for db in range(0, 3):
                    near = (a + da, b + db)
                    if (da or db) and abs(da - db) <= 1 and near in parent:
                        parent[root(near)] = root((a, b))
        groups: dict[tuple[int, int], list[tuple[int, int]]] = {}
        for key in pairs:
            groups.setdefault(root(key), []).append(key)
        runs = []
        for keys in groups.values():
            values = set().union(*(pairs[key] for key in keys))
            runs.append((min(a for a, _ in keys), max(a for a, _ in keys), min(b for _, b in keys),
                         max(b for _, b in keys), values))
        # One-to-one: code repeated in a notebook (a training loop pasted twice) matches each of its
        # copies in the other; keep, largest first, the runs whose lines are not taken yet.
        chosen = []
        for run in sorted(runs, key=lambda r: (-(r[1] - r[0] + r[3] - r[2]), r[0], r[2])):
            if not any(run[0] <= c[1] and c[0] <= run[1] or run[2] <= c[3] and c[2] <= run[3] for c in chosen):
                chosen.append(run)
        fragments = []
        limit = COMMON_SHOWN * self.notebooks
        for a_first, a_last, b_first, b_last, values in sorted(chosen):
            rarest = min(self.others(v) for v in values)
            if rarest + 2 > max(2.0, limit):
                continue  # only fragments most notebooks have: the assignment
            first_spans, second_spans = self._spans(i, a_first, a_last), self._spans(j, b_first, b_last)
            if not first_spans or not second_spans:
                continue
            fragments.append(Fragment(first=first_spans, second=second_spans,
                                      lines=sum(s.last - s.first + 1 for s in first_spans), others=rarest,
                                      weight=sum(self.weight(v) for v in values)))
        return fragments

    def _line_ranges(self, index: int, value: int) -> list[tuple[int, int]]:
        """The text lines (first, last; 0-based) where a fingerprint is in a document: a line
        fingerprint's line, a k-gram's middle line (a k-gram across a line's end is the line it
        mostly covers; its neighbour may be another line in the other document)."""
        import numpy as np

        fingerprint, document = self.fingerprints[index], self.documents[index]
        ranges = [(line, line) for line in fingerprint.lines.get(value, [])]
        positions = fingerprint.kgrams.get(value)
        if positions:
            middles = np.array(positions[:4]) + self.settings.noise // 2
            offsets = fingerprint.offsets
            if len(offsets) > 0:  # copydetect's own mapping from normalised to original positions
                middles = middles + offsets[:, 1][np.clip(np.searchsorted(offsets[:, 0], middles), 0,
                                                          offsets.shape[0] - 1)]
            starts = _line_starts(document)
            ranges += [(line, line) for line in (bisect.bisect_right(starts, int(p)) - 1 for p in middles)]
        return ranges

    def _spans(self, index: int, first_line: int, last_line: int) -> list[Span]:
        """Text lines [first_line, last_line] as lines of code cells of the document."""
        document = self.documents[index]
        spans: list[Span] = []
        for line in range(max(0, first_line), min(last_line, len(document.kept) - 1) + 1):
            if not document.kept[line]:
                continue  # a left-out line (template, magic), a barrier, an empty line
            cell, number = document.place(line)
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
