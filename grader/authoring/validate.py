"""Validate an assignment folder: the checks an assignment repository's CI runs.

:func:`validate` answers "can this assignment be graded, and does it grade
right?" in three steps, and lists every problem with the file and the field
to fix:

1. consistency, without running a notebook: the specs load; every part has a
   threshold and every threshold a part; thresholds are complete for their
   kind (an array part's expected file loads); the helper modules import (in a
   subprocess with the kernel's environment: helpers may import heavy
   things); the data files are available and match their checksums; the
   template and the solution exist, parse, and have a graded cell for each part;
2. the reference solution passes every part, under ``seeds`` seeds (each
   part's spread and margin to its threshold come from :mod:`grader.authoring.calibrate`);
3. the template fails every part (status other than passed) without a fault of
   the harness (a :class:`~grader.exceptions.GraderError`, or an ungradable result);
4. with ``weak`` notebooks, each fails the parts it aims at (as ``grader calibrate``
   demands of them): a weak sample of ``grader author`` the parts graded from its first
   changed cell on, a notebook written by hand every part but shapes parts.

When the assignment names a source notebook (``source``), step 1 also checks that
the template, the solution and the weak samples are what ``grader author`` makes
of it now (:mod:`grader.authoring.author`).  Steps 2 to 4 run only when step 1
found nothing. ``grader validate DIR`` is
the command line of this; its exit status is 0 only when there is no problem.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..paths import relative

if TYPE_CHECKING:  # pragma: no cover
    from ..orchestrate import GradeOptions
    from ..results import SubmissionResult
    from ..specs.model import Assignment

HELPER_IMPORT_TIMEOUT_S = 300.0
NOT_ASKED = "not asked to run notebooks"  # the skip of --no-run, which does not fail validation


@dataclass
class Problem:
    """Something to fix: in which file, which field (dotted key, cell or part), and what."""

    file: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message}" if self.field else f"{self.file}: {self.message}"


@dataclass
class Check:
    """One named check and the problems it found (none: it holds)."""

    name: str
    problems: list[Problem] = field(default_factory=list)
    skipped: str = ""          # why the check did not run
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems and not self.skipped


@dataclass
class ValidationReport:
    """Everything :func:`validate` found."""

    folder: Path
    assignment: "Assignment | None" = None
    checks: list[Check] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    solution_runs: list["SubmissionResult"] = field(default_factory=list)
    calibration: dict | None = None              # grader.authoring.calibrate.summarise of the solution runs
    template_result: "SubmissionResult | None" = None
    weak_results: list["SubmissionResult"] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def problems(self) -> list[Problem]:
        return [problem for check in self.checks for problem in check.problems]

    @property
    def ok(self) -> bool:
        """Every check ran (or was left out on purpose, with ``run=False``) and holds."""
        return bool(self.checks) and all(check.ok or check.skipped == NOT_ASKED for check in self.checks)

    def to_dict(self) -> dict:
        return {"assignment": self.assignment.id if self.assignment else None,
                "folder": str(self.folder), "ok": self.ok, "duration_s": round(self.duration_s, 3),
                "checks": [{"name": c.name, "ok": c.ok, "skipped": c.skipped,
                            "duration_s": round(c.duration_s, 3),
                            "problems": [vars(p) for p in c.problems]} for c in self.checks],
                "seeds": self.seeds, "calibration": self.calibration and self.calibration["parts"],
                "template": self.template_result and {p.id: p.status for p in self.template_result.parts},
                "weak": {r.submission: {p.id: p.status for p in r.parts} for r in self.weak_results}}


class _Checks:
    """Collects checks into a report, timing each."""

    def __init__(self, report: ValidationReport, progress: Callable[[str], None] | None):
        self.report, self.progress = report, progress

    def run(self, name: str, function, *args) -> Check:
        if self.progress:
            self.progress(f"validate: {name}")
        started = time.monotonic()
        check = Check(name)
        try:
            check.problems = list(function(*args) or [])
        except Exception as exc:  # a check that breaks is a problem to report, not a crash
            from ..exceptions import GraderError

            if not isinstance(exc, GraderError):
                raise
            check.problems = [_problem_from_error(exc, self.report.folder)]
        check.duration_s = time.monotonic() - started
        self.report.checks.append(check)
        return check

    def skip(self, name: str, why: str) -> None:
        self.report.checks.append(Check(name, skipped=why))


def _problem_from_error(exc, folder: Path) -> Problem:
    """A SpecError carries its file and field; other errors point at the assignment folder."""
    path, field_name, text = getattr(exc, "path", None), getattr(exc, "field", None) or "", str(exc)
    prefix = f"{path}: " + (f"{field_name}: " if field_name else "") if path else ""
    if prefix and text.startswith(prefix):
        text = text[len(prefix):]
    return Problem(file=relative(path or folder), field=field_name, message=text)


def validate(assignment_dir: str | Path, *, seeds: int = 1, options: "GradeOptions | None" = None,
             reference_dir: str | Path | None = None, run: bool = True, weak: list = (),
             progress: Callable[[str], None] | None = None) -> ValidationReport:
    """Check an assignment folder (see the module docstring); never raises for what it finds.

    ``seeds``: how many seeds the solution runs under (``seed``, ``seed+1``, ...);
    ``run=False`` does the consistency checks only; ``weak``: notebooks that must fail.
    """
    from ..orchestrate import GradeOptions
    from ..assignments import load_assignment

    options = options or GradeOptions()
    started = time.monotonic()
    report = ValidationReport(folder=Path(assignment_dir))
    checks = _Checks(report, progress)
    loaded = checks.run("specs load", lambda: _load(report, load_assignment, reference_dir))
    assignment = report.assignment
    if assignment is None or loaded.problems:
        for name in ("consistency", "solution passes", "template fails"):
            checks.skip(name, "the specs do not load")
        report.duration_s = time.monotonic() - started
        return report
    checks.run("every part has a threshold and every threshold a part", _thresholds, assignment)
    checks.run("helper modules import", _helpers, assignment)
    data = checks.run("data files available and verified", _data, assignment, options)
    checks.run("template and solution notebooks parse and submit every part", _notebooks, assignment)
    if assignment.source:
        checks.run("template, solution and weak samples are what grader author makes of the source",
                   _generated, assignment)
    if weak:
        checks.run("weak notebooks parse and submit every part", _weak_notebooks, assignment, weak)
    later = ["solution passes", "template fails"] + (["weak notebooks fail"] if weak else [])
    if not run:
        for name in later:
            checks.skip(name, NOT_ASKED)
    elif report.problems:
        why = "fix the problems above first" if not data.problems else "the data is not available"
        for name in later:
            checks.skip(name, why)
    else:
        base = assignment.kernel.seed if options.seed is None else options.seed
        report.seeds = [base + i for i in range(max(1, seeds))]
        checks.run(f"solution passes every part (seed{'s' if seeds > 1 else ''} "
                   f"{', '.join(map(str, report.seeds))})", _solution, report, options, progress)
        checks.run("template fails every part without a harness error", _template, report, options)
        if weak:
            checks.run("weak notebooks fail the parts they aim at", _weak, report, options,
                       [Path(w) for w in weak], progress)
    report.duration_s = time.monotonic() - started
    return report


# --- the checks ---------------------------------------------------------------------------------

def _load(report: ValidationReport, load_assignment, reference_dir) -> list[Problem]:
    from ..specs.model import ASSIGNMENT_FILE

    folder = report.folder
    if not (folder / ASSIGNMENT_FILE).is_file():
        return [Problem(relative(folder), "", f"no {ASSIGNMENT_FILE} in this folder")]
    assignment = load_assignment(folder, reference_folder=reference_dir)
    report.assignment = assignment
    if assignment.reference_folder is None:
        return [Problem(relative(folder.resolve().parent.parent / "reference" / folder.resolve().name), "",
                        "no reference folder (it holds thresholds.toml and the solution); "
                        "create it or pass --reference DIR")]
    return []


def _thresholds(assignment: "Assignment") -> list[Problem]:
    from ..judge.kinds import threshold_problems

    thresholds_file = relative(assignment.reference_folder / "thresholds.toml")
    spec_file = relative(assignment.folder / "assignment.toml")
    part_ids = [part.id for part in assignment.parts]
    problems = []
    for index, part in enumerate(assignment.parts):
        threshold = assignment.threshold(part.id)
        if threshold is None:
            problems.append(Problem(thresholds_file, f"parts.{part.id}",
                                    f"no threshold for part {part.id!r} ({spec_file} parts[{index}]): "
                                    f"add a [parts.{part.id}] table"))
            continue
        for name, message in threshold_problems(part, threshold):
            problems.append(Problem(thresholds_file, f"parts.{part.id}.{name}", message))
        if part.kind == "array" and threshold.expected_file:
            from ..exceptions import SpecError
            from ..judge.kinds import expected_array

            try:
                expected_array(assignment, part, {})
            except SpecError as exc:
                problems.append(_problem_from_error(exc, assignment.folder))
    for threshold in assignment.thresholds:
        if threshold.part not in part_ids:
            problems.append(Problem(thresholds_file, f"parts.{threshold.part}",
                                    f"a threshold for part {threshold.part!r}, which {spec_file} does "
                                    f"not have (its parts: {', '.join(part_ids)}); remove it or fix the id"))
    if not assignment.parts:
        problems.append(Problem(spec_file, "parts", "the assignment has no parts"))
    return problems


_IMPORT_ALL = """
import importlib, json, sys, traceback
sys.path.insert(0, sys.argv[1])
failed = {}
for name in sys.argv[2:]:
    try:
        importlib.import_module(name)
    except BaseException as exc:  # SystemExit too: a helper must import cleanly
        failed[name] = "".join(traceback.format_exception_only(type(exc), exc)).strip()
print("GRADER-HELPERS " + json.dumps(failed))
"""


def helper_modules(folder: Path) -> list[str]:
    """The importable modules of a helpers folder: its .py files and its packages."""
    if not folder.is_dir():
        return []
    names = [p.stem for p in folder.glob("*.py") if p.stem.isidentifier()]
    names += [p.name for p in folder.iterdir() if p.is_dir() and (p / "__init__.py").is_file()]
    return sorted(set(names))


def _helpers(assignment: "Assignment") -> list[Problem]:
    from ..orchestrate import kernel_env

    folder = assignment.helpers_path
    modules = helper_modules(folder)
    if not modules:
        return []
    with tempfile.TemporaryDirectory(prefix="grader-validate-") as work:
        # The kernel's environment (PYTHONPATH, seeds, TF settings), outside a grading run.
        env = kernel_env(assignment, seed=assignment.kernel.seed, workdir=Path(work))
        env.pop("GRADER_GRADING", None)
        try:
            done = subprocess.run([sys.executable, "-c", _IMPORT_ALL, str(folder), *modules], cwd=work,
                                  env=env, capture_output=True, text=True, timeout=HELPER_IMPORT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return [Problem(relative(folder), "", f"importing the helper modules took more than "
                                              f"{HELPER_IMPORT_TIMEOUT_S:.0f} s")]
    marker = [line for line in done.stdout.splitlines() if line.startswith("GRADER-HELPERS ")]
    if not marker:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        return [Problem(relative(folder), "", f"importing the helper modules ended Python "
                                          f"(exit status {done.returncode}): {tail}")]
    failed = json.loads(marker[-1].split(" ", 1)[1])
    return [Problem(relative(_module_file(folder, name)), "import", error) for name, error in failed.items()]


def _module_file(folder: Path, name: str) -> Path:
    return folder / f"{name}.py" if (folder / f"{name}.py").is_file() else folder / name


def _data(assignment: "Assignment", options: "GradeOptions") -> list[Problem]:
    from ..specs.data import load_arrays, resolve
    from ..exceptions import DataError

    spec_file = relative(assignment.folder / "assignment.toml")
    problems = []
    unknown = set(options.data) - {d.name for d in assignment.data}
    if unknown:
        problems.append(Problem(spec_file, "data", f"--data names {', '.join(sorted(unknown))}, which "
                                                    f"the assignment does not declare"))
    for data in assignment.data:
        try:
            path = resolve(data, explicit=options.data.get(data.name), folder=assignment.folder)
            load_arrays(data, path)
        except DataError as exc:
            problems.append(Problem(spec_file, f"data.{data.name}", str(exc)))
    return problems


def _notebooks(assignment: "Assignment") -> list[Problem]:
    from ..run.execute import find_graded_cells
    from ..orchestrate import read_notebook

    problems = []
    part_ids = [part.id for part in assignment.parts]
    for what, path, key in (("template", assignment.template_path, "template"),
                            ("solution", assignment.solution_path, "solution")):
        spec_file = relative(assignment.folder / "assignment.toml")
        if path is None or not path.is_file():
            problems.append(Problem(spec_file, key, f"the {what} notebook {relative(path) if path else ''} "
                                                    f"does not exist"))
            continue
        notebook, problem = read_notebook(path)
        if notebook is None:
            problems.append(Problem(relative(path), "", problem))
            continue
        graded = {part for ids in find_graded_cells(notebook, part_ids).values() for part in ids}
        for part_id in part_ids:
            if part_id not in graded:
                problems.append(Problem(relative(path), f"part {part_id}",
                                        f"no graded cell submits part {part_id!r}: add a cell with "
                                        f"grader.set_answer(\"{part_id}\", ...)"))
    return problems


def _generated(assignment: "Assignment") -> list[Problem]:
    from .author import stale

    source = assignment.source_path
    if not source.is_file():
        return [Problem(relative(assignment.folder / "assignment.toml"), "source",
                        f"the source notebook {relative(source)} does not exist")]
    return [Problem(relative(path), "", f"stale: {why}; the source is {relative(source)}: run grader author "
                                    f"{relative(source)} (edit the source, not this file)")
            for path, why in stale(assignment)]


def _weak_notebooks(assignment: "Assignment", weak: list) -> list[Problem]:
    from ..run.execute import find_graded_cells
    from ..orchestrate import read_notebook

    problems = []
    part_ids = [part.id for part in assignment.parts]
    for path in (Path(w) for w in weak):
        notebook, problem = read_notebook(path)
        if notebook is None:
            problems.append(Problem(relative(path), "", problem))
            continue
        graded = {part for ids in find_graded_cells(notebook, part_ids).values() for part in ids}
        missing = [part_id for part_id in part_ids if part_id not in graded]
        if missing:
            problems.append(Problem(relative(path), "", f"no graded cell submits part(s) {', '.join(missing)}: "
                                                    f"a weak notebook keeps the template's graded cells"))
    return problems


def _weak(report: ValidationReport, options: "GradeOptions", weak: list[Path], progress) -> list[Problem]:
    from ..exceptions import GraderError
    from ..orchestrate import grade_notebook
    from ..specs.data import resolve_all

    from .calibrate import weak_targets

    assignment = report.assignment
    thresholds_file = relative(assignment.reference_folder / "thresholds.toml")
    data_paths = resolve_all(assignment, explicit=options.data)
    targets = weak_targets(assignment, weak)
    problems = []
    for path in weak:
        if progress:
            progress(f"weak model {path.name}")
        try:
            result = grade_notebook(path, assignment=assignment, options=options, data_paths=data_paths)
        except GraderError as exc:
            problems.append(Problem(relative(path), "", f"grading it is a fault of the harness or the "
                                                    f"assignment: {type(exc).__name__}: {exc}"))
            continue
        report.weak_results.append(result)
        if result.status != "graded":
            problems.append(Problem(relative(path), "", f"the weak notebook cannot be graded: {result.reason}"))
            continue
        aimed = targets.get(path.name)
        for part in result.parts:
            if part.status != "passed" or part.kind == "shapes" or (
                    aimed is not None and part.id not in aimed):
                continue
            threshold = assignment.threshold(part.id)
            bound = "min" if threshold is not None and threshold.min is not None else "max"
            problems.append(Problem(
                thresholds_file, f"parts.{part.id}.{bound}",
                f"the weak notebook {relative(path)} passes part {part.id!r} (measured "
                f"{_value(part.measured)}, required {part.threshold}): tighten the threshold "
                f"(grader calibrate suggests one) or make the sample weaker"))
    return problems


def _solution(report: ValidationReport, options: "GradeOptions", progress) -> list[Problem]:
    from .calibrate import run_seeds, summarise
    from ..specs.data import resolve_all

    assignment = report.assignment
    data_paths = resolve_all(assignment, explicit=options.data)
    report.solution_runs = run_seeds(assignment.solution_path, assignment=assignment, seeds=report.seeds,
                                     options=options, data_paths=data_paths, progress=progress)
    report.calibration = summarise(assignment, report.solution_runs)  # the weak runs come later
    solution = relative(assignment.solution_path)
    thresholds_file = relative(assignment.reference_folder / "thresholds.toml")
    problems = []
    for run in report.solution_runs:
        if run.status != "graded":
            problems.append(Problem(solution, "", f"seed {run.seed}: not graded: {run.reason}"))
            continue
        for part in run.parts:
            if part.status == "passed":
                continue
            threshold = assignment.threshold(part.id)
            if part.status == "failed" and threshold is not None and isinstance(part.measured, (int, float)):
                bound = "min" if threshold.min is not None and part.measured < threshold.min else "max"
                problems.append(Problem(
                    thresholds_file, f"parts.{part.id}.{bound}",
                    f"the reference solution ({solution}) fails part {part.id!r} with seed {run.seed}: "
                    f"measured {part.measured:.6g}, required {part.threshold}. Loosen the threshold or "
                    f"improve the solution. ({part.message})"))
            else:
                where = f"part {part.id}" + (f" (cell {part.cell})" if part.cell else "")
                problems.append(Problem(solution, where, f"seed {run.seed}: {part.status}: {part.message}"))
    return problems


def _template(report: ValidationReport, options: "GradeOptions") -> list[Problem]:
    from ..specs.data import resolve_all
    from ..exceptions import GraderError
    from ..orchestrate import grade_notebook

    assignment = report.assignment
    template = relative(assignment.template_path)
    try:
        result = grade_notebook(assignment.template_path, assignment=assignment, options=options,
                                data_paths=resolve_all(assignment, explicit=options.data))
    except GraderError as exc:
        return [Problem(template, "", f"grading the template is a fault of the harness or the "
                                      f"assignment: {type(exc).__name__}: {exc}")]
    report.template_result = result
    if result.status != "graded":
        return [Problem(template, "", f"the template cannot be graded: {result.reason}")]
    problems = []
    for part in result.parts:
        if part.status == "passed":
            problems.append(Problem(
                template, f"part {part.id}" + (f" (cell {part.cell})" if part.cell else ""),
                f"the template passes part {part.id!r} (measured {_value(part.measured)}): a learner "
                f"gets the point without writing anything; leave the gap unsolved"))
    return problems


def _value(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


# --- presenting ---------------------------------------------------------------------------------

def format_report(report: ValidationReport) -> str:
    """The report for a terminal: each check, its problems, the solution's margins."""
    from .calibrate import format_report as format_calibration

    name = report.assignment.id if report.assignment else str(report.folder)
    if report.ok:
        verdict = "OK" + (" (no notebook run)" if any(c.skipped == NOT_ASKED for c in report.checks) else "")
    elif report.problems:
        verdict = f"{len(report.problems)} problem(s)"
    else:
        verdict = "not every check ran"
    lines = [f"validate {name} ({relative(report.folder)}): {verdict} in {report.duration_s:.1f} s"]
    for check in report.checks:
        mark = "ok  " if check.ok else ("skip" if check.skipped else "FAIL")
        lines.append(f"  {mark} {check.name}" + (f" ({check.skipped})" if check.skipped else "")
                     + (f" [{check.duration_s:.1f} s]" if check.duration_s >= 0.1 else ""))
        lines += [f"       - {problem}" for problem in check.problems]
    if report.calibration:
        lines += ["", "reference solution, per part (margin = distance to the threshold over the seeds):",
                  format_calibration(report.calibration)]
    if report.template_result is not None:
        statuses = ", ".join(f"{p.id} {p.status}" for p in report.template_result.parts)
        lines += ["", f"template: {statuses}"]
    for result in report.weak_results:
        statuses = ", ".join(f"{p.id} {p.status}"
                             + (f" ({_value(p.measured)})" if p.measured is not None else "")
                             for p in result.parts)
        lines.append(f"weak {result.submission}: {statuses}")
    return "\n".join(lines)


def ci_suites(report: ValidationReport) -> list:
    """The report as CI suites: the checks, the solution's runs, the template's parts."""
    from ..report.ci import FAILED, PASSED, SKIPPED, Case, Suite, suites_from_results

    name = report.assignment.id if report.assignment else str(report.folder)
    checks = Suite(name=f"{name}: checks", time=report.duration_s)
    for check in report.checks:
        classname = f"{name}.validate"
        if check.skipped:
            checks.cases.append(Case(classname=classname, name=check.name, status=SKIPPED,
                                     message=check.skipped))
        elif not check.problems:
            checks.cases.append(Case(classname=classname, name=check.name, time=check.duration_s))
        for problem in check.problems:  # one case per problem: each is an annotation of its file
            checks.cases.append(Case(classname=classname, name=f"{check.name}: {problem.field or problem.file}",
                                     status=FAILED, kind="problem", message=problem.message,
                                     details=str(problem), file=problem.file, time=check.duration_s))
    suites = [checks]
    for run in report.solution_runs:
        suites += suites_from_results([run], learner_view=False,
                                      suite_name=f"{name}: solution, seed {run.seed}",
                                      files={run.learner: relative(report.assignment.solution_path)})
    if report.template_result is not None:
        template = Suite(name=f"{name}: template fails every part", time=report.template_result.duration_s)
        for part in report.template_result.parts:
            passes = part.status == "passed"
            template.cases.append(Case(
                classname=f"{name}.template", name=f"{part.id}: {part.description}",
                status=FAILED if passes else PASSED, kind="template passes",
                message=f"the template passes part {part.id}: leave the gap unsolved" if passes else "",
                details=f"template status: {part.status}\n{part.message}",
                file=relative(report.assignment.template_path), measured=_value(part.measured),
                threshold=part.threshold))
        suites.append(template)
    for result in report.weak_results:
        weak = Suite(name=f"{name}: weak {result.submission} fails every part", time=result.duration_s)
        for part in result.parts:
            passes = part.status == "passed" and part.kind != "shapes"
            weak.cases.append(Case(
                classname=f"{name}.weak", name=f"{part.id}: {part.description}",
                status=FAILED if passes else PASSED, kind="weak passes",
                message=f"the weak notebook {result.submission} passes part {part.id}" if passes else "",
                details=f"weak status: {part.status}\n{part.message}", measured=_value(part.measured),
                threshold=part.threshold))
        suites.append(weak)
    return suites


def assignment_folder(name_or_dir: str | Path) -> Path:
    """The folder of an assignment given as a folder or as a name (``grader validate``'s argument)."""
    from ..assignments import available
    from ..exceptions import AssignmentNotFoundError

    folder = Path(name_or_dir)
    if folder.is_dir():
        return folder
    found = available()
    if str(name_or_dir) not in found:
        raise AssignmentNotFoundError(
            f"{name_or_dir} is not a folder nor an assignment name "
            f"(found: {', '.join(sorted(found)) or 'none'})")
    return found[str(name_or_dir)]
