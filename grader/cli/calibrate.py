"""``grader calibrate``: the reference solution under several seeds, and weak notebooks, against the thresholds."""
from __future__ import annotations

from .options import EXIT_FAILED, EXIT_OK, add_run_options, grade_options, to_stderr


def add_parser(commands) -> None:
    calibrate = commands.add_parser(
        "calibrate", help="run the reference solution under several seeds to calibrate thresholds",
        description="Grade the assignment's reference solution once per seed (and each --weak "
                    "notebook once), print each part's spread and margin to its threshold, and "
                    "write calibration.json beside thresholds.toml.")
    calibrate.add_argument("--seeds", type=int, default=5, help="number of seeds (default: 5)")
    calibrate.add_argument("--weak", action="append", default=[], metavar="NOTEBOOK",
                           help="a deliberately weak notebook that must fail (repeatable)")
    calibrate.add_argument("--no-write", action="store_true", help="do not write calibration.json")
    add_run_options(calibrate)


def run(args) -> int:
    from ..assignments import find_assignment
    from ..authoring.calibrate import calibrate, format_report

    assignment = find_assignment(args.assignment)
    base = assignment.kernel.seed
    report = calibrate(assignment, seeds=[base + i for i in range(args.seeds)], weak=args.weak,
                       options=grade_options(args), write=not args.no_write, progress=to_stderr)
    print(format_report(report))
    ok = all(e["passed_every_seed"] and all(e["weak_models_fail"].values())
             for e in report["parts"].values())
    return EXIT_OK if ok else EXIT_FAILED
