"""``grader calibrate``: the reference solution under several seeds, and weak notebooks, against the thresholds."""
from __future__ import annotations

from .options import EXIT_FAILED, EXIT_OK, add_run_options, grade_options, to_stderr
from .options import COUNT, add_threads_option


def add_parser(commands) -> None:
    calibrate = commands.add_parser(
        "calibrate", help="run the reference solution under several seeds to calibrate thresholds",
        description="Grade the assignment's reference solution once per seed (and each --weak "
                    "notebook once), print each part's spread and margin to its threshold and the "
                    "threshold it suggests, and write calibration.json beside thresholds.toml; with "
                    "--write, also write the suggested thresholds into thresholds.toml.")
    calibrate.add_argument("--seeds", type=COUNT, default=5, help="number of seeds (default: 5)")
    calibrate.add_argument("--weak", action="append", default=[], metavar="NOTEBOOK",
                           help="a deliberately weak notebook that must fail, or a folder of them "
                                "(repeatable)")
    writing = calibrate.add_mutually_exclusive_group()
    writing.add_argument("--write", action="store_true",
                         help="write the suggested thresholds (min or max per part) into "
                              "thresholds.toml, keeping its other keys and comments")
    writing.add_argument("--no-write", action="store_true", help="write nothing, not even calibration.json")
    add_run_options(calibrate)
    add_threads_option(calibrate, default="one per core")


def run(args) -> int:
    from ..assignments import find_assignment, load_assignment
    from ..authoring.calibrate import (calibrate, format_report, format_suggestions, rejudge,
                                       weak_notebooks, write_calibration, write_thresholds)
    from ..paths import relative

    weak = weak_notebooks(args.weak)  # a missing notebook: exit 2 before anything runs
    assignment = find_assignment(args.assignment)
    base = assignment.kernel.seed if args.seed is None else args.seed
    report = calibrate(assignment, seeds=[base + i for i in range(args.seeds)], weak=weak,
                       options=grade_options(args), write=not args.no_write, progress=to_stderr)
    print(format_report(report))
    suggestions = format_suggestions(report)
    if suggestions:
        print("\n" + suggestions)
    if args.write:
        changes = write_thresholds(assignment, report)
        path = relative(assignment.reference_folder / "thresholds.toml")
        print(f"\nwrote {path}: " + ("; ".join(changes) if changes else "nothing to change"))
        assignment = load_assignment(assignment.folder, reference_folder=assignment.reference_folder)
        report = rejudge(assignment, report)
        write_calibration(assignment, report)  # calibration.json: the runs under the thresholds in place
        print("\nunder the thresholds written:\n" + format_report(report))
    ok = all(e["passed_every_seed"] and all(e["weak_models_fail"].values())
             for e in report["parts"].values())
    return EXIT_OK if ok else EXIT_FAILED
