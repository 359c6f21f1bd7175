"""``grader grade [DIR] --out OUT``: grade a whole class (then, if asked, similarity and posting)."""
from __future__ import annotations

import sys

from .options import (COUNT, EXIT_ERROR, EXIT_FAILED, EXIT_OK, add_cluster_option, add_junit_option,
                      add_run_options, add_threads_option, ci_outputs, grade_options)
from .options import add_order_option


def add_parser(commands) -> None:
    grade = commands.add_parser("grade", help="grade every notebook in a folder",
                                description="Grade every submission in DIR, write one result JSON "
                                            "per submission and gradebook.csv/json into --out.")
    grade.add_argument("directory", nargs="?", default="submissions", metavar="DIR",
                       help="folder of submissions (default: submissions/)")
    grade.add_argument("--out", "-o", default="results", metavar="DIR",
                       help="output folder (default: results/)")
    grade.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    grade.add_argument("--workers", "-j", type=COUNT, metavar="N",
                       help="notebooks graded in parallel (default: the number of cores)")
    add_threads_option(grade)
    grade.add_argument("--force", action="store_true",
                       help="regrade every submission, even those already graded in OUT")
    grade.add_argument("--learners-map", metavar="CSV",
                       help="CSV with columns submission,learner: learner ids for files or folders")
    add_run_options(grade)
    add_order_option(grade)
    add_junit_option(grade)
    add_cluster_option(grade)
    from .post import add_post_option

    add_post_option(grade)
    grade.add_argument("--similarity", action="store_true",
                       help="at the end, write similarity.html and similarity.csv (instructors only): "
                            "code and models shared between learners")
    grade.add_argument("--corpus", metavar="DIR",
                       help="with --similarity (implied): also compare with the notebooks and .py "
                            "files of DIR (e.g. public solutions)")


def run(args) -> int:
    from ..api import grade
    from ..report.table import format_gradebook
    from .post import check_post_options, post_after_grade

    check_post_options(args)  # a broken posting configuration fails before the batch, not after
    results = grade(args.directory, assignment=args.assignment, out=args.out, options=grade_options(args),
                    workers=args.workers, force=args.force, mapping=args.learners_map,
                    cluster=args.cluster, similarity=args.similarity or bool(args.corpus),
                    corpus=args.corpus, progress=not args.quiet)
    from ..corrections import Corrections

    print(format_gradebook(results, corrections=Corrections.load(args.out)))
    print(f"\n{len(results)} submission(s); in {args.out}/: gradebook.csv, gradebook.json, "
          f"summary.html, feedback/*.html, results/*.json"
          + (", similarity.html, similarity.csv (instructors only)" if args.similarity or args.corpus else ""))
    ci_outputs(results, args)
    status = EXIT_OK if results and all(r.passed for r in results) else EXIT_FAILED
    status = max(status, grader_faults(results))
    if args.post:
        status = max(status, post_after_grade(args, args.out))
    return status


def grader_faults(results) -> int:
    """Exit status 2, and one line, when some rows are the grader's fault rather than a grade."""
    from ..results import GRADER_ERROR

    faults = [r.learner for r in results if r.status == GRADER_ERROR]
    if not faults:
        return EXIT_OK
    shown = ", ".join(faults[:5]) + (f" and {len(faults) - 5} more" if len(faults) > 5 else "")
    print(f"grader: {len(faults)} submission(s) could not be graded because of a fault of the grader or "
          f"the machine, not of the notebook ({shown}); run the same command again to grade them",
          file=sys.stderr)
    return EXIT_ERROR
