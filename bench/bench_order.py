#!/usr/bin/env python3
"""The order policy on the fixture class: verdicts top-down against as-run, and what as-run costs.

    .venv/bin/python bench/bench_order.py [--rounds 1] [--notebooks tf1_order_rerun_training ...]

Each notebook of the class (the golden notebooks about how learners ran their cells,
``tests/notebooks/``) is graded for the mnist_digits assignment twice *at the same moment*, side
by side in two worker processes (one kernel and one CPU thread each): once with ``--order
top-down`` and once with ``--order as-run``, so that whatever else loads the machine loads both
alike.  It prints, per notebook, the schedule as-run, each order's verdicts and points, and the
seconds of each grading (whole, and the cells alone) with their ratio; then the class's totals:
how many notebooks' verdicts differ, and the time ratio of notebooks with re-runs and without.
``--check`` also times ``grader.check`` (as-run with its clean top-to-bottom comparison) on the
first notebook with re-runs, against its plain as-run grading, each alone on the machine, one
after the other (``--rounds`` times); ``--check-only`` does only that.

Writes nothing; the figures go to bench/RESULTS.md by hand, dated.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CLASS = [
    "tf1_order_rerun_training",     # the MLP trained by the training cell run again (+ a token re-run)
    "tf1_order_rerun_sigmoid",      # the same, with a sigmoid on the MLP's logits (a real bug)
    "tf1_order_reset_rerun",        # reset and placeholders cells run again before the MLP cell
    "tf1_order_graded_rerun",       # the linear graded cell run again after the MLP was trained
    "tf1_order_colab_zero",         # Colab: every count 0, the MLP trained by an unrecorded re-run
    "tf1_order_in_order",           # run once in order: nothing to replay
    "tf1_mlp_never_trained",        # the training cell run again after the MLP (In [21] after [20])
    "tf1_out_of_order",             # graded cells run again at the end (nothing to replay)
    "tf1_interrupted",              # in order, a KeyboardInterrupt saved
    "cheat_order_replayed_labels",  # forged counts replay a cell returning the labels
]
SHORT = {"passed": "P", "failed": "F", "error": "E", "missing": "M"}


def _grade(name: str, order: str) -> dict:
    from grader.assignments import find_assignment
    from grader.orchestrate import GradeOptions, grade_notebook

    assignment = find_assignment("mnist_digits")
    started = time.monotonic()
    result = grade_notebook(ROOT / "tests" / "notebooks" / f"{name}.ipynb", assignment=assignment,
                            options=GradeOptions(threads=1, order=order))
    return {"name": name, "order": order, "wall": time.monotonic() - started, "total": result.total,
            "verdicts": "".join(SHORT[p.status] for p in result.parts),
            "cells": result.timings.get("cells", 0.0), "replays": result.timings.get("replays", 0.0),
            "schedule": result.schedule.get("text", ""), "again": len(result.schedule.get("again", []))}


def _check(name: str) -> dict:
    from grader.api import check
    from grader.orchestrate import GradeOptions

    started = time.monotonic()
    result = check(ROOT / "tests" / "notebooks" / f"{name}.ipynb", assignment="mnist_digits",
                   options=GradeOptions(threads=1, order="as-run"))
    clean = result.schedule.get("clean_run") or {}
    return {"wall": time.monotonic() - started, "warning": clean.get("warning", "")}


def _init(parent: int) -> None:
    from grader.kernel.launch import die_with_parent

    die_with_parent(parent)  # a killed benchmark leaves no worker grading


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--notebooks", nargs="+", default=CLASS, metavar="NAME")
    parser.add_argument("--check", action="store_true",
                        help="also time grader.check's comparison run on the first notebook with re-runs")
    parser.add_argument("--check-only", metavar="NAME",
                        help="only time grader.check's comparison run on NAME")
    args = parser.parse_args(argv)
    os.environ.setdefault("GRADER_DATA_MNIST", str(Path("/work/shared/data/mnist.npz")))
    runs: dict[tuple[str, str], list[dict]] = {}
    if args.check_only:
        return _time_check(args.check_only, args.rounds)
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"),
                                                initializer=_init, initargs=(os.getpid(),)) as pool:
        for round_ in range(args.rounds):
            for name in args.notebooks:
                # Both orders at once: the same load on each.
                pair = [pool.submit(_grade, name, order) for order in ("top-down", "as-run")]
                for future in pair:
                    run = future.result()
                    runs.setdefault((name, run["order"]), []).append(run)
                td, ar = (runs[(name, o)][-1] for o in ("top-down", "as-run"))
                print(f"round {round_ + 1}: {name}: top-down {td['verdicts']} {td['wall']:.0f} s, "
                      f"as-run {ar['verdicts']} {ar['wall']:.0f} s", file=sys.stderr, flush=True)

    print("| notebook | as-run schedule | verdicts top-down | verdicts as-run | points td / ar | "
          "seconds td / ar (ratio) | cells td / ar (ratio) | re-runs s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    ratios = {True: [], False: []}
    differ = 0
    for name in args.notebooks:
        td, ar = runs[(name, "top-down")], runs[(name, "as-run")]
        wall_td, wall_ar = statistics.median(r["wall"] for r in td), statistics.median(r["wall"] for r in ar)
        cells_td, cells_ar = statistics.median(r["cells"] for r in td), statistics.median(r["cells"] for r in ar)
        replays = statistics.median(r["replays"] for r in ar)
        differ += td[0]["verdicts"] != ar[0]["verdicts"]
        ratios[bool(ar[0]["again"])].append(wall_ar / wall_td)
        print(f"| {name} | {ar[0]['schedule'].replace('graded as you ran it: ', '')} | {td[0]['verdicts']} | "
              f"{ar[0]['verdicts']} | {td[0]['total']:g} / {ar[0]['total']:g} | {wall_td:.0f} / {wall_ar:.0f} "
              f"({wall_ar / wall_td:.2f}) | {cells_td:.0f} / {cells_ar:.0f} ({cells_ar / max(cells_td, 1e-9):.2f}) | "
              f"{replays:.0f} |")
    print()
    print("verdicts per part in the assignment's order (9XaAS vmogZ RMv95 i8bgs rE763): P passed, "
          "F failed, E error")
    print(f"notebooks whose verdicts differ between the orders: {differ} of {len(args.notebooks)}")
    print(f"points, class total: top-down {sum(runs[(n, 'top-down')][0]['total'] for n in args.notebooks):g}, "
          f"as-run {sum(runs[(n, 'as-run')][0]['total'] for n in args.notebooks):g}")
    for replayed, values in ratios.items():
        if values:
            print(f"as-run / top-down wall time, notebooks {'with' if replayed else 'without'} re-runs "
                  f"({len(values)}): median {statistics.median(values):.2f}, "
                  f"range {min(values):.2f}-{max(values):.2f}")
    if args.check:
        with_reruns = next((n for n in args.notebooks if runs[(n, "as-run")][0]["again"]), None)
        if with_reruns:
            _time_check(with_reruns, args.rounds)
    return 0


def _time_check(name: str, rounds: int) -> int:
    """grader.check with its clean comparison against the plain as-run grading, each alone."""
    plain, checked, warning = [], [], ""
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                                initializer=_init, initargs=(os.getpid(),)) as pool:
        for _ in range(rounds):
            plain.append(pool.submit(_grade, name, "as-run").result()["wall"])
            timed = pool.submit(_check, name).result()
            checked.append(timed["wall"])
            warning = timed["warning"]
    print(f"grader.check on {name}, alone (as-run + the clean top-down comparison): "
          f"{statistics.median(checked):.0f} s against {statistics.median(plain):.0f} s for its as-run "
          f"grading alone ({statistics.median(checked) / statistics.median(plain):.2f}x, {rounds} round(s)); "
          f"warning: {warning or '-'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
