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

from .data import resolve_all
from .orchestrate import GradeOptions, grade_notebook
from .results import write_atomic
from .spec import Assignment


def _numeric(value):
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def calibrate(assignment: Assignment, *, seeds: list[int], weak: list[Path] = (),
              options: GradeOptions = GradeOptions(), write: bool = True,
              progress: Callable[[str], None] | None = None) -> dict:
    """Grade the solution once per seed and each weak notebook once; summarise per part."""
    solution = assignment.solution_path
    if solution is None or not solution.is_file():
        from .exceptions import SpecError

        raise SpecError("the reference folder has no solution notebook to calibrate with",
                        path=str(assignment.reference_folder or assignment.folder), field="solution")
    data_paths = resolve_all(assignment, explicit=options.data)
    runs = []
    for seed in seeds:
        if progress:
            progress(f"solution, seed {seed}")
        result = grade_notebook(solution, assignment=assignment, options=replace(options, seed=seed),
                                data_paths=data_paths)
        runs.append({"seed": seed, "duration_s": result.duration_s, "status": result.status,
                     "reason": result.reason,
                     "parts": {p.id: {"measured": p.measured, "status": p.status} for p in result.parts}})
    weak_runs = []
    for notebook in weak:
        if progress:
            progress(f"weak model {Path(notebook).name}")
        result = grade_notebook(notebook, assignment=assignment, options=options, data_paths=data_paths)
        weak_runs.append({"notebook": Path(notebook).name,
                          "parts": {p.id: {"measured": p.measured, "status": p.status}
                                    for p in result.parts}})
    summary = {}
    for part in assignment.parts:
        values = [_numeric(run["parts"][part.id]["measured"]) for run in runs]
        values = [v for v in values if v is not None]
        entry = {"kind": part.kind, "passed_every_seed": all(
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
            w["notebook"]: w["parts"][part.id]["status"] != "passed" for w in weak_runs}
        entry["weak_measured"] = {w["notebook"]: w["parts"][part.id]["measured"] for w in weak_runs}
        summary[part.id] = entry
    report = {"assignment": assignment.id, "seeds": list(seeds), "solution_runs": runs,
              "weak_runs": weak_runs, "parts": summary}
    if write and assignment.reference_folder is not None:
        write_atomic(assignment.reference_folder / "calibration.json", json.dumps(report, indent=2) + "\n")
    return report


def format_report(report: dict) -> str:
    """A per-part table of the calibration."""
    lines = [f"{'part':<7} {'kind':<9} {'min':>8} {'mean':>8} {'max':>8} {'spread':>8} "
             f"{'threshold':>10} {'margin':>8}  every seed passes / weak models fail"]
    for part_id, entry in report["parts"].items():
        if "min" in entry:
            numbers = (f"{entry['min']:>8.4f} {entry['mean']:>8.4f} {entry['max']:>8.4f} "
                       f"{entry['spread']:>8.4f} {entry.get('threshold', ''):>10} "
                       f"{entry.get('margin', float('nan')):>8.4f}")
        else:
            numbers = " " * 8 + " (not numeric)".ljust(46)
        weak = ", ".join(f"{name}: {'fails' if fails else 'PASSES'} "
                         f"({entry['weak_measured'][name]:.4f})"
                         for name, fails in entry["weak_models_fail"].items())
        lines.append(f"{part_id:<7} {entry['kind']:<9} {numbers}  "
                     f"{'yes' if entry['passed_every_seed'] else 'NO'} / {weak or '-'}")
    return "\n".join(lines)
