"""Benchmark of ``grader similarity``'s cost: time and peak memory by class size, before and after.

    .venv/bin/python bench/bench_similarity.py [--sizes 100 300 1000] [--workers N] [--rounds N]
        [--before REF | --no-before]

For each size, a synthetic graded class (:mod:`synthetic_class`: short
solutions, 15% disguised copies at every strength, a corpus of four public
solutions, model fingerprints that follow the code) is written to a temporary
folder, and the report is made with the corpus in a fresh process, so that its
peak memory (ru_maxrss of that process and its tokenising workers) is its own:
by this worktree's ``grader`` and by the code of ``--before`` (default: where
this branch left ``main``, extracted with ``git archive``), in turns.  With
``--rounds N`` each is measured N times and the fastest run is kept (the
machine is shared: the slower runs measure the neighbours).  Prints seconds,
peak memory and pairs scored (after) or compared (before).  What is found is
``bench_similarity_detection.py``'s subject.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_similarity_detection import ASSIGNMENT, ROOT, extract  # noqa: E402
from synthetic_class import make_class  # noqa: E402

RUN = """
import json, resource, sys, time
from grader.similarity import similarity_report, CodeSettings
started = time.monotonic()
report = similarity_report(sys.argv[1], corpus=sys.argv[2], assignment=sys.argv[3],
                           settings=CodeSettings(workers=int(sys.argv[4]) or None))
seconds = time.monotonic() - started
peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
pairs = getattr(report, "scored", None) or getattr(report, "candidates", 0)
print(json.dumps({"seconds": seconds, "peak_mb": peak / 1024, "pairs": pairs}))
"""


def measure(out: Path, corpus: Path, workers: int, pythonpath: Path) -> dict:
    run = subprocess.run([sys.executable, "-c", RUN, str(out), str(corpus), str(ASSIGNMENT), str(workers)],
                         capture_output=True, text=True, cwd=out.parent, check=True,
                         env={**os.environ, "PYTHONPATH": str(pythonpath)})
    return json.loads(run.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 1000])
    parser.add_argument("--workers", type=int, default=0, help="tokenising processes (default: every core)")
    parser.add_argument("--rounds", type=int, default=1, help="runs per size; the fastest is kept")
    parser.add_argument("--before", default=None, help="the commit compared with (default: the merge base "
                                                       "of HEAD and main)")
    parser.add_argument("--no-before", action="store_true", help="measure this worktree's code only")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"load average {os.getloadavg()[0]:.1f} at the start")
    print(f"{'learners':>8} {'after s':>8} {'peak MB':>8} {'scored':>8}   {'before s':>8} {'peak MB':>8} "
          f"{'compared':>8}")
    with tempfile.TemporaryDirectory(prefix="grader-bench-similarity-") as folder:
        work = Path(folder)
        before_path = None
        if not args.no_before:
            ref = args.before or subprocess.run(["git", "-C", str(ROOT), "merge-base", "HEAD", "main"],
                                                capture_output=True, text=True, check=True).stdout.strip()
            before_path = extract(ref, work / "before")
        rows = []
        for size in args.sizes:
            started = time.monotonic()
            out = work / f"class-{size}"
            make_class(out, size, seed=size)
            corpus = work / f"class-{size}-corpus"
            after, before = [], []
            for _ in range(max(1, args.rounds)):  # in turns: noise hits both alike
                after.append(measure(out, corpus, args.workers, ROOT))
                if before_path:
                    before.append(measure(out, corpus, args.workers, before_path))
            a = min(after, key=lambda r: r["seconds"])
            b = min(before, key=lambda r: r["seconds"]) if before else None
            rows.append((size, a, b))
            print(f"{size:>8} {a['seconds']:>8.1f} {a['peak_mb']:>8.0f} {a['pairs']:>8}   "
                  + (f"{b['seconds']:>8.1f} {b['peak_mb']:>8.0f} {b['pairs']:>8}" if b else "")
                  + f"   (class written and compared in {time.monotonic() - started:.0f} s)", flush=True)
    if len(rows) > 1:
        (first, a0, _), (last, a1, _) = rows[0], rows[-1]
        print(f"\n{last / first:.0f}x the learners: {a1['seconds'] / a0['seconds']:.1f}x the time, "
              f"{a1['peak_mb'] / a0['peak_mb']:.1f}x the peak memory (after)")


if __name__ == "__main__":
    main()
