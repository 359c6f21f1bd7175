"""What ``%grader_check`` shows in the learner's notebook: progress while it runs, the verdicts after.

Each view is a MIME bundle (``{"text/plain": ..., "text/html": ...}``) for
IPython's ``display``/``update_display``: notebook front ends (JupyterLab,
Notebook 7, VS Code, Colab) show the HTML, terminal front ends (IPython,
``jupyter console``) the text.  The HTML comes from Jinja2 templates with
autoescaping, like the feedback pages, and holds only what the learner may see
(values measured on hidden data are left out).
"""
from __future__ import annotations

from ..events import (CellFinished, CellStarted, CleanRunStarted, Event, Finished, KernelReady,
                      KernelStarting, PartJudged, Started)
from ..results import SubmissionResult
from .html import _learner_view, _render
from .live import VERDICT, cell_label, clean_run_line, part_line, started_line
from .table import format_table, schedule_lines

_LINE_STYLE = {"passed": "color:#11632f;font-weight:600", "failed": "color:#9b1c13;font-weight:600",
               "error": "color:#7a5200;font-weight:600", "missing": "color:#3d4452;font-weight:600",
               "dim": "color:#5b6475", "raised": "color:#9b1c13", "": ""}
_BADGE = {"passed": "background:#d9f2e1;color:#11632f", "failed": "background:#fde2e0;color:#9b1c13",
          "error": "background:#fff0cc;color:#7a5200", "missing": "background:#e7e9ee;color:#3d4452",
          "ungradable": "background:#fde2e0;color:#9b1c13"}


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


class InlineProgress:
    """The progress view of one check: lines that stay (verdicts, errors) and a status line."""

    def __init__(self, header: str):
        self.header = header
        self.lines: list[tuple[str, str]] = []   # (text, style key)
        self.status = "starting grader check"
        self.since = 0.0                         # when the current status began (seconds)

    def add(self, event: Event) -> None:
        """Take one event of the check (see :mod:`grader.events`)."""
        if isinstance(event, Started):
            self.lines.append((started_line(event), "dim"))
        elif isinstance(event, KernelStarting):
            self.status, self.since = "starting a fresh kernel", event.elapsed
        elif isinstance(event, KernelReady):
            self.lines.append((f"kernel ready in {event.seconds:.1f} s", "dim"))
        elif isinstance(event, CellStarted):
            self.status, self.since = f"{cell_label(event)}: {event.first_line}", event.elapsed
        elif isinstance(event, CellFinished) and event.status != "ok":
            what = "timed out" if event.status == "timeout" else "raised"
            self.lines.append((f"{cell_label(event)} {what}: {event.error}", "raised"))
        elif isinstance(event, CleanRunStarted):
            self.lines.append((clean_run_line(event), "dim"))
        elif isinstance(event, PartJudged):
            self.lines.append((part_line(event.part), event.part.status))
        elif isinstance(event, Finished):
            self.status = ""

    def bundle(self, elapsed: float) -> dict:
        """The view now; ``elapsed`` is the seconds since the check started."""
        status = f"{self.status} ({_clock(elapsed)})" if self.status else ""
        text = "\n".join([self.header, *(line for line, _ in self.lines)] + ([status] if status else []))
        html = _render("inline_progress.html.j2", header=self.header, status=status,
                       lines=[{"text": line, "style": _LINE_STYLE.get(style, "")} for line, style in self.lines])
        return {"text/plain": text, "text/html": html}


def result_bundle(result: SubmissionResult, *, saved: str, heading: str = "") -> dict:
    """The verdict table of a finished check, with which saved version it was (``saved``)."""
    status = result.status if result.status != "graded" else ("passed" if result.passed else "failed")
    footer = (f"The verdict comes from a clean re-run of the saved notebook in a fresh kernel "
              f"({_order_words(result)}), as in the real grading; values are measured by the grader, not "
              f"taken from what the notebook printed.")
    html = _render("inline_result.html.j2", heading=heading or result.assignment, total=result.total,
                   max_total=result.max_total, status=status, saved=saved, reason=result.reason,
                   parts=[_learner_view(part) for part in result.parts],
                   errors=[error.summary() for error in result.errors],
                   notes=[*schedule_lines(result), *result.notes],
                   footer=footer, badge=_BADGE)
    return {"text/plain": f"{saved}\n{format_table(result)}", "text/html": html}


def error_bundle(message: str) -> dict:
    """A check that could not run (a usage error, a fault of the grader): its one line."""
    from html import escape

    return {"text/plain": message,
            "text/html": f'<div style="background:#fde2e0;color:#9b1c13;padding:.4em .7em;'
                         f'border-left:4px solid #9b1c13">{escape(message)}</div>'}


__all__ = ["InlineProgress", "VERDICT", "error_bundle", "result_bundle"]


def _order_words(result: SubmissionResult) -> str:
    """How the re-run ordered the cells, for a footer."""
    return "as you ran it" if (result.schedule or {}).get("order") == "as-run" else "top to bottom"
