"""The `grader` command: parse, call the library, print, map errors to exit codes.

Exit status: 0 when every part of every notebook passes, 1 when some part
does not (or a notebook could not be graded), 2 for usage errors and faults
of the harness itself (:class:`grader.exceptions.GraderError`).

Only argparse is imported at start-up so that ``grader --help`` is instant;
each command imports what it needs.
"""
from __future__ import annotations

import argparse
import sys

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2


def _data_option(values: list[str]) -> dict:
    data = {}
    for value in values or []:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise argparse.ArgumentTypeError(f"--data expects NAME=PATH, got {value!r}")
        data[name] = path
    return data


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--assignment", "-a", metavar="NAME_OR_DIR",
                        help="assignment name (folder under assignments/) or folder; "
                             "default: the only assignment found")
    parser.add_argument("--data", action="append", metavar="NAME=PATH", default=[],
                        help="use this local copy of a data file, e.g. --data mnist=~/mnist.npz "
                             "(also: environment variable GRADER_DATA_<NAME>)")
    parser.add_argument("--cell-timeout", type=float, metavar="SECONDS",
                        help="per-cell time limit (default: from assignment.toml)")
    parser.add_argument("--budget", type=float, metavar="SECONDS",
                        help="whole-notebook time limit (default: from assignment.toml)")
    parser.add_argument("--seed", type=int, help="seed for Python, NumPy and TensorFlow "
                                                 "(default: from assignment.toml)")
    parser.add_argument("--memory-limit", type=int, metavar="MB",
                        help="memory cap of each kernel and its children (default: from assignment.toml)")
    parser.add_argument("--max-processes", type=int, metavar="N",
                        help="cap on each kernel's processes and threads (default: from assignment.toml)")
    parser.add_argument("--sandbox", choices=("required", "auto", "off"), default="auto",
                        help="run kernels in a bubblewrap sandbox: required (error when it cannot "
                             "be set up), auto (default: use it when it can be set up, say so in "
                             "every result when not), off")
    compat = parser.add_mutually_exclusive_group()
    compat.add_argument("--tf1-compat", dest="tf1_compat", action="store_true", default=None,
                        help="`import tensorflow as tf` gives the TF1 API (default: per assignment)")
    compat.add_argument("--no-tf1-compat", dest="tf1_compat", action="store_false",
                        help="leave `import tensorflow` as it is")


def build_parser() -> argparse.ArgumentParser:
    from .report.ci import add_junit_option
    from .authoring.validate import add_validate_parser

    parser = argparse.ArgumentParser(
        prog="grader",
        description="Grade notebook assignments by running them and measuring the results.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = commands.add_parser("check", help="grade one notebook (a learner's self-check)",
                                description="Run NOTEBOOK top to bottom in a fresh kernel and "
                                            "report each graded part. Exit 0 when all pass.")
    check.add_argument("notebook", metavar="NOTEBOOK")
    _add_run_options(check)
    add_junit_option(check)
    check.add_argument("--json", action="store_true", help="print the result as JSON")

    grade = commands.add_parser("grade", help="grade every notebook in a folder",
                                description="Grade every submission in DIR, write one result JSON "
                                            "per submission and gradebook.csv/json into --out.")
    grade.add_argument("directory", nargs="?", default="submissions", metavar="DIR",
                       help="folder of submissions (default: submissions/)")
    grade.add_argument("--out", "-o", default="results", metavar="DIR",
                       help="output folder (default: results/)")
    grade.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    grade.add_argument("--workers", "-j", type=int, metavar="N",
                       help="notebooks graded in parallel (default: the number of cores)")
    grade.add_argument("--threads", type=int, metavar="N",
                       help="CPU threads per kernel (default: cores / workers)")
    grade.add_argument("--force", action="store_true",
                       help="regrade every submission, even those already graded in OUT")
    grade.add_argument("--learners-map", metavar="CSV",
                       help="CSV with columns submission,learner: learner ids for files or folders")
    _add_run_options(grade)
    add_junit_option(grade)
    from .batch.dask import add_cluster_option  # argparse only: Dask loads when a batch uses it

    add_cluster_option(grade)
    from .post.cli import add_post_option, add_post_parser  # argparse only: --help stays fast

    add_post_option(grade)

    report = commands.add_parser("report", help="(re)write the gradebook and HTML reports of a results folder",
                                 description="Rebuild gradebook.csv/json, feedback/LEARNER.html and "
                                             "summary.html from OUT/results/*.json.")
    report.add_argument("out", metavar="OUT", nargs="?", default="results",
                        help="results folder written by grader grade (default: results/)")
    report.add_argument("--title", default="", help="title of the pages (default: the assignment id)")

    calibrate = commands.add_parser(
        "calibrate", help="run the reference solution under several seeds to calibrate thresholds",
        description="Grade the assignment's reference solution once per seed (and each --weak "
                    "notebook once), print each part's spread and margin to its threshold, and "
                    "write calibration.json beside thresholds.toml.")
    calibrate.add_argument("--seeds", type=int, default=5, help="number of seeds (default: 5)")
    calibrate.add_argument("--weak", action="append", default=[], metavar="NOTEBOOK",
                           help="a deliberately weak notebook that must fail (repeatable)")
    calibrate.add_argument("--no-write", action="store_true", help="do not write calibration.json")
    _add_run_options(calibrate)

    fields = commands.add_parser("spec-fields", help="list every key of assignment.toml and "
                                                     "thresholds.toml with its meaning")
    del fields
    add_validate_parser(commands)
    add_post_parser(commands)
    return parser


def _options(args):
    from .orchestrate import GradeOptions

    return GradeOptions(cell_timeout=args.cell_timeout, notebook_budget=args.budget, seed=args.seed,
                        tf1_compat=args.tf1_compat, data=_data_option(args.data),
                        memory_mb=args.memory_limit, max_processes=args.max_processes,
                        threads=getattr(args, "threads", None), sandbox=args.sandbox)


def _check(args) -> int:
    from .api import check
    from .report.table import format_table

    result = check(args.notebook, assignment=args.assignment, options=_options(args))
    if args.json:
        print(result.to_json())
    else:
        print(format_table(result))
    from .report.ci import write_ci_outputs

    write_ci_outputs(result, args)
    return EXIT_OK if result.passed else EXIT_FAILED


def _grade(args) -> int:
    from .api import grade
    from .post.cli import check_post_options, post_after_grade
    from .report.table import format_gradebook

    check_post_options(args)  # a broken posting configuration fails before the batch, not after
    results = grade(args.directory, assignment=args.assignment, out=args.out, options=_options(args),
                    workers=args.workers, force=args.force, mapping=args.learners_map,
                    cluster=args.cluster,
                    progress=not args.quiet)
    print(format_gradebook(results))
    print(f"\n{len(results)} submission(s); in {args.out}/: gradebook.csv, gradebook.json, "
          f"summary.html, feedback/*.html, results/*.json")
    from .report.ci import write_ci_outputs

    write_ci_outputs(results, args)
    status = EXIT_OK if results and all(r.passed for r in results) else EXIT_FAILED
    status = max(status, _grader_faults(results))
    if args.post:
        status = max(status, post_after_grade(args, args.out))
    return status


def _grader_faults(results) -> int:
    """Exit status 2, and one line, when some rows are the grader's fault rather than a grade."""
    from .results import GRADER_ERROR

    faults = [r.learner for r in results if r.status == GRADER_ERROR]
    if not faults:
        return EXIT_OK
    shown = ", ".join(faults[:5]) + (f" and {len(faults) - 5} more" if len(faults) > 5 else "")
    print(f"grader: {len(faults)} submission(s) could not be graded because of a fault of the grader or "
          f"the machine, not of the notebook ({shown}); run the same command again to grade them",
          file=sys.stderr)
    return EXIT_ERROR


def _validate(args) -> int:
    from .authoring.validate import run_validate

    return run_validate(args)


def _post(args) -> int:
    from .post.cli import run_post

    return run_post(args)


def _calibrate(args) -> int:
    from .assignments import find_assignment
    from .authoring.calibrate import calibrate, format_report

    assignment = find_assignment(args.assignment)
    base = assignment.kernel.seed
    report = calibrate(assignment, seeds=[base + i for i in range(args.seeds)], weak=args.weak,
                       options=_options(args), write=not args.no_write,
                       progress=lambda text: print(text, file=sys.stderr, flush=True))
    print(format_report(report))
    ok = all(e["passed_every_seed"] and all(e["weak_models_fail"].values())
             for e in report["parts"].values())
    return EXIT_OK if ok else EXIT_FAILED


def _report(args) -> int:
    from pathlib import Path

    from .exceptions import GraderError
    from .report.table import format_gradebook, write_gradebook
    from .report.html import load_results, write_reports

    out = Path(args.out)
    results = load_results(out)
    if not results:
        raise GraderError(f"{out}/results/ holds no result files: run grader grade first")
    write_gradebook(results, out)
    title = args.title or results[0].assignment
    summary = write_reports(results, out, assignment_title=title)
    print(format_gradebook(results))
    print(f"\nwrote {out}/gradebook.csv, {out}/gradebook.json, {summary} and {len(results)} feedback page(s)")
    return EXIT_OK


def _spec_fields(_args) -> int:
    from . import specs as spec

    for cls, title in ((spec.Assignment, "assignment.toml (top level)"),
                       (spec.KernelSpec, "assignment.toml [kernel]"),
                       (spec.DataFile, "assignment.toml [data.NAME]"),
                       (spec.Split, "assignment.toml [splits.NAME]"),
                       (spec.Part, "assignment.toml [[parts]]"),
                       (spec.Threshold, "thresholds.toml [parts.ID]")):
        print(f"# {title}\n{spec.describe(cls)}\n")
    from .judge.kinds import get_kind, kind_names

    print("# part kinds (kind = ...)")
    for name in kind_names():
        print(f"{name}: {get_kind(name).doc}")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    if args.version:
        from .version import __version__

        print(f"grader {__version__}")
        return EXIT_OK
    handlers = {"check": _check, "grade": _grade, "report": _report, "post": _post, "validate": _validate,
                "calibrate": _calibrate,
                "spec-fields": _spec_fields}
    if args.command not in handlers:
        parser.print_help()
        return EXIT_ERROR
    from .exceptions import GraderError

    try:
        return handlers[args.command](args)
    except GraderError as exc:
        print(f"grader: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except argparse.ArgumentTypeError as exc:
        print(f"grader: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("grader: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug of the grader itself: still exit 2, with the traceback
        import traceback

        traceback.print_exc()
        print(f"grader: internal error: {type(exc).__name__}: {exc} (this is a bug of the grader; "
              f"please report it with the traceback above)", file=sys.stderr)
        return EXIT_ERROR
