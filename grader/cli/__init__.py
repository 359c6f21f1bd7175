"""The `grader` command: parse, call the library, print, map errors to exit codes.

One module per command, its parser beside its handler: each has
``add_parser(commands)`` and ``run(args) -> int``; the handlers call public
library functions with keyword arguments and never pass an argparse
Namespace below this package.  :func:`main` is the one place that maps
exceptions to exit codes.

Exit status: 0 when every part of every notebook passes, 1 when some part
does not (or a notebook could not be graded), 2 for usage errors and faults
of the harness itself (:class:`grader.exceptions.GraderError`), 130 and 143
for Ctrl-C and SIGTERM.

Modules: ``options`` (the parser class, number types, options several commands
share), ``check``, ``grade``, ``report``, ``calibrate``, ``validate``, ``author``,
``post``, ``similarity``, ``serve`` (serve and tokens), ``lti`` (the service as an LTI tool),
``corrections`` (override, rescore, audit), ``spec_fields``.

Only argparse is imported at start-up so that ``grader --help`` is instant;
each command imports what it needs when it runs.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from .options import EXIT_ERROR, EXIT_FAILED, EXIT_OK, Parser

__all__ = ["main", "build_parser", "EXIT_OK", "EXIT_FAILED", "EXIT_ERROR"]

# command -> module of this package that defines it (its add_parser adds every name it handles)
COMMANDS = {
    "check": "check", "grade": "grade", "report": "report", "calibrate": "calibrate",
    "serve": "serve", "tokens": "serve", "spec-fields": "spec_fields", "validate": "validate",
    "post": "post", "override": "corrections", "rescore": "corrections", "audit": "corrections",
    "similarity": "similarity", "lti": "lti",
    "author": "author",
}


def _module(name: str):
    return importlib.import_module(f"{__name__}.{name}")


def build_parser() -> argparse.ArgumentParser:
    """The whole ``grader`` parser (also read by tools/make_reference_docs.py)."""
    parser = Parser(prog="grader",
                    description="Grade notebook assignments by running them and measuring the results.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in dict.fromkeys(COMMANDS.values()):
        _module(module).add_parser(commands)
    return parser


def _handler(command: str):
    module = _module(COMMANDS[command])
    return getattr(module, "run_" + command.replace("-", "_"), None) or module.run


def _warn_unsandboxed_secrets(args) -> None:
    """One line on stderr when kernels will run without the sandbox while secrets are in reach."""
    if getattr(args, "sandbox", None) not in ("auto", "off"):
        return
    from ..run.environment import unsandboxed_warning

    warning = unsandboxed_warning()
    if warning and args.sandbox == "auto":
        from ..run.sandbox import sandbox_mode

        sandboxed, _ = sandbox_mode("auto")  # the probe runs only when there is something to warn of
        warning = "" if sandboxed else warning
    if warning:
        print(f"grader: {warning}", file=sys.stderr)


def _run_command(handler, args) -> int:
    from ..run.stop import reap_orphans

    try:
        _warn_unsandboxed_secrets(args)
        return handler(args)
    finally:
        # However the command ends (Ctrl-C at any moment included), the sandbox inits it adopted
        # are reaped before it exits, not left to the machine's init.
        reap_orphans(wait_s=1.0)


def main(argv: list[str] | None = None) -> int:
    """Run ``grader ARGV``; returns the exit status (see the module docstring)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    if args.version:
        from ..version import __version__

        print(f"grader {__version__}")
        return EXIT_OK
    if args.command not in COMMANDS:
        parser.print_help()
        return EXIT_ERROR
    from ..exceptions import GraderError
    from ..run.stop import exit_code_of, honour_stop_signals

    honour_stop_signals()  # Ctrl-C and SIGTERM stop the command, even when its parent ignored them
    try:
        return _run_command(_handler(args.command), args)
    except GraderError as exc:
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
