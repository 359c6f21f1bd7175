"""Assignment and reference specifications: TOML files read into frozen dataclasses.

An assignment folder (``assignments/NAME/``) holds ``assignment.toml``: which
parts the assignment has, on which of the learner's objects they are measured,
which data the kernel needs.  Its reference folder (``reference/NAME/``) holds
``thresholds.toml``: per part, what passes and why.  Every field below has a
default and a one-line description (``metadata["doc"]``); an unknown key is an
error naming the key and the file, so a typo never silently changes a grade.
"""
from __future__ import annotations

import dataclasses
import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..exceptions import AssignmentNotFoundError, SpecError, UnknownKeyError

ASSIGNMENT_FILE = "assignment.toml"
THRESHOLDS_FILE = "thresholds.toml"


def _doc(text: str, default: Any = dataclasses.MISSING, factory: Any = dataclasses.MISSING):
    if factory is not dataclasses.MISSING:
        return field(default_factory=factory, metadata={"doc": text})
    return field(default=default, metadata={"doc": text})


@dataclass(frozen=True)
class KernelSpec:
    """How the learner's kernel is prepared before the first cell runs."""

    framework: str = _doc("'tensorflow' imports and seeds TensorFlow before the notebook; 'none' does not", "none")
    tf1_compat: bool = _doc("make `import tensorflow as tf` give the TF1 graph-mode API", False)
    seed: int = _doc("seed for Python, NumPy and TensorFlow (every graph) in every run", 0)
    cell_timeout: float = _doc("seconds one cell may run before it is interrupted", 600.0)
    notebook_budget: float = _doc("seconds the whole notebook may run before the kernel is stopped", 1800.0)
    measure_timeout: float = _doc("seconds one measurement request may take", 120.0)
    memory_mb: int = _doc("memory cap of the kernel and its children, in MB", 6144)
    max_processes: int = _doc("cap on the kernel's processes and threads", 256)
    keras: int | None = _doc("which Keras the notebook's `tf.keras` and `import keras` give: 3 (Keras 3) "
                             "or 2 (tf-keras, the legacy Keras 2); unset: 2 with tf1_compat, else 3", None)
    order: str = _doc("in which order the cells run: 'top-down' (every cell once, top to bottom) or "
                      "'as-run' (the learner's history as the saved execution counts record it: "
                      "earlier cells run again where the learner re-ran them); parts are measured "
                      "once either way, at their graded cell's own place", "top-down")


@dataclass(frozen=True)
class DataFile:
    """A data file the kernel and the harness read (for example a .npz archive)."""

    name: str = _doc("id of the data file, used by splits and by GRADER_DATA_<NAME>", "")
    file: str = _doc("file name in the kernel's working folder", "")
    url: str = _doc("official download address, used when no local copy exists", "")
    sha256: str = _doc("sha256 of the downloaded file", "")
    cache: str = _doc("where the usual tools cache the file (~ expanded)", "")
    arrays_sha256: dict = _doc("sha256 of each array's bytes, checked whatever the source", factory=dict)
    description: str = _doc("what the data is, for error messages", "")
    build: tuple = _doc("command (argument list) run in the assignment folder that writes the file when "
                        "no copy exists: {python} is the harness's Python, {out} the file to write; "
                        "the result is kept at cache", ())


@dataclass(frozen=True)
class Split:
    """A slice of a data file that parts are measured on."""

    name: str = _doc("id of the split (validation, test, ...)", "")
    data: str = _doc("id of the data file", "")
    x: str = _doc("array key of the inputs", "")
    y: str = _doc("array key of the labels (read by the harness only)", "")
    start: int = _doc("first row of the slice", 0)
    stop: int | None = _doc("row after the last one; none means to the end", None)
    scale: float = _doc("inputs are divided by this", 1.0)
    hidden: bool = _doc("never reveal values measured on this split to learners", False)
    noise: float = _doc("integrity check: inputs are also moved by +-noise and shuffled, and the "
                        "predictions must follow them; 0 disables it", 0.0)


@dataclass(frozen=True)
class Part:
    """One graded part: which objects it is measured on and how."""

    id: str = _doc("the part id the notebook passes to grader.set_answer", "")
    kind: str = _doc("how the part is measured: shapes, loss, accuracy, array, function or model "
                     "(the table in grader/judge/kinds.py)", "")
    description: str = _doc("one line the learner reads in the feedback", "")
    model: str = _doc("which model of the notebook the part concerns", "")
    points: float = _doc("points for passing the part", 1.0)
    objects: tuple = _doc("shapes: names of the objects whose static shapes are measured", ())
    extra_objects: tuple = _doc("shapes: objects a longer claimed string may also list", ())
    output: str = _doc("loss/accuracy: name of the tensor evaluated (probabilities or classes)", "")
    input: str = _doc("loss/accuracy: name of the placeholder fed with the split's inputs", "")
    session: str = _doc("loss/accuracy: name of the session variable; else the default session", "s")
    split: str = _doc("loss/accuracy/function/model: split the metric is measured on", "validation")
    report_on: tuple = _doc("loss/accuracy/function/model: other splits the same model is also measured "
                            "on and reported (not graded; hidden splits are not shown to learners)", ())
    object: str = _doc("array/function/model: name (a bare variable name of the notebook) of the "
                       "learner's array, of the function the harness calls on the split's inputs, or of "
                       "the Keras model exported and evaluated outside the kernel", "")
    metric: str = _doc("function/model: what the harness computes from the outputs against the split's "
                       "labels: accuracy (a class per row, or the highest of each row's scores), "
                       "cross_entropy (probabilities per row), top5_accuracy, mean_squared_error, "
                       "mean_absolute_error", "accuracy")


@dataclass(frozen=True)
class Threshold:
    """What passes for one part, and why (from thresholds.toml)."""

    part: str = _doc("part id", "")
    min: float | None = _doc("the measured value must be at least this", None)
    max: float | None = _doc("the measured value must be at most this", None)
    expected: tuple = _doc("shapes: accepted shapes per object, alternatives separated by |", ())
    claim_tolerance: float = _doc("claimed and measured may differ by this much before it is flagged", 0.0)
    expected_file: str = _doc("array: .npy file in the reference folder holding the expected array; "
                              "max is then the largest absolute difference allowed", "")
    reason: str = _doc("why this threshold: calibration, course text", "")
    # --- model parts: architecture rules, read from the model the evaluator loaded ---
    layers: tuple = _doc("model: the model's layer types in order, alternatives separated by | "
                         "(InputLayer, Flatten, Reshape, dropout, noise and activation layers are not "
                         "counted); empty: not checked", ())
    units: tuple = _doc("model: units (Dense) or filters (Conv) of each counted layer, 0 for any; as "
                        "many as layers", ())
    activations: tuple = _doc("model: activation of each counted layer, alternatives separated by |, * "
                              "for any (an activation layer right after a layer is that layer's "
                              "activation); as many as layers", ())
    min_params: int | None = _doc("model: the model must have at least this many parameters", None)
    max_params: int | None = _doc("model: the model must have at most this many parameters", None)
    input_shape: str = _doc("model: accepted shapes of one input (no batch dimension), dimensions "
                            "separated by spaces, alternatives by | (e.g. \"784 | 28 28\")", "")
    output_shape: str = _doc("model: accepted shapes of one output (no batch dimension), e.g. \"10\"",
                             "")


@dataclass(frozen=True)
class SubmissionPolicy:
    """When and how often learners may submit to ``grader serve`` ([submissions] in assignment.toml).

    Times are TOML date-times with their offset (``2026-12-20T23:59:00Z``); the service's clock
    at acceptance decides.  None of it is part of a measurement: changing a deadline never
    makes notebooks run again.
    """

    deadline: Any = _doc("on time until then (a TOML date-time with its offset, e.g. "
                         "2026-12-20T23:59:00Z); none: always on time", None)
    late_until: Any = _doc("after the deadline, late submissions are accepted until then; none: "
                           "refused after the deadline", None)
    late_penalty: float = _doc("fraction of the points taken off a late submission (0.2: 20 %)", 0.0)
    late_penalty_per_day: float = _doc("and this fraction more for each started day after the "
                                       "deadline (the penalty is at most 1)", 0.0)
    attempts: int = _doc("submissions accepted per learner; 0: no limit", 0)
    per_hour: int = _doc("rate limit: submissions per learner in any hour; 0: no limit", 0)
    min_interval_s: float = _doc("rate limit: seconds between two submissions of a learner", 0.0)
    counts: str = _doc("which graded submission of a learner counts: last or best (after any "
                       "late penalty)", "last")
    max_upload_mb: float = _doc("largest notebook upload accepted, in MB", 20.0)


@dataclass(frozen=True)
class Assignment:
    """An assignment: its folder, its parts, its data and its reference."""

    id: str = _doc("assignment id (the folder name)", "")
    title: str = _doc("title shown in reports", "")
    version: str = _doc("bumped when grading changes; part of every result", "1")
    course_key: str = _doc("the course platform's assignment key", "")
    template: str = _doc("the learner's template notebook, relative to the folder", "template.ipynb")
    helpers: str = _doc("folder of helper modules importable from the kernel", "helpers")
    solution: str = _doc("reference solution notebook, relative to the reference folder", "solution.ipynb")
    # --- one source notebook (grader author) ---
    source: str = _doc("the source notebook (the solution with ### BEGIN SOLUTION markers), relative to "
                       "the reference folder, that `grader author` turns into the template, the solution "
                       "and the weak samples; grader validate fails when they are stale", "")
    kernel: KernelSpec = _doc("kernel preparation", factory=KernelSpec)
    submissions: SubmissionPolicy = _doc("deadlines, late policy and limits of grader serve",
                                         factory=SubmissionPolicy)
    data: tuple = _doc("data files ([data.NAME] tables)", ())
    splits: tuple = _doc("splits ([splits.NAME] tables)", ())
    parts: tuple = _doc("graded parts ([[parts]] array)", ())
    thresholds: tuple = _doc("per-part thresholds from the reference folder", ())
    folder: Path = _doc("the assignment folder", Path("."))
    reference_folder: Path | None = _doc("the reference folder, when there is one", None)
    digest: str = _doc("sha256 over the spec files and helpers: changes when grading may change", "")
    measurement_digest: str = _doc("sha256 over what a measurement depends on (assignment.toml but "
                                   "its [submissions] table, helpers, expected arrays): a change means "
                                   "notebooks must run again", "")
    thresholds_digest: str = _doc("sha256 of thresholds.toml, the pass rules: a change alone is a "
                                  "rescore of stored measurements (grader rescore), not a re-run", "")

    def part(self, part_id: str) -> Part:
        for part in self.parts:
            if part.id == part_id:
                return part
        raise KeyError(part_id)

    def threshold(self, part_id: str) -> Threshold | None:
        for threshold in self.thresholds:
            if threshold.part == part_id:
                return threshold
        return None

    def data_file(self, name: str) -> DataFile:
        for data in self.data:
            if data.name == name:
                return data
        raise KeyError(name)

    def split(self, name: str) -> Split:
        for split in self.splits:
            if split.name == name:
                return split
        raise KeyError(name)

    @property
    def helpers_path(self) -> Path:
        return self.folder / self.helpers

    @property
    def template_path(self) -> Path:
        return self.folder / self.template

    @property
    def solution_path(self) -> Path | None:
        return self.reference_folder / self.solution if self.reference_folder else None

    @property
    def source_path(self) -> Path | None:
        """The source notebook of ``grader author``, when the assignment names one."""
        return self.reference_folder / self.source if self.reference_folder and self.source else None

    @property
    def weak_folder(self) -> Path | None:
        """Where ``grader author`` writes the weak samples of the source notebook."""
        return self.reference_folder / "weak" if self.reference_folder else None

    @property
    def max_points(self) -> float:
        return sum(part.points for part in self.parts)


def effective_keras(kernel: KernelSpec, tf1_compat: bool) -> int:
    """The Keras a kernel gives: ``kernel.keras``, or 2 with TF1 compatibility (tf.compat.v1.layers
    needs tf-keras), else 3."""
    if kernel.keras is not None:
        return int(kernel.keras)
    return 2 if tf1_compat else 3


def describe(cls) -> str:
    """One line per field of a spec dataclass: name, default, description."""
    lines = []
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        lines.append(f"{f.name} = {default!r}  # {f.metadata.get('doc', '')}")
    return "\n".join(lines)


# --- building dataclasses from TOML tables -------------------------------------------------

def _build(cls, table: dict, *, path: Path, where: str, extra: dict | None = None):
    """Build ``cls`` from a TOML table, rejecting keys that ``cls`` does not define."""
    known = {f.name: f for f in dataclasses.fields(cls)}
    values = dict(extra or {})
    for key, value in table.items():
        if key not in known or key in (extra or {}):
            raise UnknownKeyError(
                f"unknown key {key!r}; known keys: {', '.join(sorted(k for k in known if k not in (extra or {})))}",
                path=str(path), field=f"{where}.{key}" if where else key)
        if isinstance(value, list):
            value = tuple(value)
        values[key] = value
    try:
        return cls(**values)
    except TypeError as exc:  # pragma: no cover - only on a broken dataclass
        raise SpecError(str(exc), path=str(path), field=where) from exc


def _load_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise SpecError("file not found", path=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"not valid TOML: {exc}", path=str(path)) from None


def _folder_digest(paths: list[Path], *, spec: Path | None = None) -> str:
    """sha256 over files and folders; ``spec``: assignment.toml, without its [submissions] table
    (deadlines and limits are not part of a measurement)."""
    digest = hashlib.sha256()
    if spec is not None:
        digest.update(str(spec.name).encode())
        digest.update(_without_table(spec.read_bytes().decode("utf-8"), "submissions").encode())
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if "__pycache__" in file.parts:
                continue
            digest.update(str(file.name).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def read_assignment(folder: str | Path, *, reference_folder: str | Path | None = None) -> Assignment:
    """Read ``folder/assignment.toml`` and the reference thresholds beside it.

    Checks the files' structure (known keys, types, unique ids, splits and
    data named); whether each part's kind can grade it is checked by
    :func:`grader.assignments.load_assignment`, which the rest of the harness
    uses.  ``reference_folder`` defaults to ``<folder>/../../reference/<folder name>``
    when that exists.
    """
    folder = Path(folder).resolve()
    path = folder / ASSIGNMENT_FILE
    if not path.is_file():
        raise AssignmentNotFoundError(f"{folder} has no {ASSIGNMENT_FILE}")
    table = _load_toml(path)
    kernel = _build(KernelSpec, table.pop("kernel", {}), path=path, where="kernel")
    submissions = _build(SubmissionPolicy, table.pop("submissions", {}), path=path, where="submissions")
    data = tuple(
        _build(DataFile, value, path=path, where=f"data.{name}", extra={"name": name})
        for name, value in table.pop("data", {}).items())
    splits = tuple(
        _build(Split, value, path=path, where=f"splits.{name}", extra={"name": name})
        for name, value in table.pop("splits", {}).items())
    parts = tuple(
        _build(Part, value, path=path, where=f"parts[{index}]")
        for index, value in enumerate(table.pop("parts", [])))

    if reference_folder is None:
        candidate = folder.parent.parent / "reference" / folder.name
        reference_folder = candidate if candidate.is_dir() else None
    reference_folder = Path(reference_folder).resolve() if reference_folder else None
    thresholds: tuple = ()
    digest_paths = [path]
    expected_arrays: list[Path] = []
    thresholds_digest = ""
    if reference_folder is not None:
        thresholds_path = reference_folder / THRESHOLDS_FILE
        # A new assignment may have no thresholds yet: validate says which are missing, and
        # `grader calibrate --write` writes them.
        raw = _load_toml(thresholds_path).get("parts", {}) if thresholds_path.exists() else {}
        thresholds = tuple(
            _build(Threshold, value, path=thresholds_path, where=f"parts.{part_id}",
                   extra={"part": part_id})
            for part_id, value in raw.items())
        if thresholds_path.exists():
            digest_paths.append(thresholds_path)
            thresholds_digest = _folder_digest([thresholds_path])
        # Expected arrays are part of the pass rule: a new one may change grades.  They are
        # also what an array part's measurement (its largest difference) is taken against.
        expected_arrays = [reference_folder / t.expected_file for t in thresholds
                           if t.expected_file and (reference_folder / t.expected_file).is_file()]
        digest_paths += expected_arrays
    assignment = _build(Assignment, table, path=path, where="", extra={
        "id": str(table.pop("id", folder.name)), "kernel": kernel, "submissions": submissions, "data": data,
        "splits": splits, "parts": parts, "thresholds": thresholds, "folder": folder,
        "reference_folder": reference_folder, "digest": "", "measurement_digest": "",
        "thresholds_digest": ""})
    _check(assignment, path)
    helpers = assignment.helpers_path
    if helpers.exists():
        digest_paths.append(helpers)
    measured = [*expected_arrays] + ([helpers] if helpers.exists() else [])
    return dataclasses.replace(assignment, digest=_folder_digest(digest_paths),
                               measurement_digest=_folder_digest(measured, spec=path),
                               thresholds_digest=thresholds_digest)


def _without_table(text: str, name: str) -> str:
    """The TOML text without the top-level table ``name`` (its sub-tables, and the blank and comment
    lines just before its header, which belong to it), line by line."""
    kept, inside = [], False
    for line in text.splitlines(keepends=True):
        header = line.strip()
        if header.startswith("[["):
            inside = False
        elif header.startswith("["):
            inside = header[1:].split("]")[0].strip().split(".")[0] == name
            if inside:
                while kept and (not kept[-1].strip() or kept[-1].lstrip().startswith("#")):
                    kept.pop()
        if not inside:
            kept.append(line)
    return "".join(kept)


def _check_policy(policy: SubmissionPolicy, path: Path) -> None:
    import datetime

    for name in ("deadline", "late_until"):
        value = getattr(policy, name)
        if value is None:
            continue
        if not isinstance(value, datetime.datetime) or value.tzinfo is None:
            raise SpecError("a date-time with its offset, for example 2026-12-20T23:59:00Z or "
                            "2026-12-20T23:59:00+01:00 (the time zone decides the deadline)",
                            path=str(path), field=f"submissions.{name}")
    if policy.late_until is not None and policy.deadline is None:
        raise SpecError("late_until needs a deadline", path=str(path), field="submissions.late_until")
    if policy.late_until is not None and policy.late_until < policy.deadline:
        raise SpecError("late_until is before the deadline", path=str(path), field="submissions.late_until")
    for name in ("late_penalty", "late_penalty_per_day"):
        if not 0 <= getattr(policy, name) <= 1:
            raise SpecError("a fraction from 0 to 1", path=str(path), field=f"submissions.{name}")
    for name in ("attempts", "per_hour", "min_interval_s"):
        if getattr(policy, name) < 0:
            raise SpecError("0 (no limit) or more", path=str(path), field=f"submissions.{name}")
    if policy.counts not in ("last", "best"):
        raise SpecError("last or best", path=str(path), field="submissions.counts")
    if not policy.max_upload_mb > 0:
        raise SpecError("a size in MB above 0", path=str(path), field="submissions.max_upload_mb")


def _check(assignment: Assignment, path: Path) -> None:
    """Consistency checks that make a spec unusable when they fail."""
    _check_policy(assignment.submissions, path)
    if assignment.kernel.keras not in (None, 2, 3):
        raise SpecError(f"keras is 3 (Keras 3) or 2 (tf-keras), not {assignment.kernel.keras!r}",
                        path=str(path), field="kernel.keras")
    if assignment.kernel.order not in ("top-down", "as-run"):
        raise SpecError(f"top-down or as-run, got {assignment.kernel.order!r}", path=str(path),
                        field="kernel.order")
    for data in assignment.data:
        if data.build and not (isinstance(data.build, tuple)
                               and all(isinstance(arg, str) for arg in data.build)):
            raise SpecError("build is a list of strings (the command and its arguments)",
                            path=str(path), field=f"data.{data.name}.build")
        if data.build and not data.cache:
            raise SpecError("a data file with build needs cache: where the built file is kept",
                            path=str(path), field=f"data.{data.name}.cache")
    seen: set[str] = set()
    for index, part in enumerate(assignment.parts):
        where = f"parts[{index}]"
        if not part.id:
            raise SpecError("every part needs an id", path=str(path), field=where)
        if part.id in seen:
            raise SpecError(f"part id {part.id!r} appears twice", path=str(path), field=f"{where}.id")
        seen.add(part.id)
        for split in part.report_on:
            if split not in {s.name for s in assignment.splits}:
                raise SpecError(f"no split named {split!r}", path=str(path), field=f"{where}.report_on")
