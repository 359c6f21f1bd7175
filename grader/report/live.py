"""What ``grader check`` shows while the notebook runs: the grading's events, as they come.

Three forms of the same events (:mod:`grader.events`), chosen by
:func:`check_progress`:

- **live** (a terminal): a status line redrawn in place (spinner, cell N/TOTAL,
  a bar, elapsed time, the first line of the running cell), drawn by rich;
  each part's verdict and each cell that raised is printed above it the moment
  it is known, and stays;
- **plain** (a log, CI): one line per event, each with its elapsed time;
- **jsonl**: one JSON object per event (``{"event": "cell_started", ...}``), for
  programs that show the progress themselves (the Jupyter magic reads these).

Values measured on hidden data are never shown (as in the final table).  rich
is imported only for the live form, so a plain run stays light.
"""
from __future__ import annotations

import json
import sys
import time
from typing import TextIO

from ..events import (CellFinished, CellStarted, CleanRunStarted, Event, Finished, KernelReady,
                      KernelStarting, PartJudged, Started)

MODES = ("auto", "live", "plain", "jsonl", "none")
VERDICT = {"passed": "PASS", "failed": "FAIL", "error": "ERROR", "missing": "MISSING"}
_STYLE = {"passed": "bold green", "failed": "bold red", "error": "bold magenta", "missing": "bold yellow"}


def part_line(part) -> str:
    """A part's verdict in one line, as a learner may see it: id, verdict, points, message."""
    message = "(measured on hidden data)" if part.hidden else part.message
    where = f" after cell {part.cell}" if part.cell else ""
    return (f"{part.id} {VERDICT.get(part.status, part.status.upper())} "
            f"{part.points:g}/{part.max_points:g}{where}: {message}")


def started_line(event: Started) -> str:
    graded = ", ".join(f"{part} (cell {cell})" for part, cell in event.graded.items())
    missing = [part for part in event.parts if part not in event.graded]
    text = (f"checking {event.notebook} for {event.assignment}: {event.cells} code cells, "
            f"{len(event.parts)} parts")
    if graded:
        text += f"; graded after {graded}"
    if missing:
        text += f"; no graded cell for {', '.join(missing)}"
    if event.order == "as-run" and event.schedule:
        text += f"; {event.schedule}"
    return text


def cell_label(event) -> str:
    """``cell 12/18`` or, for a re-run, ``cell 12/18 again``."""
    return f"cell {event.number}/{event.total}" + (" again" if event.again else "")


def clean_run_line(event: CleanRunStarted) -> str:
    return (f"{event.reason}; now a clean top-to-bottom run ({event.steps} cells), to tell which "
            f"parts pass only as you ran it")


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


class PlainProgress:
    """One line per event, prefixed with the time since the command started: readable in a CI log.

    Its first line is the ``Started`` event's (an error before it, such as an unknown
    assignment, stays the only line).
    """

    def __init__(self, stream: TextIO, announce: str = ""):
        self.stream = stream
        self.started = time.monotonic()

    def _line(self, event: Event, text: str) -> None:
        self.stream.write(f"[{time.monotonic() - self.started:6.1f}s] {text}\n")
        self.stream.flush()

    def __call__(self, event: Event) -> None:
        if isinstance(event, Started):
            self._line(event, started_line(event))
        elif isinstance(event, KernelStarting):
            self._line(event, "starting a fresh kernel" + (f" ({event.sandbox})" if event.sandbox else ""))
        elif isinstance(event, KernelReady):
            self._line(event, f"kernel ready in {event.seconds:.1f} s")
        elif isinstance(event, CellStarted):
            self._line(event, f"{cell_label(event)}: {event.first_line}")
        elif isinstance(event, CellFinished) and event.status != "ok":
            what = "timed out" if event.status == "timeout" else "raised"
            self._line(event, f"{cell_label(event)} {what}: {event.error}")
        elif isinstance(event, CleanRunStarted):
            self._line(event, clean_run_line(event))
        elif isinstance(event, PartJudged):
            self._line(event, part_line(event.part))
        elif isinstance(event, Finished):
            result = event.result
            self._line(event, f"done: {result.total:g}/{result.max_total:g} points")

    def close(self) -> None:
        pass


class JsonLinesProgress:
    """Each event as one JSON object per line."""

    def __init__(self, stream: TextIO, announce: str = ""):
        self.stream = stream

    def __call__(self, event: Event) -> None:
        self.stream.write(json.dumps(event.to_dict(), ensure_ascii=False, default=str) + "\n")
        self.stream.flush()

    def close(self) -> None:
        pass


class LiveProgress:
    """A status line redrawn in place on a terminal, with verdicts printed above it (rich).

    It appears as soon as it is made (``announce`` on the status line, e.g. "checking
    my.ipynb"), before the assignment is read and the kernel starts; it is transient, so
    an error before the first event leaves only the error's line.
    """

    def __init__(self, stream: TextIO, announce: str = ""):
        from rich.console import Console
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
        from rich.table import Column

        self.console = Console(file=stream, force_terminal=True)
        # The elapsed time ticks on by itself between events: rich redraws the line ten times a second.
        # The cell's first line takes what width is left and is cut with an ellipsis, so that a long
        # line never squeezes the counter, the bar or the clock.
        self.progress = Progress(
            SpinnerColumn(), TextColumn("{task.fields[stage]}", table_column=Column(no_wrap=True)),
            BarColumn(bar_width=20), TimeElapsedColumn(table_column=Column(no_wrap=True, min_width=7)),
            TextColumn("[dim]{task.fields[line]}", markup=True,
                       table_column=Column(ratio=1, no_wrap=True, overflow="ellipsis")),
            console=self.console, transient=True, expand=True, redirect_stdout=False, redirect_stderr=False)
        self.task = self.progress.add_task("", total=None, stage=announce or "reading the notebook", line="")
        self.progress.start()
        self.closed = False

    def _print(self, *parts) -> None:
        from rich.text import Text

        self.progress.console.print(Text.assemble(*parts), soft_wrap=False, overflow="fold")

    def __call__(self, event: Event) -> None:
        from rich.markup import escape

        if self.closed:
            return
        if isinstance(event, Started):
            self._print((started_line(event), "bold"))
            self.progress.update(self.task, total=max(1, event.steps or event.cells), completed=0)
        elif isinstance(event, KernelStarting):
            self.progress.update(self.task, stage="starting a fresh kernel")
        elif isinstance(event, KernelReady):
            self._print((f"kernel ready in {event.seconds:.1f} s", "dim"))
        elif isinstance(event, CellStarted):
            # Drawn now, not at the next tick: a quick cell still shows on the terminal.
            self.progress.update(self.task, completed=(event.step or event.number) - 1,
                                 stage=cell_label(event), line=escape(event.first_line), refresh=True)
        elif isinstance(event, CellFinished):
            self.progress.update(self.task, completed=event.step or event.number)
            if event.status != "ok":
                what = "timed out" if event.status == "timeout" else "raised"
                self._print((f"{cell_label(event)} {what}: ", "red"), event.error)
        elif isinstance(event, CleanRunStarted):
            self._print((clean_run_line(event), "dim"))
            self.progress.update(self.task, total=max(1, event.steps), completed=0)
        elif isinstance(event, PartJudged):
            part = event.part
            message = "(measured on hidden data)" if part.hidden else part.message
            self._print((f"{VERDICT.get(part.status, part.status.upper()):<7}", _STYLE.get(part.status, "")),
                        (f" {part.id} ", "bold"), f"{part.points:g}/{part.max_points:g}",
                        (f" after cell {part.cell}" if part.cell else "", "dim"), f"  {message}")
        elif isinstance(event, Finished):
            self.close()
            result = event.result
            self.console.print(f"done in {_clock(event.elapsed)}: {result.total:g}/{result.max_total:g} points",
                               style="bold", highlight=False)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.progress.stop()


class _Silent:
    def __init__(self, stream: TextIO = None, announce: str = ""):
        pass

    def __call__(self, event: Event) -> None:
        pass

    def close(self) -> None:
        pass


def display_mode(mode: str, stream: TextIO) -> str:
    """``auto`` becomes ``live`` on a terminal (not TERM=dumb) and ``plain`` anywhere else."""
    if mode != "auto":
        return mode
    import os

    tty = bool(getattr(stream, "isatty", lambda: False)())
    return "live" if tty and os.environ.get("TERM", "") != "dumb" else "plain"


class check_progress:
    """``with check_progress(mode) as listener: grader.check(..., on_event=listener)``.

    ``mode``: one of :data:`MODES`; the display is stopped on leaving, even on an error
    or Ctrl-C, so the terminal is left clean.
    """

    def __init__(self, mode: str = "auto", stream: TextIO | None = None, *, announce: str = ""):
        stream = stream if stream is not None else sys.stderr
        if mode not in MODES:
            raise ValueError(f"progress mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.mode = display_mode(mode, stream)
        self.display = {"live": LiveProgress, "plain": PlainProgress,
                        "jsonl": JsonLinesProgress}.get(self.mode, _Silent)(stream, announce)

    def __enter__(self):
        return self.display

    def __exit__(self, *exc_info) -> None:
        self.display.close()
