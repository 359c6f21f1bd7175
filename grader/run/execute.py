"""Execute one notebook in a fresh kernel, measuring graded parts as they run.

The harness's side of the kernel boundary: it starts an IPython kernel
(nbclient + ipykernel) in the submission's working folder, installs the agent
(:mod:`grader.kernel.agent`) with a silent request, runs the cells in the order
of the assignment's policy (:mod:`grader.run.schedule`: top to bottom, or the
learner's recorded history with earlier cells run again; errors do not stop the
run), and after each graded cell's run at its own place sends its own silent
request asking the agent to measure that cell's parts (a re-run of a graded cell
measures nothing and cannot change the claims already taken).  The answer comes
back in the reply to that request, as JSON.

Nothing here raises because of the learner: a timeout, a dead kernel or an
exhausted budget ends up in :class:`Execution` with its reason.  A run cut
short by something outside the notebook is marked :attr:`Execution.lost`
instead (:func:`grader.run.limits.killed_from_outside`): a kernel that died or did not answer
before the learner's first cell, or a kernel or evaluator killed with SIGKILL
that was neither its memory cap nor the grader's own timeout (an operator, the
machine's OOM killer).  Its caller grades the notebook again rather than
counting that against the learner.
"""
from __future__ import annotations

import asyncio
import functools
import json
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..events import CellFinished, CellStarted, Emitter, KernelReady, PartMeasured
from ..exceptions import KernelSetupError
from .environment import test_hooks
from .limits import KernelCgroup, Limits, killed_from_outside
from .stop import StopRequest, adopt_orphans, reap_orphans
from ..results import CellError
from ..textutil import first_line
from .schedule import Schedule, top_down

KERNEL_NAME = "grader-python"
SANDBOX_KERNEL_NAME = "grader-python-sandboxed"
_GRACE_S = 20.0  # after an interrupt, how long a cell may take to stop before the kernel is killed


@dataclass
class CellRun:
    """What happened to one code cell in the re-run."""

    index: int                 # position among all cells of the notebook
    number: int                # 1-based position among code cells
    status: str = "not run"    # ok | error | timeout | not run
    duration_s: float = 0.0
    error: CellError | None = None
    again: bool = False        # a re-run (the as-run order), not the run at its own place
    step: int = 0              # 1-based position of this run in the schedule (0: not run)
    kernel_count: int | None = None  # the kernel's execution count for it (IPython's "In [N]")


@dataclass
class Execution:
    """Everything the re-run produced, before anything is scored."""

    notebook: object                                  # the executed NotebookNode
    cells: list[CellRun] = field(default_factory=list)
    measurements: dict = field(default_factory=dict)  # part id -> {"cell": n, "ok": .., ...}
    answers: dict = field(default_factory=dict)       # part id -> {"value": .., "text": ..}
    submits: list = field(default_factory=list)
    skipped: list = field(default_factory=list)       # Colab/shell artefacts not run while grading
    failure: str = ""                                 # why the run stopped early, if it did
    failed_at: int | None = None                      # code cell number where it stopped
    duration_s: float = 0.0
    # seconds per phase: kernel_start, agent_install, cells, measure (the harness's requests after
    # graded cells), export (the agent saving Keras models, part of measure), evaluate (the
    # evaluator's work as the harness waits for it), evaluate_models (the evaluator's own time),
    # evaluate_wait (waiting for it after the last cell)
    timings: dict = field(default_factory=dict)
    limits: str = ""                                  # how the limits were enforced
    peak_memory_mb: float | None = None
    evaluator_peak_memory_mb: float | None = None
    lost: str = ""                                    # cut short from outside the notebook: grade again
    exit_code: int | None = None                      # the kernel's, when it died
    schedule: Schedule | None = None                  # the order the cells ran in
    replays: list[CellRun] = field(default_factory=list)  # re-runs (as-run), in the order they ran
    claimed: dict = field(default_factory=dict)       # part id -> its claim when it was measured

    @property
    def runs(self) -> list[CellRun]:
        """Every run that started, in the order they ran."""
        return sorted((run for run in (*self.cells, *self.replays) if run.step), key=lambda run: run.step)

    @property
    def errors(self) -> list[CellError]:
        return [run.error for run in self.runs if run.error is not None]


def find_graded_cells(notebook, part_ids) -> dict[int, list[str]]:
    """Map cell index -> part ids that the cell submits.

    A part's graded cell is the *last* code cell whose metadata lists it
    (``grader.parts``) or that calls ``set_answer("ID", ...)``; failing both,
    the last cell that mentions the id as a string literal, except the cell
    that creates the Grader (it lists every part id in ``all_parts``).  Only
    that cell counts: when the run stops before it, the part is not measured
    rather than measured in some earlier state.
    """
    last: dict[str, int] = {}
    fallback: dict[str, int] = {}
    for index, cell in enumerate(notebook.cells):
        if cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata", {}).get("grader", {})
        listed = meta.get("parts", []) if isinstance(meta, dict) else []
        source = cell.get("source", "")
        for part_id in part_ids:
            quoted = r"[\"']" + re.escape(part_id) + r"[\"']"
            if part_id in listed or re.search(r"set_answer\s*\(\s*" + quoted, source):
                last[part_id] = index
            elif re.search(quoted, source) and not re.search(r"\bGrader\s*\(", source):
                fallback[part_id] = index
    graded: dict[int, list[str]] = {}
    for part_id in part_ids:
        index = last.get(part_id, fallback.get(part_id))
        if index is not None:
            graded.setdefault(index, []).append(part_id)
    return graded


def kernelspec_dir() -> Path:
    """Kernelspecs for this Python, so the kernel runs where the grader is installed."""
    root = Path(tempfile.gettempdir()) / f"grader-kernels-{os.getuid()}"
    # In the sandbox the kernel is a child of bubblewrap, which does not pass signals on:
    # interrupt it with a message on the control channel instead.
    for name, interrupt in ((KERNEL_NAME, "signal"), (SANDBOX_KERNEL_NAME, "message")):
        spec = root / name
        spec.mkdir(parents=True, exist_ok=True)
        content = json.dumps({
            # The launcher joins the kernel's cgroups and sets its rlimits, then execs ipykernel
            # (through bubblewrap when sandboxed).
            "argv": [sys.executable, "-m", "grader.kernel.launch", "-f", "{connection_file}"],
            "display_name": "grader (Python 3)",
            "language": "python",
            "interrupt_mode": interrupt,
        })
        target = spec / "kernel.json"
        if not target.exists() or target.read_text() != content:
            tmp = spec / f".kernel.json.{os.getpid()}"
            tmp.write_text(content)
            os.replace(tmp, target)
    return root


_OUTPUT_CAP = 2 * 1024 * 1024   # bytes of output kept per cell
_TRUNCATED = "\n[grader: output truncated here; the cell kept running]\n"


@functools.lru_cache(maxsize=1)
def _capped_client_class():
    """nbclient's client with a cap on the output kept per cell.

    A notebook that prints a gigabyte must not take the harness's memory with it: past the
    cap, outputs are dropped (the cell keeps running) and one marker says so.  nbclient has
    no hook per output message, so this is the one method overridden.
    """
    from nbclient import NotebookClient

    class CappedNotebookClient(NotebookClient):
        def output(self, outs, msg, display_id, cell_index):
            kept = self._kept_bytes.get(cell_index, 0) if hasattr(self, "_kept_bytes") else 0
            if not hasattr(self, "_kept_bytes"):
                self._kept_bytes = {}
            if kept >= _OUTPUT_CAP:
                return None
            size = len(json.dumps(msg.get("content", {}), default=str))
            self._kept_bytes[cell_index] = kept + size
            if kept + size >= _OUTPUT_CAP:
                from nbformat.v4 import new_output

                outs.append(new_output("stream", name="stderr", text=_TRUNCATED))
                return None
            return super().output(outs, msg, display_id, cell_index)

        def clear_output(self, outs, msg, cell_index):
            # clear_output (training curves redrawn) frees the cell's budget again.
            if hasattr(self, "_kept_bytes"):
                self._kept_bytes[cell_index] = 0
            return super().clear_output(outs, msg, cell_index)

    return CappedNotebookClient


@dataclass
class RunOptions:
    """Budgets and environment of one run."""

    cell_timeout: float
    notebook_budget: float
    measure_timeout: float
    env: dict
    agent_config: dict
    kernel_log: Path | None = None  # the kernel process's stdout/stderr (TensorFlow chatter) go here
    limits: Limits = Limits()
    sandbox: bool = False                 # run the kernel under bubblewrap (grader.run.sandbox)
    readonly: tuple = ()                  # paths the sandboxed kernel may read
    startup_timeout: float = 120.0
    plan: object = None                   # grader.run.evaluator_client.Plan (or a future of one): their inputs
    graph_parts: tuple = ()               # ids of the parts the evaluator runs (graphs, Keras models)
    evaluator: object = None              # grader.run.evaluator_client.EvaluatorOptions
    entry: object = None                  # grader.run.process_register.Entry: the kernel's cgroups and processes go there
    events: Emitter | None = None         # progress: cells started and finished, parts measured


def run_notebook(notebook, *, workdir: Path, options: RunOptions, graded: dict[int, list[str]],
                 cwd: Path | None = None, schedule: Schedule | None = None) -> Execution:
    """Execute ``notebook`` with ``workdir`` as the kernel's writable folder; see the module docstring.

    The kernel starts in ``cwd`` (default: ``workdir``), a folder inside ``workdir``; the cells run
    in the order of ``schedule`` (:func:`grader.run.schedule.plan`; default: top to bottom).
    The per-cell timeout applies to every run of a cell, re-runs included; the notebook's budget
    covers the whole schedule.
    SIGINT or SIGTERM at any moment stops the run, its kernel and evaluator killed, and
    raises :class:`grader.run.stop.Interrupted` (:mod:`grader.run.stop`).
    """
    stop = StopRequest()
    try:
        with stop.catching_signals(), asyncio.Runner() as runner:
            execution = runner.run(_run(notebook, workdir=workdir, cwd=cwd or workdir, options=options,
                                        graded=graded, stop=stop,
                                        schedule=schedule if schedule is not None else top_down(notebook)))
    except BaseException:
        if stop.requested:
            raise stop.interrupted() from None
        raise
    if stop.requested:
        raise stop.interrupted()
    return execution


async def _run(notebook, *, workdir: Path, cwd: Path, options: RunOptions, graded,
               stop: StopRequest, schedule: Schedule) -> Execution:
    """The run: a kernel session, the cells in it, and what a fault of each stage means."""
    from nbclient.exceptions import DeadKernelError

    started = time.monotonic()
    execution = Execution(notebook=notebook, schedule=schedule)
    execution.cells = [CellRun(index=i, number=n) for i, n in code_cell_numbers(notebook).items()]
    session = _KernelSession(notebook, workdir=workdir, cwd=cwd, options=options, execution=execution,
                             stop=stop, started=started)
    stop.attach(asyncio.current_task())
    async with session:  # however the run ends: the kernel stopped, its cgroup removed, the evaluator drained
        try:
            await session.start()
            await _run_cells(session, graded, schedule)
        except _StartFault as fault:
            execution.lost = f"the kernel could not be started ({fault})"
        except DeadKernelError:
            execution.failure = execution.failure or "the kernel died"
            if session.stage != "cells":
                execution.lost = f"the kernel died while starting ({session.stage})"
        except KernelSetupError:
            raise
        except (RuntimeError, TimeoutError) as exc:
            if session.stage != "cells":
                # Nothing of the learner's has run yet: whatever stopped the kernel is not theirs.
                execution.lost = f"the kernel could not be started ({first_line(str(exc)) or type(exc).__name__})"
            elif "Kernel" in str(exc) or "kernel" in str(exc):
                execution.failure = execution.failure or f"the kernel could not be run: {exc}"
            else:
                raise
    execution.duration_s = time.monotonic() - started
    runs = (*execution.cells, *execution.replays)
    execution.timings["cells"] = round(sum(run.duration_s for run in runs), 3)
    if execution.replays:
        execution.timings["replays"] = round(sum(run.duration_s for run in execution.replays), 3)
    _attach_frames(execution)
    return execution


def _attach_frames(execution: Execution) -> None:
    """Each cell error's own frames: the learner's lines of its traceback (grader.kernel.errortext).

    IPython names a cell's frame by the kernel's execution count ("Cell In[16]"); TensorFlow's
    stacks name it by ipykernel's file for the cell's code, a hash of its source.  Both resolve to
    the cells run up to the error (identical cells share a file: the latest run of it counts).
    """
    failed = [run for run in execution.runs if run.error is not None]
    if not failed:
        return
    from ipykernel.compiler import get_tmp_hash_seed, murmur2_x86  # ipykernel's name for a cell's file

    from ..kernel.errortext import own_frames

    sources = {number: execution.notebook.cells[index].get("source", "")
               for index, number in code_cell_numbers(execution.notebook).items()}
    files = {number: str(murmur2_x86(source, get_tmp_hash_seed())) for number, source in sources.items()}
    for run in failed:
        cell_of_file = {}
        for number in sorted(sources, reverse=True):  # a cell not run yet: the first of its copies
            cell_of_file[files[number]] = number
        cell_of_run = {}
        for earlier in execution.runs:
            if earlier.step > run.step:
                break
            if earlier.kernel_count is not None:
                cell_of_run[earlier.kernel_count] = earlier.number
            cell_of_file[files[earlier.number]] = earlier.number
        run.error.again = run.again
        run.error.frames = own_frames(run.error.traceback, run.error.evalue, cell_of_run=cell_of_run,
                                      cell_of_file=cell_of_file, sources=sources)


class _KernelSession:
    """One kernel's life for one run, as an async context manager (nbclient's setup/teardown shape,
    with a cleanup of our own).

    Made: the kernel manager (IPC transport in the sandbox), nbclient's client, the kernel's cgroup
    and its launcher's environment.  :meth:`start` starts the evaluator's session (its TensorFlow
    import overlaps the kernel's start), the kernel and the agent; ``stage`` says how far it got
    (start -> agent -> cells), which decides what a fault means.  Leaving the context stops the
    kernel, removes its cgroup (killing what the notebook left running) and collects the
    evaluator's measurements (:meth:`drain`), however the run ended.
    """

    def __init__(self, notebook, *, workdir: Path, cwd: Path, options: RunOptions, execution: Execution,
                 stop: StopRequest, started: float):
        from jupyter_client.kernelspec import KernelSpecManager
        from jupyter_client.manager import AsyncKernelManager

        self.options, self.execution, self.stop, self.started, self.cwd = options, execution, stop, started, cwd
        self.deadline = started + options.notebook_budget
        self.emit = options.events or Emitter(None)
        self.stage = "start"
        self.evaluations, self.pending = None, {}   # part id -> (cell number, task of its measurement)
        specs = KernelSpecManager(kernel_dirs=[str(kernelspec_dir())])
        if options.sandbox:
            # No network in the sandbox: the kernel listens on unix sockets in a folder both sides see.
            ipc_dir = Path(tempfile.mkdtemp(prefix="grader-ipc-", dir=workdir.parent))
            self.km = AsyncKernelManager(kernel_name=SANDBOX_KERNEL_NAME, kernel_spec_manager=specs,
                                         transport="ipc", ip=str(ipc_dir / "kernel"),
                                         connection_file=str(ipc_dir / "kernel.json"))
        else:
            ipc_dir = None
            self.km = AsyncKernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs)
        self.timeout_for = _timeouts(options.cell_timeout, self.deadline)
        self.client = _capped_client_class()(
            notebook, km=self.km, allow_errors=True, interrupt_on_timeout=True, timeout_func=self.timeout_for,
            startup_timeout=int(options.startup_timeout), record_timing=False,
            resources={"metadata": {"path": str(cwd)}},
            extra_arguments=["--HistoryManager.hist_file=:memory:"])
        self.last_count = None
        self.client.on_cell_executed = self._executed  # nbclient's hook: the kernel's In [N] of each run
        self.log = open(options.kernel_log, "wb") if options.kernel_log else None
        entry = options.entry
        self.cgroup = KernelCgroup.create(options.limits, record=entry.add_cgroup if entry else None)
        execution.limits = self.cgroup.describe()
        # The launcher checks that its parent is still this process once it has asked to die with it.
        # options.env is an allow-list (grader.run.environment); the launcher's test hooks are added here.
        self.env = {**options.env, **test_hooks(), **self.cgroup.env(), "GRADER_PARENT_PID": str(os.getpid())}
        if options.sandbox:
            from .sandbox import bwrap_argv, sandboxed_env

            adopt_orphans()
            inner = sandboxed_env(options.env, workdir=workdir)
            self.env["GRADER_SANDBOX_ARGV"] = json.dumps(bwrap_argv(
                workdir=workdir, ipc_dir=ipc_dir, readonly=list(options.readonly), env=inner, chdir=cwd))

    async def __aenter__(self) -> "_KernelSession":
        return self

    def _executed(self, cell=None, cell_index=None, execute_reply=None, **_) -> None:
        content = (execute_reply or {}).get("content", {})
        count = content.get("execution_count")
        self.last_count = count if isinstance(count, int) else None

    async def start(self) -> None:
        """The evaluator's session, the kernel, its client and the agent."""
        options, execution = self.options, self.execution
        if options.plan is not None and options.graph_parts:
            from .evaluator_client import shared_evaluator

            # Started now (or kept from the last grading), so that its TensorFlow import overlaps the
            # kernel's start.
            self.evaluations = shared_evaluator(options.evaluator).session(options.plan, options.graph_parts)
        phase = time.monotonic()
        self.stop.check()
        streams = {"stdout": self.log, "stderr": self.log} if self.log else {}
        await self.client.async_start_new_kernel(env=self.env, cwd=str(self.cwd), **streams)
        if options.entry is not None and self.km.provisioner is not None \
                and self.km.provisioner.process is not None:
            options.entry.add_process(self.km.provisioner.process.pid)
        # Not nbclient's async_setup_kernel: it would register an exit-time cleanup that fails with
        # a traceback when the kernel died while starting, and take over SIGINT and SIGTERM (a
        # Ctrl-C would then kill the kernel and look like the learner's crash).  The cleanup is ours.
        await self.client.async_start_new_kernel_client()
        execution.timings["kernel_start"] = round(time.monotonic() - phase, 3)
        self.stage = "agent"
        phase = time.monotonic()
        await _install_agent(self.client, options)
        execution.timings["agent_install"] = round(time.monotonic() - phase, 3)
        self.emit(KernelReady, seconds=round(time.monotonic() - self.started, 3))
        execution.timings["measure"] = 0.0
        self.stage = "cells"

    async def __aexit__(self, *exc_info) -> None:
        self.stop.cleaning = True
        if self.client.kc is not None:
            # nbclient leaves the channels to the kernel manager's owner (this session): without this,
            # every grading would leave a heartbeat thread, its event loop and its sockets in the
            # worker, which grades hundreds of notebooks.
            self.client.kc.stop_channels()
            self.client.kc = None
        await _stop_kernel(self.km, sandboxed=self.options.sandbox)
        self.execution.peak_memory_mb = self.cgroup.peak_memory_mb()
        self.cgroup.remove()  # kills whatever the notebook left running
        if self.log:
            self.log.close()
        await self.drain()

    async def drain(self) -> None:
        """The evaluator's measurements of the models exported while the notebook ran (most are done
        by now); on a stop, nobody waits for them: the thread running one gets an end of file."""
        evaluations, execution = self.evaluations, self.execution
        if evaluations is None:
            return
        if self.stop.requested:
            evaluations.evaluator.abort()
            for _, task in self.pending.values():
                task.cancel()
            return
        try:
            phase = time.monotonic()
            for part_id, (cell_number, task) in self.pending.items():
                execution.measurements[part_id] = {"cell": cell_number, **await task}
                if execution.measurements[part_id].get("lost") and not execution.lost:
                    execution.lost = execution.measurements[part_id]["error"]
            execution.timings["evaluate_wait"] = round(time.monotonic() - phase, 3)
            execution.timings["evaluate"] = round(evaluations.busy_s, 3)
            if evaluations.seconds:  # the evaluator's own time: load, check and run, per model
                execution.timings["evaluate_models"] = round(sum(evaluations.seconds), 3)
        finally:
            for _, task in self.pending.values():
                task.cancel()
            execution.evaluator_peak_memory_mb = evaluations.evaluator.peak_memory_mb()

    async def died(self) -> bool:
        """Whether the kernel is dead; if so, its exit code is recorded."""
        if await self.client.km.is_alive():
            return False
        self.execution.exit_code = await _exit_code(self.client)
        return True


def _timeouts(cell_timeout: float, deadline: float):
    """nbclient's per-cell timeout: the cell timeout, or what is left of the notebook's budget.

    Only numbers in this closure: nbclient's client keeps it in reference cycles that live until
    the collector runs, and the options hold the evaluator's inputs (tens of MB).
    """
    def timeout_for(_cell) -> int:
        remaining = deadline - time.monotonic()
        return max(1, int(min(cell_timeout, remaining)))
    return timeout_for


async def _run_cells(session: _KernelSession, graded: dict[int, list[str]], schedule: Schedule) -> None:
    """The cells in the schedule's order, each graded cell measured right after its run at its own
    place; then the claims.  A re-run (``again``) is a run like any other (same timeout, its error
    recorded, the budget counted), but measures nothing."""
    execution, options, stop, emit = session.execution, session.options, session.stop, session.emit
    runs = {run.index: run for run in execution.cells}
    steps = len(schedule.steps)
    for position, step in enumerate(schedule.steps, 1):
        cell = execution.notebook.cells[step.index]
        stop.check()
        if step.again:
            run = CellRun(index=step.index, number=step.number, again=True)
            execution.replays.append(run)
        else:
            run = runs[step.index]
        run.step = position
        again = " (run again)" if step.again else ""
        if time.monotonic() >= session.deadline:
            execution.failure = (f"the notebook's time budget of {options.notebook_budget:.0f} s "
                                 f"ran out before cell {run.number}{again}")
            execution.failed_at = run.number
            run.step = 0  # it never started
            return
        measured = () if step.again else tuple(graded.get(step.index, ()))
        emit(CellStarted, number=run.number, total=len(runs),
             first_line=first_line(cell.get("source", ""), 80), graded=measured,
             again=step.again, step=position, steps=steps)
        session.last_count = None
        ok = await _run_cell(session.client, cell, run, session.timeout_for(cell), execution)
        run.kernel_count = session.last_count
        stop.check()  # nbclient reports a cancelled cell as a dead kernel
        if not ok and run.error is not None and run.error.ename == "DeadKernel":
            _classify_death(execution, session.cgroup, options, f"while running cell {run.number}{again}")
        emit(CellFinished, number=run.number, total=len(runs), status=run.status,
             duration_s=round(run.duration_s, 3), error=run.error.headline() if run.error else "",
             again=step.again, step=position, steps=steps)
        if not ok:
            return
        if measured:
            stop.check()
            phase = time.monotonic()
            await _measure(session.client, measured, run.number, execution, options,
                           session.evaluations, session.pending)
            execution.timings["measure"] = round(execution.timings["measure"] + time.monotonic() - phase, 3)
            if await session.died():
                execution.failure = f"the kernel died while cell {run.number} was being measured"
                execution.failed_at = run.number
                _classify_death(execution, session.cgroup, options, f"after cell {run.number}")
                return
    await _collect_answers(session.client, execution, options)
    if await session.died():  # killed while the claims were collected
        _classify_death(execution, session.cgroup, options, "after the last cell")


async def _stop_kernel(km, *, sandboxed: bool) -> None:
    """Kill the kernel; reap its sandbox's init, which outlives the outer bubblewrap (grader.run.stop)."""
    if km.has_kernel:
        try:
            await km.shutdown_kernel(now=True)
        except Exception:  # the kernel may be gone already
            pass
    if sandboxed:
        reap_orphans()


class _StartFault(Exception):
    """The kernel died or did not answer before the learner's first cell (see :attr:`Execution.lost`)."""


def _classify_death(execution: Execution, cgroup: KernelCgroup, options: RunOptions, when: str) -> None:
    """Say why the kernel died: its memory cap (the learner's), a kill from outside (grade again), or its code."""
    out_of_memory = cgroup.out_of_memory()
    if out_of_memory:
        execution.failure = (f"the kernel was killed {when}: it used more than the memory cap of "
                             f"{options.limits.memory_mb} MB")
        for run in (*execution.cells, *execution.replays):
            if run.error is not None and run.error.ename == "DeadKernel":
                run.error.ename, run.error.evalue = "MemoryLimit", execution.failure
    elif killed_from_outside(execution.exit_code, out_of_memory=False):
        execution.lost = f"the kernel was killed from outside the notebook {when} (SIGKILL, not its memory cap)"


def code_cell_numbers(notebook) -> dict[int, int]:
    """Cell index -> 1-based number among code cells (the numbers learners and results use)."""
    numbers, count = {}, 0
    for index, cell in enumerate(notebook.cells):
        if cell.get("cell_type") == "code":
            count += 1
            numbers[index] = count
    return numbers


async def _run_cell(client, cell, run: CellRun, timeout: float, execution: Execution) -> bool:
    """Run one cell; False when the kernel is gone and the run must stop."""
    from nbclient.exceptions import DeadKernelError

    run.status = "ok"
    started = time.monotonic()
    if hasattr(client, "_kept_bytes"):
        client._kept_bytes.pop(run.index, None)  # a re-run's output gets the cap afresh
    task = asyncio.ensure_future(client.async_execute_cell(cell, run.index, execution_count=run.number))
    # Cancelled (the grading stops), nbclient's task ends with DeadKernelError, which nobody awaits
    # any more: retrieve it, or asyncio prints "Task exception was never retrieved" at exit.
    task.add_done_callback(lambda done: done.cancelled() or done.exception())
    try:
        await asyncio.wait_for(task, timeout + _GRACE_S)
    except asyncio.TimeoutError:
        run.status = "timeout"
        run.duration_s = time.monotonic() - started
        run.error = CellError(cell=run.number, ename="Timeout",
                              evalue=f"cell {run.number} ran past {timeout:.0f} s and did not stop "
                                     f"when interrupted; the kernel was stopped",
                              source=cell.get("source", ""))
        execution.failure = run.error.evalue
        execution.failed_at = run.number
        return False
    except DeadKernelError:
        run.status = "error"
        run.duration_s = time.monotonic() - started
        code = execution.exit_code = await _exit_code(client)
        detail = f" (exit status {code})" if code is not None else ""
        run.error = CellError(cell=run.number, ename="DeadKernel",
                              evalue=f"the kernel died while running cell {run.number}{detail}: "
                                     f"the code ended Python (os._exit, sys.exit in a thread, a crash, "
                                     f"or running out of memory)",
                              source=cell.get("source", ""))
        execution.failure = run.error.evalue
        execution.failed_at = run.number
        return False
    run.duration_s = time.monotonic() - started
    error = _error_output(cell)
    if error is not None:
        run.status = "error"
        run.error = CellError.from_reply(cell=run.number, content=error, source=cell.get("source", ""))
        if error.get("ename") == "KeyboardInterrupt" and run.duration_s >= timeout - 1:
            run.status = "timeout"
            run.error.ename = "Timeout"
            run.error.evalue = (f"cell {run.number} ran longer than {timeout:.0f} s and was interrupted "
                                f"({first_line(cell.get('source', ''))})")
    return True


def _error_output(cell) -> dict | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return output
    return None


async def _exit_code(client):
    try:
        provisioner = client.km.provisioner
        return await provisioner.poll() if provisioner is not None else None
    except Exception:
        return None


async def _request(client, expression: str, timeout: float, code: str = "") -> dict:
    """Send a silent execute request and return the reply's content."""
    kc = client.kc
    msg_id = kc.execute(code, silent=True, store_history=False,
                        user_expressions={"result": expression} if expression else None,
                        allow_stdin=False)
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        try:
            msg = await kc.get_shell_msg(timeout=min(remaining, 1.0))
        except Exception:  # queue.Empty: check the kernel is still there
            if not await client.km.is_alive():
                raise ConnectionError("the kernel died") from None
            continue
        if msg.get("parent_header", {}).get("msg_id") == msg_id:
            return msg["content"]


async def _install_agent(client, options: RunOptions) -> None:
    code = ("__import__('grader.kernel.agent', fromlist=['install']).install("
            + repr(json.dumps(options.agent_config)) + ")")
    try:
        content = await _request(client, "", options.startup_timeout, code=code)
    except TimeoutError:
        raise _StartFault(f"the grading agent was not installed within {options.startup_timeout:.0f} s")
    except ConnectionError as exc:
        raise _StartFault(f"the kernel died while the grading agent was installed: {exc}") from None
    if content.get("status") != "ok":
        trace = "\n".join(content.get("traceback", []))
        raise KernelSetupError(
            f"the grading agent could not be installed in the kernel: "
            f"{content.get('ename')}: {content.get('evalue')}\n{trace}")


def _parse_payload(content: dict) -> dict | None:
    result = content.get("user_expressions", {}).get("result", {})
    if result.get("status") != "ok":
        return None
    text = result.get("data", {}).get("text/plain", "")
    try:
        payload = json.loads(text)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


async def _measure(client, part_ids, cell_number: int, execution: Execution, options: RunOptions,
                   evaluations=None, pending=None) -> None:
    """Ask the agent for this cell's parts; exported models go to the evaluator in the background."""
    expression = ("__import__('grader.kernel.agent', fromlist=['after_cell']).after_cell("
                  + repr(list(part_ids)) + ")")
    emit = options.events or Emitter(None)

    def failed(error: str) -> None:
        for part_id in part_ids:
            execution.measurements[part_id] = {"cell": cell_number, "ok": False, "error": error}
            emit(PartMeasured, part=part_id, measurement=execution.measurements[part_id], execution=execution)

    try:
        content = await _request(client, expression, options.measure_timeout)
    except TimeoutError:
        await client.km.interrupt_kernel()
        failed(f"measuring took longer than {options.measure_timeout:.0f} s")
        return
    except ConnectionError:
        return
    payload = _parse_payload(content)
    if payload is None:
        failed("the grading agent gave no answer (was it replaced by the notebook?)")
        return
    _take_claims(payload, execution)
    for part_id in part_ids:
        # The claim that goes with this measurement: a later re-run of the graded cell (as-run)
        # cannot replace it.
        execution.claimed[part_id] = execution.answers.get(part_id)
    for part_id in part_ids:
        measurement = payload.get("measurements", {}).get(part_id)
        if not isinstance(measurement, dict):
            continue
        if evaluations is not None and part_id in evaluations.parts and measurement.get("ok"):
            # A graph or model part: the agent exported the model; only the evaluator's run counts.
            exported = measurement.get("value")
            if isinstance(exported, dict) and isinstance(exported.get("export_s"), (int, float)):
                execution.timings["export"] = round(execution.timings.get("export", 0.0)
                                                    + float(exported["export_s"]), 3)
            if not isinstance(exported, dict) or ("graph" not in exported and "model" not in exported):
                measurement = {"ok": False, "error": "the grading agent sent no model to run (was it "
                                                     "replaced by the notebook?)"}
            else:
                task = asyncio.ensure_future(evaluations.evaluate(part_id, exported))
                pending[part_id] = (cell_number, task)
                if emit:
                    # Its verdict is streamed the moment the evaluator answers, while later cells run.
                    task.add_done_callback(functools.partial(
                        _evaluated, emit=emit, part_id=part_id, cell_number=cell_number, execution=execution))
                continue
        execution.measurements[part_id] = {"cell": cell_number, **measurement}
        emit(PartMeasured, part=part_id, measurement=execution.measurements[part_id], execution=execution)


def _evaluated(task, *, emit: Emitter, part_id: str, cell_number: int, execution: Execution) -> None:
    """An evaluator's answer arrived: report the part's measurement (its verdict is judged upstream)."""
    if task.cancelled() or task.exception() is not None or task.result().get("lost"):
        # The run's end awaits the task again and records what went wrong; an evaluator killed
        # from outside is no verdict at all (the grading runs again).
        return
    emit(PartMeasured, part=part_id, measurement={"cell": cell_number, **task.result()}, execution=execution)


async def _collect_answers(client, execution: Execution, options: RunOptions) -> None:
    expression = "__import__('grader.kernel.agent', fromlist=['report']).report()"
    try:
        content = await _request(client, expression, options.measure_timeout)
    except (TimeoutError, ConnectionError):
        return
    payload = _parse_payload(content)
    if payload is not None:
        _take_claims(payload, execution)


def _take_claims(payload: dict, execution: Execution) -> None:
    answers = payload.get("answers")
    if isinstance(answers, dict):
        execution.answers = {str(k): v for k, v in answers.items() if isinstance(v, dict)}
        for part_id, claim in execution.claimed.items():  # taken when the part was measured
            if claim is None:
                execution.answers.pop(part_id, None)
            else:
                execution.answers[part_id] = claim
    submits = payload.get("submits")
    if isinstance(submits, list):
        execution.submits = [str(s) for s in submits]
    skipped = payload.get("skipped")
    if isinstance(skipped, list):
        execution.skipped = [str(s)[:200] for s in skipped[:50]]
