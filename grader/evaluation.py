"""The harness's side of the evaluator: run exported models on inputs the kernel never sees.

After each graded cell, the agent in the learner's kernel exports the
TensorFlow model of each loss or accuracy part as a frozen graph.  The
harness sends it to the evaluator (:mod:`grader.kernel.evaluator`), a
separate process started with the kernel and sandboxed like it, together
with the inputs it chose: the split's inputs, the integrity check's shuffled
and moved sample (its seed stays in the harness), and the splits the part is
also reported on.  The evaluator returns the model's outputs; the metrics
are computed in the harness (:mod:`grader.extract`) against labels that
never leave it.  The evaluation runs while the kernel goes on with the next
cells.

This module imports no TensorFlow: only the evaluator process does.
"""
from __future__ import annotations

import asyncio
import os
import secrets
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .exceptions import KernelSetupError
from .kernel.frames import FrameError, array_from, array_meta, encode_frame, read_frame_async
from .limits import KernelCgroup, Limits

INTEGRITY_ROWS = 2000   # images in the integrity check's sample
GRAPH_KINDS = ("loss", "accuracy")


def integrity_inputs(inputs, integrity: dict):
    """A random sample of the split's inputs, shuffled, and the same sample moved by +-noise.

    :func:`grader.extract._checked_values` redoes the draw from the same seed
    to compare like with like (and so does the kernel agent for function parts).
    """
    import numpy as np

    rng = np.random.default_rng(int(integrity["seed"]))
    order = rng.permutation(len(inputs))[:int(integrity.get("rows") or len(inputs))]
    sample = inputs[order]
    signs = rng.integers(0, 2, size=sample.shape, dtype=np.int8) * 2 - 1
    low, high = float(inputs.min()), float(inputs.max())
    noisy = np.clip(sample + signs.astype(inputs.dtype) * inputs.dtype.type(integrity["noise"]), low, high)
    return sample, noisy.astype(inputs.dtype)


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
        """The measurement in the form :func:`grader.extract.extract` reads."""
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
    from .data import split_inputs

    plan = Plan()
    draws: dict[str, dict] = {}

    def inputs_of(split_name: str) -> str:
        if split_name not in plan.inputs:
            plan.inputs[split_name] = split_inputs(assignment, assignment.split(split_name), data_paths)
        return split_name

    for part in assignment.parts:
        if part.kind not in GRAPH_KINDS:
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


@dataclass
class EvaluatorOptions:
    """How to start the evaluator process."""

    scratch: Path                   # a folder of its own (its working folder and log go here)
    sandbox: bool = False
    readonly: tuple = ()            # what the sandboxed evaluator may read (the grader's code)
    limits: Limits = Limits()
    threads: int | None = None
    timeout: float = 120.0          # seconds for one model's evaluation
    startup_timeout: float = 120.0


class Evaluator:
    """One evaluator process for one grading; evaluations are queued and run one at a time."""

    def __init__(self, plan: Plan, options: EvaluatorOptions):
        self.plan = plan
        self.options = options
        self.busy_s = 0.0
        self.peak_memory_mb: float | None = None   # the highest of its processes' peaks
        self._proc = None
        self._ready = None
        self._sent: set[str] = set()
        self._lock = asyncio.Lock()
        self._cgroup: KernelCgroup | None = None
        self._workdir = options.scratch / "evaluator"
        self._log = options.scratch / "evaluator.log"

    async def start(self) -> None:
        """Start the process; TensorFlow's import then runs while the kernel works."""
        self._workdir.mkdir(parents=True, exist_ok=True)
        os.chmod(self._workdir, 0o755)
        if self._cgroup is not None:  # a restart: the old process's group goes first
            self._note_peak()
            self._cgroup.remove()
        self._cgroup = KernelCgroup.create(self.options.limits)
        env = self._env()
        launch = {**(os.environ if not self.options.sandbox else {}), **env, **self._cgroup.env(),
                  "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        if self.options.sandbox:
            import json

            from .sandbox import bwrap_argv

            launch["GRADER_SANDBOX_ARGV"] = json.dumps(bwrap_argv(
                workdir=self._workdir, ipc_dir=None, readonly=list(self.options.readonly), env=env))
        with open(self._log, "ab") as log:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "grader.kernel.launch", "--evaluator",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log,
                env=launch, cwd=str(self._workdir), limit=2**20)
        self._sent = set()
        self._ready = asyncio.ensure_future(self._handshake())

    def _env(self) -> dict:
        package_root = str(Path(__file__).resolve().parent.parent)
        env = {"PYTHONPATH": package_root, "TF_CPP_MIN_LOG_LEVEL": "3", "HOME": str(self._workdir),
               "TMPDIR": "/tmp" if self.options.sandbox else os.environ.get("TMPDIR", "/tmp"),
               "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}
        # One thread unless told otherwise: the models are small next to training them, and the
        # evaluator must not take the cores from the kernel it runs beside.
        threads = self.options.threads or 1
        env["GRADER_EVALUATOR_THREADS"] = str(threads)
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = str(threads)
        return env

    async def _handshake(self) -> None:
        header, _ = await read_frame_async(self._proc.stdout.readexactly)
        if not header.get("ready"):
            raise FrameError(f"unexpected first frame {header!r}"[:200])

    async def evaluate(self, part_id: str, exported: dict) -> dict:
        """Run one exported model; a measurement dict (``ok`` with ``value``, or ``error``)."""
        async with self._lock:
            started = time.monotonic()
            try:
                return await self._evaluate(part_id, exported)
            finally:
                self.busy_s += time.monotonic() - started

    async def _evaluate(self, part_id: str, exported: dict) -> dict:
        import base64
        import binascii

        try:
            graph = base64.b64decode(exported["graph"], validate=True)
            input_name, output_name = str(exported["input"]), str(exported["output"])
        except (KeyError, TypeError, ValueError, binascii.Error):
            return {"ok": False, "error": "the grading agent sent no readable model (was it "
                                          "replaced by the notebook?)"}
        if self._proc is None or self._proc.returncode is not None:
            await self.start()  # the first use, or the last model ended the process
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), self.options.startup_timeout)
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, FrameError) as exc:
            await self._kill()
            raise KernelSetupError(f"the evaluator process could not start ({type(exc).__name__}): "
                                   f"{self._log_tail()}") from None
        try:
            for name in self.plan.names(part_id):
                if name not in self._sent:
                    meta, blob = array_meta(self.plan.inputs[name])
                    self._proc.stdin.write(encode_frame({"op": "inputs", "name": name, "array": meta}, [blob]))
                    self._sent.add(name)
            self._proc.stdin.write(encode_frame(
                {"op": "evaluate", "input": input_name, "output": output_name,
                 "on": self.plan.names(part_id)}, [graph]))
            await self._proc.stdin.drain()
            header, blobs = await asyncio.wait_for(read_frame_async(self._proc.stdout.readexactly),
                                                   self.options.timeout)
        except asyncio.TimeoutError:
            await self._kill()
            return {"ok": False, "error": f"running the model on the grader's inputs took longer than "
                                          f"{self.options.timeout:.0f} s"}
        except (asyncio.IncompleteReadError, FrameError, BrokenPipeError, ConnectionResetError):
            code = await self._kill()
            cause = (f"it used more than the memory cap of {self.options.limits.memory_mb} MB"
                     if self._cgroup and self._cgroup.out_of_memory() else f"exit status {code}")
            return {"ok": False, "error": f"running the model ended the process that runs it ({cause})"}
        if not header.get("ok"):
            return {"ok": False, "error": str(header.get("error") or "the model could not be run")}
        try:
            arrays = {name: array_from(meta, blob)
                      for (name, meta), blob in zip(header["arrays"].items(), blobs)}
            return {"ok": True, "value": self.plan.value(part_id, arrays)}
        except (KeyError, FrameError, AttributeError) as exc:
            return {"ok": False, "error": f"the evaluator sent an unreadable answer ({exc})"}

    def _log_tail(self) -> str:
        try:
            lines = self._log.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        return "\n".join(lines[-8:]) or "no output"

    async def _kill(self):
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        if proc.returncode is None:
            try:
                proc.kill()
            except ProcessLookupError:
                pass
        return await proc.wait()

    async def close(self) -> None:
        """Stop the process and remove its cgroup (killing anything left in it)."""
        proc = self._proc
        if proc is not None and proc.returncode is None:
            try:
                proc.stdin.write(encode_frame({"op": "quit"}))
                await asyncio.wait_for(proc.stdin.drain(), 2)
                await asyncio.wait_for(proc.wait(), 2)
            except (asyncio.TimeoutError, BrokenPipeError, ConnectionResetError):
                pass
        await self._kill()
        if self._ready is not None:
            if not self._ready.done():
                self._ready.cancel()
            elif not self._ready.cancelled():
                self._ready.exception()  # retrieved: a failed start was reported already
        if self._cgroup is not None:
            self._note_peak()
            self._cgroup.remove()

    def _note_peak(self) -> None:
        peak = self._cgroup.peak_memory_mb()
        if peak is not None:
            self.peak_memory_mb = max(peak, self.peak_memory_mb or 0.0)
