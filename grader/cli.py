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


# --- usage errors in one line, numbers that make sense ------------------------------------------

class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error in one line that says what to fix (the usage is in --help)."""

    def error(self, message):
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _number(kind, what: str, minimum, *, above: bool = False, below=None):
    """An argparse type: ``kind`` (int or float) at least ``minimum`` (above it if ``above``)."""
    import math

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
        if (above and not value > minimum) or value < minimum or (below is not None and value >= below) \
                or (kind is float and not math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
        return value
    return parse


_SECONDS = _number(float, "a number of seconds above 0", 0, above=True)
_COUNT = _number(int, "a whole number of 1 or more", 1)
_SEED = _number(int, "a whole number from 0 to 4294967295", 0, below=2**32)


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
    parser.add_argument("--cell-timeout", type=_SECONDS, metavar="SECONDS",
                        help="per-cell time limit (default: from assignment.toml)")
    parser.add_argument("--budget", type=_SECONDS, metavar="SECONDS",
                        help="whole-notebook time limit (default: from assignment.toml)")
    parser.add_argument("--seed", type=_SEED, help="seed for Python, NumPy and TensorFlow "
                                                   "(default: from assignment.toml)")
    parser.add_argument("--memory-limit", type=_COUNT, metavar="MB",
                        help="memory cap of each kernel and its children (default: from assignment.toml)")
    parser.add_argument("--max-processes", type=_COUNT, metavar="N",
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

    parser = _Parser(
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
    _add_check_display_options(check)

    grade = commands.add_parser("grade", help="grade every notebook in a folder",
                                description="Grade every submission in DIR, write one result JSON "
                                            "per submission and gradebook.csv/json into --out.")
    grade.add_argument("directory", nargs="?", default="submissions", metavar="DIR",
                       help="folder of submissions (default: submissions/)")
    grade.add_argument("--out", "-o", default="results", metavar="DIR",
                       help="output folder (default: results/)")
    grade.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    grade.add_argument("--workers", "-j", type=_COUNT, metavar="N",
                       help="notebooks graded in parallel (default: the number of cores)")
    grade.add_argument("--threads", type=_COUNT, metavar="N",
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
    _add_similarity_to_grade(grade)

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

    _add_serve_parsers(commands)

    fields = commands.add_parser("spec-fields", help="list every key of assignment.toml and "
                                                     "thresholds.toml with its meaning")
    del fields
    add_validate_parser(commands)
    add_post_parser(commands)
    _add_correction_parsers(commands)
    _add_similarity_parser(commands)
    return parser


def _options(args):
    from .orchestrate import GradeOptions

    return GradeOptions(cell_timeout=args.cell_timeout, notebook_budget=args.budget, seed=args.seed,
                        tf1_compat=args.tf1_compat, data=_data_option(args.data),
                        memory_mb=args.memory_limit, max_processes=args.max_processes,
                        threads=getattr(args, "threads", None), sandbox=args.sandbox)


def _check(args) -> int:
    from .report.live import check_progress

    notebook, page = _check_inputs(args)  # a missing notebook, a folder as output: exit 2, nothing run
    # The display starts before the grading machinery is imported: the first line comes at once.
    # (It is transient: an error before the grading starts leaves only the error's line.)
    with check_progress("none" if args.quiet else args.progress, announce=f"checking {notebook}") as listener:
        result = _check_run(args, notebook, page, _options(args), listener)
    from .report.table import format_table

    if args.json:
        print(result.to_json())
    else:
        print(format_table(result))
    from .report.ci import write_ci_outputs

    write_ci_outputs(result, args)
    if page is not None:
        _open_page(page, args.open)
    return EXIT_OK if result.passed else EXIT_FAILED


# --- grader check: progress, --html, --open ------------------------------------------------------

def _add_check_display_options(check) -> None:
    check.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    check.add_argument("--progress", choices=("auto", "live", "plain", "jsonl", "none"), default="auto",
                       help="how progress shows on stderr: auto (default: live on a terminal, plain "
                            "lines otherwise), live, plain, jsonl (one JSON event per line), none")
    check.add_argument("--html", metavar="FILE",
                       help="also write the feedback page (as grader grade writes it) to FILE")
    check.add_argument("--open", action="store_true",
                       help="open the feedback page in a browser (written to a temporary file "
                            "unless --html is given)")


def _check_inputs(args):
    """What ``grader check`` was given, checked before anything runs: (notebook, page or None)."""
    import tempfile
    from pathlib import Path

    from .paths import notebook_file, output_file

    notebook = notebook_file(args.notebook)
    output_file(getattr(args, "junit", None), "--junit")
    page = output_file(args.html, "--html")
    if page is None and args.open:
        page = Path(tempfile.gettempdir()) / f"grader-feedback-{notebook.stem}.html"
    return notebook, page


def _check_run(args, notebook, page, options, listener):
    """Grade ``notebook``, telling ``listener``; write the feedback page when asked."""
    import tempfile
    from pathlib import Path

    from .api import check
    from .assignments import find_assignment

    assignment = find_assignment(args.assignment, notebooks=[notebook])
    with tempfile.TemporaryDirectory(prefix="grader-check-") as scratch:
        executed = Path(scratch) / "executed.ipynb" if page is not None else None
        result = check(notebook, assignment=assignment, options=options, on_event=listener,
                       executed_path=executed)
        if page is not None:
            from .report.html import feedback_page, notebook_images
            from .results import write_atomic

            write_atomic(page, feedback_page(result, assignment_title=assignment.title,
                                             images=notebook_images(executed)))
    return result


def _open_page(page, open_it: bool) -> None:
    print(f"feedback page: {page}", file=sys.stderr)
    if open_it:
        import webbrowser

        if not webbrowser.open(page.resolve().as_uri()):
            print(f"grader: no browser could be started: open {page} yourself", file=sys.stderr)


def _grade(args) -> int:
    from .api import grade
    from .post.cli import check_post_options, post_after_grade
    from .report.table import format_gradebook

    check_post_options(args)  # a broken posting configuration fails before the batch, not after
    results = grade(args.directory, assignment=args.assignment, out=args.out, options=_options(args),
                    workers=args.workers, force=args.force, mapping=args.learners_map,
                    cluster=args.cluster, similarity=args.similarity or bool(args.corpus),
                    corpus=args.corpus, progress=not args.quiet)
    from .ledger import Corrections

    print(format_gradebook(results, corrections=Corrections.load(args.out)))
    print(f"\n{len(results)} submission(s); in {args.out}/: gradebook.csv, gradebook.json, "
          f"summary.html, feedback/*.html, results/*.json"
          + (", similarity.html, similarity.csv (instructors only)" if args.similarity or args.corpus else ""))
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
    from .ledger import Corrections

    print(format_gradebook(results, corrections=Corrections.load(out)))
    print(f"\nwrote {out}/gradebook.csv, {out}/gradebook.json, {summary} and {len(results)} feedback page(s)")
    return EXIT_OK


# --- grader similarity (and grader grade --similarity) -----------------------------------------

def _add_similarity_to_grade(grade: argparse.ArgumentParser) -> None:
    grade.add_argument("--similarity", action="store_true",
                       help="at the end, write similarity.html and similarity.csv (instructors only): "
                            "code and models shared between learners")
    grade.add_argument("--corpus", metavar="DIR",
                       help="with --similarity (implied): also compare with the notebooks and .py "
                            "files of DIR (e.g. public solutions)")


def _add_similarity_parser(commands) -> None:
    from .similarity.defaults import CODE_DEFAULTS, REPORT_DEFAULTS

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


def _similarity(args) -> int:
    from .similarity import CodeSettings, Thresholds, similarity_report
    from .similarity.defaults import CODE_DEFAULTS, REPORT_DEFAULTS

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


# --- grader serve, grader tokens -----------------------------------------------------------------

_PORT = _number(int, "a port number from 0 to 65535", 0, below=65536)


def _add_serve_parsers(commands) -> None:
    serve = commands.add_parser(
        "serve", help="the grading service learners submit to from their notebooks",
        description="Serve an assignment over HTTP: learners' grader.submit(email, token) (with "
                    "GRADER_SUBMIT_URL pointing here) uploads the saved notebook, which is queued, "
                    "graded with the batch engine into OUT, and followed on the learner's page. "
                    "Tokens come from grader tokens issue.")
    serve.add_argument("--out", "-o", default="results", metavar="DIR",
                       help="results folder, as grader grade's (default: results/)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=_PORT, default=8000, help="port (default: 8000; 0: any free port)")
    serve.add_argument("--public-url", default="", metavar="URL",
                       help="the address learners reach (behind a reverse proxy), for the links printed")
    serve.add_argument("--workers", "-j", type=_COUNT, metavar="N",
                       help="notebooks graded in parallel (default: the number of cores)")
    serve.add_argument("--threads", type=_COUNT, metavar="N",
                       help="CPU threads per kernel (default: cores / workers)")
    serve.add_argument("--quiet", "-q", action="store_true", help="no line per submission on stderr")
    _add_run_options(serve)
    from .batch.dask import add_cluster_option

    add_cluster_option(serve)

    tokens = commands.add_parser("tokens", help="learners' submission tokens for grader serve",
                                 description="Issue, list and revoke the tokens learners submit with.")
    actions = tokens.add_subparsers(dest="action", metavar="ACTION", required=True)
    issue = actions.add_parser("issue", help="give each learner of a roster a token",
                               description="Add the learners of ROSTER.csv (columns email, and optionally "
                                           "learner and name) and give a token to each that has none "
                                           "active; the tokens are written once, to an owner-only CSV "
                                           "in OUT/serve/, for you to send out.")
    issue.add_argument("roster", metavar="ROSTER.csv")
    issue.add_argument("--out", "-o", default="results", metavar="DIR", help="results folder of the service")
    issue.add_argument("--days", type=_SECONDS, default=180.0, help="days until the tokens expire (default: 180)")
    issue.add_argument("--learner", action="append", default=[], metavar="ID_OR_EMAIL",
                       help="only this learner (repeatable); with --reissue, a new token for a lost one")
    issue.add_argument("--reissue", action="store_true", help="replace active tokens too")
    listing = actions.add_parser("list", help="the learners and the state of their tokens")
    listing.add_argument("out", metavar="OUT", nargs="?", default="results")
    revoke = actions.add_parser("revoke", help="end learners' tokens now")
    revoke.add_argument("out", metavar="OUT")
    revoke.add_argument("who", metavar="ID_OR_EMAIL", nargs="+")


def _serve(args) -> int:
    from .serve.server import serve

    options = _options(args)
    serve(assignment=args.assignment, out=args.out, options=options, workers=args.workers,
          cluster=args.cluster, host=args.host, port=args.port, public_url=args.public_url, quiet=args.quiet)
    return EXIT_OK


def _tokens(args) -> int:
    from .serve import tokens

    if args.action == "issue":
        issued = tokens.issue(args.roster, out=args.out, days=args.days, learners=args.learner,
                              reissue=args.reissue)
        if issued.issued:
            print(f"issued {len(issued.issued)} token(s), valid until {issued.expires_at[:10]}: "
                  f"{issued.tokens_file} (owner-only; send each learner their line, then delete it)")
        else:
            print("no token issued: every learner of the roster has an active one (--reissue replaces them)")
        if issued.kept:
            print(f"{len(issued.kept)} learner(s) kept their active token")
        return EXIT_OK
    if args.action == "list":
        learners = tokens.roster(args.out)
        if not learners:
            print(f"no learner in {args.out}: grader tokens issue ROSTER.csv --out {args.out}")
            return EXIT_OK
        width = max(len(l.learner) for l in learners)
        for learner in learners:
            print(f"{learner.learner.ljust(width)}  {learner.email}  {learner.state()}"
                  + (f" (expires {learner.expires_at[:10]})" if learner.state() == "active" else ""))
        return EXIT_OK
    revoked = tokens.revoke(args.out, args.who)
    print(f"revoked the token(s) of {', '.join(revoked)}")
    return EXIT_OK


def _spec_fields(_args) -> int:
    from . import specs as spec

    for cls, title in ((spec.Assignment, "assignment.toml (top level)"),
                       (spec.KernelSpec, "assignment.toml [kernel]"),
                       (spec.SubmissionPolicy, "assignment.toml [submissions] (grader serve)"),
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


# --- corrections: grader override, grader rescore, grader audit ---------------------------------

def _add_correction_parsers(commands) -> None:
    override = commands.add_parser(
        "override", help="set a part's points for a learner, with a reason (audit-logged)",
        description="Record course staff's points for one part of one learner, with a reason the "
                    "learner sees. Kept in OUT/corrections.sqlite (append-only: who, when, part, "
                    "old and new points, reason); result files are not edited. The gradebook, "
                    "feedback page and summary are rewritten; `grader post` sends the new version.",
        epilog="examples: grader override results alice RMv95 --points 1 --reason 'regrade "
               "accepted' | grader override results alice --clear RMv95 | grader override "
               "results --list")
    override.add_argument("out", metavar="OUT", help="results folder written by grader grade")
    override.add_argument("learner", metavar="LEARNER", nargs="?")
    override.add_argument("part", metavar="PART", nargs="?")
    override.add_argument("--points", metavar="P", help="the part's points (0 to its maximum)")
    override.add_argument("--reason", metavar="TEXT", help="why (shown to the learner; required)")
    override.add_argument("--by", metavar="NAME",
                          help="who (default: $GRADER_USER, else your login name)")
    override.add_argument("--clear", metavar="PART",
                          help="withdraw the override of PART: the grader's verdict counts again")
    override.add_argument("--list", action="store_true", help="list the overrides in force")
    override.add_argument("--json", action="store_true", help="--list as JSON")

    rescore = commands.add_parser(
        "rescore", help="judge stored measurements again under the current thresholds.toml",
        description="Judge every result in OUT again against the current thresholds.toml without "
                    "running a notebook, record each change in OUT/corrections.sqlite, rewrite "
                    "the reports, and print each learner whose grade changed. Exit 0; 1 when some "
                    "results could not be judged again (measured with another assignment.toml: "
                    "grader grade runs them again).")
    rescore.add_argument("out", metavar="OUT", help="results folder written by grader grade")
    rescore.add_argument("--assignment", "-a", metavar="NAME_OR_DIR",
                         help="assignment (default: the one the results name)")
    rescore.add_argument("--by", metavar="NAME", help="who (default: $GRADER_USER, else your "
                                                      "login name)")
    rescore.add_argument("--reason", metavar="TEXT", default="",
                         help="why (default: the thresholds' digest)")
    rescore.add_argument("--force", action="store_true",
                         help="judge again even results already judged with these thresholds")
    rescore.add_argument("--json", action="store_true", help="print the changes as JSON")

    audit = commands.add_parser(
        "audit", help="the history of a learner's grade: gradings, rescores, overrides, posts",
        description="Print what happened to the grades of OUT (of LEARNER): every grading (from "
                    "journal.jsonl), rescore and override (corrections.sqlite), and post (the "
                    "outbox: what was sent where, when, and the receiver's answer).")
    audit.add_argument("out", metavar="OUT", help="results folder written by grader grade")
    audit.add_argument("learner", metavar="LEARNER", nargs="?")
    audit.add_argument("--json", action="store_true", help="print the entries as JSON")


def _points(text: str | None) -> float:
    import math

    try:
        value = float(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"--points expects a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"--points expects a finite number, got {text!r}")
    return value


def _override(args) -> int:
    import json

    from . import corrections

    if args.list:
        if args.learner or args.part or args.points is not None or args.clear:
            raise argparse.ArgumentTypeError("--list takes no LEARNER, PART, --points or --clear")
        listed = corrections.list_overrides(args.out)
        if args.json:
            print(json.dumps([{"learner": item.learner, **item.override.__dict__}
                              for item in listed], indent=2, ensure_ascii=False))
            return EXIT_OK
        for item in listed:
            o = item.override
            print(f"{item.learner}  {o.part}  {o.points:g}  by {o.by}  {o.at[:19].replace('T', ' ')}"
                  f"  {o.reason}" + (f"  [CHECK: {o.changed}]" if o.changed else ""))
        print(f"{len(listed)} override(s) in force")
        return EXIT_OK
    if not args.learner:
        raise argparse.ArgumentTypeError("give LEARNER and PART (or --clear PART, or --list)")
    if args.clear:
        if args.part or args.points is not None:
            raise argparse.ArgumentTypeError("--clear PART takes no other PART and no --points")
        event = corrections.clear(args.out, args.learner, args.clear, reason=args.reason or "",
                                  by=args.by)
        print(f"{args.learner} {event.part}: override cleared by {event.by}; "
              f"{event.old_points:g} -> {event.new_points:g} point(s) (the grader's verdict)")
    else:
        if not args.part:
            raise argparse.ArgumentTypeError("give the PART to override (or --clear PART)")
        if args.points is None:
            raise argparse.ArgumentTypeError("give the part's points: --points P")
        event = corrections.override(args.out, args.learner, args.part,
                                     points=_points(args.points), reason=args.reason or "",
                                     by=args.by)
        print(f"{args.learner} {event.part}: {event.old_points:g} -> {event.new_points:g} "
              f"point(s), by {event.by}: {event.reason}")
    print(f"recorded in {args.out}/corrections.sqlite; rewrote gradebook.csv, gradebook.json, "
          f"feedback page, summary.html; `grader post {args.out} --to NAME` sends the new version")
    return EXIT_OK


def _rescore(args) -> int:
    import json

    from . import corrections

    report = corrections.rescore(args.out, assignment=args.assignment, by=args.by,
                                 reason=args.reason, force=args.force)
    if args.json:
        print(json.dumps({"assignment": report.assignment, "run": report.run,
                          "thresholds_digest": report.thresholds_digest, "judged": report.judged,
                          "current": report.current, "seconds": round(report.seconds, 3),
                          "changed": [{"learner": c.learner, "before": c.before, "after": c.after,
                                       "parts": [{"part": p.part, "before": p.before,
                                                  "after": p.after} for p in c.parts],
                                       "overridden": c.overridden} for c in report.changed],
                          "stale": [{"learner": learner, "why": why}
                                    for learner, why in report.stale]}, indent=2))
        return EXIT_FAILED if report.stale else EXIT_OK
    for change in report.changed:
        held = f" (override still holds {', '.join(change.overridden)})" if change.overridden else ""
        print(f"{change.learner}: {change.before:g} -> {change.after:g}{held}")
        for part in change.parts:
            print(f"    {part.why()}")
    for learner, why in report.stale:
        print(f"{learner}: not judged again: {why}")
    print(f"{report.assignment}: {report.judged} result(s) judged again with thresholds.toml "
          f"{report.thresholds_digest[:12]} in {report.seconds:.2f} s, no notebook run; "
          f"{len(report.changed)} grade(s) changed"
          + (f", {report.reworded} the same but for the rule's wording" if report.reworded else "")
          + (f"; {report.current} already judged with these thresholds" if report.current else "")
          + (f"; {len(report.stale)} need a re-run" if report.stale else ""))
    if report.changed:
        print(f"`grader post {args.out} --to NAME` sends the changed grades as new versions")
    return EXIT_FAILED if report.stale else EXIT_OK


def _audit(args) -> int:
    import json

    from .audit import format_audit, history

    audit = history(args.out, args.learner)
    if args.json:
        print(json.dumps([entry.to_dict() for entry in audit.entries], indent=2,
                         ensure_ascii=False))
    else:
        print(format_audit(audit, args.learner))
    return EXIT_OK


def _run_command(handler, args) -> int:
    from .run.stop import reap_orphans

    try:
        return handler(args)
    finally:
        # However the command ends (Ctrl-C at any moment included), the sandbox inits it adopted
        # are reaped before it exits, not left to the machine's init.
        reap_orphans(wait_s=1.0)


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
                "calibrate": _calibrate, "similarity": _similarity,
                "spec-fields": _spec_fields, "serve": _serve, "tokens": _tokens,
                "override": _override, "rescore": _rescore, "audit": _audit}
    if args.command not in handlers:
        parser.print_help()
        return EXIT_ERROR
    from .exceptions import GraderError
    from .run.stop import exit_code_of, honour_stop_signals

    honour_stop_signals()  # Ctrl-C and SIGTERM stop the command, even when its parent ignored them
    try:
        return _run_command(handlers[args.command], args)
    except GraderError as exc:
        print(f"grader: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except argparse.ArgumentTypeError as exc:
        print(f"grader: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt as stop:
        code, word = exit_code_of(stop)
        print(f"grader: {word}", file=sys.stderr)
        return code
    except Exception as exc:  # a bug of the grader itself: still exit 2, with the traceback
        import traceback

        traceback.print_exc()
        print(f"grader: internal error: {type(exc).__name__}: {exc} (this is a bug of the grader; "
              f"please report it with the traceback above)", file=sys.stderr)
        return EXIT_ERROR
