"""``grader check NOTEBOOK``: a learner's self-check, with live progress, ``--html`` and ``--open``."""
from __future__ import annotations

import sys

from .options import EXIT_FAILED, EXIT_OK, add_junit_option, add_run_options, ci_outputs, grade_options
from .options import add_order_option, add_threads_option


def add_parser(commands) -> None:
    check = commands.add_parser("check", help="grade one notebook (a learner's self-check)",
                                description="Run NOTEBOOK in a fresh kernel, in the assignment's "
                                            "order (top to bottom, or as the learner ran it), and "
                                            "report each graded part. Exit 0 when all pass.")
    check.add_argument("notebook", metavar="NOTEBOOK")
    add_run_options(check)
    add_threads_option(check, default="one per core")
    add_order_option(check)
    add_junit_option(check)
    check.add_argument("--json", action="store_true", help="print the result as JSON")
    check.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    check.add_argument("--progress", choices=("auto", "live", "plain", "jsonl", "none"), default="auto",
                       help="how progress shows on stderr: auto (default: live on a terminal, plain "
                            "lines otherwise), live, plain, jsonl (one JSON event per line), none")
    check.add_argument("--html", metavar="FILE",
                       help="also write the feedback page (as grader grade writes it) to FILE")
    check.add_argument("--open", action="store_true",
                       help="open the feedback page in a browser (written to a temporary file "
                            "unless --html is given)")


def run(args) -> int:
    from ..report.live import check_progress

    notebook, page = _inputs(args)  # a missing notebook, a folder as output: exit 2, nothing run
    # The display starts before the grading machinery is imported: the first line comes at once.
    # (It is transient: an error before the grading starts leaves only the error's line.)
    with check_progress("none" if args.quiet else args.progress, announce=f"checking {notebook}") as listener:
        result = _grade(args, notebook, page, grade_options(args), listener)
    from ..report.table import format_table

    if args.json:
        print(result.to_json())
    else:
        print(format_table(result))
    ci_outputs(result, args)
    if page is not None:
        _open_page(page, args.open)
    return EXIT_OK if result.passed else EXIT_FAILED


def _inputs(args):
    """What ``grader check`` was given, checked before anything runs: (notebook, page or None)."""
    import tempfile
    from pathlib import Path

    from ..paths import notebook_file, output_file

    notebook = notebook_file(args.notebook)
    output_file(getattr(args, "junit", None), "--junit")
    page = output_file(args.html, "--html")
    if page is None and args.open:
        page = Path(tempfile.gettempdir()) / f"grader-feedback-{notebook.stem}.html"
    return notebook, page


def _grade(args, notebook, page, options, listener):
    """Grade ``notebook``, telling ``listener``; write the feedback page when asked."""
    import tempfile
    from pathlib import Path

    from ..api import check
    from ..assignments import find_assignment

    assignment = find_assignment(args.assignment, notebooks=[notebook])
    with tempfile.TemporaryDirectory(prefix="grader-check-") as scratch:
        executed = Path(scratch) / "executed.ipynb" if page is not None else None
        result = check(notebook, assignment=assignment, options=options, on_event=listener,
                       executed_path=executed)
        if page is not None:
            from ..report.html import feedback_page, notebook_images
            from ..results import write_atomic

            write_atomic(page, feedback_page(result, assignment_title=assignment.title,
                                             images=notebook_images(executed)))
    return result


def _open_page(page, open_it: bool) -> None:
    print(f"feedback page: {page}", file=sys.stderr)
    if open_it:
        import webbrowser

        if not webbrowser.open(page.resolve().as_uri()):
            print(f"grader: no browser could be started: open {page} yourself", file=sys.stderr)
