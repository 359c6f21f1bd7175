"""What several commands share: the parser class, number types, and the options of runs.

Only argparse is imported here, so that ``grader --help`` stays instant; nothing
below the command line is imported until a command runs.
"""
from __future__ import annotations

import argparse
import math
import sys

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2


class Parser(argparse.ArgumentParser):
    """argparse, with a usage error in one line that says what to fix (the usage is in --help)."""

    def error(self, message):
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def number(kind, what: str, minimum, *, above: bool = False, below=None):
    """An argparse type: ``kind`` (int or float) at least ``minimum`` (above it if ``above``)."""

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


SECONDS = number(float, "a number of seconds above 0", 0, above=True)
COUNT = number(int, "a whole number of 1 or more", 1)
SEED = number(int, "a whole number from 0 to 4294967295", 0, below=2**32)
PORT = number(int, "a port number from 0 to 65535", 0, below=65536)


def data_option(values: list[str]) -> dict:
    """``--data NAME=PATH`` (repeated) as {name: path}."""
    from ..exceptions import UsageError

    data = {}
    for value in values or []:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise UsageError(f"--data expects NAME=PATH, got {value!r}", argument="data", value=value)
        data[name] = path
    return data


def add_data_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", action="append", metavar="NAME=PATH", default=[],
                        help="use this local copy of a data file, e.g. --data mnist=~/mnist.npz "
                             "(also: environment variable GRADER_DATA_<NAME>)")


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """The options of every command that runs kernels: assignment, data, limits, seed, sandbox."""
    parser.add_argument("--assignment", "-a", metavar="NAME_OR_DIR",
                        help="assignment name (folder under assignments/) or folder; "
                             "default: the only assignment found")
    add_data_option(parser)
    parser.add_argument("--cell-timeout", type=SECONDS, metavar="SECONDS",
                        help="per-cell time limit (default: from assignment.toml)")
    parser.add_argument("--budget", type=SECONDS, metavar="SECONDS",
                        help="whole-notebook time limit (default: from assignment.toml)")
    parser.add_argument("--seed", type=SEED, help="seed for Python, NumPy and TensorFlow "
                                                  "(default: from assignment.toml)")
    parser.add_argument("--memory-limit", type=COUNT, metavar="MB",
                        help="memory cap of each kernel and its children (default: from assignment.toml)")
    parser.add_argument("--max-processes", type=COUNT, metavar="N",
                        help="cap on each kernel's processes and threads (default: from assignment.toml)")
    add_sandbox_option(parser)
    compat = parser.add_mutually_exclusive_group()
    compat.add_argument("--tf1-compat", dest="tf1_compat", action="store_true", default=None,
                        help="`import tensorflow as tf` gives the TF1 API (default: per assignment)")
    compat.add_argument("--no-tf1-compat", dest="tf1_compat", action="store_false",
                        help="leave `import tensorflow` as it is")


def add_sandbox_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sandbox", choices=("required", "auto", "off"), default="auto",
                        help="run kernels in a bubblewrap sandbox: required (error when it cannot "
                             "be set up), auto (default: use it when it can be set up, say so in "
                             "every result when not), off")


ORDERS = ("top-down", "as-run")  # grader.run.schedule.ORDERS (not imported: --help stays instant)


def add_order_option(parser: argparse.ArgumentParser) -> None:
    """``--order``: the order the cells run in (default: the assignment's ``[kernel] order``)."""
    parser.add_argument("--order", choices=ORDERS, default=None,
                        help="in which order the cells run: top-down (every cell once, top to "
                             "bottom) or as-run (the learner's history as the saved execution "
                             "counts record it: earlier cells run again where they were re-run); "
                             "parts are measured once either way (default: the assignment's "
                             "[kernel] order)")


def add_threads_option(parser: argparse.ArgumentParser, *, default: str = "cores / workers") -> None:
    parser.add_argument("--threads", type=COUNT, metavar="N",
                        help=f"CPU threads per kernel and evaluator (TensorFlow, BLAS, OpenMP; default: "
                             f"{default}); measured values are bit-identical only under the same count")


def add_junit_option(parser: argparse.ArgumentParser) -> None:
    """``--junit FILE`` on a command's parser."""
    parser.add_argument("--junit", metavar="FILE",
                        help="also write the verdicts as JUnit XML (one test case per part per "
                             "notebook) for CI test reports; inside GitHub Actions a job summary "
                             "and annotations are written too")


def library_type(check):
    """An argparse type from a library check that raises :class:`grader.exceptions.UsageError`."""

    def parse(text: str):
        from ..exceptions import UsageError

        try:
            return check(text)
        except UsageError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return parse


def _cluster_address(value: str) -> str:
    from ..batch.dask import cluster_address  # imports nothing of Dask

    return cluster_address(value)


def add_cluster_option(parser: argparse.ArgumentParser) -> None:
    """``--cluster``, checked as the library checks it."""
    parser.add_argument(
        "--cluster", metavar="ADDRESS", default=None, type=library_type(_cluster_address),
        help="grade on a Dask cluster: a scheduler address (tcp://host:8786), a scheduler file "
             "(dask scheduler --scheduler-file), or local:N for N worker processes on this "
             "machine; results, journal and outbox stay here (see docs/operator/cluster.md)")


def grade_options(args):
    """The run options of ``args`` as the library's :class:`grader.orchestrate.GradeOptions`."""
    from ..orchestrate import GradeOptions

    return GradeOptions(cell_timeout=args.cell_timeout, notebook_budget=args.budget, seed=args.seed,
                        tf1_compat=args.tf1_compat, data=data_option(args.data),
                        memory_mb=args.memory_limit, max_processes=args.max_processes,
                        threads=getattr(args, "threads", None), sandbox=args.sandbox,
                        order=getattr(args, "order", None))


def to_stderr(text: str) -> None:
    """A progress line on stderr."""
    print(text, file=sys.stderr, flush=True)


def ci_outputs(results, args) -> None:
    """After ``check`` or ``grade``: JUnit (``--junit``), GitHub summary and annotations, which point
    at ``args.notebook`` (check) or ``args.directory``/submission (grade)."""
    from pathlib import Path

    from ..report.ci import write_ci_outputs

    listed = list(results) if isinstance(results, (list, tuple)) else [results]
    files = {}
    for result in listed:
        if getattr(args, "notebook", None):
            files[result.learner] = str(args.notebook)
        elif getattr(args, "directory", None):
            files[result.learner] = str(Path(args.directory) / result.submission)
    write_ci_outputs(listed, junit=getattr(args, "junit", None), command=getattr(args, "command", None) or "grader",
                     files=files, stream=sys.stderr if getattr(args, "json", False) else sys.stdout)
