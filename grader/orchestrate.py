"""Run one submission through the stages: prepare -> execute -> extract -> score -> result.

:func:`grade_notebook` is the unit of work a batch is made of; it never
raises because of the learner (a notebook that cannot be graded at all is a
result with status ``ungradable``), only because of the harness.
"""
from __future__ import annotations

import copy
import dataclasses
import functools
import secrets
import datetime
import hashlib
import os
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .exceptions import KernelLostError, UsageError
from .version import __version__
from .events import (CellFinished, CellStarted, CleanRunStarted, Emitter, Finished, KernelStarting, Listener,
                     PartJudged, PartMeasured, Started)
from .judge.compare import saved_vs_rerun
from .judge.history import advice, part_histories
from .specs.data import resolve_all, split_labels
from .run.evaluator_client import EVALUATED_KINDS, INTEGRITY_ROWS, EvaluatorOptions, build_plan
from .run.execute import RunOptions, code_cell_numbers, find_graded_cells, run_notebook
from .run.limits import Limits
from .run.schedule import AS_RUN, ORDERS, TOP_DOWN, Schedule, as_run, plan
from .judge.extract import extract, extract_reports
from .results import GRADED, UNGRADABLE, PartResult, SubmissionResult
from .judge.score import score_part
from .specs.model import Assignment, effective_keras

RUNS = 2  # tries of one grading when something outside the notebook cuts it short


@dataclass(frozen=True)
class GradeOptions:
    """Overrides of the assignment's budgets and environment for one grading."""

    cell_timeout: float | None = None       # seconds; default from assignment.toml
    notebook_budget: float | None = None    # seconds; default from assignment.toml
    seed: int | None = None                 # default from assignment.toml
    tf1_compat: bool | None = None          # default from assignment.toml
    data: dict = field(default_factory=dict)  # data file name -> explicit path
    memory_mb: int | None = None            # default from assignment.toml
    max_processes: int | None = None        # default from assignment.toml
    threads: int | None = None              # CPU threads per kernel (TensorFlow, BLAS, OpenMP)
    sandbox: str = "auto"                   # required | auto | off (see grader.run.sandbox)
    keep_workdir: bool = False
    order: str | None = None                # top-down | as-run; default from assignment.toml
    compare_orders: bool = False            # as-run with re-runs before a graded cell: also grade a
                                            # top-down run, and say which parts pass only as run

    def __post_init__(self):
        # A limit of 0 s or less would grade nothing: refuse it before anything runs or is written.
        for name in ("cell_timeout", "notebook_budget"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float)) and value > 0):
                raise UsageError(f"{name} must be a number of seconds above 0, got {value!r}",
                                 argument=name, value=value)
        for name in ("memory_mb", "max_processes", "threads"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int) and value >= 1):
                raise UsageError(f"{name} must be a whole number of 1 or more, got {value!r}",
                                 argument=name, value=value)
        if self.seed is not None and not (isinstance(self.seed, int) and 0 <= self.seed < 2**32):
            raise UsageError(f"seed must be a whole number from 0 to 2**32 - 1, got {self.seed!r}",
                             argument="seed", value=self.seed)
        if self.order is not None and self.order not in ORDERS:
            raise UsageError(f"order must be {' or '.join(ORDERS)}, got {self.order!r}",
                             argument="order", value=self.order)
        if self.sandbox not in ("required", "auto", "off"):
            raise UsageError(f"sandbox must be required, auto or off, got {self.sandbox!r}",
                             argument="sandbox", value=self.sandbox)


def learner_id(path: Path) -> str:
    """The learner id of a submitted file: its name without the extension."""
    return path.stem if path.suffix == ".ipynb" else path.name


def kernel_env(assignment: Assignment, *, seed: int, workdir: Path, threads: int | None = None,
               keras: int | None = None) -> dict:
    """The environment of the learner's kernel: an allow-list, never the harness's own environment
    (:mod:`grader.run.environment`).  Inside the sandbox, :func:`grader.run.sandbox.kernel_env`
    narrows it further.  ``keras``: which Keras ``tf.keras`` gives (default: the assignment's,
    :func:`grader.specs.model.effective_keras`)."""
    from .run.environment import inherited

    env = inherited(sandboxed=False)
    if threads:
        # Several kernels side by side must not each spawn one thread per core.
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                     "NUMEXPR_NUM_THREADS", "TF_NUM_INTRAOP_THREADS"):
            env[name] = str(threads)
        env["TF_NUM_INTEROP_THREADS"] = str(min(2, threads))
    package_root = str(Path(__file__).resolve().parent.parent)
    paths = [str(assignment.helpers_path), package_root]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env.update({
        "PYTHONPATH": os.pathsep.join(paths),
        "PYTHONHASHSEED": str(seed),
        # TensorFlow's C++ start-up chatter goes to stderr; it never counts, but keep it short.
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "GRADER_GRADING": "1",
        "HOME": env.get("HOME", str(workdir)),
    })
    # Which Keras tf.keras is ([kernel] keras): with 2, tf-keras (tf.compat.v1.layers needs it
    # under TF >= 2.16); with 3, Keras 3.  The agent routes the notebook's `import keras` alike.
    if keras is None:
        keras = effective_keras(assignment.kernel, assignment.kernel.tf1_compat)
    if keras == 2:
        env["TF_USE_LEGACY_KERAS"] = "1"
    return env


def keras_in_kernel(keras: int) -> str:
    """The Keras a kernel gives, as recorded in results: ``keras 3.15.1`` or ``tf-keras 2.21.0``.

    Read from the installed packages' metadata (the kernel runs this Python): the harness
    imports neither Keras nor TensorFlow.
    """
    from importlib import metadata

    package = "tf-keras" if keras == 2 else "keras"
    try:
        return f"{package} {metadata.version(package)}"
    except metadata.PackageNotFoundError:
        return f"{package} (not installed)"


def _background(function, *args):
    """``function(*args)`` started in a thread; a future of its result."""
    import concurrent.futures

    executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="grader-plan")
    try:
        return executor.submit(function, *args)
    finally:
        executor.shutdown(wait=False)


def function_integrity(assignment: Assignment) -> dict:
    """Integrity draws for ``function`` parts, made fresh for each run.

    A plain Python function cannot leave its process: the agent calls it in the
    kernel on this draw, and the harness keeps the seed to redo it.  Graph parts
    get theirs from :func:`grader.run.evaluator_client.build_plan`, which never enter the kernel.
    """
    return {part.id: {"seed": secrets.randbelow(2**31), "rows": INTEGRITY_ROWS,
                      "noise": assignment.split(part.split).noise}
            for part in assignment.parts
            if part.kind == "function" and assignment.split(part.split).noise > 0}


def kernel_agent_config(assignment: Assignment, *, seed: int, tf1: bool, data: dict, integrity: dict,
                        threads: int | None) -> dict:
    """What the agent in the kernel is told: no labels, and no integrity draw of a graph part."""
    return {
        "seed": seed, "framework": assignment.kernel.framework, "tf1_compat": tf1, "data": data,
        "keras": effective_keras(assignment.kernel, tf1),
        # Splits go to the kernel without their label keys: labels never enter the kernel.
        "splits": {s.name: {"data": s.data, "x": s.x, "start": s.start, "stop": s.stop,
                            "scale": s.scale} for s in assignment.splits},
        "parts": {p.id: {**dataclasses.asdict(p), "integrity": integrity.get(p.id)}
                  for p in assignment.parts},
        "threads": threads,
    }


def ungradable(path: Path, assignment: Assignment, reason: str, started: float, digest: str,
               learner: str | None, *, status: str = UNGRADABLE) -> SubmissionResult:
    """The result of a submission that cannot be run at all (``status``: ungradable or grader-error)."""
    return SubmissionResult(
        learner=learner or learner_id(path), assignment=assignment.id,
        assignment_version=assignment.version, assignment_digest=assignment.digest,
        measurement_digest=assignment.measurement_digest,
        thresholds_digest=assignment.thresholds_digest,
        harness_version=__version__, submission=path.name, submission_sha256=digest,
        status=status, reason=reason, max_total=assignment.max_points,
        started_at=_now(), duration_s=round(time.monotonic() - started, 3),
        parts=[PartResult(id=p.id, description=p.description, kind=p.kind, model=p.model,
                          status="error", max_points=p.points,
                          message="Not graded: the submission could not be run (see the reason).") for p in assignment.parts])


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def read_notebook(path: Path):
    """Parse a submitted notebook; returns (notebook, None) or (None, reason)."""
    import nbformat

    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, f"the file cannot be read ({exc.strerror})"
    if not raw.strip():
        return None, "the file is empty: submit the .ipynb file saved from Jupyter"
    try:
        notebook = nbformat.reads(raw.decode("utf-8-sig"), as_version=4)
    except UnicodeDecodeError:
        return None, "the file is not text (is it a notebook? submit the .ipynb file)"
    except Exception as exc:  # nbformat raises several types for non-notebooks
        return None, f"the file is not a Jupyter notebook ({type(exc).__name__}: {str(exc)[:200]})"
    if not isinstance(notebook.get("cells"), list):
        return None, "the file is not a Jupyter notebook (it has no cells)"
    for cell in notebook.cells:
        # Older or hand-edited notebooks miss fields nbclient expects.
        cell.setdefault("metadata", {})
        if cell.get("cell_type") == "code":
            cell.setdefault("outputs", [])
            cell.setdefault("execution_count", None)
    return notebook, None


def grade_notebook(path: str | Path, *, assignment: Assignment, options: GradeOptions = GradeOptions(),
                   learner: str | None = None, data_paths: dict | None = None,
                   executed_path: Path | None = None, files: list[Path] = (),
                   files_root: Path | None = None, on_event: Listener | None = None,
                   ledger=None) -> SubmissionResult:
    """Grade one notebook; see the module docstring.

    ``files`` are other files the learner submitted with it; they are copied
    into the kernel's working folder, keeping their paths relative to
    ``files_root``.  ``on_event`` is called with the grading's progress
    (:mod:`grader.events`): cells as they run, each part's verdict as soon as it
    is measured, the result at the end.  ``ledger`` (:class:`grader.run.process_register.Ledger`)
    is where the kernel and the evaluator are recorded while they run, so that a
    harness killed meanwhile leaves nothing behind.
    """
    started = time.monotonic()
    emit = Emitter(on_event, started=started)
    result = _grade(Path(path), assignment=assignment, options=options, learner=learner,
                    data_paths=data_paths, executed_path=executed_path, files=files,
                    files_root=files_root, emit=emit, started=started, ledger=ledger)
    emit(Finished, result=result)
    return result


def _grade(path: Path, *, assignment: Assignment, options: GradeOptions, learner: str | None,
           data_paths: dict | None, executed_path: Path | None, files, files_root: Path | None,
           emit: Emitter, started: float, ledger) -> SubmissionResult:
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        digest = ""
    notebook, problem = read_notebook(path)
    part_ids = [p.id for p in assignment.parts]
    numbers = code_cell_numbers(notebook) if notebook is not None else {}
    graded = find_graded_cells(notebook, part_ids) if notebook is not None else {}
    # Part id -> the code cell after which it is measured.
    graded_cell_of = {part_id: numbers[index] for index, ids in graded.items() for part_id in ids}
    # The order the cells run in (the assignment's policy), and the learner's history as the saved
    # counts record it, which explains verdicts under either policy (grader.judge.history).
    order = options.order or assignment.kernel.order
    schedule = plan(notebook, order) if notebook is not None else None
    history = (schedule if order == AS_RUN else as_run(notebook)) if notebook is not None else None
    histories = part_histories(notebook, assignment.parts, graded, history) if notebook is not None else {}
    emit(Started, notebook=path.name, assignment=assignment.id, cells=len(numbers),
         parts=tuple(part_ids), graded=dict(graded_cell_of),
         steps=len(schedule.steps) if schedule else 0, order=order,
         schedule=schedule.text() if schedule else "")
    # Data before the verdict on the file: a missing data file is the harness's problem, whatever
    # the notebook is.
    data_paths = data_paths if data_paths is not None else resolve_all(assignment, explicit=options.data)
    if notebook is None:
        return ungradable(path, assignment, problem, started, digest, learner)

    from .run.sandbox import sandbox_mode

    use_sandbox, sandbox_text = sandbox_mode(options.sandbox)
    kernel = assignment.kernel
    integrity = function_integrity(assignment)
    # Graph and model parts (TensorFlow graphs, Keras models) are run by the evaluator, outside
    # the kernel, on inputs
    # and integrity draws that never enter the kernel (grader.run.evaluator_client).
    # Built in a thread while the kernel starts (loading and checking the data takes a while).
    graph_parts = tuple(p.id for p in assignment.parts if p.kind in EVALUATED_KINDS) \
        if kernel.framework == "tensorflow" else ()
    attempt = _Attempt(
        path=path, learner=learner or learner_id(path), assignment=assignment, options=options,
        data_paths=data_paths, files=tuple(files), files_root=files_root, graded=graded,
        seed=kernel.seed if options.seed is None else options.seed,
        tf1=kernel.tf1_compat if options.tf1_compat is None else options.tf1_compat,
        sandbox=use_sandbox, sandbox_text=sandbox_text, integrity=integrity, graph_parts=graph_parts,
        plan=_background(build_plan, assignment, data_paths) if graph_parts else None,
        limits=Limits(memory_mb=options.memory_mb or kernel.memory_mb,
                      processes=options.max_processes or kernel.max_processes),
        judge=functools.partial(_judge, assignment=assignment, data_paths=data_paths,
                                integrity=integrity, graded_cell_of=graded_cell_of,
                                histories=histories, order=order),
        emit=emit, started=started, ledger=ledger, schedule=schedule, history=history)
    started_at = _now()
    saved = copy.deepcopy(notebook)  # nbclient replaces the outputs in place
    execution, lost = _run_until_not_lost(attempt, saved)
    if executed_path is not None:
        import nbformat

        from .results import write_atomic

        write_atomic(executed_path, nbformat.writes(execution.notebook))
    result = _result(attempt, execution, saved=saved, digest=digest, started_at=started_at, lost=lost)
    if options.compare_orders and order == AS_RUN and _rerun_before_graded(schedule, graded):
        phase = time.monotonic()
        _compare_with_clean_run(result, attempt, saved, notebook)
        result.timings["clean_run"] = round(time.monotonic() - phase, 3)
        result.duration_s = result.timings["total"] = round(time.monotonic() - started, 3)
    return result


def _rerun_before_graded(schedule: Schedule, graded: dict) -> bool:
    """Whether some cell runs again before a graded cell's own run (the orders may then differ)."""
    last = max((k for k, step in enumerate(schedule.steps) if not step.again and step.index in graded),
               default=-1)
    return any(step.again for step in schedule.steps[:last])


def _compare_with_clean_run(result: SubmissionResult, attempt: "_Attempt", saved, notebook) -> None:
    """The same notebook graded top to bottom, beside the as-run grade: which parts pass only as
    the learner ran them (``result.schedule["clean_run"]``).  Its cells are reported as they run;
    its verdicts are not streamed (they are not the grade)."""
    clean = plan(notebook, TOP_DOWN)
    emit = attempt.emit
    emit(CleanRunStarted, reason=attempt.schedule.text(), steps=len(clean.steps))
    relay = Emitter(lambda event: emit.emit(event) if isinstance(event, (CellStarted, CellFinished)) else None,
                    started=attempt.started) if emit else Emitter(None)
    clean_attempt = dataclasses.replace(
        attempt, schedule=clean, emit=relay,
        judge=functools.partial(attempt.judge.func, **{**attempt.judge.keywords, "order": TOP_DOWN}))
    try:
        execution, _ = _run_until_not_lost(clean_attempt, saved)
    except KernelLostError as exc:
        result.schedule["clean_run"] = {"order": TOP_DOWN, "parts": {}, "total": 0,
                                        "warning": f"a clean top-to-bottom run could not be compared ({exc})"}
        return
    parts = [clean_attempt.judge(part, execution.measurements.get(part.id), execution)
             for part in attempt.assignment.parts]
    only_as_run = [p.id for p, graded in zip(parts, result.parts)
                   if graded.status == "passed" and p.status != "passed"]
    warning = ""
    if only_as_run:
        warning = (f"passes only as you ran it: a clean top-to-bottom run (Restart & Run All) does not "
                   f"pass {', '.join(only_as_run)} ("
                   + ", ".join(f"{p.id} {p.status}" for p in parts if p.id in only_as_run)
                   + "); see each part's message for the cell to change")
    result.schedule["clean_run"] = {"order": TOP_DOWN, "parts": {p.id: p.status for p in parts},
                                    "total": sum(p.points for p in parts), "warning": warning}


@dataclass(frozen=True)
class _Attempt:
    """What every run of one grading needs (a grading cut short from outside runs again)."""

    path: Path
    learner: str
    assignment: Assignment
    options: GradeOptions
    data_paths: dict
    files: tuple
    files_root: Path | None
    graded: dict            # cell index -> the part ids measured after it
    seed: int
    tf1: bool
    sandbox: bool
    sandbox_text: str
    integrity: dict
    graph_parts: tuple
    plan: object            # a future of the evaluator's inputs, or None
    limits: Limits
    judge: object           # one part's verdict from its measurement and the run so far
    emit: Emitter
    started: float
    ledger: object
    schedule: Schedule | None = None   # the order the cells run in
    history: Schedule | None = None    # the learner's history as the saved counts record it (as-run)


def _run_until_not_lost(attempt: _Attempt, saved) -> tuple:
    """(execution, why earlier runs were lost): runs again, up to RUNS times, a grading cut short
    from outside the notebook (:attr:`grader.run.execute.Execution.lost`); then raises
    :class:`KernelLostError`, a fault of the machine and never a grade."""
    lost: list[str] = []
    while True:
        execution = _run_once(attempt, saved)
        if not execution.lost:
            return execution, lost
        lost.append(execution.lost)
        if len(lost) >= RUNS:
            raise KernelLostError(lost)


def _run_once(attempt: _Attempt, saved):
    """One run of the notebook in a fresh kernel, in a scratch folder recorded before it exists."""
    options, assignment, kernel = attempt.options, attempt.assignment, attempt.assignment.kernel
    ledger = attempt.ledger
    # The attempt's record in the register holds its scratch folder, cgroups and processes, so
    # that a harness killed at any moment leaves nothing of it behind (grader.run.process_register).
    entry = ledger.entry(f"kernel {attempt.learner}") if ledger is not None else None
    scratch = Path(tempfile.gettempdir()) / f"grader-{uuid.uuid4().hex[:12]}"
    if entry is not None and not options.keep_workdir:
        entry.add_path(scratch)
    scratch.mkdir(mode=0o755)
    os.chmod(scratch, 0o755)  # the sandboxed kernel runs as another user (whatever the umask)
    workdir = scratch / "work"  # the kernel's working folder; the kernel's log sits outside it
    workdir.mkdir()
    try:
        home = _prepare_workdir(workdir, attempt.path, attempt.files, attempt.files_root)
        kernel_data = {}
        for data in assignment.data:
            target = home / data.file
            if not target.exists():
                os.symlink(attempt.data_paths[data.name], target)
            kernel_data[data.name] = str(target)
        agent_config = kernel_agent_config(assignment, seed=attempt.seed, tf1=attempt.tf1, data=kernel_data,
                                           integrity=attempt.integrity, threads=options.threads)
        emit = attempt.emit
        run_options = RunOptions(
            cell_timeout=options.cell_timeout or kernel.cell_timeout,
            notebook_budget=options.notebook_budget or kernel.notebook_budget,
            measure_timeout=kernel.measure_timeout,
            env=kernel_env(assignment, seed=attempt.seed, workdir=workdir, threads=options.threads,
                           keras=effective_keras(kernel, attempt.tf1)),
            agent_config=agent_config, kernel_log=scratch / "kernel.log",
            limits=attempt.limits, sandbox=attempt.sandbox,
            readonly=(Path(__file__).resolve().parent, assignment.helpers_path,
                      *(Path(p).resolve() for p in attempt.data_paths.values())),
            plan=attempt.plan, graph_parts=attempt.graph_parts, entry=entry,
            # The evaluator reads nothing but the grader's code: its inputs come through its pipe.
            evaluator=EvaluatorOptions(
                sandbox=attempt.sandbox, readonly=(Path(__file__).resolve().parent,), limits=attempt.limits,
                threads=options.threads, timeout=kernel.measure_timeout, ledger=ledger),
            events=Emitter(_stream_verdicts(emit, attempt.judge, assignment), started=attempt.started)
            if emit else None)
        emit(KernelStarting, sandbox=attempt.sandbox_text)
        return run_notebook(copy.deepcopy(saved), workdir=workdir, cwd=home, options=run_options,
                            graded=attempt.graded, schedule=attempt.schedule)
    finally:
        if not options.keep_workdir:
            shutil.rmtree(scratch, ignore_errors=True)
        if entry is not None:
            entry.close()


def _result(attempt: _Attempt, execution, *, saved, digest: str, started_at: str,
            lost: list[str]) -> SubmissionResult:
    """The submission's result: every part judged, the run's facts and notes."""
    assignment, options = attempt.assignment, attempt.options
    parts = [attempt.judge(part, execution.measurements.get(part.id), execution) for part in assignment.parts]
    result = SubmissionResult(
        learner=attempt.learner, assignment=assignment.id,
        assignment_version=assignment.version, assignment_digest=assignment.digest,
        measurement_digest=assignment.measurement_digest,
        thresholds_digest=assignment.thresholds_digest,
        harness_version=__version__, submission=attempt.path.name, submission_sha256=digest,
        status=GRADED, reason=execution.failure, total=sum(p.points for p in parts),
        max_total=assignment.max_points, started_at=started_at,
        duration_s=round(time.monotonic() - attempt.started, 3), seed=attempt.seed, parts=parts,
        errors=execution.errors)
    result.sandbox = attempt.sandbox_text
    if assignment.kernel.framework == "tensorflow":
        result.keras = keras_in_kernel(effective_keras(assignment.kernel, attempt.tf1))
    # Unset, the kernel's TensorFlow takes one thread per core.
    result.threads = options.threads or os.cpu_count()
    result.limits = execution.limits
    result.timings = {**execution.timings, "total": round(time.monotonic() - attempt.started, 3)}
    result.peak_memory_mb = execution.peak_memory_mb
    result.evaluator_peak_memory_mb = execution.evaluator_peak_memory_mb
    if attempt.schedule is not None:
        result.schedule = attempt.schedule.to_dict()
    numbers = code_cell_numbers(saved)
    result.notes.extend(saved_vs_rerun(
        saved, execution.notebook, history=attempt.history,
        order=attempt.schedule.order if attempt.schedule else TOP_DOWN,
        graded={numbers[index]: ids for index, ids in attempt.graded.items()},
        statuses={part.id: part.status for part in parts}))
    if execution.skipped:
        result.notes.append("skipped while grading (no network, no installs): "
                            + "; ".join(execution.skipped))
    if execution.submits:
        result.notes.append(f"grader.submit was called {len(execution.submits)} time(s); "
                            f"nothing was posted during grading")
    if lost:
        result.notes.append(f"graded in a second run: the first was cut short from outside the notebook "
                            f"({lost[0]}), which does not count")
    return result


def _judge(part, measurement: dict | None, execution, *, assignment: Assignment, data_paths: dict,
           integrity: dict, graded_cell_of: dict, histories: dict, order: str) -> PartResult:
    """One part's verdict from its measurement and the run so far (the final result's, and the
    one streamed while the notebook still runs: one code for both)."""
    from .judge.kinds import get_kind

    kind = get_kind(part.kind)
    # What the measurement is compared with (labels, expected array) stays in the harness.
    reference = kind.reference(assignment, part, data_paths) if kind.reference else None
    if part.id in integrity and measurement and isinstance(measurement.get("value"), dict) \
            and "values" in measurement["value"]:
        measurement["value"]["integrity"] = integrity[part.id]  # the harness's copy, not the kernel's
    extracted = extract(part, measurement, execution.answers.get(part.id), reference)
    if part.report_on and measurement and measurement.get("ok"):
        extract_reports(extracted, part, measurement.get("value"), {
            name: split_labels(assignment, assignment.split(name), data_paths) for name in part.report_on})
    hidden = kind.uses_split and assignment.split(part.split).hidden
    scored = score_part(part, assignment.threshold(part.id), extracted,
                        graded_cell=graded_cell_of.get(part.id), cell_errors=execution.errors,
                        failure=execution.failure, failed_at=execution.failed_at, hidden=hidden,
                        advice=functools.partial(_advice, histories.get(part.id), order=order))
    scored.reported = {split: {"value": value, "hidden": assignment.split(split).hidden}
                       for split, value in (extracted.reported or {}).items()}
    scored.fingerprint = extracted.fingerprint  # instructors only (grader.similarity)
    return scored


def _advice(history, status: str, *, order: str) -> str:
    return advice(history, status=status, order=order)


def _stream_verdicts(emit: Emitter, judge, assignment: Assignment):
    """The run's listener: its events go on as they are; a measurement goes on as its part's verdict.

    The verdict is judged with the run so far (the cells' errors and the claims up to the graded
    cell, which is all the final verdict uses of them), by the code that judges the final result.
    """
    parts = {part.id: part for part in assignment.parts}

    def relay(event):
        if isinstance(event, PartMeasured):
            if event.part in parts:
                measurement = copy.copy(event.measurement)  # judging may add to it; the run keeps its own
                emit.emit(PartJudged(elapsed=event.elapsed,
                                     part=judge(parts[event.part], measurement, event.execution)))
            return
        emit.emit(event)
    return relay


def _prepare_workdir(workdir: Path, path: Path, files, files_root: Path | None) -> Path:
    """Copy the submission into ``workdir``; returns the folder the notebook runs in."""
    for extra in files:
        relative = extra.relative_to(files_root) if files_root else Path(extra.name)
        (workdir / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(extra, workdir / relative)
    # The notebook runs in its own folder, as in the learner's Jupyter, so that a notebook in a
    # subfolder of the learner's folder finds its files by the same relative paths.
    home = workdir
    if files_root is not None and path.resolve().is_relative_to(files_root.resolve()):
        home = workdir / path.resolve().parent.relative_to(files_root.resolve())
        home.mkdir(parents=True, exist_ok=True)
    shutil.copy2(path, home / "submission.ipynb")
    return home
