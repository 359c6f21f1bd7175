"""Ctrl-C (or SIGTERM) at any moment of ``grader check`` ends in "grader: interrupted", exit 130, nothing left.

The race of issue 19, made likely on purpose: the check is interrupted at many moments of its
start-up and run - before its kernel's launcher exists, with the launcher held at each stage of
its start (``GRADER_LAUNCH_HOLD``), while the kernel boots and the harness waits for its
``kernel_info``, right after the kernel is ready, just as one of many tiny cells ends, and inside
a sleeping cell - each with a random delay, in a loop, while a busy sibling process keeps the CPU
loaded.  Each check runs below ``tests/subreaper.py``, a child subreaper: a bubblewrap orphaned
because its parent was killed before reaping it comes to it instead of the machine's init, so the
test sees it.  Each moment asserts: the check's exit status is 130 (143 for SIGTERM) within a few
seconds of the signal; its last line is "grader: interrupted"; no traceback; no process of the run
left (processes and cgroups); no bubblewrap left orphaned.

The signal goes to the whole process group, as the terminal's Ctrl-C does, and the check starts
with SIGINT at its default disposition, as from a terminal, or ignored, as a script's background
job or a CI runner starts it: it must stop either way.
"""
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid

import nbformat
import pytest

from tests.conftest import ROOT
from tests.integration.test_batch import UNTRAINED
from tests.processes import Run

pytestmark = [pytest.mark.kernel]

SLEEPER = "import time\ntime.sleep(10_000)"
TINY_CELLS = 300
EXIT_WITHIN_S = 10.0


def _notebook(path, *cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def notebooks(tmp_path_factory):
    folder = tmp_path_factory.mktemp("interrupt")
    return {
        # TensorFlow parts: an evaluator starts beside the kernel (held with it).
        "mnist": _notebook(folder / "ann.ipynb", UNTRAINED, SLEEPER),
        # No TensorFlow: the kernel is ready in a second or two, then many cells end in a row.
        "light": _notebook(folder / "ben.ipynb", *(["x = 1"] * TINY_CELLS), SLEEPER),
    }


@pytest.fixture(scope="module")
def busy_sibling():
    """A process that keeps one core busy for the whole module (the race showed under load)."""
    process = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    yield process
    process.kill()
    process.wait()


class Check:
    """One ``grader check`` below the subreaper, its progress events read as they come."""

    def __init__(self, tmp_path, notebook, assignment, *, sigint="default", hold=None):
        self.run = Run(uuid.uuid4().hex)
        self.report = tmp_path / f"report-{self.run.mark}.json"
        env = {**os.environ, "GRADER_TEST_MARK": self.run.mark}
        if hold:
            env["GRADER_LAUNCH_HOLD"] = hold
        command = [sys.executable, "-m", "tests.subreaper", str(self.report), "--sigint", sigint, "--",
                   sys.executable, "-m", "grader", "check", str(notebook), "--assignment", assignment,
                   "--progress", "jsonl"]
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.events, self.lines = [], []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))
            if line.startswith("{"):
                try:
                    self.events.append(json.loads(line))
                except ValueError:
                    pass

    def wait_for(self, predicate, what, timeout=120.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return
            if self.process.poll() is not None:
                raise AssertionError(f"the check ended before {what}:\n" + "\n".join(self.lines[-20:]))
            time.sleep(0.005)
        raise AssertionError(f"timed out waiting for {what}")

    def seen(self, event, **fields):
        return any(e.get("event") == event and all(e.get(k) == v for k, v in fields.items())
                   for e in self.events)

    def signal_group(self, signum=signal.SIGINT):
        self.signalled_at = time.time()
        os.killpg(self.process.pid, signum)

    def signal_check(self, signum):
        self.signalled_at = time.time()
        os.kill(int(self.report.with_suffix(".pid").read_text()), signum)

    def finish(self):
        """Wait for the end; (report, stderr lines)."""
        try:
            self.process.wait(timeout=EXIT_WITHIN_S + 30)
        except subprocess.TimeoutExpired:
            self.run.kill_all()
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self._reader.join(5)
            raise AssertionError("the check did not stop after the signal:\n" + "\n".join(self.lines[-20:]))
        self._reader.join(10)
        return json.loads(self.report.read_text()), self.lines


def _held(stage):
    def predicate(check):
        return any(check.hold.glob(f"kernel-{stage}-*"))
    return predicate


def _assert_stopped(check, moment, *, code=130, word="interrupted"):
    report, lines = check.finish()
    text = "\n".join(lines)
    where = f"[{moment}] "
    assert report["code"] == code, where + f"exit status {report['code']}, not {code}:\n{text[-3000:]}"
    took = report["ended_at"] - check.signalled_at
    assert took < EXIT_WITHIN_S, where + f"the check took {took:.1f} s to stop"
    assert lines and lines[-1] == f"grader: {word}", where + text[-3000:]
    for bad in ("Traceback", "Task exception", "Exception ignored", "never retrieved"):
        assert bad not in text, where + text[-3000:]
    assert not check.seen("finished"), where + "the check gave a grade"
    orphans = [a for a in report["adopted"] if a["name"] == "bwrap" or a["exited_after"] is None
               or a["exited_after"] > 5]
    assert not orphans, where + f"left orphaned: {orphans}"
    processes, cgroups = check.run.wait_clean(timeout=15)
    assert not processes and not cgroups, where + f"left running: {processes} {cgroups}"


def _moments(rng):
    """(name, notebook, assignment, hold stage, event to wait for, delay range in s)."""
    boundary = rng.randrange(20, TINY_CELLS - 20)
    return [
        ("before the launcher exists", "mnist", "mnist_digits", None,
         lambda c: c.seen("started"), (0.0, 0.05)),
        ("launcher held before its death signal", "mnist", "mnist_digits", "start", None, (0.0, 0.2)),
        ("launcher held in its cgroups, before exec", "mnist", "mnist_digits", "exec", None, (0.0, 0.2)),
        ("kernel booting, kernel_info awaited", "light", "sklearn_digits", None,
         lambda c: c.seen("kernel_starting"), (0.1, 1.0)),
        ("just after the kernel is ready", "light", "sklearn_digits", None,
         lambda c: c.seen("kernel_ready"), (0.0, 0.02)),
        (f"as tiny cell {boundary} ends", "light", "sklearn_digits", None,
         lambda c: c.seen("cell_started", number=boundary), (0.0, 0.01)),
        ("inside a sleeping cell", "light", "sklearn_digits", None,
         lambda c: c.seen("cell_started", number=TINY_CELLS + 1), (0.05, 0.3)),
    ]


@pytest.mark.parametrize("sigint", ["default", "ignore"])
def test_ctrl_c_at_any_moment_stops_the_check_and_leaves_nothing(tmp_path, notebooks, busy_sibling, sigint):
    rng = random.Random(f"{sigint}-{os.getpid()}-{time.time()}")
    moments = _moments(rng)
    if sigint == "ignore":
        # Ignored or not, the disposition is the process's: three moments show it.
        moments = [moments[2], moments[4], moments[6]]
    for index, (name, notebook, assignment, stage, ready, delays) in enumerate(moments):
        hold = tmp_path / f"hold-{index}"
        hold.mkdir()
        check = Check(tmp_path, notebooks[notebook], assignment, sigint=sigint,
                      hold=f"{stage}:{hold}" if stage else None)
        check.hold = hold
        try:
            check.wait_for(ready or _held(stage), name)
            time.sleep(rng.uniform(*delays))
            check.signal_group(signal.SIGINT)
            _assert_stopped(check, f"{name}, SIGINT {sigint}")
        finally:
            for held in hold.glob("*-*-*"):
                held.unlink()
            check.run.kill_all()


def test_sigterm_stops_the_check_as_ctrl_c_does(tmp_path, notebooks):
    hold = tmp_path / "hold"
    hold.mkdir()
    check = Check(tmp_path, notebooks["mnist"], "mnist_digits", hold=f"exec:{hold}")
    check.hold = hold
    try:
        check.wait_for(_held("exec"), "the kernel held at exec")
        check.signal_check(signal.SIGTERM)  # `kill PID`, a CI runner cancelling the job
        _assert_stopped(check, "SIGTERM", code=143, word="terminated")
    finally:
        for held in hold.glob("*-*-*"):
            held.unlink()
        check.run.kill_all()


@pytest.mark.parametrize("stage", ["exec", None])
def test_ctrl_c_stops_a_batch_and_leaves_nothing(tmp_path, notebooks, stage):
    # The terminal's Ctrl-C reaches the harness and its workers; the batch stops, its kernels with it.
    folder, hold = tmp_path / "class", tmp_path / "hold"
    folder.mkdir()
    hold.mkdir()
    for name in ("ann", "ben", "cid"):
        (folder / f"{name}.ipynb").write_bytes(notebooks["light"].read_bytes())
    run = Run(uuid.uuid4().hex)
    report = tmp_path / "report.json"
    env = {**os.environ, "GRADER_TEST_MARK": run.mark}
    if stage:
        env["GRADER_LAUNCH_HOLD"] = f"{stage}:{hold}"
    batch = subprocess.Popen(
        [sys.executable, "-m", "tests.subreaper", str(report), "--", sys.executable, "-m", "grader", "grade",
         str(folder), "--out", str(tmp_path / "out"), "--assignment", "sklearn_digits", "--workers", "2"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        if stage:
            while len(list(hold.glob(f"kernel-{stage}-*"))) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
        else:  # both workers inside their notebooks' cells
            while (len([p for p, c in run.snapshot().items() if "ipykernel_launcher" in c and "bwrap" not in c]) < 2
                   and time.monotonic() < deadline):
                time.sleep(0.05)
            time.sleep(0.5)
        signalled = time.time()
        os.killpg(batch.pid, signal.SIGINT)
        stdout, stderr = batch.communicate(timeout=60)
    finally:
        for held in hold.glob("*-*-*"):
            held.unlink()
        run.kill_all()
    result = json.loads(report.read_text())
    assert result["code"] == 130, stderr
    assert result["ended_at"] - signalled < EXIT_WITHIN_S
    assert stderr.strip().splitlines()[-1] == "grader: interrupted", stderr
    assert "Traceback" not in stderr, stderr
    assert not [a for a in result["adopted"] if a["name"] == "bwrap" or a["exited_after"] is None], result
    processes, cgroups = run.wait_clean(timeout=15)
    assert not processes and not cgroups, (processes, cgroups)
