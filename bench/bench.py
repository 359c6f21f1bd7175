"""Benchmark: the grader against running the same notebook without it, side by side.

Prints ratios measured in one run on the same machine (never a timed test):

* ``grader check`` wall time on the reference solution against
  ``jupyter nbconvert --to notebook --execute`` and against plain ``python``
  running the notebook's code cells, and against ``grader check --sandbox
  off`` (what the sandbox costs per notebook);
* the time of ``grader --help``;
* whether two gradings of the solution gave identical measured values;
* ``grader grade`` throughput on 8 submissions with 1 worker and with 2
  workers (threads capped per kernel), as a ratio, and the peak memory of
  each kernel and of each evaluator (their cgroups' high-water marks) in the
  2-worker run.

The runs are interleaved (A B C, A B C, ...) so that a noisy neighbour
affects every contender alike.  Usage::

    python bench/bench.py [--rounds 2] [--notebook reference/mnist_digits/solution.ipynb]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HELPERS = ROOT / "assignments" / "mnist_digits" / "helpers"


def _env() -> dict:
    env = dict(os.environ)
    shared = ROOT.parent / "shared" / "data" / "mnist.npz"
    if not env.get("GRADER_DATA_MNIST") and shared.is_file():
        env["GRADER_DATA_MNIST"] = str(shared)
    env.update(TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2",
               PYTHONPATH=os.pathsep.join([str(HELPERS), str(ROOT)]),
               # the notebooks' submit cells: fail at once instead of reaching for the network
               GRADER_SUBMIT_URL="http://127.0.0.1:9/")
    return env


def _timed(command: list[str], *, cwd: Path, env: dict) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    return time.perf_counter() - start, done


def _plain_script(notebook: Path, target: Path) -> Path:
    """The notebook's code cells as a Python script; IPython-only lines are commented out."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    lines = ["import matplotlib; matplotlib.use('Agg')"]
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for line in cell.source.splitlines():
            stripped = line.lstrip()
            lines.append("# " + line if stripped.startswith(("%", "!")) else line)
    target.write_text("\n".join(lines) + "\n")
    return target


def _batch_throughput(source: Path, work: Path, env: dict, bindir: Path) -> dict:
    """Grade the same 8 submissions with 1 and with 2 workers; return times and kernel peaks."""
    import shutil

    notebooks = sorted(p for p in source.glob("*.ipynb")
                       if p.stem in ("passes_all", "fails_one_part", "b_1x10", "seven_tensors",
                                     "no_grader", "raises", "tf1_plain", "tf1_b_1x10"))
    notebooks = (notebooks * 8)[:8]
    folder = work / "batch"
    folder.mkdir(exist_ok=True)
    for index, notebook in enumerate(notebooks):
        shutil.copy(notebook, folder / f"learner{index}_{notebook.name}")
    timing = {"count": len(notebooks)}
    for workers in (1, 2):
        out = work / f"batch-out-{workers}"
        seconds, done = _timed([str(bindir / "grader"), "grade", str(folder), "--out", str(out),
                                "--assignment", "mnist_digits", "--workers", str(workers), "--force",
                                "--quiet"], cwd=work, env=env)
        if done.returncode not in (0, 1):
            raise SystemExit(f"grader grade failed:\n{done.stderr[-2000:]}")
        timing[workers] = seconds
        if workers == 2:
            results = [json.loads(p.read_text()) for p in (out / "results").glob("*.json")]
            peaks = [r.get("peak_memory_mb") or 0 for r in results]
            evaluators = [r.get("evaluator_peak_memory_mb") or 0 for r in results]
            timing["peak_median"] = statistics.median(peaks)
            timing["peak_max"] = max(peaks)
            timing["evaluator_median"] = statistics.median(evaluators)
            timing["evaluator_max"] = max(evaluators)
    return timing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebook", type=Path, default=ROOT / "reference" / "mnist_digits" / "solution.ipynb")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--batch", type=Path, default=ROOT / "tests" / "notebooks",
                        help="where the 8 batch submissions are taken from (the fast fixtures)")
    parser.add_argument("--skip-check", action="store_true", help="only the batch throughput part")
    parser.add_argument("--skip-batch", action="store_true", help="only the single-notebook part")
    args = parser.parse_args()
    env = _env()
    bindir = Path(sys.executable).parent
    work = Path(tempfile.mkdtemp(prefix="grader-bench-"))
    (work / "mnist.npz").symlink_to(env["GRADER_DATA_MNIST"])
    script = _plain_script(args.notebook, work / "plain.py")

    contenders = {
        "grader check": [str(bindir / "grader"), "check", str(args.notebook), "--json",
                         "--assignment", "mnist_digits"],
        # the same without the sandbox: what the sandbox adds per notebook
        "grader check, no sandbox": [str(bindir / "grader"), "check", str(args.notebook), "--json",
                                     "--assignment", "mnist_digits", "--sandbox", "off"],
        "nbconvert --execute": [str(bindir / "jupyter"), "nbconvert", "--to", "notebook", "--execute",
                                "--ExecutePreprocessor.timeout=1800", "--output-dir", str(work),
                                "--output", "executed", str(args.notebook)],
        "plain python": [sys.executable, str(script)],
    }
    times: dict[str, list[float]] = {name: [] for name in contenders}
    measured = []
    for round_ in range(0 if args.skip_check else args.rounds):
        for name, command in contenders.items():
            seconds, done = _timed(command, cwd=work, env=env)
            if done.returncode not in (0, 1):
                print(f"{name} failed ({done.returncode}):\n{done.stderr[-2000:]}", file=sys.stderr)
                return 2
            times[name].append(seconds)
            if name.startswith("grader check"):
                result = json.loads(done.stdout)
                measured.append([p["measured"] for p in result["parts"]])
            print(f"round {round_ + 1}: {name:<20} {seconds:7.1f} s", flush=True)
    if not args.skip_check:
        # One more grading, so that determinism is checked even with --rounds 1.
        _, done = _timed(contenders["grader check"], cwd=work, env=env)
        measured.append([p["measured"] for p in json.loads(done.stdout)["parts"]])
    batch = None if args.skip_batch else _batch_throughput(args.batch, work, env, bindir)

    help_times = []
    for _ in range(5):
        seconds, _ = _timed([str(bindir / "grader"), "--help"], cwd=work, env=env)
        help_times.append(seconds)

    print()
    if batch:
        print(f"batch of {batch['count']} submissions from {args.batch.name}/:")
        print(f"  1 worker : {batch[1]:7.1f} s   2 workers: {batch[2]:7.1f} s")
        print(f"  throughput 2 workers / 1 worker = {batch[1] / batch[2]:.2f}x")
        print(f"  kernel peak memory (cgroup), 2-worker run: median {batch['peak_median']:.0f} MB, "
              f"max {batch['peak_max']:.0f} MB")
        print(f"  evaluator peak memory (cgroup), 2-worker run: median {batch['evaluator_median']:.0f} MB, "
              f"max {batch['evaluator_max']:.0f} MB (it lives beside the kernel)")
    if args.skip_check:
        return 0
    med = {name: statistics.median(values) for name, values in times.items()}
    print(f"notebook: {args.notebook.relative_to(ROOT) if args.notebook.is_relative_to(ROOT) else args.notebook}")
    for name, value in med.items():
        print(f"  {name:<20} median {value:7.1f} s over {len(times[name])} run(s)")
    print(f"  grader check / nbconvert --execute = {med['grader check'] / med['nbconvert --execute']:.3f}")
    print(f"  grader check / plain python        = {med['grader check'] / med['plain python']:.3f}")
    print(f"  sandbox cost per notebook: {med['grader check'] - med['grader check, no sandbox']:+.1f} s "
          f"(sandboxed / not = {med['grader check'] / med['grader check, no sandbox']:.3f})")
    print(f"  grader --help: median {statistics.median(help_times) * 1000:.0f} ms over 5 runs")
    identical = all(m == measured[0] for m in measured)
    print(f"  measured values identical across {len(measured)} gradings: {identical}")
    print(f"    {measured[0]}")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
