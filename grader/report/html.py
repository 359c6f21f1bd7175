"""Self-contained HTML reports: one feedback page per learner, one class summary.

Pages carry their pictures inline (base64 PNG) and their style inline, so a
page can be mailed, uploaded to an LMS or opened from a zip.  Values measured
on data the assignment marks as hidden are never shown on learner pages.
Points are those that count: the corrections log of the results folder
(:mod:`grader.corrections`) is applied, and a corrected part says so, with the
instructor's reason.
"""
from __future__ import annotations

import base64
import collections
import functools
import io
import json
from pathlib import Path
from typing import Iterable

from ..corrections import Corrections, Grade
from ..judge.causes import cause_of, reason_key
from ..results import PASSED, PartResult, SubmissionResult, write_atomic
from ..textutil import safe_name

TEMPLATES = Path(__file__).parent / "templates"
SIMILARITY_FILE = "similarity.html"  # written by grader.similarity into the same folder
_NAMED = 5  # learners named per failure cause on the summary (the count says how many in all)


@functools.cache
def _environment():
    """The one Jinja2 environment of the process, built when the first page is rendered."""
    # jinja2 takes about 50 ms to import (python -X importtime): it loads with the first page
    # so that importing this module stays cheap.
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        # Every template is HTML and learner ids, messages and cell sources are learner text:
        # all of it is escaped unless a template marks it otherwise (none does).
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a misspelt name in a template is a grader bug: fail
        finalize=lambda value: "" if value is None else value,  # None prints as nothing, not "None"
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    environment.filters["shown"] = _shown
    return environment


def warm() -> None:
    """Import Jinja2 and compile every template now (a service at its start: not with the first
    grading it publishes, on the interpreter's lock its HTTP answers share)."""
    for template in sorted(TEMPLATES.glob("*.j2")):
        _environment().get_template(template.name)


def _render(template: str, **context) -> str:
    return _environment().get_template(template).render(**context)


def render_page(template: str, **context) -> str:
    """Render one of ``templates/`` with the package's environment (autoescaped): for other stages'
    instructor pages, such as the similarity report (:mod:`grader.similarity`)."""
    return _render(template, **context)


def _shown(value) -> str:
    """A measured or reported value as a table cell shows it."""
    if isinstance(value, float):
        return f"{value:.4f}"
    return "-" if value is None else str(value)


def notebook_images(executed: Path, limit: int = 6) -> list[tuple[int, str]]:
    """PNG pictures the re-run produced (training curves), as (code cell number, base64)."""
    try:
        notebook = json.loads(executed.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    images, number = [], 0
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        number += 1
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            png = data.get("image/png")
            if png:
                images.append((number, "".join(png) if isinstance(png, list) else png))
    # The last pictures are the finished curves (earlier ones are often the data samples).
    return images[-limit:]


def feedback_page(result: SubmissionResult, *, assignment_title: str = "",
                  images: list[tuple[int, str]] = (), corrections: Corrections | None = None) -> str:
    """The learner's feedback page.

    ``images`` are (code cell number, base64 PNG) pairs, as :func:`notebook_images` returns.
    ``corrections``: the results folder's log; its overrides and rescores are applied and shown.
    """
    grade = (corrections or Corrections()).grade(result)
    result = grade.result
    status = result.status if result.status != "graded" else ("passed" if result.passed else "failed")
    # The template gets named fields, not the result, so it cannot reach a hidden value.
    return _render("feedback.html.j2",
                   heading=assignment_title or result.assignment, learner=result.learner,
                   submission=result.submission, started_at=result.started_at,
                   harness_version=result.harness_version, total=result.total,
                   max_total=result.max_total, status=status, reason=result.reason,
                   parts=[{**_learner_view(part), "correction": _correction_note(grade, part.id)}
                          for part in result.parts], errors=[_error_view(error) for error in result.errors],
                   schedule=(result.schedule or {}).get("text", ""),
                   as_run=(result.schedule or {}).get("order") == "as-run",
                   warning=((result.schedule or {}).get("clean_run") or {}).get("warning", ""),
                   images=images, notes=result.notes, duration_s=result.duration_s,
                   penalty=(f"Submitted late: {grade.penalty.fraction:.0%} of the points were taken "
                            f"off ({grade.penalty.reason})." if grade.penalty is not None else ""))


def _learner_view(part: PartResult) -> dict:
    """What a learner may see of a part: values measured on hidden data are left out."""
    return {"id": part.id, "description": part.description, "status": part.status,
            "points": part.points, "max_points": part.max_points, "hidden": part.hidden,
            "measured": None if part.hidden else part.measured, "claimed": part.claimed,
            "threshold": "" if part.hidden else part.threshold,
            "message": "This part was measured on hidden data." if part.hidden else part.message}


def _error_view(error) -> dict:
    """What a learner reads of a cell's error: the cause, and the lines of their own cells it went
    through (never the kernel's, asyncio's or site-packages' frames, nor the grading machine's
    paths, which the result keeps for whoever debugs the grader)."""
    return {"cell": error.cell, "again": error.again, "ename": error.ename, "headline": error.headline(),
            "frames": error.frames, "source": error.source}


def _correction_note(grade: Grade, part_id: str) -> str:
    """What the learner is told about a corrected part (no hidden value, no staff-only note)."""
    notes = []
    rescored = grade.rescored.get(part_id)
    if rescored is not None:
        before = rescored.before
        notes.append(f"Judged again on {rescored.at[:10]} with updated pass rules, without "
                     f"re-running your notebook (it was {before['status']}, "
                     f"{before['points']:g} point(s)).")
    override = grade.overrides.get(part_id)
    if override is not None:
        notes.append(f"Your instructor set this part to {override.points:g} point(s) on "
                     f"{override.at[:10]} (the grader gave {grade.judged[part_id].points:g}): "
                     f"{override.reason}")
    return " ".join(notes)


def _figure(draw) -> str:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=100)
    draw(ax)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def summary_page(results: list[SubmissionResult], *, assignment_title: str = "",
                 corrections: Corrections | None = None, similarity: str = "") -> str:
    """The class summary: pass rate per part, score histogram, common failures, slowest notebooks.

    Scores are those that count (``corrections`` applied); pass rates are the grader's verdicts.
    ``similarity``: the similarity report's file name, linked when it exists (instructors only).
    """
    grades = (corrections or Corrections()).grades(results)
    results = [grade.result for grade in grades]
    parts: list[str] = []
    for result in results:
        for part in result.parts:
            if part.id not in parts:
                parts.append(part.id)
    percents = {p: 100 * (sum(1 for r in results for x in r.parts if x.id == p and x.status == PASSED)
                          / max(1, len(results))) for p in parts}
    totals = [r.total for r in results]
    max_total = max((r.max_total for r in results), default=0)
    # Failures grouped by cause (grader.judge.causes), not by the message's first words: "Could
    # not measure validation loss after cell 16" is said of models never trained, of graphs
    # discarded and of names that do not exist alike.
    reasons: dict[str, list[str]] = collections.defaultdict(list)
    for result in results:
        if result.status != "graded":
            reasons[f"not graded: {reason_key(result.reason)}"].append(result.learner)
        for part in result.parts:
            if part.status != PASSED and result.status == "graded":
                reasons[f"{part.id}: {cause_of(part, result.errors)}"].append(result.learner)
    common = sorted(reasons.items(), key=lambda item: (-len(item[1]), item[0]))[:10]
    slowest = sorted(results, key=lambda r: r.duration_s, reverse=True)[:10]
    counts = {"submissions": len(results), "graded": sum(r.status == "graded" for r in results),
              "ungradable": sum(r.status != "graded" for r in results),
              "passed": sum(r.passed for r in results),
              "mean": sum(totals) / len(totals) if totals else 0, "max_total": max_total,
              "overridden": sum(bool(g.overrides) for g in grades),
              "rescored": sum(bool(g.rescored) for g in grades)}
    return _render("summary.html.j2", heading=assignment_title, counts=counts, similarity=similarity,
                   charts=_summary_charts(percents, totals, max_total) if results else None,
                   rates=list(percents.items()),
                   reasons=[(reason, len(learners), [{"learner": learner, "page": safe_name(learner)}
                                                     for learner in learners[:_NAMED]])
                            for reason, learners in common],
                   slowest=[{"learner": r.learner, "page": safe_name(r.learner),
                             "duration_s": r.duration_s, "status": r.status} for r in slowest])


def _summary_charts(percents: dict[str, float], totals: list[float], max_total: float) -> dict:
    """The summary's two pictures, base64 PNG: pass rate per part and the score histogram."""
    def pass_rate(ax):
        ax.bar(list(percents), list(percents.values()), color="#4a7bd0")
        ax.set_ylim(0, 100)
        ax.set_ylabel("% passed")

    def histogram(ax):
        from matplotlib.ticker import MaxNLocator

        # One bar per whole point when the maximum is known.
        bins = [x - 0.5 for x in range(int(max_total) + 2)] if max_total else 10
        ax.hist(totals, bins=bins, color="#11632f", rwidth=0.85)
        ax.set_xlabel("points")
        ax.set_ylabel("learners")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))

    return {"pass_rate": _figure(pass_rate), "histogram": _figure(histogram)}


def write_reports(results: Iterable[SubmissionResult], out: Path, *, assignment_title: str = "",
                  corrections: Corrections | None = None,
                  learners: Iterable[str] | None = None) -> Path:
    """Write ``feedback/LEARNER.html`` for each result and ``summary.html``; returns the summary.

    The corrections log of ``out`` is applied unless ``corrections`` is given;
    ``learners`` limits the feedback pages rewritten (after a correction of a few).
    """
    results = list(results)
    corrections = Corrections.load(out) if corrections is None else corrections
    only = set(learners) if learners is not None else None
    for result in results:
        if only is not None and result.learner not in only:
            continue
        images = notebook_images(out / "executed" / f"{safe_name(result.learner)}.ipynb")
        write_atomic(out / "feedback" / f"{safe_name(result.learner)}.html",
                     feedback_page(result, assignment_title=assignment_title, images=images,
                                   corrections=corrections))
    return write_summary(results, out, assignment_title=assignment_title, corrections=corrections)


def write_summary(results: list[SubmissionResult], out: Path, *, assignment_title: str = "",
                  corrections: Corrections | None = None) -> Path:
    """Write ``summary.html``; it links the similarity report when ``out`` has one."""
    summary = out / "summary.html"
    # The similarity report (grader similarity) is linked from here only: never from feedback pages.
    similarity = SIMILARITY_FILE if (out / SIMILARITY_FILE).is_file() else ""
    if corrections is None:
        corrections = Corrections.load(out)
    write_atomic(summary, summary_page(results, assignment_title=assignment_title,
                                       corrections=corrections, similarity=similarity))
    return summary
