"""Benchmark: the Keras edition graded by `grader check`, against plain Python running its code.

Prints, measured in one run on the same machine (never a timed test):

* ``grader check`` of the Keras solution (``reference/mnist_keras/solution.ipynb``, four
  ``model`` parts measured by the evaluator) against ``python`` running the notebook's code
  cells as a script (no kernel, no sandbox, no grading), side by side, as a ratio;
* where the check's time goes (the result's ``timings``): the kernel's start with TensorFlow's
  import, the cells, the agent saving each model in the kernel (``export``), the evaluator
  loading, checking and running it (``evaluate_models``), and what the harness waited for;
* per model: what leaves the kernel (the .keras file of the linear model and of the MLP, saved
  as the agent saves it, in a subprocess with Keras: its size and the time to save it), and a
  real evaluator loading, checking and running each on the Keras edition's real inputs (the
  validation images, the integrity check's two samples, the test images): the first evaluation
  (which imports Keras in the evaluator) and the next ones.

The runs are interleaved (check, plain, check, plain, ...) so that a noisy neighbour affects both
alike.  Usage::

    python bench/bench_keras.py [--rounds 2] [--threads N]
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
NOTEBOOK = ROOT / "reference" / "mnist_keras" / "solution.ipynb"
HELPERS = ROOT / "assignments" / "mnist_keras" / "helpers"

SAVE = '''
import os, sys, time, statistics, keras
folder = sys.argv[1]
for name, hidden in (("linear", []), ("mlp", [256, 256])):
    model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten()]
                             + [keras.layers.Dense(u, activation="relu") for u in hidden]
                             + [keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(keras.ops.zeros((8, 28, 28)), keras.ops.zeros((8,)), verbose=0)
    path = os.path.join(folder, name + ".keras")
    seconds = []
    for _ in range(5):  # what the agent does in the kernel: save, read the bytes
        started = time.perf_counter()
        model.save(path)
        open(path, "rb").read()
        seconds.append(time.perf_counter() - started)
    print(name, model.count_params(), os.path.getsize(path), statistics.median(seconds))
'''


def _evaluations(folder: Path, threads: int) -> list[str]:
    """Each saved model run by a real evaluator on the Keras edition's real plan: the validation
    images, the integrity check's two samples and the test images (report_on)."""
    import asyncio
    import base64

    from grader.assignments import load_assignment
    from grader.run.evaluator_client import Evaluator, EvaluatorOptions, build_plan
    from grader.run.sandbox import unavailable_reason
    from grader.specs.data import resolve_all

    assignment = load_assignment(ROOT / "assignments" / "mnist_keras")
    plan = build_plan(assignment, resolve_all(assignment))
    evaluator = Evaluator(EvaluatorOptions(sandbox=not unavailable_reason(), readonly=(ROOT / "grader",),
                                           threads=threads, timeout=600))
    lines = []
    try:
        session = evaluator.session(plan, ["linear_accuracy", "mlp2_accuracy"])
        for name, part in (("linear", "linear_accuracy"), ("mlp", "mlp2_accuracy")):
            exported = {"format": "keras",
                        "model": base64.b64encode((folder / f"{name}.keras").read_bytes()).decode()}
            walls, own = [], []
            for _ in range(4):
                before = len(session.seconds)
                started = time.perf_counter()
                result = asyncio.run(session.evaluate(part, exported))
                walls.append(time.perf_counter() - started)
                assert result["ok"], result
                own.append(session.seconds[before])
            inputs = sum(len(plan.inputs[n]) for n in plan.names(part))
            lines.append(f"| {name} | {inputs} | {walls[0]:.2f} s | {statistics.median(walls[1:]):.2f} s "
                         f"| {statistics.median(own[1:]):.2f} s |")
    finally:
        evaluator.close()
    return lines


def _env() -> dict:
    env = dict(os.environ)
    shared = ROOT.parent / "shared" / "data" / "mnist.npz"
    if not env.get("GRADER_DATA_MNIST") and shared.is_file():
        env["GRADER_DATA_MNIST"] = str(shared)
    env.update(TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=os.pathsep.join([str(HELPERS), str(ROOT)]))
    env.pop("TF_USE_LEGACY_KERAS", None)  # the edition's Keras: Keras 3
    return env


def _plain_script(notebook: Path, target: Path) -> Path:
    """The notebook's code cells as one Python script (no IPython-only lines in this notebook)."""
    import nbformat

    cells = [cell.source for cell in nbformat.read(notebook, as_version=4).cells if cell.cell_type == "code"]
    target.write_text("import matplotlib; matplotlib.use('Agg')\n" + "\n\n".join(cells) + "\n")
    return target


def _timed(command: list[str], *, cwd: Path, env: dict):
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    return time.perf_counter() - start, done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None,
                        help="--threads of grader check (default: one per core, as plain python)")
    args = parser.parse_args()
    env = _env()
    work = Path(tempfile.mkdtemp(prefix="grader-bench-keras-"))
    script = _plain_script(NOTEBOOK, work / "plain.py")
    check = [sys.executable, "-m", "grader", "check", str(NOTEBOOK), "--assignment", "mnist_keras",
             "--json", "--quiet"] + (["--threads", str(args.threads)] if args.threads else [])
    contenders = {"grader check": check, "plain python": [sys.executable, str(script)]}
    times: dict[str, list[float]] = {name: [] for name in contenders}
    timings, measured = [], []
    for _ in range(args.rounds):
        for name, command in contenders.items():
            seconds, done = _timed(command, cwd=work, env=env)
            if done.returncode not in (0, 1):
                print(f"{name} failed ({done.returncode}):\n{done.stderr[-2000:]}", file=sys.stderr)
                return 2
            times[name].append(seconds)
            if name == "grader check":
                result = json.loads(done.stdout)
                timings.append(result["timings"])
                measured.append({p["id"]: p["measured"] for p in result["parts"]})
    check_s, plain_s = statistics.median(times["grader check"]), statistics.median(times["plain python"])
    print(f"Keras edition solution, {args.rounds} round(s), medians:")
    print(f"| grader check | plain python | ratio |\n| --- | --- | --- |\n"
          f"| {check_s:.1f} s | {plain_s:.1f} s | {check_s / plain_s:.2f}x |")
    print("\nwhere grader check's time goes (median s):")
    for key in ("kernel_start", "agent_install", "cells", "measure", "export", "evaluate",
                "evaluate_models", "evaluate_wait", "total"):
        values = [t[key] for t in timings if key in t]
        if values:
            print(f"  {key:16} {statistics.median(values):7.2f}")
    print(f"\nmeasured: {measured}")
    saved = subprocess.run([sys.executable, "-c", SAVE, str(work)], capture_output=True, text=True, env=env)
    print("\nwhat leaves the kernel: the .keras file (optimizer state included), saved as the agent does")
    print("| model | parameters | .keras bytes | export (save + read), median of 5 |\n| --- | --- | --- | --- |")
    for line in saved.stdout.split("\n"):
        if line.strip():
            name, params, size, seconds = line.split()
            print(f"| {name} | {int(params):,} | {int(size):,} | {float(seconds):.3f} s |")
    if saved.returncode != 0:
        print(saved.stderr[-1000:])
        return 2
    print(f"\nthe evaluator (threads {args.threads or 1}): load, check and run each model on the plan's inputs")
    print("| model | inputs | first evaluation (starts the evaluator: TensorFlow and Keras imported) "
          "| next, median | the evaluator's own time |")
    print("| --- | --- | --- | --- | --- |")
    print("\n".join(_evaluations(work, args.threads or 1)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
