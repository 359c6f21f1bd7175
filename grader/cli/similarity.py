"""``grader similarity OUT``: evidence of shared code and models between learners (instructors only)."""
from __future__ import annotations

from .options import EXIT_OK


def add_parser(commands) -> None:
    from ..similarity.defaults import CODE_DEFAULTS, THRESHOLD_DEFAULTS

    similarity = commands.add_parser(
        "similarity", help="compare the learners of a graded class with each other and with known "
                           "solutions (instructors only)",
        description="Compare every learner's code cells (template and fragments common to the class "
                    "left out) and re-run models of OUT (the --out folder of grader grade); write "
                    "OUT/similarity.html and OUT/similarity.csv. Evidence for a person to judge, never "
                    "a penalty.")
    similarity.add_argument("out", metavar="OUT", nargs="?", default="results",
                            help="results folder written by grader grade (default: results/)")
    similarity.add_argument("--corpus", metavar="DIR",
                            help="a folder of notebooks or .py files (e.g. public solutions) to compare with")
    similarity.add_argument("--assignment", "-a", metavar="NAME_OR_DIR",
                            help="the assignment whose template is left out (default: the results')")
    for name, (default, text) in {**THRESHOLD_DEFAULTS, **CODE_DEFAULTS}.items():
        similarity.add_argument("--" + name.replace("_", "-"), dest=name, type=type(default),
                                default=default, metavar="N", help=f"{text} (default: {default})")
    similarity.add_argument("--workers", "-j", type=int, metavar="N",
                            help="processes that tokenise code (default: the number of cores)")


def run(args) -> int:
    from ..similarity import CodeSettings, Thresholds, similarity_report
    from ..similarity.defaults import CODE_DEFAULTS, THRESHOLD_DEFAULTS

    report = similarity_report(
        args.out, corpus=args.corpus, assignment=args.assignment,
        settings=CodeSettings(workers=args.workers, **{n: getattr(args, n) for n in CODE_DEFAULTS}),
        thresholds=Thresholds(**{n: getattr(args, n) for n in THRESHOLD_DEFAULTS}))
    for rank, pair in enumerate(report.pairs, start=1):
        kind = "corpus " if pair.second_kind == "corpus" else ""
        print(f"{rank:3}. {pair.first} <-> {kind}{pair.second}: evidence {pair.evidence:.2f}; "
              + "; ".join(pair.reasons))
    print(f"{len(report.pairs)} pair(s), {len(report.clusters)} group(s) among {report.learners} learner(s) "
          f"in {report.seconds} s; wrote {report.html} and {report.csv} (instructors only: evidence for a "
          f"person to judge)")
    return EXIT_OK
