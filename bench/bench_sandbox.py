"""Benchmark: where the sandbox's cost per notebook goes, measured side by side.

Each step is run bare and inside the very bubblewrap sandbox a kernel gets
(:func:`grader.run.sandbox.bwrap_argv`, the kernel's allow-listed environment),
interleaved (bare, sandboxed, bare, sandboxed, ...) so that a noisy neighbour
hits both alike; the script prints medians and ratios, never a pass or fail:

* ``start``: ``python -c pass`` - what bubblewrap itself adds to a process's start
  (namespaces, the read-only binds, its init);
* ``import tensorflow``: the kernel agent's first work;
* ``first figure``: matplotlib's first plot (the sandbox's ``/tmp`` is new for every
  kernel: the font cache is built again unless the grader provides one);
* ``kernel ready``: ``grader check`` of a one-cell notebook, ``--sandbox required``
  against ``--sandbox off``: kernel start + agent install, from the result's timings;
* with ``--notebook``, each phase of a real check of that notebook (the result's timings:
  kernel start, agent install, cells, the wait for the evaluator, total, and the command's
  wall time around them), sandboxed against not: where the sandbox's cost goes.

Usage::

    python bench/bench_sandbox.py [--rounds 5] [--notebook reference/mnist_digits/solution.ipynb]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.run.sandbox import bwrap_argv, sandboxed_env, unavailable_reason  # noqa: E402

STEPS = {
    "start (python -c pass)": "pass",
    "import tensorflow": "import tensorflow",
    "first figure (matplotlib)": ("import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt; "
                                  "plt.plot([1, 2]); plt.title('x'); plt.savefig('fig.png')"),
}


def _timed(command: list[str], **kwargs) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, **kwargs)
    return time.perf_counter() - start


def _check(notebook: Path, sandbox: str, env: dict) -> dict:
    """The timings of ``grader check NOTEBOOK``, and its wall time (``wall``)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "grader", "check", str(notebook), "--assignment",
                           "mnist_digits", "--json", "--quiet", "--sandbox", sandbox],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - start
    return {**json.loads(done.stdout)["timings"], "wall": wall}


def _kernel_ready(notebook: Path, sandbox: str, env: dict) -> float:
    timings = _check(notebook, sandbox, env)
    return timings["kernel_start"] + timings["agent_install"]


PHASES = ("kernel_start", "agent_install", "cells", "measure", "evaluate_wait", "total", "wall")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--notebook", type=Path, help="also compare each phase of a check of this notebook")
    args = parser.parse_args()
    if unavailable_reason():
        print(f"the sandbox cannot run here: {unavailable_reason()}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="grader-bench-sandbox-"))
    try:
        inner = sandboxed_env({"PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3",
                            "TF_USE_LEGACY_KERAS": "1"}, workdir=work)
        sandbox = bwrap_argv(workdir=work, ipc_dir=None, readonly=[ROOT / "grader"], env=inner)
        bare_env = {**inner, "HOME": os.environ.get("HOME", str(work)), "TMPDIR": str(work),
                    "MPLCONFIGDIR": str(work / "mpl-warm")}
        times = {name: {"bare": [], "sandboxed": []} for name in [*STEPS, "kernel ready (grader check)"]}
        notebook = work / "one_cell.ipynb"
        notebook.write_text(json.dumps({"cells": [{"cell_type": "code", "metadata": {}, "source": "x = 1",
                                                   "outputs": [], "execution_count": None}],
                                        "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
        env = {**os.environ}
        shared = ROOT.parent / "shared" / "data" / "mnist.npz"
        if not env.get("GRADER_DATA_MNIST") and shared.is_file():
            env["GRADER_DATA_MNIST"] = str(shared)
        python = sys.executable
        for round_ in range(args.rounds + 1):   # round 0 warms the caches and is not counted
            for name, code in STEPS.items():
                bare = _timed([python, "-c", code], env=bare_env, cwd=work)
                boxed = _timed(sandbox + [python, "-c", code])
                if round_:
                    times[name]["bare"].append(bare)
                    times[name]["sandboxed"].append(boxed)
            bare = _kernel_ready(notebook, "off", env)
            boxed = _kernel_ready(notebook, "required", env)
            if round_:
                times["kernel ready (grader check)"]["bare"].append(bare)
                times["kernel ready (grader check)"]["sandboxed"].append(boxed)
            if args.notebook and round_:
                for mode, label in (("off", "bare"), ("required", "sandboxed")):
                    for phase, value in _check(args.notebook, mode, env).items():
                        if phase in PHASES:
                            times.setdefault(f"{args.notebook.name}: {phase}", {"bare": [], "sandboxed": []})[
                                label].append(value)
            print(f"round {round_}{' (warm-up)' if not round_ else ''} done", flush=True)
        print(f"\n{args.rounds} round(s), medians (seconds):")
        print(f"  {'step':<36} {'bare':>8} {'sandboxed':>10} {'added':>8} {'ratio':>7}")
        for name, pair in times.items():
            bare, boxed = statistics.median(pair["bare"]), statistics.median(pair["sandboxed"])
            ratio = f"{boxed / bare:7.3f}" if bare else "      -"
            print(f"  {name:<36} {bare:8.3f} {boxed:10.3f} {boxed - bare:+8.3f} {ratio}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
