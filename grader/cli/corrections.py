"""``grader override``, ``grader rescore``, ``grader audit``: course staff's corrections, and a grade's history."""
from __future__ import annotations

from ..exceptions import UsageError
from .options import EXIT_FAILED, EXIT_OK


def add_parser(commands) -> None:
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
        raise UsageError(f"--points expects a number, got {text!r}") from None
    if not math.isfinite(value):
        raise UsageError(f"--points expects a finite number, got {text!r}")
    return value


def run_override(args) -> int:
    import json

    from ..api import corrections

    if args.list:
        if args.learner or args.part or args.points is not None or args.clear:
            raise UsageError("--list takes no LEARNER, PART, --points or --clear")
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
        raise UsageError("give LEARNER and PART (or --clear PART, or --list)")
    if args.clear:
        if args.part or args.points is not None:
            raise UsageError("--clear PART takes no other PART and no --points")
        event = corrections.clear(args.out, args.learner, args.clear, reason=args.reason or "",
                                  by=args.by)
        print(f"{args.learner} {event.part}: override cleared by {event.by}; "
              f"{event.old_points:g} -> {event.new_points:g} point(s) (the grader's verdict)")
    else:
        if not args.part:
            raise UsageError("give the PART to override (or --clear PART)")
        if args.points is None:
            raise UsageError("give the part's points: --points P")
        event = corrections.override(args.out, args.learner, args.part,
                                     points=_points(args.points), reason=args.reason or "",
                                     by=args.by)
        print(f"{args.learner} {event.part}: {event.old_points:g} -> {event.new_points:g} "
              f"point(s), by {event.by}: {event.reason}")
    print(f"recorded in {args.out}/corrections.sqlite; rewrote gradebook.csv, gradebook.json, "
          f"feedback page, summary.html; `grader post {args.out} --to NAME` sends the new version")
    return EXIT_OK


def run_rescore(args) -> int:
    import json

    from ..api import corrections

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


def run_audit(args) -> int:
    import json

    from ..api.audit import format_audit, history

    audit = history(args.out, args.learner)
    if args.json:
        print(json.dumps([entry.to_dict() for entry in audit.entries], indent=2,
                         ensure_ascii=False))
    else:
        print(format_audit(audit, args.learner))
    return EXIT_OK
