"""``grader serve`` (the grading service learners submit to) and ``grader tokens`` (their tokens)."""
from __future__ import annotations

from .options import (COUNT, EXIT_OK, PORT, SECONDS, add_cluster_option, add_run_options, add_threads_option,
                      grade_options)
from .options import add_order_option


def add_parser(commands) -> None:
    serve = commands.add_parser(
        "serve", help="the grading service learners submit to from their notebooks",
        description="Serve an assignment over HTTP: learners' grader.submit(email, token) (with "
                    "GRADER_SUBMIT_URL pointing here) uploads the saved notebook, which is queued, "
                    "graded with the batch engine into OUT, and followed on the learner's page. "
                    "Tokens come from grader tokens issue.")
    serve.add_argument("--out", "-o", default="results", metavar="DIR",
                       help="results folder, as grader grade's (default: results/)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=PORT, default=8000, help="port (default: 8000; 0: any free port)")
    serve.add_argument("--public-url", default="", metavar="URL",
                       help="the address learners reach (behind a reverse proxy), for the links printed")
    serve.add_argument("--workers", "-j", type=COUNT, metavar="N",
                       help="notebooks graded in parallel (default: the number of cores)")
    add_threads_option(serve)
    serve.add_argument("--quiet", "-q", action="store_true", help="no line per submission on stderr")
    serve.add_argument("--request-timeout", type=SECONDS, metavar="SECONDS",
                       help="seconds a client has to send a request's headers, and at most between two "
                            "pieces of its body; 408 after it (default: 30)")
    serve.add_argument("--max-connections", type=COUNT, metavar="N",
                       help="connections served at once; 503 past it (default: 256)")
    add_run_options(serve)
    add_order_option(serve)
    add_cluster_option(serve)
    # Issue #28: a course of several assignments in one service (kept apart from the shared run options).
    serve.add_argument("--course", metavar="DIR",
                       help="serve every assignment in DIR (its subfolders with an assignment.toml) instead of "
                            "one --assignment: one queue and one pool of workers, a results folder OUT/ID per "
                            "assignment, the pages per assignment, the instructor page per course")

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
    issue.add_argument("--days", type=SECONDS, default=180.0, help="days until the tokens expire (default: 180)")
    issue.add_argument("--learner", action="append", default=[], metavar="ID_OR_EMAIL",
                       help="only this learner (repeatable); with --reissue, a new token for a lost one")
    issue.add_argument("--reissue", action="store_true", help="replace active tokens too")
    listing = actions.add_parser("list", help="the learners and the state of their tokens")
    listing.add_argument("out", metavar="OUT", nargs="?", default="results")
    revoke = actions.add_parser("revoke", help="end learners' tokens now")
    revoke.add_argument("out", metavar="OUT")
    revoke.add_argument("who", metavar="ID_OR_EMAIL", nargs="+")


def run_serve(args) -> int:
    from ..serve.server import serve

    options = grade_options(args)
    limits = {name: getattr(args, name) for name in ("request_timeout", "max_connections")
              if getattr(args, name) is not None}
    if args.course and args.assignment:
        from ..exceptions import UsageError

        raise UsageError("give --course DIR or --assignment, not both", argument="course", value=args.course)
    serve(assignment=args.assignment, out=args.out, options=options, workers=args.workers,
          cluster=args.cluster, host=args.host, port=args.port, public_url=args.public_url, quiet=args.quiet,
          course=args.course, **limits)
    return EXIT_OK


def run_tokens(args) -> int:
    from ..serve import tokens

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
