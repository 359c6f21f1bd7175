"""What a grading reports while it runs: events, streamed from the one engine.

A grading (:func:`grader.orchestrate.grade_notebook`) calls its listener with
these events, in this order::

    Started           the notebook, the assignment, its code cells and graded cells
    KernelStarting    the kernel (and the evaluator beside it) is being started
    KernelReady       the kernel runs and the grading agent is installed
    CellStarted       cell N of TOTAL starts (the first line of its source); under the as-run
                      order a cell may run again (``again``), ``step`` of ``steps`` counts the runs
    CellFinished      cell N ended: ok, error (with the exception's one-line summary) or timeout
    PartJudged        a part's verdict, as soon as its measurement arrives (the evaluator
                      measures models beside the kernel, so a verdict may come while later
                      cells run)
    CleanRunStarted   (grader check, as-run order, cells re-run before a graded cell) a clean
                      top-down run follows, its cells reported as CellStarted/CellFinished
    Finished          the result, exactly what the grading returns

``CellStarted``/``CellFinished`` repeat per cell and ``PartJudged`` per measured part;
parts never measured (their graded cell did not run) only appear in ``Finished``.
A notebook that is not a notebook at all gives ``Started`` and ``Finished`` only.

The run stage emits :class:`PartMeasured` (raw measurements, for the orchestrator
only); the orchestrator turns each into a :class:`PartJudged` with the same
judging code that makes the final result, so the verdict streamed is the verdict
graded.

Every event has ``elapsed``, seconds since the grading started, and
:meth:`Event.to_dict` gives its JSON form (``{"event": "cell_started", ...}``),
which ``grader check --progress jsonl`` prints one per line.
"""
from __future__ import annotations

import dataclasses
import time
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # pragma: no cover
    from .results import PartResult, SubmissionResult


@dataclass(frozen=True)
class Event:
    """Base class: ``elapsed`` is seconds since the grading started."""

    elapsed: float

    name = "event"

    def to_dict(self) -> dict:
        data = {"event": self.name}
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            data[item.name] = value.to_dict() if hasattr(value, "to_dict") else (
                dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value)
        return data


@dataclass(frozen=True)
class Started(Event):
    notebook: str = ""                       # the file name
    assignment: str = ""                     # the assignment id
    cells: int = 0                           # code cells
    parts: tuple = ()                        # part ids, in the assignment's order
    graded: dict = field(default_factory=dict)  # part id -> code cell number (graded cells found)
    # --- order policy ---
    steps: int = 0                           # runs of cells in the schedule (re-runs included)
    order: str = ""                          # top-down | as-run
    schedule: str = ""                       # the schedule in one line ("graded as you ran it: ...")

    name = "started"


@dataclass(frozen=True)
class KernelStarting(Event):
    sandbox: str = ""                        # how the kernel is isolated (the result's `sandbox`)

    name = "kernel_starting"


@dataclass(frozen=True)
class KernelReady(Event):
    seconds: float = 0.0                     # the kernel's start and the agent's installation

    name = "kernel_ready"


@dataclass(frozen=True)
class CellStarted(Event):
    number: int = 0                          # 1-based among code cells
    total: int = 0
    first_line: str = ""                     # the first non-empty line of its source
    graded: tuple = ()                       # the parts measured after it
    # --- order policy ---
    again: bool = False                      # a re-run of a cell that ran at its own place (as-run)
    step: int = 0                            # 1-based position in the schedule
    steps: int = 0                           # runs in the schedule

    name = "cell_started"


@dataclass(frozen=True)
class CellFinished(Event):
    number: int = 0
    total: int = 0
    status: str = "ok"                       # ok | error | timeout
    duration_s: float = 0.0
    error: str = ""                          # "NameError: name 'labels' is not defined"
    # --- order policy ---
    again: bool = False
    step: int = 0
    steps: int = 0

    name = "cell_finished"


@dataclass(frozen=True)
class CleanRunStarted(Event):
    """``grader check`` under the as-run order, when cells ran again before a graded cell: a
    clean top-to-bottom run follows, to tell which parts pass only as the learner ran them.
    Its cells are reported as ``CellStarted``/``CellFinished`` like the first run's."""

    reason: str = ""                         # the schedule in one line
    steps: int = 0                           # runs in the top-down schedule

    name = "clean_run_started"


@dataclass(frozen=True)
class PartMeasured(Event):
    """A raw measurement (the run stage to the orchestrator; listeners get :class:`PartJudged`)."""

    part: str = ""
    measurement: Any = None                  # {"cell": n, "ok": .., "value" | "error": ..}
    execution: Any = None                    # the run so far (grader.run.execute.Execution)

    name = "part_measured"

    def to_dict(self) -> dict:  # measurements hold arrays: never serialised
        return {"event": self.name, "elapsed": self.elapsed, "part": self.part}


@dataclass(frozen=True)
class PartJudged(Event):
    part: "PartResult" = None                # the verdict, as in the final result

    name = "part_judged"


@dataclass(frozen=True)
class Finished(Event):
    result: "SubmissionResult" = None

    name = "finished"


Listener = Callable[[Event], None]

EVENTS = {cls.name: cls for cls in (Started, KernelStarting, KernelReady, CellStarted, CellFinished,
                                    CleanRunStarted,
                                    PartJudged, Finished)}


def event_from_dict(data: dict) -> Event:
    """An event back from its JSON form (:meth:`Event.to_dict`); ValueError for anything else."""
    from .results import PartResult, SubmissionResult

    try:
        cls = EVENTS[data["event"]]
        names = {item.name for item in dataclasses.fields(cls)}
        fields_ = {key: value for key, value in data.items() if key in names}
        if cls is PartJudged:
            fields_["part"] = PartResult(**fields_["part"])
        elif cls is Finished:
            fields_["result"] = SubmissionResult.from_dict(fields_["result"])
        elif cls in (Started, CellStarted):
            fields_ = {key: tuple(value) if isinstance(value, list) else value for key, value in fields_.items()}
        return cls(**fields_)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not a grading event: {str(data)[:120]} ({exc})") from None


class Emitter:
    """Calls a listener with events; a listener that raises is stopped, never the grading.

    Progress is a view of the grading, not part of it: a display that breaks (a closed
    terminal, a bug in a caller's callback) must not cost a ten-minute re-run.  The first
    exception is kept in ``failure`` and reported once as a :class:`RuntimeWarning`.
    """

    def __init__(self, listener: Listener | None, *, started: float | None = None):
        self.listener = listener
        self.started = time.monotonic() if started is None else started
        self.failure: BaseException | None = None

    def elapsed(self) -> float:
        return round(time.monotonic() - self.started, 3)

    def __call__(self, event_type: type[Event], **fields) -> None:
        if self.listener is None:
            return
        self.emit(event_type(elapsed=self.elapsed(), **fields))

    def emit(self, event: Event) -> None:
        if self.listener is None:
            return
        try:
            self.listener(event)
        except Exception as exc:  # see the class docstring
            self.failure, self.listener = exc, None
            warnings.warn(f"progress display stopped: {type(exc).__name__}: {exc}", RuntimeWarning,
                          stacklevel=2)

    def __bool__(self) -> bool:
        return self.listener is not None
