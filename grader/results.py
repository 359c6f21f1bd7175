"""What a grading produces: one result per part, one per submission.

The JSON form is versioned (``schema_version``) and described by the JSON
Schema in ``grader/schema/result.schema.json``; ``to_json`` / ``from_json``
round-trip it.  A learner who fails is data here: every outcome, including a
notebook that could not be graded at all, is a :class:`SubmissionResult`.
"""
from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).parent / "schema" / "result.schema.json"

# Part statuses.
PASSED = "passed"      # measured and within the threshold
FAILED = "failed"      # measured and outside the threshold
ERROR = "error"        # could not be measured (undefined object, exception, kernel died, timeout)
MISSING = "missing"    # the notebook has no graded cell for the part

# Submission statuses.
GRADED = "graded"            # the notebook ran (possibly with errors) and every part has a verdict
UNGRADABLE = "ungradable"    # not a notebook, corrupt, or the kernel could not run it at all
GRADER_ERROR = "grader-error"  # a fault of the grader or the machine, not of the notebook: never a
                               # grade; the next run of the same batch grades it again


@dataclass
class CellError:
    """An exception raised by one cell of the re-run."""

    cell: int                 # 1-based number among the notebook's code cells
    ename: str
    evalue: str
    traceback: str = ""       # ANSI colours stripped
    source: str = ""          # the cell's source
    # --- order policy ---
    again: bool = False       # raised when the cell ran again (the as-run order), not at its own place
    # The learner's own lines in the traceback and in TensorFlow's "defined at" stack, which is
    # all a learner is shown of them: [{"cell": n, "line": k, "code": text, "role": "raised" |
    # "defined"}] (grader.kernel.errortext.own_frames); the traceback keeps the rest.
    frames: list = field(default_factory=list)

    @classmethod
    def from_reply(cls, *, cell: int, content: dict, source: str = "") -> "CellError":
        """Build from an execute_reply (or error output) content."""
        from .textutil import stable_text, strip_ansi

        return cls(cell=cell, ename=str(content.get("ename", "Error")),
                   evalue=stable_text(strip_ansi(str(content.get("evalue", "")))),
                   traceback=strip_ansi("\n".join(content.get("traceback", []))),
                   source=source)

    def headline(self) -> str:
        """``ename: message`` in one line; for TensorFlow, the line that names the cause."""
        from .kernel.errortext import error_cause, is_tensorflow_message

        evalue = self.evalue.strip()
        if is_tensorflow_message(evalue):
            # "Graph execution error: ..." says nothing: quote the cause and the operation.
            evalue = error_cause(evalue)
        lines = evalue.splitlines()
        if len(lines) > 2 or len(evalue) > 300:  # protobuf dumps and the like: keep the gist
            evalue = " ".join(lines[:2])[:300] + " …"
        evalue = evalue.rstrip(".")
        return f"{self.ename}: {evalue}" if evalue else self.ename

    def summary(self) -> str:
        again = " (run again)" if self.again else ""
        return f"cell {self.cell}{again} raised {self.headline()}"


@dataclass
class PartResult:
    """The verdict on one graded part."""

    id: str
    description: str = ""
    kind: str = ""
    model: str = ""
    status: str = MISSING
    points: float = 0.0
    max_points: float = 1.0
    claimed: Any = None         # what the notebook passed to set_answer (JSON), or None
    measured: Any = None        # what the harness measured, or None
    threshold: str = ""         # human-readable rule, e.g. ">= 0.92"
    message: str = ""           # what went wrong, where, what to do
    cell: int | None = None     # code cell the part was measured after
    claim_mismatch: bool = False
    hidden: bool = False        # measured on hidden data: not shown to learners
    integrity: str = ""         # for instructors: did the predictions follow the inputs?
    reported: dict = field(default_factory=dict)  # split -> {"value", "hidden"}: measured, not graded
    # What the pass rule judged besides `measured` and `claimed` (shapes per object, an array's
    # worst index), so that `grader rescore` judges again without running the notebook; None when
    # no pass rule applied (not measured, missing, unusable output). Never labels.
    evidence: dict | None = None
    fingerprint: dict | None = None  # instructors only: the model's outputs summarised
                                     # (grader.judge.fingerprint), for the similarity report
    # --- order policy ---
    advice: str = ""            # what to change, from the order the cells ran in (which cell, what to
                                # do); also at the end of `message`, and kept by a rescore


@dataclass
class SubmissionResult:
    """The verdict on one submitted notebook."""

    learner: str
    assignment: str
    assignment_version: str = "1"
    assignment_digest: str = ""
    harness_version: str = ""
    submission: str = ""             # file name as submitted
    submission_sha256: str = ""
    status: str = GRADED
    reason: str = ""                 # why the notebook could not be (fully) graded
    total: float = 0.0
    max_total: float = 0.0
    started_at: str = ""
    duration_s: float = 0.0
    sandbox: str = "off"
    limits: str = ""                 # how memory/process caps were enforced
    timings: dict = field(default_factory=dict)  # seconds: kernel_start, agent_install, cells, measure, total
    peak_memory_mb: float | None = None
    evaluator_peak_memory_mb: float | None = None  # the process that ran the exported models
    seed: int = 0
    threads: int | None = None       # CPU threads of the kernel (TensorFlow, BLAS): model outputs are
                                     # bit-identical only under the same count
    keras: str = ""                  # the Keras tf.keras and `import keras` gave in the kernel
                                     # ("keras 3.15.1", "tf-keras 2.21.0"); "" without TensorFlow
    grading_key: str = ""            # digest of submission, assignment, harness and options
    measurement_digest: str = ""     # Assignment.measurement_digest the notebook was measured with
    thresholds_digest: str = ""      # Assignment.thresholds_digest its parts were judged with
    parts: list[PartResult] = field(default_factory=list)
    errors: list[CellError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # --- order policy ---
    # The runs, in order (grader.run.schedule): {"order", "cells": [code cell numbers], "again":
    # [positions in cells that were re-runs], "text": one line}; with compare_orders, "clean_run":
    # {"order": "top-down", "parts": {id: status}, "total"}.  Empty when nothing ran.
    schedule: dict = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    @property
    def passed(self) -> bool:
        return self.status == GRADED and all(p.status == PASSED for p in self.parts)

    def part(self, part_id: str) -> PartResult:
        for part in self.parts:
            if part.id == part_id:
                return part
        raise KeyError(part_id)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, allow_nan=False,
                          default=_json_default)

    @classmethod
    def from_dict(cls, data: dict) -> "SubmissionResult":
        data = dict(data)
        data["parts"] = [PartResult(**p) for p in data.get("parts", [])]
        data["errors"] = [CellError(**e) for e in data.get("errors", [])]
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> "SubmissionResult":
        return cls.from_dict(json.loads(text))


def _json_default(value):
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def load_schema() -> dict:
    """The JSON Schema of a result file."""
    return json.loads(SCHEMA_PATH.read_text())


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` so that readers see the old file or the new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_results(out: str | Path) -> list[SubmissionResult]:
    """Every readable result file of ``out/results``, in file-name order (none when it is missing).

    Files that are not results (hidden files, unreadable or foreign JSON) are skipped.
    """
    results = []
    for path in sorted((Path(out) / "results").glob("*.json")):
        if path.name.startswith("."):
            continue
        try:
            results.append(SubmissionResult.from_json(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError, KeyError):
            continue
    return results
