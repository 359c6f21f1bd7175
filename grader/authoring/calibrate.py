"""Calibrate thresholds: run the reference solution under several seeds, and the weak samples.

Thresholds are a human decision, but it must be an informed one: every seed
of the reference solution has to pass with a margin, and deliberately weak
models have to fail.  :func:`calibrate` measures both, writes
``calibration.json`` beside ``thresholds.toml``, and suggests a threshold per
part (:func:`suggest`), which :func:`write_thresholds` writes into
``thresholds.toml`` (``grader calibrate --write``), comments and other keys
kept.
"""
from __future__ import annotations

import datetime
import json
import math
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


def weak_notebooks(paths) -> list[Path]:
    """The weak notebooks given (``--weak``): files, or folders standing for every notebook in them."""
    from ..exceptions import UsageError

    found: list[Path] = []
    for value in paths or ():
        path = Path(value).expanduser()
        if path.is_dir():
            notebooks = sorted(path.glob("*.ipynb"))
            if not notebooks:
                raise UsageError(f"--weak {value}: the folder holds no notebook", argument="weak",
                                 value=str(value))
            found += notebooks
        elif path.is_file():
            found.append(path)
        else:
            raise UsageError(f"--weak {value} does not exist: give a notebook or a folder of notebooks",
                             argument="weak", value=str(value))
    return found


def calibrate(assignment: Assignment, *, seeds: list[int], weak: list[Path] = (),
              options: GradeOptions = GradeOptions(), write: bool = True,
              progress: Callable[[str], None] | None = None) -> dict:
    """Grade the solution once per seed and each weak notebook once; summarise per part, with the
    threshold :func:`suggest` proposes for each (``report["parts"][ID]["suggested"]``).

    The runs' results are kept in ``report["results"]`` (not written to calibration.json), so that
    :func:`rejudge` can apply thresholds written afterwards.
    """
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
    report = summarise(assignment, runs, weak_runs, weak_targets=weak_targets(assignment, weak))
    if write:
        write_calibration(assignment, report)
    report["results"] = {"solution": runs, "weak": weak_runs}
    return report


def write_calibration(assignment: Assignment, report: dict) -> None:
    """Write ``calibration.json`` beside ``thresholds.toml`` (the report without its results)."""
    if assignment.reference_folder is not None:
        kept = {key: value for key, value in report.items() if key != "results"}
        write_atomic(assignment.reference_folder / "calibration.json", json.dumps(kept, indent=2) + "\n")


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


def weak_targets(assignment: Assignment, weak) -> dict[str, list[str] | None]:
    """For each weak notebook (by file name), the parts it must fail: those graded in or after
    the first cell a ``grader author`` weak sample changes, or every part (None) for one
    written by hand (:func:`grader.authoring.author.weak_parts`)."""
    from .author import weak_parts

    part_ids = [part.id for part in assignment.parts]
    targets = {}
    for notebook in weak:
        parts = weak_parts(notebook, part_ids)
        targets[Path(notebook).name] = None if parts is None else [p for p in part_ids if p in parts]
    return targets


def summarise(assignment: Assignment, solution_runs: list[SubmissionResult],
              weak_runs: list[SubmissionResult] = (), *,
              weak_targets: dict[str, list[str] | None] | None = None) -> dict:
    """Per part: min / mean / max / spread over the solution's seeds, margin, weak models' verdicts
    (each weak notebook on the parts it must fail, ``weak_targets``; default every part), and the
    threshold :func:`suggest` proposes."""
    targets = weak_targets or {}
    runs = [{"seed": r.seed, "duration_s": r.duration_s, "status": r.status, "reason": r.reason,
             "parts": {p.id: {"measured": p.measured, "status": p.status, "message": p.message}
                       for p in r.parts}} for r in solution_runs]
    weak = [{"notebook": r.submission, "must_fail": targets.get(r.submission),
             "parts": {p.id: {"measured": p.measured, "status": p.status,
                              "by_architecture": _fails_by_architecture(assignment, p)}
                       for p in r.parts}}
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
        aimed = [w for w in weak if w["must_fail"] is None or part.id in w["must_fail"]]
        entry["weak_models_fail"] = {} if part.kind == "shapes" else {
            w["notebook"]: w["parts"][part.id]["status"] != "passed" for w in aimed}
        entry["weak_measured"] = {w["notebook"]: w["parts"][part.id]["measured"] for w in aimed}
        higher = higher_is_better(part, threshold)
        entry["weak_by_architecture"] = [w["notebook"] for w in aimed
                                         if w["parts"][part.id]["by_architecture"]]
        if values and higher is not None:
            # A sample that fails by its architecture needs no bound on the metric.
            weak_values = {name: value for name, value in entry["weak_measured"].items()
                           if _numeric(value) is not None and name not in entry["weak_by_architecture"]}
            entry["suggested"] = suggest(values, weak_values, higher_is_better=higher)
        architecture = _solution_architecture(solution_runs, part.id)
        if architecture:
            entry["architecture"] = architecture
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
                         f"({_number_text(entry['weak_measured'][name])}"
                         f"{', architecture' if name in entry.get('weak_by_architecture', ()) else ''})"
                         for name, fails in entry["weak_models_fail"].items())
        lines.append(f"{part_id:<{width}} {entry['kind']:<9} {numbers}  "
                     f"{'yes' if entry['passed_every_seed'] else 'NO'} / {weak or '-'}")
    return "\n".join(lines)



# --- suggested thresholds ------------------------------------------------------------------------

# How far below the solution's worst seed (for a bound the measured value must stay above) a
# suggested threshold sits: a quarter of the way to the best weak sample, and never closer than
# three standard deviations of the seeds or their spread (seeds not yet run vary as much); with
# no weak sample, 2 % of the value. Then it is rounded to a round number, moving away from the
# seeds by at most half of that margin.
WEAK_FRACTION = 0.25
SIGMAS = 3.0
NO_WEAK_FRACTION = 0.02


def higher_is_better(part, threshold) -> bool | None:
    """Whether the part's measured value must stay above (True) or below (False) a bound; None for
    parts whose rule is not a bound on a number (shapes, arrays)."""
    from ..judge.metrics import METRICS

    if part.kind in ("shapes", "array"):  # a tolerance of the author's, not a bound on a measure
        return None
    if threshold is not None and (threshold.min is None) != (threshold.max is None):
        return threshold.min is not None
    if part.kind == "accuracy":
        return True
    if part.kind == "loss":
        return False
    if part.kind in ("function", "model") and part.metric in METRICS:
        return METRICS[part.metric].higher_is_better
    return None


def _round_away(value: float, step: float) -> float:
    return math.floor(value / step + 1e-9) * step


def _nice(threshold: float, *, slack: float) -> float:
    """``threshold`` rounded down to the roundest number no more than ``slack`` below it."""
    if slack <= 0 or threshold == 0:
        return threshold
    exponent = math.floor(math.log10(abs(threshold))) + 1
    for power in range(exponent, exponent - 8, -1):
        for factor in (1.0, 0.5, 0.2):
            step = factor * 10.0 ** power
            candidate = _round_away(threshold, step)
            if threshold - slack <= candidate <= threshold:
                return float(f"{candidate:.10g}")
    return threshold


def suggest(values: list[float], weak: dict[str, float], *, higher_is_better: bool) -> dict:
    """A threshold for a part from the solution's values over the seeds and the weak samples'.

    ``{"min" or "max": value, "seeds_margin": distance to the worst seed, "weak_margin":
    distance to the best weak sample (None without one), "why": one line}``, or ``{"none": why}``
    when no bound passes every seed and fails every weak sample.
    """
    sign = 1.0 if higher_is_better else -1.0
    bound = "min" if higher_is_better else "max"
    seeds = [sign * v for v in values]
    worst = min(seeds)
    sd = statistics.stdev(seeds) if len(seeds) > 1 else 0.0
    noise = max(SIGMAS * sd, max(seeds) - worst)
    best_name, best = None, None
    for name, value in weak.items():
        if best is None or sign * value > best:
            best_name, best = name, sign * value
    if best is not None and best >= worst:
        return {"none": f"the weak sample {best_name} measures {sign * best:.4g}, as good as the "
                        f"solution's worst seed ({sign * worst:.4g}): no {bound} passes the solution "
                        f"and fails it"}
    if best is None:
        margin = max(noise, NO_WEAK_FRACTION * abs(worst), 1e-6)
        why = "2 % below the worst seed" if margin > noise else "3 standard deviations below the worst seed"
    else:
        gap = worst - best
        margin = max(noise, WEAK_FRACTION * gap)
        why = ("a quarter of the way from the worst seed to the best weak sample" if margin > noise
               else "3 standard deviations (or the seeds' spread) below the worst seed")
        if margin >= gap:
            margin = gap / 2
            why = "halfway to the best weak sample: the seeds spread more than the gap to it"
    threshold = worst - margin
    rounded = _nice(threshold, slack=margin / 2)
    if best is not None and rounded <= best:
        rounded = threshold
    suggestion = {bound: float(f"{sign * rounded:.6g}"),
                  "seeds_margin": float(f"{worst - rounded:.6g}"),
                  "weak_margin": float(f"{rounded - best:.6g}") if best is not None else None,
                  "why": why}
    if best_name is not None:
        suggestion["weak"] = best_name
    return suggestion


def _fails_by_architecture(assignment: Assignment, part) -> bool:
    """Whether a model part's architecture rules fail the model, whatever its metric."""
    from ..judge.architecture import problems

    threshold = assignment.threshold(part.id)
    model = (part.evidence or {}).get("architecture")
    return bool(part.kind == "model" and threshold is not None and isinstance(model, dict)
                and problems(threshold, model))


def _solution_architecture(solution_runs, part_id: str) -> str:
    """The solution's model, in one line, as the evaluator described it (model parts)."""
    from ..judge.architecture import summary

    for run in solution_runs:
        for part in run.parts:
            if part.id == part_id and part.evidence and isinstance(part.evidence.get("architecture"), dict):
                return summary(part.evidence["architecture"])
    return ""


def format_suggestions(report: dict) -> str:
    """The suggested thresholds, one line per part, with their margins and what they come from."""
    rows = [(part_id, entry) for part_id, entry in report["parts"].items() if entry.get("suggested")]
    if not rows:
        return ""
    width = max([4] + [len(part_id) for part_id, _ in rows])
    lines = ["suggested thresholds (grader calibrate --write writes them into thresholds.toml):",
             f"{'part':<{width}} {'rule':>12} {'seeds margin':>13} {'weak margin':>12}  from"]
    for part_id, entry in rows:
        suggestion = entry["suggested"]
        if "none" in suggestion:
            lines.append(f"{part_id:<{width}} {'-':>12} {'-':>13} {'-':>12}  {suggestion['none']}")
            continue
        bound = "min" if "min" in suggestion else "max"
        rule = f"{'>=' if bound == 'min' else '<='} {suggestion[bound]:g}"
        weak = suggestion.get("weak_margin")
        weak_text = _number_text(weak, 12) if weak is not None else f"{'-':>12}"
        lines.append(f"{part_id:<{width}} {rule:>12} {_number_text(suggestion['seeds_margin'], 13)} "
                     f"{weak_text}  {suggestion['why']}"
                     + (f" ({suggestion['weak']})" if suggestion.get("weak") and "weak" in suggestion["why"]
                        else ""))
    architectures = [(part_id, entry["architecture"]) for part_id, entry in report["parts"].items()
                     if entry.get("architecture")]
    if architectures:
        lines += ["", "the solution's models (for the architecture rules of model parts):"]
        lines += [f"{part_id:<{width}} {text}" for part_id, text in architectures]
    return "\n".join(lines)


def write_thresholds(assignment: Assignment, report: dict) -> list[str]:
    """Write the suggested bounds into ``thresholds.toml`` (created when missing), keeping every
    other key and comment; each written value gets a comment saying where it comes from.
    Returns one line per change (``parts.ID.min = 0.94 (was 0.9)``)."""
    import tomlkit

    if assignment.reference_folder is None:
        from ..exceptions import SpecError

        raise SpecError("no reference folder to write thresholds.toml into", path=str(assignment.folder))
    path = assignment.reference_folder / "thresholds.toml"
    document = tomlkit.parse(path.read_text(encoding="utf-8")) if path.exists() else tomlkit.document()
    if "parts" not in document:
        document["parts"] = tomlkit.table(is_super_table=True)
    parts = document["parts"]
    seeds = report.get("seeds") or []
    today = datetime.date.today().isoformat()
    changes = []
    for part_id, entry in report["parts"].items():
        suggestion = entry.get("suggested") or {}
        bound = "min" if "min" in suggestion else "max" if "max" in suggestion else None
        if bound is None:
            continue
        if part_id not in parts:
            parts[part_id] = tomlkit.table()
        table = parts[part_id]
        old = table.get(bound)
        value = tomlkit.item(suggestion[bound])
        weak = (f", best weak sample {entry['weak_measured'][suggestion['weak']]:.4g}"
                if suggestion.get("weak") else "")
        value.comment(f"grader calibrate {today}: {len(seeds)} seeds "
                      f"{entry['min']:.4g}-{entry['max']:.4g}{weak}")
        table[bound] = value
        changes.append(f"parts.{part_id}.{bound} = {suggestion[bound]:g}"
                       + (f" (was {float(old):g})" if old is not None else " (new)"))
    from ..results import write_atomic

    write_atomic(path, tomlkit.dumps(document))
    return changes


def rejudge(assignment: Assignment, report: dict) -> dict:
    """The calibration's runs judged again under the assignment's (new) thresholds, summarised."""
    from ..judge.score import rejudge_part

    results = report["results"]

    def again(result):
        parts = [rejudge_part(assignment.part(p.id), assignment.threshold(p.id), p, result.errors)
                 for p in result.parts]
        return replace(result, parts=parts)

    solution = [again(r) for r in results["solution"]]
    weak = [again(r) for r in results["weak"]]
    summary = summarise(assignment, solution, weak,
                        weak_targets={w["notebook"]: w["must_fail"] for w in report["weak_runs"]})
    summary["results"] = {"solution": solution, "weak": weak}
    return summary
