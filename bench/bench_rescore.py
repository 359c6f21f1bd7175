"""Benchmark: `grader rescore` of a class of 500 stored results after a threshold change.

Makes 500 mnist_digits results with the grader's own extraction and judging
(``tests/corrections/factory.py``: measured values spread like a real class's,
a third of them with a cell error and its traceback, as real results carry),
writes them as ``grader grade --out`` does, builds the reports once, then
changes two thresholds of a copy of the assignment and times, in a fresh
process each (as an instructor runs them):

* ``grader rescore OUT``: judging the 500 stored measurements again, recording
  every change in the corrections log, rewriting the gradebook, the feedback
  pages of the learners whose grade changed and the summary;
* the same command again (nothing to judge: every result is current);
* ``grader report OUT`` (every page rebuilt from results + log), for scale.

Prints wall times (best of ``--rounds``) and the library's own time for the
judging and recording alone.  Usage::

    python bench/bench_rescore.py [--learners 500] [--rounds 3]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.results import CellError  # noqa: E402
from tests.corrections.conftest import AssignmentCopy  # noqa: E402
from tests.corrections.factory import mnist_result, write_class  # noqa: E402

TRACEBACK = "\n".join(f'  File "<ipython-input-{i}>", line {i}, in <module>\n    x = model(X)'
                      for i in range(40)) + "\nNameError: name 'labels' is not defined"


def make_class(assignment, out: Path, learners: int) -> None:
    rng = random.Random(15)
    results = []
    for i in range(learners):
        result = mnist_result(assignment, f"learner{i:04d}",
                              linear_loss=rng.uniform(0.24, 0.42),
                              linear_accuracy=rng.uniform(0.88, 0.935),
                              mlp_loss=rng.uniform(0.06, 0.25),
                              mlp_accuracy=rng.uniform(0.93, 0.985))
        if i % 3 == 0:
            result.errors.append(CellError(cell=9, ename="NameError",
                                           evalue="name 'labels' is not defined",
                                           traceback=TRACEBACK, source="loss = f(labels)"))
        results.append(result)
    write_class(out, results)


def timed(*args: str, env: dict) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True,
                         cwd=ROOT, env=env, timeout=600)
    elapsed = time.perf_counter() - started
    if run.returncode not in (0, 1):
        raise SystemExit(f"grader {' '.join(args)} failed:\n{run.stderr}")
    return elapsed, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    rescore, again, report, judged, changed = [], [], [], [], set()
    with tempfile.TemporaryDirectory(prefix="bench-rescore-") as tmp:
        root = Path(tmp)
        for round_ in range(args.rounds):
            course = root / f"course{round_}"
            copy = AssignmentCopy(course, "mnist_digits")
            env = {**os.environ, "GRADER_ASSIGNMENTS": str(copy.folder.parent)}
            out = root / f"out{round_}"
            make_class(copy.load(), out, args.learners)
            timed("report", str(out), env=env)           # the gradebook and pages, as after grading
            size = sum(p.stat().st_size for p in (out / "results").glob("*.json"))
            copy.set_threshold("RMv95", "min", "0.91")
            copy.set_threshold("i8bgs", "max", "0.12")
            seconds, run = timed("rescore", str(out), "--json", env=env)
            data = json.loads(run.stdout)
            rescore.append(seconds)
            judged.append(data["seconds"])
            changed = {c["learner"] for c in data["changed"]}
            assert data["judged"] == args.learners, data
            seconds, run = timed("rescore", str(out), "--json", env=env)
            assert json.loads(run.stdout)["current"] == args.learners
            again.append(seconds)
            report.append(timed("report", str(out), env=env)[0])
            shutil.rmtree(out)
            shutil.rmtree(course)

    print(f"class: {args.learners} stored results ({size / 1e6:.1f} MB of result JSON), thresholds "
          f"of RMv95 (min 0.92 -> 0.91) and i8bgs (max 0.15 -> 0.12) changed; "
          f"{len(changed)} grades changed")
    print(f"grader rescore OUT, wall (judge {args.learners}, record, rewrite gradebook, "
          f"{len(changed)} feedback pages, summary): best {min(rescore):.2f} s "
          f"(rounds: {', '.join(f'{s:.2f}' for s in rescore)})")
    print(f"  of which judging and recording in the corrections log: best {min(judged):.3f} s")
    print(f"grader rescore OUT again (nothing to judge): best {min(again):.2f} s")
    print(f"grader report OUT (every page rebuilt from results + log): best {min(report):.2f} s")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
