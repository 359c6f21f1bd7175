"""Calibrate thresholds: run the reference solution under several seeds.

Thresholds are a human decision, but it must be an informed one: every seed
of the reference solution has to pass with a margin, and deliberately weak
models have to fail.  :func:`calibrate` measures both and writes
``calibration.json`` beside ``thresholds.toml``.
"""
from __future__ import annotations

import json
import statistics
from dataclasses import replace
from pathlib import Path
from typing import Callable

from ..specs.data import resolve_all
from ..orchestrate import GradeOptions, grade_notebook
from ..results import SubmissionResult, write_atomic
from ..specs.model import Assignment


def _numeric(value):
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def calibrate(assignment: Assignment, *, seeds: list[int], weak: list[Path] = (),
              options: GradeOptions = GradeOptions(), write: bool = True,
              progress: Callable[[str], None] | None = None) -> dict:
    """Grade the solution once per seed and each weak notebook once; summarise per part."""
    solution = assignment.solution_path
    if solution is None or not solution.is_file():
        from ..exceptions import SpecError

        raise SpecError("the reference folder has no solution notebook to calibrate with",
                        path=str(assignment.reference_folder or assignment.folder), field="solution")
    data_paths = resolve_all(assignment, explicit=options.data)
    runs = run_seeds(solution, assignment=assignment, seeds=seeds, options=options,
                     data_paths=data_paths, progress=progress)
    weak_runs = []
    for notebook in weak:
        if progress:
            progress(f"weak model {Path(notebook).name}")
        weak_runs.append(grade_notebook(notebook, assignment=assignment, options=options,
                                        data_paths=data_paths))
    report = summarise(assignment, runs, weak_runs)
    if write and assignment.reference_folder is not None:
        write_atomic(assignment.reference_folder / "calibration.json", json.dumps(report, indent=2) + "\n")
    return report


def run_seeds(notebook: Path, *, assignment: Assignment, seeds: list[int],
              options: GradeOptions = GradeOptions(), data_paths: dict | None = None,
              progress: Callable[[str], None] | None = None) -> list[SubmissionResult]:
    """Grade ``notebook`` once per seed (the result's ``seed`` says which)."""
    results = []
    for seed in seeds:
        if progress:
            progress(f"{Path(notebook).name}, seed {seed}")
        results.append(grade_notebook(notebook, assignment=assignment,
                                      options=replace(options, seed=seed), data_paths=data_paths))
    return results


def summarise(assignment: Assignment, solution_runs: list[SubmissionResult],
              weak_runs: list[SubmissionResult] = ()) -> dict:
    """Per part: min / mean / max / spread over the solution's seeds, margin, weak models' verdicts."""
    runs = [{"seed": r.seed, "duration_s": r.duration_s, "status": r.status, "reason": r.reason,
             "parts": {p.id: {"measured": p.measured, "status": p.status, "message": p.message}
                       for p in r.parts}} for r in solution_runs]
    weak = [{"notebook": r.submission,
             "parts": {p.id: {"measured": p.measured, "status": p.status} for p in r.parts}}
            for r in weak_runs]
    summary = {}
    for part in assignment.parts:
        values = [_numeric(run["parts"][part.id]["measured"]) for run in runs]
        values = [v for v in values if v is not None]
        entry = {"kind": part.kind, "passed_every_seed": bool(runs) and all(
            run["parts"][part.id]["status"] == "passed" for run in runs)}
        threshold = assignment.threshold(part.id)
        if values:
            entry.update(min=min(values), max=max(values), mean=statistics.fmean(values),
                         spread=max(values) - min(values),
                         stdev=statistics.stdev(values) if len(values) > 1 else 0.0)
            if threshold is not None and threshold.min is not None:
                entry["threshold"] = f">= {threshold.min:g}"
                entry["margin"] = min(values) - threshold.min
            if threshold is not None and threshold.max is not None:
                entry["threshold"] = f"<= {threshold.max:g}"
                entry["margin"] = threshold.max - max(values)
        # Weak models must fail the parts that measure model quality; shapes say nothing of it.
        entry["weak_models_fail"] = {} if part.kind == "shapes" else {
            w["notebook"]: w["parts"][part.id]["status"] != "passed" for w in weak}
        entry["weak_measured"] = {w["notebook"]: w["parts"][part.id]["measured"] for w in weak}
        summary[part.id] = entry
    return {"assignment": assignment.id, "seeds": [r["seed"] for r in runs], "solution_runs": runs,
            "weak_runs": weak, "parts": summary}


def _number_text(value, width: int = 0) -> str:
    """Four decimals, or three significant digits for tiny values (array differences)."""
    if _numeric(value) is None:
        return f"{str(value):>{width}}"
    text = f"{value:.2e}" if value and abs(value) < 1e-3 else f"{value:.4f}"
    return f"{text:>{width}}"


def format_report(report: dict) -> str:
    """A per-part table of the calibration."""
    width = max([4] + [len(part_id) for part_id in report["parts"]])
    lines = [f"{'part':<{width}} {'kind':<9} {'min':>9} {'mean':>9} {'max':>9} {'spread':>9} "
             f"{'threshold':>10} {'margin':>9}  every seed passes / weak models fail"]
    for part_id, entry in report["parts"].items():
        if "min" in entry:
            numbers = " ".join(_number_text(entry[key], 9) for key in ("min", "mean", "max", "spread"))
            numbers += f" {entry.get('threshold', ''):>10} {_number_text(entry.get('margin', ''), 9)}"
        else:
            numbers = " " * 9 + " (not numeric)".ljust(50)
        weak = ", ".join(f"{name}: {'fails' if fails else 'PASSES'} "
                         f"({_number_text(entry['weak_measured'][name])})"
                         for name, fails in entry["weak_models_fail"].items())
        lines.append(f"{part_id:<{width}} {entry['kind']:<9} {numbers}  "
                     f"{'yes' if entry['passed_every_seed'] else 'NO'} / {weak or '-'}")
    return "\n".join(lines)
