"""Progress of a batch on stderr: a live status line on a terminal, plain lines in CI logs."""
from __future__ import annotations

import time
from typing import Callable, TextIO


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


class Progress:
    """Counts, submissions being graded, and an ETA from the durations seen so far."""

    def __init__(self, *, total: int, already: int = 0, workers: int = 1, stream: TextIO,
                 quiet: bool = False, printer: Callable[[str], None] | None = None):
        self.total, self.done, self.workers = total, already, workers
        self.stream, self.quiet = stream, quiet
        self.printer = printer if callable(printer) else None
        self.tty = bool(getattr(stream, "isatty", lambda: False)()) and self.printer is None
        self.running: dict[str, float] = {}
        self.durations: list[float] = []
        self.started = time.monotonic()
        self._closed = False
        if already:
            self._line(f"resuming: {already} of {total} already graded")

    def note(self, text: str) -> None:
        """One line about the batch, not its progress (what was cleaned up before it, a recorded
        rescore): shown even when quiet."""
        quiet, self.quiet = self.quiet, False
        try:
            self._line(text)
        finally:
            self.quiet = quiet

    def _line(self, text: str) -> None:
        if self.quiet:
            return
        if self.printer is not None:
            self.printer(text)
        elif self.tty:
            self.stream.write("\r\x1b[K" + text + "\n")
            if not self._closed:
                self._status()
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def _eta(self) -> str:
        if not self.durations:
            return "ETA -"
        remaining = self.total - self.done
        mean = sum(self.durations) / len(self.durations)
        return f"ETA {_duration(remaining * mean / max(1, self.workers))}"

    def _status(self) -> None:
        if self.quiet or not self.tty:
            return
        names = ", ".join(list(self.running)[:3]) + (" ..." if len(self.running) > 3 else "")
        text = f"[{self.done}/{self.total}] grading: {names or '-'} | {self._eta()}"
        self.stream.write("\r\x1b[K" + text[:200])
        self.stream.flush()

    def start(self, learner: str) -> None:
        self.running[learner] = time.monotonic()
        if self.tty:
            self._status()
        elif not self.quiet and self.workers == 1:
            self._line(f"[{self.done + 1}/{self.total}] grading {learner}")

    def finish(self, learner: str, result) -> None:
        started = self.running.pop(learner, None)
        self.durations.append(result.duration_s or (time.monotonic() - (started or time.monotonic())))
        self.done += 1
        detail = f" ({result.status}: {result.reason})" if result.reason else ""
        self._line(f"[{self.done}/{self.total}] {learner}: {result.total:g}/{result.max_total:g} "
                   f"in {result.duration_s:.0f}s{detail} | {self._eta()}")

    def close(self) -> None:
        self._closed = True
        if not self.quiet:
            if self.tty:
                self.stream.write("\r\x1b[K")
            self._line(f"graded {self.total} submission(s) in {_duration(time.monotonic() - self.started)}")
