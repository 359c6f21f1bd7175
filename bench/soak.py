"""Soak: a class graded while the harness, its kernels and its evaluators are killed at random.

Not a CI test: a long run that prints the figures of the closing note of issue 13.

Two batches are each graded twice, first without interruption (the reference), then as a
soak: ``grader grade`` (2 workers) is SIGKILLed with its process group at random moments
``--harness-kills`` times and started again each time, and kernels and evaluators are
SIGKILLed from outside at random moments ``--outside-kills`` times (as an OOM killer or an
operator would).  When a run ends with exit status 2 because some rows are grader errors
(a learner whose kernel was killed on both tries), it is run again, as the README says.

* the **light** batch: a few hundred small notebooks on a copy of mnist_digits whose kernels
  do not import TensorFlow (seconds each): fine ones, sleepers and spinners (stopped by the
  cell timeout), crashers (``os._exit``, a segfault), memory hogs (the memory cap), notebooks
  that raise and notebooks that leave a daemon behind;
* the **TensorFlow** batch: a few untrained-model notebooks on mnist_digits itself, so that
  models are exported and run by evaluators (which get killed too).

At the end it checks, and prints: the gradebook equals the uninterrupted run's; every
learner has one result, none lost, none recorded twice; nothing is left (processes and
cgroups of the run, ledger entries, scratch folders) after each harness kill and at the end;
the harness's memory and open files, first and last sample (main process and workers).

Usage::

    python bench/soak.py                 # the full soak (about half an hour on 2 busy cores)
    python bench/soak.py --smoke         # a couple of minutes: 16 + 2 submissions, fewer kills
    python bench/soak.py --light 300 --tf 12 --harness-kills 8 --outside-kills 40 --seed 7
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import nbformat  # noqa: E402

from tests.processes import Run  # noqa: E402  (what a run left running: marks and cgroups)

PARTS = '["9XaAS", "vmogZ", "RMv95", "i8bgs", "rE763"]'
LIGHT_HEAD = ("# soak {mark}\nimport numpy as np\nimport grading\n"
              "grader = grading.Grader('k', all_parts=" + PARTS + ")\n"
              "W = np.zeros((784, 10))\nb = np.zeros(10)\n")
LIGHT_GRADED = 'grader.set_answer("9XaAS", str([W.shape, b.shape]))\n'
LIGHT_KINDS = {   # kind -> (weight, cells after the head)
    "fine": (10, [LIGHT_GRADED]),
    "sleeper": (2, ["import time\ntime.sleep(10_000)", LIGHT_GRADED]),
    "spinner": (2, ["while True:\n    pass", LIGHT_GRADED]),
    "exits": (1, [LIGHT_GRADED, "import os\nos._exit(3)", "print('never')"]),
    "segfault": (1, [LIGHT_GRADED, "import ctypes\nctypes.string_at(0)", "print('never')"]),
    "hog": (1, [LIGHT_GRADED, "x = []\nwhile True:\n    x.append(b'x' * 20_000_000)", "print('never')"]),
    "raises": (2, ["raise ValueError('learner bug')", LIGHT_GRADED]),
    "daemon": (1, ["import subprocess\nsubprocess.Popen(['sleep', '4242'], start_new_session=True)",
                   LIGHT_GRADED]),
}
TF_HEAD = """# soak {mark}
import numpy as np
import tensorflow as tf
import grading, grading_utils
from keras_utils import reset_tf_session
grader = grading.Grader("k", all_parts=""" + PARTS + """)
s = reset_tf_session()
W = tf.get_variable("W", shape=(784, 10))
b = tf.get_variable("b", shape=(10,))
input_X = tf.placeholder(tf.float32, (None, 784))
input_y = tf.placeholder(tf.float32, (None, 10))
probas = tf.nn.softmax(tf.matmul(input_X, W) + b)
classes = tf.argmax(probas, 1)
loss = -tf.reduce_mean(tf.reduce_sum(input_y * tf.log(probas + 1e-9), 1))
s.run(tf.global_variables_initializer())
"""
TF_GRADED = ('grader.set_answer("9XaAS", grading_utils.get_tensors_shapes_string([W, b, input_X, input_y]))\n'
             'grader.set_answer("vmogZ", 2.3)\ngrader.set_answer("RMv95", 0.1)\n')
TF_KINDS = {
    "tf_fine": (3, [TF_GRADED]),
    "tf_sleeper": (1, [TF_GRADED, "import time\ntime.sleep(10_000)", 'grader.set_answer("RMv95", 0.1)']),
}


def _notebook(path: Path, cells: list[str]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def make_class(folder: Path, count: int, kinds: dict, head: str, mark: str, rng: random.Random) -> dict:
    """``count`` notebooks drawn from ``kinds`` by weight (every kind at least once); their kinds."""
    names = list(kinds)
    drawn = names[:min(count, len(names))] + rng.choices(names, [kinds[k][0] for k in names],
                                                         k=max(0, count - len(names)))
    made = {}
    for number, kind in enumerate(drawn):
        learner = f"{kind}-{number:03d}"
        _notebook(folder / f"{learner}.ipynb", [head.format(mark=mark)] + kinds[kind][1])
        made[learner] = kind
    return made


def make_assignment(root: Path, *, tensorflow: bool) -> Path:
    """mnist_digits (and its reference) copied under ``root``; without TensorFlow in the kernel if asked."""
    target = root / "assignments" / "mnist_digits"
    shutil.copytree(ROOT / "assignments" / "mnist_digits", target)
    shutil.copytree(ROOT / "reference" / "mnist_digits", root / "reference" / "mnist_digits")
    if not tensorflow:
        toml = target / "assignment.toml"
        text = re.sub(r'(?m)^framework = "tensorflow"', 'framework = "none"', toml.read_text())
        toml.write_text(re.sub(r"(?m)^tf1_compat = true", "tf1_compat = false", text))
    return target


# --- the harness's memory and open files -------------------------------------------------------

def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def _workers(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2:].split()[1]) == pid and b"multiprocessing" in cmdline \
                and b"resource_tracker" not in cmdline:
            found.append(int(entry.name))
    return found


class Sampler(threading.Thread):
    """Every second: the harness's resident memory and open files, and its workers' (summed)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.pid: int | None = None
        self.segments: list[list[tuple]] = []
        self.stopping = threading.Event()

    def follow(self, pid: int) -> None:
        self.pid = pid
        self.segments.append([])

    def run(self) -> None:
        while not self.stopping.wait(1.0):
            pid = self.pid
            if pid is None or not self.segments:
                continue
            workers = _workers(pid)
            main = (_rss_kb(pid), _fds(pid))
            if main[0] == 0:
                continue
            self.segments[-1].append((time.monotonic(), main[0] / 1024, main[1],
                                      sum(_rss_kb(w) for w in workers) / 1024, sum(_fds(w) for w in workers),
                                      len(workers)))

    def stop(self) -> None:
        self.stopping.set()
        self.join()


# --- kills from outside ------------------------------------------------------------------------

def _victims(run: Run) -> dict[str, list[int]]:
    victims = {"kernel": [], "evaluator": []}
    for pid, command in run.snapshot().items():
        if os.path.basename(command.split(" ")[0]) == "bwrap":
            continue  # the sandbox's own processes: an OOM killer picks the big one inside
        if "ipykernel_launcher" in command:
            victims["kernel"].append(pid)
        elif "grader.kernel.evaluator_server" in command:
            victims["evaluator"].append(pid)
    return victims


class OutsideKiller(threading.Thread):
    """SIGKILLs a random kernel or evaluator of the run at each scheduled moment (soak clock)."""

    def __init__(self, run: Run, clock, schedule: list[float], rng: random.Random, prefer_evaluator: float):
        super().__init__(daemon=True)
        self.run_, self.clock, self.schedule, self.rng = run, clock, list(schedule), rng
        self.prefer_evaluator = prefer_evaluator
        self.killed = {"kernel": 0, "evaluator": 0}
        self.missed = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        for moment in self.schedule:
            while self.clock() < moment:
                if self.stopping.wait(0.05):
                    return
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and not self.stopping.is_set():
                victims = _victims(self.run_)
                roles = [r for r in ("evaluator", "kernel") if victims[r]]
                if roles:
                    role = "evaluator" if "evaluator" in roles and (
                        len(roles) == 1 or self.rng.random() < self.prefer_evaluator) else "kernel"
                    try:
                        os.kill(self.rng.choice(victims[role]), signal.SIGKILL)
                        self.killed[role] += 1
                        break
                    except OSError:
                        pass
                time.sleep(0.1)
            else:
                self.missed += 1

    def stop(self) -> None:
        self.stopping.set()
        self.join()


# --- one batch, uninterrupted or soaked --------------------------------------------------------

def _harness(args, folder: Path, out: Path, assignment: Path, mark: str, log: Path, phase: dict):
    env = {**os.environ, "GRADER_TEST_MARK": mark}
    shared = ROOT.parent / "shared" / "data" / "mnist.npz"
    if not env.get("GRADER_DATA_MNIST") and shared.is_file():
        env["GRADER_DATA_MNIST"] = str(shared)
    command = [sys.executable, "-m", "grader", "grade", str(folder), "--out", str(out), "--quiet",
               "--workers", str(args.workers), "--assignment", str(assignment),
               "--cell-timeout", str(phase["cell_timeout"]), "--memory-limit", str(phase["memory_mb"])]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=open(log, "w"),
                            stderr=open(log.with_suffix(".err"), "w"), start_new_session=True)


def _gradebook(out: Path) -> dict[str, dict]:
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row.pop("duration_s", None)
    return {row["learner"]: row for row in rows}


def uninterrupted(args, folder, out, assignment, mark, work, phase) -> dict:
    run, sampler = Run(mark), Sampler()
    sampler.start()
    started = time.monotonic()
    harness = _harness(args, folder, out, assignment, mark, work / f"{phase['name']}-reference.log", phase)
    sampler.follow(harness.pid)
    code = harness.wait()
    wall = time.monotonic() - started
    sampler.stop()
    processes, cgroups = run.wait_clean(30)
    return {"wall": wall, "code": code, "gradebook": _gradebook(out), "samples": sampler.segments,
            "left": (len(processes), len(cgroups))}


def soaked(args, folder, out, assignment, mark, work, phase, reference_wall: float, rng) -> dict:
    run, sampler = Run(mark), Sampler()
    window = (5.0, max(10.0, 0.6 * reference_wall))
    harness_kills = sorted(rng.uniform(*window) for _ in range(phase["harness_kills"]))
    outside = sorted(rng.uniform(window[0], 0.9 * reference_wall) for _ in range(phase["outside_kills"]))
    started = time.monotonic()

    def clock() -> float:
        return time.monotonic() - started

    killer = OutsideKiller(run, clock, outside, rng, phase["prefer_evaluator"])
    sampler.start()
    killer.start()
    stats = {"harness_kills": 0, "orphans_after_kill": [], "clean_after_kill_s": [], "reruns_after_exit_2": 0,
             "segments": 0}
    segment = 0
    while True:
        segment += 1
        harness = _harness(args, folder, out, assignment, mark, work / f"{phase['name']}-soak-{segment}.log",
                           phase)
        sampler.follow(harness.pid)
        code = None
        while code is None:
            if harness_kills and clock() >= harness_kills[0]:
                harness_kills.pop(0)
                os.killpg(harness.pid, signal.SIGKILL)  # the harness and its workers, at once
                harness.wait()
                stats["harness_kills"] += 1
                killed_at = time.monotonic()
                processes, cgroups = run.wait_clean(30)
                stats["orphans_after_kill"].append(len(processes) + len(cgroups))
                stats["clean_after_kill_s"].append(round(time.monotonic() - killed_at, 2))
                if processes or cgroups:
                    print(f"  left after a harness kill: {processes} {cgroups}", file=sys.stderr)
                code = "killed"
                break
            try:
                code = harness.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                pass
        if code == "killed":
            continue
        err = (work / f"{phase['name']}-soak-{segment}.err").read_text()
        if code == 2 and "could not be graded because of a fault of the grader" in err:
            stats["reruns_after_exit_2"] += 1
            continue  # some learners' kernels were killed on both tries: run again, as documented
        if code not in (0, 1):
            raise SystemExit(f"the harness failed (exit {code}):\n{err[-3000:]}")
        if harness_kills:
            harness_kills.clear()  # the batch finished before the last planned kills: fewer kills
        break
    stats["wall"] = clock()
    stats["segments"] = segment
    killer.stop()
    sampler.stop()
    stats["outside_kills"] = dict(killer.killed)
    stats["outside_missed"] = killer.missed
    processes, cgroups = run.wait_clean(30)
    stats["left_processes"], stats["left_cgroups"] = processes, cgroups
    stats["samples"] = sampler.segments
    stats["gradebook"] = _gradebook(out)
    return stats


def _journal(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "journal.jsonl").read_text().splitlines() if line.strip()]


def check(made: dict, reference: dict, soak: dict, out: Path, mark: str) -> dict:
    """The closing note's checks for one batch."""
    learners = set(made)
    results = {}
    for path in (out / "results").glob("*.json"):
        data = json.loads(path.read_text())
        results[data["learner"]] = data
    done: dict[str, int] = {}
    for event in _journal(out):
        if event["event"] == "done" and event.get("status") != "grader-error":
            done[event["learner"]] = done.get(event["learner"], 0) + 1
    differences = {name: (reference["gradebook"].get(name), soak["gradebook"].get(name))
                   for name in learners if reference["gradebook"].get(name) != soak["gradebook"].get(name)}
    scratch = [p for p in Path(tempfile.gettempdir()).glob("grader-*/work/submission.ipynb")
               if mark in p.read_text(errors="replace")]
    return {
        "submissions": len(made),
        "gradebook_equal": not differences and len(soak["gradebook"]) == len(made),
        "differences": differences,
        "results": len(learners & set(results)),
        "lost": sorted(learners - set(results)),
        "recorded_twice": sorted(name for name, count in done.items() if count > 1),
        "grader_errors_at_end": sorted(n for n, r in results.items() if r["status"] == "grader-error"),
        "regraded_after_outside_kill": sum(any("graded in a second run" in note for note in r.get("notes", []))
                                           for r in results.values()),
        "swept_at_start": sum(e.get("processes", 0) for e in _journal(out) if e["event"] == "swept"),
        "reaped": sum(e.get("processes", 0) for e in _journal(out) if e["event"] == "reaped"),
        "ledger_entries_left": len(list((out / ".grader" / "running").glob("*.json"))),
        "scratch_left": len(scratch),
    }


def _fmt_s(seconds: float) -> str:
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


def _first_last(segments, workers: int) -> str:
    """The longest harness run while all its workers were grading: the main process's first and
    last sample; the workers' medians over the first and the last tenth of it (a worker's figures
    swing with the phase of the grading it is in: a live kernel's sockets, a model's inputs)."""
    samples = [s for segment in segments for s in segment]
    if not samples:
        return "no samples"
    longest = max(segments, key=len)
    steady = [s for s in longest if s[5] == workers] or longest
    tenth = max(1, len(steady) // 10)

    def median(values):
        values = sorted(values)
        return values[len(values) // 2]

    head, tail = steady[:tenth], steady[-tenth:]
    first, last = steady[0], steady[-1]
    return (f"main {first[1]:.0f} -> {last[1]:.0f} MB, {first[2]} -> {last[2]} open files; "
            f"{workers} workers (sum, medians) {median(s[3] for s in head):.0f} -> {median(s[3] for s in tail):.0f} MB, "
            f"{median(s[4] for s in head)} -> {median(s[4] for s in tail)} open files, at most "
            f"{max(s[3] for s in steady):.0f} MB and {max(s[4] for s in steady)} files "
            f"({len(steady)} samples over {last[0] - first[0]:.0f} s of the longest harness run)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--light", type=int, default=260, help="light submissions (default 260)")
    parser.add_argument("--tf", type=int, default=12, help="TensorFlow submissions (default 12)")
    parser.add_argument("--harness-kills", type=int, default=8, help="harness kills per batch (default 8)")
    parser.add_argument("--outside-kills", type=int, default=30,
                        help="kernel/evaluator kills in the light batch (default 30; the TF batch gets a third)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--smoke", action="store_true", help="a short version: 16 + 2 submissions, 2 + 4 kills")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    if args.smoke:
        args.light, args.tf, args.harness_kills, args.outside_kills = 16, 2, 2, 4
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="grader-soak-"))
    mark = uuid.uuid4().hex
    phases = [
        {"name": "light", "count": args.light, "kinds": LIGHT_KINDS, "head": LIGHT_HEAD, "tensorflow": False,
         "cell_timeout": 8, "memory_mb": 400, "harness_kills": args.harness_kills,
         "outside_kills": args.outside_kills, "prefer_evaluator": 0.0},
        {"name": "tf", "count": args.tf, "kinds": TF_KINDS, "head": TF_HEAD, "tensorflow": True,
         "cell_timeout": 20, "memory_mb": 2500, "harness_kills": max(1, args.harness_kills // 3),
         "outside_kills": max(2, args.outside_kills // 3), "prefer_evaluator": 0.5},
    ]
    print(f"soak: {args.light} light + {args.tf} TensorFlow submissions, {args.workers} workers, "
          f"seed {args.seed}, work folder {work}", flush=True)
    report, ok = [], True
    try:
        for phase in phases:
            if phase["count"] <= 0:
                continue
            folder = work / phase["name"] / "in"
            made = make_class(folder, phase["count"], phase["kinds"], phase["head"], mark, rng)
            assignment = make_assignment(work / phase["name"] / "spec", tensorflow=phase["tensorflow"])
            print(f"[{phase['name']}] reference run (uninterrupted) of {len(made)} submissions ...", flush=True)
            reference = uninterrupted(args, folder, work / phase["name"] / "reference", assignment, mark, work,
                                      phase)
            if reference["code"] not in (0, 1):
                raise SystemExit(f"the reference run failed (exit {reference['code']}); see {work}")
            print(f"[{phase['name']}] reference: {_fmt_s(reference['wall'])}; soak with "
                  f"{phase['harness_kills']} harness kills and {phase['outside_kills']} outside kills ...",
                  flush=True)
            soak = soaked(args, folder, work / phase["name"] / "soak", assignment, mark, work, phase,
                          reference["wall"], rng)
            checks = check(made, reference, soak, work / phase["name"] / "soak", mark)
            report.append((phase, reference, soak, checks))
            ok &= (checks["gradebook_equal"] and not checks["lost"] and not checks["recorded_twice"]
                   and not checks["grader_errors_at_end"] and not soak["left_processes"]
                   and not soak["left_cgroups"] and not any(soak["orphans_after_kill"])
                   and not checks["ledger_entries_left"] and not checks["scratch_left"])
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    print("\n=== soak figures ===")
    for phase, reference, soak, checks in report:
        kinds = {}
        for name in reference["gradebook"]:
            kinds[name.split("-")[0]] = kinds.get(name.split("-")[0], 0) + 1
        print(f"[{phase['name']}] {checks['submissions']} submissions ({', '.join(f'{k} {v}' for k, v in kinds.items())})")
        print(f"  wall time: uninterrupted {_fmt_s(reference['wall'])}, soak {_fmt_s(soak['wall'])} "
              f"({soak['segments']} harness runs)")
        print(f"  kills: harness {soak['harness_kills']} (process group SIGKILL), outside "
              f"{soak['outside_kills']['kernel']} kernels + {soak['outside_kills']['evaluator']} evaluators "
              f"(SIGKILL; {soak['outside_missed']} moments found nothing to kill)")
        print(f"  orphans after each harness kill: {soak['orphans_after_kill']} "
              f"(clean after {soak['clean_after_kill_s']} s); reaped by the watchdog: {checks['reaped']} "
              f"process(es); swept at restart: {checks['swept_at_start']}")
        print(f"  left at the end: {len(soak['left_processes'])} processes, {len(soak['left_cgroups'])} cgroups, "
              f"{checks['ledger_entries_left']} ledger entries, {checks['scratch_left']} scratch folders "
              f"(uninterrupted run: {reference['left'][0]} processes, {reference['left'][1]} cgroups)")
        print(f"  gradebook equal to the uninterrupted run's: {'yes' if checks['gradebook_equal'] else 'NO'} "
              f"({len(soak['gradebook'])} rows)")
        for name, (want, got) in list(checks["differences"].items())[:5]:
            print(f"    {name}: uninterrupted {want}\n    {' ' * len(name)}  soak          {got}")
        print(f"  results: {checks['results']} of {checks['submissions']}, lost {len(checks['lost'])}, "
              f"recorded twice {len(checks['recorded_twice'])}; regraded after an outside kill "
              f"{checks['regraded_after_outside_kill']}; runs again after exit 2 {soak['reruns_after_exit_2']}; "
              f"grader-error rows at the end {len(checks['grader_errors_at_end'])}")
        print(f"  harness memory and open files, uninterrupted: {_first_last(reference['samples'], args.workers)}")
        print(f"  harness memory and open files, soak:          {_first_last(soak['samples'], args.workers)}")
    print("\nall checks passed" if ok else "\nSOME CHECKS FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
