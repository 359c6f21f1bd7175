"""Benchmark: grading on a 2-worker Dask LocalCluster against the local engine with 2 workers.

Both grade the same 8 submissions (the fast fixtures of tests/notebooks, as
``bench/bench.py`` takes them) with one CPU thread per kernel; the cluster's
time includes starting it (scheduler and worker processes) and shipping the
assignment bundle, as the local engine's includes starting its pool.  Prints
each contender's wall time and throughput, the ratio (target: the Dask path
within 10 % of the local one), and whether both gradebooks are identical.
Runs are interleaved (local, dask, local, dask, ...) so that a noisy neighbour
affects both alike.  Usage::

    python bench/bench_cluster.py [--rounds 2]
"""
from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import ROOT, _env  # noqa: E402  (the same environment as bench.py)

FIXTURES = ("passes_all", "fails_one_part", "b_1x10", "seven_tensors", "no_grader", "raises",
            "tf1_plain", "tf1_b_1x10")

# A file, not `python -c`: the worker processes are spawned and re-import the main module.
RUNNER = '''import sys
from grader.api import grade

if __name__ == "__main__":
    grade(sys.argv[1], out=sys.argv[2], assignment="mnist_digits", workers=2, force=True,
          cluster=sys.argv[3] or None)
'''


def _submissions(source: Path, folder: Path) -> int:
    import shutil

    notebooks = sorted(p for p in source.glob("*.ipynb") if p.stem in FIXTURES)
    notebooks = (notebooks * 8)[:8]
    folder.mkdir(exist_ok=True)
    for index, notebook in enumerate(notebooks):
        shutil.copy(notebook, folder / f"learner{index}_{notebook.name}")
    return len(notebooks)


def _gradebook(out: Path) -> list[dict]:
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row.pop("duration_s")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="runs of each contender (default: 2)")
    parser.add_argument("--batch", type=Path, default=ROOT / "tests" / "notebooks",
                        help="where the 8 submissions are taken from (the fast fixtures)")
    args = parser.parse_args()
    env = _env()
    work = Path(tempfile.mkdtemp(prefix="grader-bench-cluster-"))
    runner = work / "run_batch.py"
    runner.write_text(RUNNER)
    folder = work / "batch"
    count = _submissions(args.batch, folder)
    contenders = {"local engine, 2 workers": "", "Dask LocalCluster, 2 workers": "local:2"}
    times: dict[str, list[float]] = {name: [] for name in contenders}
    books = {}
    for round_ in range(args.rounds):
        for name, cluster in contenders.items():
            out = work / f"out-{round_}-{'dask' if cluster else 'local'}"
            start = time.perf_counter()
            done = subprocess.run([sys.executable, str(runner), str(folder), str(out), cluster],
                                  cwd=ROOT, env=env, capture_output=True, text=True)
            seconds = time.perf_counter() - start
            if done.returncode != 0:
                print(f"{name} failed ({done.returncode}):\n{done.stderr[-3000:]}", file=sys.stderr)
                return 2
            times[name].append(seconds)
            books.setdefault(name, _gradebook(out))
            print(f"round {round_ + 1}: {name:<30} {seconds:6.1f} s", file=sys.stderr, flush=True)

    (local, dask) = (statistics.median(times[name]) for name in contenders)
    print(f"batch of {count} submissions from {args.batch.name}/, {args.rounds} round(s), "
          f"medians; one thread per kernel")
    for name, value in zip(contenders, (local, dask)):
        print(f"  {name:<30} {value:7.1f} s   {count / value * 60:5.1f} submissions/min   "
              f"runs: {', '.join(f'{t:.1f}' for t in times[name])}")
    ratio = local / dask
    print(f"  throughput Dask / local = {ratio:.3f}  ({'within' if ratio >= 0.9 else 'NOT within'} "
          f"10 % of the local engine)")
    identical = books["local engine, 2 workers"] == books["Dask LocalCluster, 2 workers"]
    print(f"  gradebooks identical (durations aside): {identical}")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
