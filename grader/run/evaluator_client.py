"""The harness's side of the evaluator: run exported models on inputs the kernel never sees.

After each graded cell, the agent in the learner's kernel exports the
TensorFlow model of each loss or accuracy part as a frozen graph, and the
Keras model of each model part as a .keras file or a SavedModel.  The
harness sends it to the evaluator (:mod:`grader.kernel.evaluator_server`), a
separate process started with the kernel and sandboxed like it, together
with the inputs it chose: the split's inputs, the integrity check's shuffled
and moved sample (its seed stays in the harness), and the splits the part is
also reported on.  The evaluator returns the model's outputs; the metrics
are computed in the harness (:mod:`grader.judge.extract`) against labels that
never leave it.  The evaluation runs while the kernel goes on with the next
cells.

This module imports no TensorFlow: only the evaluator process does.
"""
from __future__ import annotations

import asyncio
import itertools
import os
import secrets
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..exceptions import KernelSetupError
from ..kernel.frames import FrameError, array_from, array_meta, encode_frame
from ..kernel.integrity import integrity_inputs
from .environment import inherited, test_hooks
from .limits import KernelCgroup, Limits, killed_from_outside
from .stop import adopt_orphans, reap_orphans

INTEGRITY_ROWS = 2000   # images in the integrity check's sample
GRAPH_KINDS = ("loss", "accuracy")
# Kinds whose model the evaluator runs: frozen graphs, and Keras models (.keras, SavedModel).
EVALUATED_KINDS = GRAPH_KINDS + ("model",)


@dataclass
class Plan:
    """What the evaluator runs each graph part on: named input arrays, and which are whose."""

    inputs: dict = field(default_factory=dict)     # input name -> float32 array
    runs: dict = field(default_factory=dict)       # part id -> {role: input name}
    integrity: dict = field(default_factory=dict)  # part id -> {"seed", "rows", "noise"}
    reports: dict = field(default_factory=dict)    # part id -> {split name: input name}

    def names(self, part_id: str) -> list[str]:
        return list(self.runs[part_id].values()) + list(self.reports.get(part_id, {}).values())

    def value(self, part_id: str, arrays: dict) -> dict:
        """The measurement in the form :func:`grader.judge.extract.extract` reads."""
        value = {role: arrays[name] for role, name in self.runs[part_id].items()}
        if part_id in self.integrity:
            value["integrity"] = self.integrity[part_id]
        reports = {split: arrays[name] for split, name in self.reports.get(part_id, {}).items()}
        if reports:
            value["reports"] = reports
        return value


def build_plan(assignment, data_paths) -> Plan:
    """Inputs for every graph part of ``assignment``, with integrity draws made fresh for this run.

    The draw is made once per split and run: the shuffle and noise are new for
    every grading, so no notebook can prepare for them, and they never leave
    the harness and the evaluator.
    """
    from ..specs.data import split_inputs

    plan = Plan()
    draws: dict[str, dict] = {}

    def inputs_of(split_name: str) -> str:
        if split_name not in plan.inputs:
            plan.inputs[split_name] = split_inputs(assignment, assignment.split(split_name), data_paths)
        return split_name

    for part in assignment.parts:
        if part.kind not in EVALUATED_KINDS:
            continue
        split = assignment.split(part.split)
        plan.runs[part.id] = {"values": inputs_of(split.name)}
        if split.noise > 0:
            if split.name not in draws:
                draws[split.name] = {"seed": secrets.randbelow(2**31), "rows": INTEGRITY_ROWS,
                                     "noise": split.noise}
                shuffled, noisy = integrity_inputs(plan.inputs[split.name], draws[split.name])
                plan.inputs[f"{split.name}~shuffled"] = shuffled
                plan.inputs[f"{split.name}~noisy"] = noisy
            plan.integrity[part.id] = draws[split.name]
            plan.runs[part.id].update(shuffled=f"{split.name}~shuffled", noisy=f"{split.name}~noisy")
        if part.report_on:
            plan.reports[part.id] = {name: inputs_of(name) for name in part.report_on}
    return plan


@dataclass(frozen=True)
class EvaluatorOptions:
    """How to start the evaluator process."""

    sandbox: bool = False
    readonly: tuple = ()            # what the sandboxed evaluator may read (the grader's code)
    limits: Limits = Limits()
    threads: int | None = None
    timeout: float = 120.0          # seconds for one model's evaluation
    startup_timeout: float = 120.0
    ledger: object = None           # grader.run.process_register.Ledger: where the process is recorded


class Evaluator:
    """One evaluator process, used by every grading of this harness process in turn.

    Importing TensorFlow is most of what the process costs, so it is started once
    (beside the first kernel, while that kernel starts) and kept for the next
    gradings: each grading opens a :class:`Session`, which clears the previous
    grading's inputs.  Every graph runs in a fresh TensorFlow graph and session,
    and the evaluator refuses stateful operations, so one learner's model cannot
    leave anything behind for the next.  A model that crashes or hangs the
    process costs only that model's parts: the next evaluation starts a new one.
    Requests are blocking pipe I/O, run in a worker thread; a timer kills the
    process when an evaluation runs past its timeout.  A process killed from
    outside (SIGKILL that is neither its memory cap nor that timer) is no fault
    of the model: the evaluation comes back marked ``lost``, and the grading is
    run again (:mod:`grader.run.execute`).
    """

    def __init__(self, options: EvaluatorOptions):
        import threading

        self.options = options
        self._proc = None
        self._ready = False
        self._sent: set[str] = set()
        self._loaded_for = None          # the serial number of the session whose inputs the process holds
        self._lock = threading.Lock()
        self._cgroup: KernelCgroup | None = None
        self._workdir: Path | None = None
        self._log: Path | None = None
        self._entry = None               # the process's record in the ledger, if there is one

    # --- the process -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the process if it is not running; TensorFlow's import then runs in the background."""
        import subprocess
        import tempfile

        if self._proc is not None and self._proc.poll() is None:
            return
        self._stop()
        if self.options.ledger is not None:
            self._entry = self.options.ledger.entry("evaluator")
        if self._workdir is None:
            import uuid

            # Named, recorded, then made: a harness killed in between leaves nothing unrecorded.
            workdir = Path(tempfile.gettempdir()) / f"grader-evaluator-{uuid.uuid4().hex[:12]}"
            self._log = workdir.parent / f"{workdir.name}.log"
            if self._entry is not None:
                self._entry.add_path(workdir)
                self._entry.add_path(self._log)
            workdir.mkdir(mode=0o755)
            os.chmod(workdir, 0o755)
            self._workdir = workdir
        elif self._entry is not None:
            self._entry.add_path(self._workdir)
            self._entry.add_path(self._log)
        self._cgroup = KernelCgroup.create(self.options.limits,
                                           record=self._entry.add_cgroup if self._entry else None)
        env = self._env()
        # The launcher checks that its parent is still this process once it has asked to die with it.
        # (Started from a worker thread after a crash, the process dies with that thread, at the end
        # of the grading: the next grading starts a new one.)
        # An allow-list, never the harness's environment (grader.run.environment); test hooks
        # (GRADER_LAUNCH_HOLD, GRADER_TEST_*) reach the launcher as the kernel's do.
        launch = {**inherited(sandboxed=self.options.sandbox), **test_hooks(), **env, **self._cgroup.env(),
                  "GRADER_PARENT_PID": str(os.getpid())}
        launch.setdefault("PATH", "/usr/bin:/bin")
        if self.options.sandbox:
            import json

            from .sandbox import bwrap_argv

            adopt_orphans()  # the sandbox's init may outlive the outer bubblewrap (grader.run.stop)

            launch["GRADER_SANDBOX_ARGV"] = json.dumps(bwrap_argv(
                workdir=self._workdir, ipc_dir=None, readonly=list(self.options.readonly), env=env))
        with open(self._log, "ab") as log:
            # A session of its own, like the kernel's: the terminal's Ctrl-C goes to the harness, which
            # stops the grading and this process with it.
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "grader.kernel.launch", "--evaluator"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=log, env=launch, cwd=str(self._workdir),
                start_new_session=True)
        if self._entry is not None:
            self._entry.add_process(self._proc.pid)
        self._ready, self._sent, self._loaded_for = False, set(), None

    def _env(self) -> dict:
        package_root = str(Path(__file__).resolve().parents[2])  # the folder holding grader/
        env = {"PYTHONPATH": package_root, "TF_CPP_MIN_LOG_LEVEL": "3", "HOME": str(self._workdir),
               # Keras 3 models are loaded with TensorFlow; its settings file goes to the workdir.
               "KERAS_BACKEND": "tensorflow", "KERAS_HOME": str(self._workdir / ".keras"),
               "TMPDIR": "/tmp" if self.options.sandbox else os.environ.get("TMPDIR", "/tmp"),
               "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}
        # One thread unless told otherwise: the models are small next to training them, and the
        # evaluator must not take the cores from the kernel it runs beside.
        threads = self.options.threads or 1
        env["GRADER_EVALUATOR_THREADS"] = str(threads)
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = str(threads)
        return env

    def peak_memory_mb(self) -> float | None:
        return self._cgroup.peak_memory_mb() if self._cgroup is not None else None

    def session(self, plan, parts) -> "Session":
        """A grading's use of the evaluator (its inputs, its time, its peak memory).

        ``plan`` is a :class:`Plan` or a future of one (built while the kernel starts);
        ``parts`` are the ids of the graph parts it covers.
        """
        self.start()
        if self._cgroup is not None:
            self._cgroup.reset_peak()
        return Session(self, plan, parts)

    def abort(self) -> None:
        """Kill the process now, from any thread (a grading is stopping): a thread waiting for
        its answer gets an end of file and returns."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()

    def _stop(self) -> int | None:
        proc, self._proc = self._proc, None
        code = None
        if proc is not None:
            if proc.poll() is None:
                proc.kill()
            code = proc.wait()
            if self.options.sandbox:
                reap_orphans()
            for stream in (proc.stdin, proc.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
        if self._cgroup is not None:
            self._cgroup.remove()
            self._cgroup = None
        if self._entry is not None:
            self._entry.close()
            self._entry = None
        return code

    def close(self) -> None:
        """Stop the process, remove its cgroup (killing anything left in it), its folder and log.

        The process holds nothing worth a clean exit, and TensorFlow's own teardown takes
        a second: it is killed.
        """
        import shutil

        with self._lock:
            self._stop()
            if self._workdir is not None:
                shutil.rmtree(self._workdir, ignore_errors=True)
                self._log.unlink(missing_ok=True)
                self._workdir = None

    # --- one evaluation (blocking; run in a worker thread) ----------------------------------------

    def _read_exactly(self, n: int) -> bytes:
        data = self._proc.stdout.read(n)
        if data is None or len(data) < n:
            raise EOFError
        return data

    def _write(self, frame: bytes) -> None:
        self._proc.stdin.write(frame)

    def run(self, session: "Session", part_id: str, model: bytes, request: dict) -> dict:
        """Evaluate one exported model (``request``: its format, and a graph's input and output)."""
        import threading

        from ..kernel.frames import read_frame

        with self._lock:
            self.start()  # the first use, or the last model ended the process
            fired = threading.Event()

            def expire(proc=self._proc):
                fired.set()
                proc.kill()

            if not self._ready:
                timer = threading.Timer(self.options.startup_timeout, expire)
                timer.start()
                try:
                    header, _ = read_frame(self._read_exactly)
                    if not header.get("ready"):
                        raise FrameError(f"unexpected first frame {header!r}"[:200])
                except (EOFError, FrameError, OSError, ValueError) as exc:
                    code = self._stop()
                    if not fired.is_set() and killed_from_outside(code, out_of_memory=False):
                        return {"ok": False, "lost": True,
                                "error": "the process that runs the models was killed from outside while "
                                         "it started (SIGKILL)"}
                    raise KernelSetupError(
                        f"the evaluator process could not start ({'timeout' if fired.is_set() else exc}): "
                        f"{self._log_tail()}") from None
                finally:
                    timer.cancel()
                self._ready = True
            timer = threading.Timer(self.options.timeout, expire)
            timer.start()
            try:
                if self._loaded_for != session.serial:
                    self._write(encode_frame({"op": "reset"}))
                    self._sent, self._loaded_for = set(), session.serial
                names = session.plan.names(part_id)
                for name in names:
                    if name not in self._sent:
                        meta, blob = array_meta(session.plan.inputs[name])
                        self._write(encode_frame({"op": "inputs", "name": name, "array": meta}, [blob]))
                        self._sent.add(name)
                self._write(encode_frame({"op": "evaluate", **request, "on": names}, [model]))
                self._proc.stdin.flush()
                header, blobs = read_frame(self._read_exactly)
            except (EOFError, FrameError, OSError, ValueError):
                out_of_memory = self._cgroup is not None and self._cgroup.out_of_memory()
                code = self._stop()
                if fired.is_set():
                    return {"ok": False, "error": f"running the model on the grader's inputs took "
                                                  f"longer than {self.options.timeout:.0f} s"}
                if killed_from_outside(code, out_of_memory=out_of_memory):
                    return {"ok": False, "lost": True,
                            "error": "the process that runs the models was killed from outside while it ran "
                                     "this model (SIGKILL, not its memory cap)"}
                cause = (f"it used more than the memory cap of {self.options.limits.memory_mb} MB"
                         if out_of_memory else f"exit status {code}")
                return {"ok": False, "error": f"running the model ended the process that runs it ({cause})"}
            finally:
                timer.cancel()
        if not header.get("ok"):
            return {"ok": False, "error": str(header.get("error") or "the model could not be run")}
        try:
            arrays = {name: array_from(meta, blob) for (name, meta), blob in zip(header["arrays"].items(), blobs)}
            value = session.plan.value(part_id, arrays)
            if isinstance(header.get("architecture"), dict):
                value["architecture"] = header["architecture"]
            session.seconds.append(float(header.get("seconds") or 0.0))
            return {"ok": True, "value": value}
        except (KeyError, FrameError, AttributeError, TypeError, ValueError) as exc:
            return {"ok": False, "error": f"the evaluator sent an unreadable answer ({exc})"}

    def _log_tail(self) -> str:
        try:
            lines = self._log.read_text(errors="replace").strip().splitlines()
        except (OSError, AttributeError):
            return "no log"
        return "\n".join(lines[-8:]) or "no output"


class Session:
    """One grading's evaluations, queued on the shared evaluator.

    The evaluator remembers only the serial number of the session whose inputs
    it holds, not the session: a grading's inputs (tens of MB) go with it.
    """

    _serials = itertools.count(1)

    def __init__(self, evaluator: Evaluator, plan, parts):
        self.evaluator = evaluator
        self.parts = frozenset(parts)
        self._plan = plan
        self.busy_s = 0.0
        self.seconds: list[float] = []   # the evaluator's own time per model (load, check, run)
        self.serial = next(self._serials)

    @property
    def plan(self) -> Plan:
        if not isinstance(self._plan, Plan):
            self._plan = self._plan.result()  # a future: wait for it (it is built by now, mostly)
        return self._plan

    async def evaluate(self, part_id: str, exported: dict) -> dict:
        """Run one exported model; a measurement dict (``ok`` with ``value``, or ``error``)."""
        import base64
        import binascii

        try:
            if "graph" in exported:
                model = base64.b64decode(exported["graph"], validate=True)
                request = {"format": "graph", "input": str(exported["input"]),
                           "output": str(exported["output"])}
            else:
                model = base64.b64decode(exported["model"], validate=True)
                request = {"format": str(exported["format"])}
                if request["format"] not in ("keras", "savedmodel"):
                    raise ValueError(request["format"])
        except (KeyError, TypeError, ValueError, binascii.Error):
            return {"ok": False, "error": "the grading agent sent no readable model (was it "
                                          "replaced by the notebook?)"}
        started = time.monotonic()
        try:
            return await asyncio.get_running_loop().run_in_executor(
                None, self.evaluator.run, self, part_id, model, request)
        finally:
            self.busy_s += time.monotonic() - started


_SHARED: dict = {}


def shared_evaluator(options: EvaluatorOptions) -> Evaluator:
    """This process's evaluator for ``options``, started on first use and stopped at exit."""
    evaluator = _SHARED.get(options)
    if evaluator is None:
        if not _SHARED:
            import atexit
            from multiprocessing import util

            atexit.register(close_shared)
            util.Finalize(None, close_shared, exitpriority=10)  # batch workers skip atexit
        evaluator = _SHARED[options] = Evaluator(options)
    return evaluator


def close_shared(ledger=None) -> None:
    """Stop every shared evaluator of this process (only those recorded in ``ledger``, when given)."""
    for options in [o for o in _SHARED if ledger is None or o.ledger == ledger]:
        _SHARED.pop(options).close()
