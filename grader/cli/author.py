"""``grader author [SOURCE]``: the template, the solution and the weak samples from one source notebook."""
from __future__ import annotations

from .options import EXIT_FAILED, EXIT_OK


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "author", help="write the template, the solution and the weak samples from one source notebook",
        description="Read SOURCE, the reference solution with ### BEGIN SOLUTION / ### END SOLUTION "
                    "markers (and TEMPLATE, WEAK and HIDDEN markers: see docs/author/authoring.md), "
                    "and write the assignment's template, its reference solution and a weak sample "
                    "per WEAK name (weak/NAME.ipynb in the reference folder). Nothing is written when "
                    "a marker is out of place.")
    parser.add_argument("source", metavar="SOURCE", nargs="?",
                        help="the source notebook (.ipynb, or a .py in Jupytext's percent format); "
                             "default: the assignment's `source` (assignment.toml)")
    parser.add_argument("--assignment", "-a", metavar="NAME_OR_DIR",
                        help="the assignment (default: assignments/NAME for a source in reference/NAME/)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when a generated notebook is stale (for CI or a "
                             "pre-commit hook)")


def run(args) -> int:
    from pathlib import Path

    from ..assignments import find_assignment
    from ..authoring.author import assignment_of_source, author
    from ..exceptions import UsageError
    from ..paths import relative

    source = Path(args.source) if args.source else None
    if source is not None and not source.is_file():
        raise UsageError(f"{source}: no such source notebook", argument="source", value=str(source))
    if args.assignment is not None:
        assignment = find_assignment(args.assignment)
    elif source is not None:
        assignment = assignment_of_source(source)
        if assignment is None:
            raise UsageError(f"{source} is not in reference/NAME/ beside an assignments/NAME folder: "
                             f"name the assignment with --assignment", argument="assignment", value=None)
    else:
        assignment = find_assignment(None)
    report = author(assignment, source=source, check=args.check)
    if args.check:
        for path, why in report.stale:
            print(f"stale: {relative(path)}: {why}")
        if report.stale:
            print(f"run: grader author {relative(report.source)}")
            return EXIT_FAILED
        print(f"up to date: the notebooks of {relative(report.source)}")
        return EXIT_OK
    for path in report.written:
        print(f"wrote {relative(path)}")
    for path in report.unchanged:
        print(f"unchanged {relative(path)}")
    for path in report.removed:
        print(f"removed {relative(path)} (the source has no such weak sample any more)")
    return EXIT_OK
