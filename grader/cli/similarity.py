"""``grader similarity OUT``: evidence of shared code and models between learners (instructors only)."""
from __future__ import annotations

from .options import EXIT_OK


def add_parser(commands) -> None:
    from ..similarity.defaults import CODE_DEFAULTS, REPORT_DEFAULTS

    similarity = commands.add_parser(
        "similarity", help="rank the pairs of learners of a graded class, and of learners and known "
                           "solutions, by how much code they share (instructors only)",
        description="Score every pair of learners of OUT (the --out folder of grader grade), and every "
                    "learner with every file of --corpus, by the code they share (the template left out, "
                    "each fragment weighed by how rare it is in the class); list the closest pairs, mark "
                    "those that stand out from the class's own pairs and say why; write "
                    "OUT/similarity.html and OUT/similarity.csv. Evidence for a person to judge, never "
                    "a penalty.")
    similarity.add_argument("out", metavar="OUT", nargs="?", default="results",
                            help="results folder written by grader grade (default: results/)")
    similarity.add_argument("--corpus", metavar="DIR",
                            help="a folder of notebooks or .py files (e.g. public solutions) to compare with")
    similarity.add_argument("--assignment", "-a", metavar="NAME_OR_DIR",
                            help="the assignment whose template is left out (default: the results')")
    for name, (default, text) in {**REPORT_DEFAULTS, **CODE_DEFAULTS}.items():
        similarity.add_argument("--" + name.replace("_", "-"), dest=name, type=type(default),
                                default=default, metavar="N", help=f"{text} (default: {default})")
    similarity.add_argument("--workers", "-j", type=int, metavar="N",
                            help="processes that tokenise code (default: the number of cores)")


def run(args) -> int:
    from ..similarity import CodeSettings, Thresholds, similarity_report
    from ..similarity.defaults import CODE_DEFAULTS, REPORT_DEFAULTS

    report = similarity_report(
        args.out, corpus=args.corpus, assignment=args.assignment,
        settings=CodeSettings(workers=args.workers, **{n: getattr(args, n) for n in CODE_DEFAULTS}),
        thresholds=Thresholds(**{n: getattr(args, n) for n in REPORT_DEFAULTS}))
    for pair in report.pairs:
        if pair.stands_out or pair.rank <= 5:
            kind = "corpus " if pair.second_kind == "corpus" else ""
            print(f"{pair.rank:4}. {pair.first} <-> {kind}{pair.second}: similarity {pair.similarity:.2f}, "
                  f"{pair.spreads:.1f} spreads out" + (f"; STANDS OUT: {pair.why}" if pair.stands_out else ""))
    print(f"{len(report.standing_out)} pair(s) standing out, {len(report.clusters)} cluster(s), "
          f"{len(report.pairs)} closest pair(s) listed of {report.scored} among {report.learners} learner(s) "
          f"in {report.seconds} s; wrote {report.html} and {report.csv} (instructors only: evidence for a "
          f"person to judge)")
    return EXIT_OK
