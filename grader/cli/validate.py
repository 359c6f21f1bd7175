"""``grader validate ASSIGNMENT_DIR``: does this assignment grade right? (for the assignment's CI)"""
from __future__ import annotations

import sys

from .options import EXIT_FAILED, EXIT_OK, add_data_option, add_junit_option, data_option, to_stderr
from .options import add_order_option  # issue #27: --order


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "validate", help="check an assignment folder: specs, data, helpers; the solution passes "
                         "and the template fails",
        description="Check an assignment for CI: its specs load and agree with the thresholds, "
                    "its helper modules import, its data is available; the reference solution "
                    "passes every part (under --seeds seeds, with each part's spread and margin); "
                    "the template fails every part without a harness error. Exit 0 only when "
                    "everything holds; each problem names the file and field to fix.")
    parser.add_argument("assignment_dir", metavar="ASSIGNMENT_DIR",
                        help="the assignment folder (with assignment.toml), or an assignment name")
    parser.add_argument("--reference", metavar="DIR",
                        help="the reference folder (default: ../../reference/NAME beside it)")
    parser.add_argument("--seeds", type=int, default=1, metavar="N",
                        help="run the solution under N seeds (default: 1)")
    add_data_option(parser)
    add_order_option(parser)  # issue #27
    parser.add_argument("--no-run", action="store_true",
                        help="only the consistency checks: run no notebook")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    add_junit_option(parser)


def run(args) -> int:
    """0 when everything holds, 1 when something does not."""
    import json

    from ..authoring.validate import assignment_folder, ci_suites, format_report, validate
    from ..orchestrate import GradeOptions
    from ..report.ci import emit

    folder = assignment_folder(args.assignment_dir)
    report = validate(folder, seeds=args.seeds, options=GradeOptions(data=data_option(args.data), order=args.order),
                      reference_dir=args.reference, run=not args.no_run,
                      progress=None if args.quiet else to_stderr)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        print(format_report(report))
    name = report.assignment.id if report.assignment else folder.name
    emit(ci_suites(report), junit=args.junit, title=f"grader validate: {name}",
         stream=sys.stderr if args.json else sys.stdout, time=report.duration_s)
    return EXIT_OK if report.ok else EXIT_FAILED
