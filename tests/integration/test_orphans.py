"""Nothing outlives a killed harness, and a machine's fault is not the learner's.

* The start-up race: the harness (``grader grade``, 2 workers) is SIGKILLed while its
  kernels and evaluators are starting, held by the launcher's test hook at a chosen
  stage (``GRADER_LAUNCH_HOLD``); afterwards no process and no cgroup of that run may
  remain (checked in the process table and in the cgroup hierarchies).
* A kernel killed from outside while starting, or while running a cell, is started
  again and the learner graded as usual; killed on every try, the row says the grader
  could not run it (``grader-error``, exit status 2), never a grade, and the next run
  grades it.
* An evaluator killed from outside while it starts is no fault of the model.

The kills are real SIGKILLs of real processes; tiny notebooks keep the kernels short.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from grader.run.process_register import alive, start_time
from tests.conftest import ROOT
from tests.integration.test_batch import GRADED, UNTRAINED, _gradebook, _notebook
from tests.processes import Run

pytestmark = [pytest.mark.kernel]

SLEEPER = "import time\ntime.sleep(10_000)"


def _wait(condition, timeout=120.0, what="the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _harness(folder, out, mark, *extra, hold=None, wait=True, sandbox="auto"):
    env = {**os.environ, "GRADER_TEST_MARK": mark}
    if hold:
        env["GRADER_LAUNCH_HOLD"] = hold
    command = [sys.executable, "-m", "grader", "grade", str(folder), "--out", str(out), "--quiet",
               "--sandbox", sandbox, *extra]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    if not wait:
        return process
    stdout, stderr = process.communicate(timeout=900)
    return process.returncode, stdout, stderr


@pytest.fixture
def run():
    """The processes of the harness runs of one test; whatever the test leaves is killed after it."""
    tracked = Run(uuid.uuid4().hex)
    yield tracked
    tracked.kill_all()


def _assert_nothing_left(run, out):
    processes, cgroups = run.wait_clean(timeout=30)
    assert not processes, f"processes of the killed run are still running: {processes}"
    assert not cgroups, f"cgroups of the killed run are still there: {cgroups}"
    assert not list((out / ".grader" / "running").glob("*.json")), "the ledger still lists kernels"


class Killer(threading.Thread):
    """Acts on every launcher held in ``folder``: kills those of ``kill_roles``, releases the others."""

    def __init__(self, folder: Path, kill_roles=("kernel",)):
        super().__init__(daemon=True)
        self.folder, self.kill_roles = folder, kill_roles
        self.killed: list[int] = []
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            for held in self.folder.glob("*-*-*"):
                role, _, pid = held.name.split("-")
                if role in self.kill_roles:
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                        self.killed.append(int(pid))
                    except OSError:
                        pass
                held.unlink(missing_ok=True)
            time.sleep(0.02)

    def stop(self):
        self.stopping.set()
        self.join()


@pytest.mark.parametrize("stage", ["start", "exec"])
def test_a_harness_killed_while_kernels_start_leaves_nothing_running(tmp_path, run, stage):
    folder, out, hold = tmp_path / "in", tmp_path / "out", tmp_path / "hold"
    hold.mkdir()
    _notebook(folder / "ann.ipynb", UNTRAINED, SLEEPER)
    _notebook(folder / "ben.ipynb", UNTRAINED, SLEEPER)
    harness = _harness(folder, out, run.mark, "--workers", "2", hold=f"{stage}:{hold}", wait=False)
    try:
        # Both workers' kernels are held in their launchers (evaluators too, beside them).
        _wait(lambda: len(list(hold.glob(f"kernel-{stage}-*"))) == 2, what="two kernels held while starting")
        assert run.snapshot()  # the run is seen: workers, launchers, cgroups
        os.killpg(harness.pid, signal.SIGKILL)
        harness.wait()
    finally:
        for held in hold.glob("*-*-*"):
            held.unlink()  # the launchers go on, as if the machine had been slow just there
    _assert_nothing_left(run, out)


def test_a_worker_killed_alone_has_its_kernels_swept_while_the_batch_goes_on(tmp_path, run):
    # The machine's OOM killer picks a batch worker: the watchdog removes what that worker's
    # gradings had made within seconds, while the harness and the other worker go on.
    from tests.processes import cgroups_of

    folder, out, hold = tmp_path / "in", tmp_path / "out", tmp_path / "hold"
    hold.mkdir()
    _notebook(folder / "ann.ipynb", UNTRAINED, SLEEPER)
    _notebook(folder / "ben.ipynb", UNTRAINED, SLEEPER)
    harness = _harness(folder, out, run.mark, "--workers", "2", hold=f"exec:{hold}", wait=False)
    try:
        _wait(lambda: len(list(hold.glob("kernel-exec-*"))) == 2, what="two kernels held while starting")
        entries = [json.loads(p.read_text()) for p in (out / ".grader" / "running").glob("*.json")]
        victim = entries[0]["owner"][0]
        assert {e["owner"][0] for e in entries} >= {victim} and len({e["owner"][0] for e in entries}) == 2
        os.kill(victim, signal.SIGKILL)

        def swept():
            owners = [json.loads(p.read_text())["owner"][0]
                      for p in (out / ".grader" / "running").glob("*.json")]
            return victim not in owners and not cgroups_of([victim])

        _wait(swept, timeout=30, what="the dead worker's kernels swept")
        assert harness.poll() is None  # the batch goes on
        os.killpg(harness.pid, signal.SIGKILL)
        harness.wait()
    finally:
        for held in hold.glob("*-*-*"):
            held.unlink()
    _assert_nothing_left(run, out)


def test_leftovers_of_a_killed_run_are_swept_when_the_batch_starts_again(tmp_path, run):
    # The watchdog itself is killed with the harness (an operator killing everything): the
    # next run of the batch finds the kernels in the ledger, kills them, and says so.
    folder, out, hold = tmp_path / "in", tmp_path / "out", tmp_path / "hold"
    hold.mkdir()
    _notebook(folder / "ann.ipynb", UNTRAINED, SLEEPER)
    harness = _harness(folder, out, run.mark, "--workers", "1", hold=f"exec:{hold}", wait=False)
    try:
        _wait(lambda: list(hold.glob("kernel-exec-*")), what="a kernel held while starting")
        reapers = [pid for pid, command in run.snapshot().items() if "grader.run.reaper" in command]
        assert len(reapers) == 1
        os.kill(reapers[0], signal.SIGKILL)
        os.killpg(harness.pid, signal.SIGKILL)
        harness.wait()
    finally:
        for held in hold.glob("*-*-*"):
            held.unlink()
    _wait(lambda: list((out / ".grader" / "running").glob("*.json")), what="the ledger's entries")
    again = _harness(folder, out, run.mark, "--workers", "1", "--cell-timeout", "5")
    assert again[0] == 1, again[2]
    assert "cleaned up after a killed run of this batch: killed" in again[2], again[2]
    swept = [json.loads(line) for line in (out / "journal.jsonl").read_text().splitlines()
             if json.loads(line)["event"] == "swept"]
    assert len(swept) == 1 and swept[0]["cgroups"] >= 1
    _assert_nothing_left(run, out)


def test_two_batches_never_write_one_results_folder(tmp_path, run):
    folder, out, hold = tmp_path / "in", tmp_path / "out", tmp_path / "hold"
    hold.mkdir()
    _notebook(folder / "ann.ipynb", UNTRAINED, SLEEPER)
    first = _harness(folder, out, run.mark, "--workers", "1", hold=f"start:{hold}", wait=False)
    try:
        _wait(lambda: list(hold.glob("kernel-start-*")), what="the first batch's kernel")
        code, _, stderr = _harness(folder, out, run.mark, "--workers", "1")
        assert code == 2
        assert stderr.strip().splitlines()[-1].startswith("grader: error: another `grader grade` (pid ")
        assert "Traceback" not in stderr
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        for held in hold.glob("*-*-*"):
            held.unlink()
    _assert_nothing_left(run, out)


@pytest.mark.slow
def test_a_kernel_killed_while_starting_is_started_again_and_never_graded_as_dead(tmp_path, run):
    folder, out = tmp_path / "in", tmp_path / "out"
    _notebook(folder / "ann.ipynb", UNTRAINED, GRADED)

    # Killed at every start: the grader could not run it. Not a grade, exit status 2, one line.
    hold = tmp_path / "always"
    hold.mkdir()
    killer = Killer(hold)
    killer.start()
    try:
        code, stdout, stderr = _harness(folder, out, run.mark, "--workers", "1", hold=f"start:{hold}")
    finally:
        killer.stop()
    assert len(killer.killed) == 2  # tried twice
    assert code == 2, stderr
    assert "Traceback" not in stderr + stdout and "AssertionError" not in stderr
    assert stderr.strip().splitlines()[-1].startswith("grader: 1 submission(s) could not be graded because "
                                                      "of a fault of the grader or the machine"), stderr
    row = _gradebook(out)[0]
    assert row["status"] == "grader-error" and row["total"] == "0", row
    result = json.loads((out / "results" / "ann.json").read_text())
    assert "cut short from outside it 2 times" in result["reason"]
    assert "run the same command again" in result["reason"]
    _assert_nothing_left(run, out)

    # The next run grades it; this time only the first start is killed: the second one counts.
    hold = tmp_path / "once"
    hold.mkdir()
    killer = Killer(hold)
    killer.start()
    try:
        code, stdout, stderr = _harness(folder, out, run.mark, "--workers", "1", hold=f"start:{hold}:once")
    finally:
        killer.stop()
    assert len(killer.killed) == 1
    assert code == 1, stderr  # an untrained model: a grade, failing the graph parts
    assert "Traceback" not in stderr + stdout
    row = _gradebook(out)[0]
    assert row["status"] == "graded" and row["9XaAS"] == "1", row
    result = json.loads((out / "results" / "ann.json").read_text())
    assert any("graded in a second run" in note and "could not be started" in note for note in result["notes"])
    _assert_nothing_left(run, out)


@pytest.mark.slow
def test_a_kernel_killed_from_outside_mid_cell_is_graded_again(tmp_path, run):
    folder, out = tmp_path / "in", tmp_path / "out"
    # The sandboxed kernel marks in its own folder that it reached the cell, then sleeps a little.
    flag = f"reached-{run.mark}"
    _notebook(folder / "ann.ipynb", UNTRAINED, GRADED, f"open({flag!r}, 'w').close()\nimport time\ntime.sleep(3)")
    harness = _harness(folder, out, run.mark, "--workers", "1", wait=False)

    def kernel_in_cell():
        if not list(Path("/tmp").glob(f"grader-*/work/{flag}")):
            return None
        kernels = [pid for pid, command in run.snapshot().items()
                   if "ipykernel_launcher" in command and "bwrap" not in command]
        return kernels[0] if len(kernels) == 1 else None

    kernel = _wait(kernel_in_cell, what="the kernel running the third cell")
    os.kill(kernel, signal.SIGKILL)  # an operator, or the machine's OOM killer
    stdout, stderr = harness.communicate(timeout=600)
    assert harness.returncode == 1, stderr
    assert "Traceback" not in stderr + stdout
    row = _gradebook(out)[0]
    assert row["status"] == "graded" and row["9XaAS"] == "1" and "died" not in row["reason"], row
    result = json.loads((out / "results" / "ann.json").read_text())
    assert any("killed from outside the notebook while running cell 3" in note for note in result["notes"]), \
        result["notes"]
    _assert_nothing_left(run, out)


@pytest.mark.slow
def test_an_evaluator_killed_from_outside_is_no_fault_of_the_model(tmp_path, monkeypatch):
    import asyncio

    import numpy as np

    from grader.run.evaluator_client import Evaluator, EvaluatorOptions, Plan
    from grader.run.limits import Limits
    from grader.run.sandbox import unavailable_reason

    folder = tmp_path / "graph"
    folder.mkdir()
    build = ("import sys, numpy as np, tensorflow.compat.v1 as tf\ntf.disable_eager_execution()\n"
             "x = tf.placeholder(tf.float32, (None, 4), name='x')\n"
             "y = tf.nn.softmax(tf.matmul(x, tf.constant(np.eye(4, 3, dtype=np.float32))), name='y')\n"
             "open(sys.argv[1], 'wb').write(tf.get_default_graph().as_graph_def().SerializeToString())\n")
    subprocess.run([sys.executable, "-c", build, str(folder / "g.pb")], check=True, timeout=300,
                   env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    import base64

    exported = {"graph": base64.b64encode((folder / "g.pb").read_bytes()).decode(), "input": "x:0",
                "output": "y:0"}
    inputs = np.random.RandomState(0).uniform(size=(20, 4)).astype(np.float32)
    plan = Plan(inputs={"val": inputs}, runs={"P": {"values": "val"}})

    hold = tmp_path / "hold"
    hold.mkdir()
    monkeypatch.setenv("GRADER_LAUNCH_HOLD", f"exec:{hold}:once")
    evaluator = Evaluator(EvaluatorOptions(sandbox=not unavailable_reason(), readonly=(ROOT / "grader",),
                                           limits=Limits(memory_mb=2048), threads=1, timeout=120))
    try:
        session = evaluator.session(plan, ["P"])
        _wait(lambda: list(hold.glob("evaluator-exec-*")), what="the evaluator held while starting")
        launcher = evaluator._proc.pid
        results = []
        worker = threading.Thread(target=lambda: results.append(asyncio.run(session.evaluate("P", exported))))
        worker.start()
        _wait(lambda: evaluator._lock.locked(), what="the evaluation waiting for the evaluator")
        time.sleep(0.3)
        started = start_time(launcher)
        os.kill(launcher, signal.SIGKILL)  # from outside, while the grading waits for it
        worker.join(120)
        (lost,) = results
        assert lost.get("lost") and not lost["ok"] and "killed from outside" in lost["error"], lost
        assert not alive(launcher, started)
        (again,) = [asyncio.run(session.evaluate("P", exported))]  # a new process, not held this time
        assert again["ok"], again
    finally:
        for held in hold.glob("*-*-*"):
            held.unlink()
        evaluator.close()
