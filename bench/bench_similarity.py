"""Benchmark of ``grader similarity``: time and peak memory by class size, and detection on a synthetic class.

    .venv/bin/python bench/bench_similarity.py [--sizes 100 300 1000] [--workers N] [--rounds N]

For each size, a synthetic graded class (:mod:`synthetic_class`: honest learners
choosing line by line how to fill the template, 5% disguised copies, model
fingerprints that follow the code) is written to a temporary folder, and the
report is made in a fresh process, so that its peak memory (ru_maxrss of that
process and its tokenising workers) is its own.  Prints seconds, peak memory,
candidate pairs compared, copies found and false pairs.  With ``--rounds N`` each size is
measured N times and the fastest run is kept (the machine is shared: the slower runs measure
the neighbours).

How the cost grows with the class size (measured on 2 shared cores, README "Similarity"):
tokenising every notebook (pygments, on every core) is linear in the learners and dominates;
the inverted index meets only notebooks that share a fingerprint that is not common, so the
pairs compared grow faster than the class (about 37x for 10x the learners) but each is a set
intersection; memory grows with the fingerprints kept (about 0.06 MB a learner): 1,000 learners
in 6.9 s (fastest of 2 rounds; 12-40 s while the machine's load was 4-8), 138 MB at peak.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from synthetic_class import make_class  # noqa: E402

RUN = """
import json, resource, sys, time
from grader.similarity import similarity_report, CodeSettings
started = time.monotonic()
report = similarity_report(sys.argv[1], settings=CodeSettings(workers=int(sys.argv[2]) or None))
seconds = time.monotonic() - started
peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print(json.dumps({"seconds": seconds, "peak_mb": peak / 1024, "candidates": report.candidates,
                  "common_above": report.common_above,
                  "pairs": [[p.first, p.second] for p in report.pairs if p.second_kind == "learner"]}))
"""


def measure(size: int, workers: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="grader-bench-similarity-") as folder:
        out = Path(folder)
        copies = make_class(out, size, seed=size)
        run = subprocess.run([sys.executable, "-c", RUN, str(out), str(workers)], capture_output=True,
                             text=True, cwd=HERE.parent, check=True)
        measured = json.loads(run.stdout.strip().splitlines()[-1])
    # Two copies of one original, or a copy of a copy, are copies of each other too.
    source = {}
    for original, copy in copies:
        source[copy] = source.get(original, original)
    family = lambda name: source.get(name, name)  # noqa: E731
    reported = {tuple(sorted(p)) for p in measured.pop("pairs")}
    truth = {tuple(sorted(pair)) for pair in copies}
    measured.update(size=size, copies=len(truth), found=len(truth & reported),
                    false_pairs=sum(1 for a, b in reported if family(a) != family(b)))
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 1000])
    parser.add_argument("--workers", type=int, default=0, help="tokenising processes (default: every core)")
    parser.add_argument("--rounds", type=int, default=1, help="runs per size; the fastest is kept")
    args = parser.parse_args()
    print(f"{'learners':>8} {'seconds':>8} {'peak MB':>8} {'compared':>9} {'common>':>8} "
          f"{'copies':>7} {'found':>6} {'false':>6}")
    rows = []
    for size in args.sizes:
        started = time.monotonic()
        row = min((measure(size, args.workers) for _ in range(max(1, args.rounds))),
                  key=lambda r: r["seconds"])
        rows.append(row)
        print(f"{row['size']:>8} {row['seconds']:>8.1f} {row['peak_mb']:>8.0f} {row['candidates']:>9} "
              f"{row['common_above']:>8} {row['copies']:>7} {row['found']:>6} {row['false_pairs']:>6}"
              f"   (class written and compared in {time.monotonic() - started:.0f} s)", flush=True)
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        ratio = last["size"] / first["size"]
        print(f"\n{ratio:.0f}x the learners: {last['seconds'] / first['seconds']:.1f}x the time, "
              f"{last['candidates'] / max(1, first['candidates']):.1f}x the pairs compared, "
              f"{last['peak_mb'] / first['peak_mb']:.1f}x the peak memory")


if __name__ == "__main__":
    main()
