"""``grader report OUT``: rebuild the gradebook and the pages of a results folder."""
from __future__ import annotations

from .options import EXIT_OK


def add_parser(commands) -> None:
    report = commands.add_parser("report", help="(re)write the gradebook and HTML reports of a results folder",
                                 description="Rebuild gradebook.csv/json, feedback/LEARNER.html and "
                                             "summary.html from OUT/results/*.json.")
    report.add_argument("out", metavar="OUT", nargs="?", default="results",
                        help="results folder written by grader grade (default: results/)")
    report.add_argument("--title", default="", help="title of the pages (default: the assignment id)")


def run(args) -> int:
    from ..corrections import Corrections
    from ..report.rebuild import rebuild_reports
    from ..report.table import format_gradebook

    rebuilt = rebuild_reports(args.out, title=args.title)
    print(format_gradebook(rebuilt.results, corrections=Corrections.load(args.out)))
    print(f"\nwrote {args.out}/gradebook.csv, {args.out}/gradebook.json, {rebuilt.summary} and "
          f"{len(rebuilt.results)} feedback page(s)")
    return EXIT_OK
