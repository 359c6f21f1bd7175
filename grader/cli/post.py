"""``grader post RESULTS --to NAME``, and ``grader grade --post NAME``: parse, call
:func:`grader.post.post_results`, print.

Secrets have no command-line option on purpose (other users can read command lines).
"""
from __future__ import annotations

import argparse

from .options import EXIT_OK, to_stderr

EXIT_INCOMPLETE = 1
DESTINATIONS_HELP = "coursera, webhook, gradescope or lti"

# Command-line options that set a destination setting, and the setting they set.
_SETTING_OPTIONS = {"url": "--url", "course_key": "--course-key", "lineitem": "--lineitem",
                    "output": "--output"}


def _add_common(parser: argparse.ArgumentParser, *, prefix: str = "") -> None:
    parser.add_argument(f"--{prefix}config", metavar="FILE", dest="post_config",
                        help="posting config file, TOML, mode 600 (default: $GRADER_POST_CONFIG, "
                             "else ~/.config/grader/post.toml)")
    parser.add_argument(f"--{prefix}learners", metavar="FILE", dest="learners",
                        help="CSV mapping learner ids to platform identities: columns learner,"
                             "email,lms_user_id (default: $GRADER_LEARNERS)")


def add_parser(commands) -> argparse.ArgumentParser:
    """Add the ``post`` command to the ``grader`` subparsers."""
    post = commands.add_parser(
        "post", help="post scores from a results folder to a course platform, LMS or URL",
        description="Post every result in RESULTS (the --out folder of `grader grade`) to one "
                    "destination. Each score is recorded in RESULTS/outbox.sqlite before it is "
                    "sent and marked sent when the destination confirms it, so a re-run sends "
                    "only what is still pending and nothing twice. Secrets come from the "
                    "environment or an owner-only config file: see docs/instructor/posting.md.")
    post.add_argument("results", nargs="?", default="results", metavar="RESULTS",
                      help="results folder (default: results/)")
    post.add_argument("--to", metavar="NAME", help=f"destination: {DESTINATIONS_HELP}")
    post.add_argument("--status", action="store_true",
                      help="show every version of every score: pending, sent, failed or "
                           "superseded; send nothing")
    post.add_argument("--retry-failed", action="store_true",
                      help="also re-send scores a destination refused (after fixing the cause)")
    _add_common(post)
    post.add_argument("--assignment", "-a", metavar="NAME_OR_DIR",
                      help="assignment folder (coursera: its part ids and course_key; default: "
                           "the assignment named in the results)")
    post.add_argument("--url", metavar="URL", help="coursera, webhook: endpoint URL")
    post.add_argument("--course-key", metavar="KEY",
                      help="coursera: assignment key (default: course_key in assignment.toml)")
    post.add_argument("--lineitem", metavar="URL", help="lti: line item URL")
    post.add_argument("--output", metavar="PATH",
                      help="gradescope: results.json to write ({learner} is replaced)")
    post.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                      help="any other non-secret setting of the destination, e.g. "
                           "--set client_id=abc (repeatable)")
    post.add_argument("--attempts", type=int, metavar="N",
                      help="tries per score in this run (default 5)")
    post.add_argument("--base-delay", type=float, metavar="SECONDS",
                      help="first retry delay, doubled each time, with jitter (default 1)")
    post.add_argument("--max-delay", type=float, metavar="SECONDS",
                      help="longest delay between tries (default 60)")
    post.add_argument("--timeout", type=float, metavar="SECONDS",
                      help="seconds to wait for an answer (default 30)")
    post.add_argument("--quiet", "-q", action="store_true", help="no retry messages on stderr")
    return post


def add_post_option(grade_parser: argparse.ArgumentParser) -> None:
    """Add ``--post NAME``, ``--post-learners``, ``--post-config``, ``--post-url`` to ``grader grade``.

    Prefixed so that they read apart from grading's own options (``--learners-map``
    maps *files* to learner ids; ``--post-learners`` maps learner ids to platform ids).
    """
    grade_parser.add_argument("--post", action="append", default=[], metavar="NAME",
                              help=f"after grading, post the scores to NAME ({DESTINATIONS_HELP}; "
                                   "repeatable); settings as for `grader post`")
    _add_common(grade_parser, prefix="post-")
    grade_parser.add_argument("--post-url", metavar="URL", help="coursera, webhook: endpoint URL")


def _settings(args) -> dict:
    from ..exceptions import UsageError

    settings = {}
    for pair in getattr(args, "set", []) or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--set expects KEY=VALUE, got {pair!r}", argument="set", value=pair)
        settings[key.strip()] = value
    for setting in _SETTING_OPTIONS:
        if getattr(args, setting, None) is not None:
            settings[setting] = getattr(args, setting)
    if getattr(args, "post_url", None):
        settings["url"] = args.post_url
    return settings


def _retry(args) -> dict:
    return {key: getattr(args, key) for key in ("attempts", "base_delay", "max_delay", "timeout")
            if getattr(args, key, None) is not None}


def format_report(report) -> str:
    """The outcome of a run: one line per learner, then the counts."""
    lines = [f"{report.destination} -> {report.target} (outbox: {report.outbox})"]
    width = max([7] + [len(o.learner) for o in report.outcomes])
    for outcome in report.outcomes:
        tries = str(outcome.attempts) if outcome.attempts else "-"
        message = f"(already sent) {outcome.message}" if outcome.already_sent else outcome.message
        lines.append(f"{outcome.learner:<{width}}  {outcome.status:<10} {tries:>3}  {message}")
    lines += [f"note: {note}" for note in report.notes]
    counts = {s: report.count(s) for s in ("sent", "pending", "failed", "superseded")}
    lines.append(f"{len(report.outcomes)} score(s): " + ", ".join(
        f"{n} {s}" for s, n in counts.items() if n or s in ("sent", "pending", "failed")))
    if counts["pending"]:
        lines.append("pending scores are sent by the next `grader post` run")
    if counts["failed"]:
        lines.append("failed scores were refused; fix the cause, then `grader post --retry-failed`")
    return "\n".join(lines)


def format_status(rows) -> str:
    """The outbox as a table (``grader post --status``)."""
    if not rows:
        return "nothing recorded yet: the outbox is empty"
    width = max([7] + [len(r.learner) for r in rows])
    lines = [f"{'destination':<11} {'learner':<{width}}  {'version':>7}  {'status':<10} "
             f"{'tries':>5}  {'recorded':<29} {'sent':<29} grade | message"]
    target = None
    for row in rows:
        if (row.destination, row.target) != target:
            target = (row.destination, row.target)
            lines.append(f"# {row.destination} -> {row.target}")
        grade = f"{row.change} | " if row.change else ""
        lines.append(f"{row.destination:<11} {row.learner:<{width}}  {row.version:>7}  "
                     f"{row.status:<10} {row.attempts:>5}  {row.recorded_at:<29} "
                     f"{row.sent_at or '-':<29} {grade}{row.message}")
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    lines.append(", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    return "\n".join(lines)


def run(args) -> int:
    """``grader post``: 0 every score delivered, 1 some pending or failed, errors raise."""
    from ..exceptions import UsageError
    from ..post.send import check_settings, outbox_status, post_results

    if args.status:
        rows = outbox_status(args.results, to=args.to)
        print(format_status(rows))
        return EXIT_INCOMPLETE if any(r.status in ("pending", "failed") for r in rows) else EXIT_OK
    if not args.to:
        raise UsageError(f"--to NAME is required ({DESTINATIONS_HELP})", argument="to")
    settings = _settings(args)
    check_settings(args.to, settings, options=_SETTING_OPTIONS)
    report = post_results(args.results, to=args.to, config=args.post_config,
                          learners=args.learners, assignment=args.assignment, settings=settings,
                          retry=_retry(args), retry_failed=args.retry_failed,
                          progress=None if args.quiet else to_stderr)
    print(format_report(report))
    return EXIT_OK if report.complete else EXIT_INCOMPLETE


def check_post_options(args) -> None:
    """Before ``grader grade --post`` starts grading: fail now on a destination's settings."""
    if not getattr(args, "post", None):
        return
    from ..post.send import check_destinations

    check_destinations(args.post, out=args.out, config=args.post_config, learners=args.learners,
                       settings=_settings(args), assignment=getattr(args, "assignment", None))


def post_after_grade(args, out_dir) -> int:
    """After ``grader grade --post NAME``: post ``out_dir`` to each NAME; 0, 1 as :func:`run`."""
    from ..post.registry import default_registry
    from ..post.send import post_results

    registry = default_registry()
    settings = _settings(args)
    status = EXIT_OK
    for name in getattr(args, "post", []) or []:
        given = {k: v for k, v in settings.items()
                 if k in {s.name for s in registry.get(name).SETTINGS}}
        report = post_results(out_dir, to=name, config=args.post_config, learners=args.learners,
                              assignment=getattr(args, "assignment", None), settings=given,
                              registry=registry, progress=None if getattr(args, "quiet", False) else to_stderr)
        print(format_report(report))
        if not report.complete:
            status = EXIT_INCOMPLETE
    return status
