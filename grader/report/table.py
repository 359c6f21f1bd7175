"""Present results: the per-part table of ``grader check`` and the gradebook files.

The gradebook is computed from the result files and the corrections log
(:mod:`grader.corrections`): totals and part points are the ones that count, and
three columns at the end say how they came to differ from the grader's own
verdict (``grader_total``, ``overridden``, ``corrections``).
"""
from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Iterable

from ..corrections import Corrections, Grade
from ..results import PASSED, SubmissionResult, write_atomic
from ..textutil import csv_text, fmt_value

_MARK = {"passed": "PASS", "failed": "FAIL", "error": "ERROR", "missing": "MISSING"}


def _shown(value, hidden: bool) -> str:
    if hidden:
        return "(hidden)"
    if isinstance(value, float):
        return f"{value:.4f}"
    return fmt_value(value)


def _short(text: str, width: int = 24) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def format_table(result: SubmissionResult, *, width: int = 100, learner_view: bool = True) -> str:
    """A readable per-part table of one submission."""
    lines = [f"{result.assignment} | {result.submission or result.learner} | "
             f"{result.total:g}/{result.max_total:g} points | {result.duration_s:.1f} s"]
    if result.status != "graded":
        lines.append(f"NOT GRADED: {result.reason}")
    elif result.reason:
        lines.append(f"Note: {result.reason}")
    lines += schedule_lines(result)
    idw = max([7] + [len(p.id) for p in result.parts])
    header = f"{'part':<{idw}} {'verdict':<8} {'points':>6}  {'measured':<26} {'claimed':<26} threshold"
    lines += [header, "-" * min(width, len(header) + 12)]
    for part in result.parts:
        hide = part.hidden and learner_view
        claimed = part.claimed
        if isinstance(claimed, str) and len(claimed) > 26:
            claimed = claimed[:25] + "…"
        measured = part.measured
        if isinstance(measured, str) and len(measured) > 26:
            measured = measured[:25] + "…"
        lines.append(f"{part.id:<{idw}} {_MARK.get(part.status, part.status):<8} "
                     f"{part.points:>3g}/{part.max_points:<2g}  {_shown(measured, hide):<26} "
                     f"{_shown(claimed, False):<26} {_short(part.threshold) if not hide else ''}")
        if part.message:
            message = part.message if not hide else "(measured on hidden data)"
            lines += textwrap.wrap(message, width=width, initial_indent="        ",
                                   subsequent_indent="        ")
    if result.errors:
        lines.append("Cells that raised in the re-run:")
        lines += [textwrap.shorten(f"  {e.summary()}", width=width) for e in result.errors]
    if result.notes:
        lines += [f"note: {n}" for n in result.notes]
    return "\n".join(lines)


def schedule_lines(result: SubmissionResult) -> list[str]:
    """The order the cells ran in, in one line, and the warning of a notebook that passes only as
    the learner ran it (``grader check``: :func:`grader.api.check` compares with a clean run)."""
    schedule = result.schedule or {}
    lines = [schedule["text"]] if schedule.get("text") else []
    warning = (schedule.get("clean_run") or {}).get("warning")
    if warning:
        lines.append(f"WARNING: {warning}")
    return lines


def gradebook_rows(results: Iterable[SubmissionResult], *,
                   corrections: Corrections | None = None) -> tuple[list[str], list[dict]]:
    """Columns and one row per learner: total, per-part points, status and reason.

    With ``corrections``, points and totals are those that count (rescores and
    overrides applied; the result files are left as measured).
    """
    grades = (corrections or Corrections()).grades(results)
    results = [grade.result for grade in grades]
    part_ids: list[str] = []
    reported: list[str] = []
    for result in results:
        for part in result.parts:
            if part.id not in part_ids:
                part_ids.append(part.id)
            for split in part.reported:
                if f"{part.id}@{split}" not in reported:
                    reported.append(f"{part.id}@{split}")
    # Instructors' view: also the values measured on other splits (hidden from learners).
    columns = ["learner", "submission", "status", "total", "max_total"] + part_ids + [
        "failed_parts", "reason", "duration_s"] + reported + CORRECTION_COLUMNS
    rows = []
    for grade in sorted(grades, key=lambda g: (g.result.learner, g.result.submission)):
        result = grade.result
        row = {"learner": result.learner, "submission": result.submission, "status": result.status,
               "total": f"{result.total:g}", "max_total": f"{result.max_total:g}",
               "duration_s": f"{result.duration_s:.1f}"}
        for part in result.parts:
            row[part.id] = f"{part.points:g}"
            for split, entry in part.reported.items():
                value = entry.get("value")
                row[f"{part.id}@{split}"] = f"{value:.4f}" if isinstance(value, float) else ""
        failing = [p for p in result.parts if p.status != PASSED]
        row["failed_parts"] = " ".join(f"{p.id}:{p.status}" for p in failing)
        reasons = [result.reason] if result.reason else []
        reasons += [f"{p.id}: {p.message}" for p in failing if p.message]
        row["reason"] = " | ".join(reasons)
        row.update(correction_cells(grade))
        rows.append(row)
    return columns, rows


def write_gradebook(results: Iterable[SubmissionResult], out: Path, *,
                    corrections: Corrections | None = None) -> tuple[Path, Path]:
    """Write gradebook.csv and gradebook.json into ``out``, corrections of ``out`` applied."""
    corrections = Corrections.load(out) if corrections is None else corrections
    columns, rows = gradebook_rows(results, corrections=corrections)
    csv_path, json_path = out / "gradebook.csv", out / "gradebook.json"
    write_atomic(csv_path, gradebook_csv(columns, rows))
    write_atomic(json_path, json.dumps({"columns": columns, "rows": rows}, indent=2, ensure_ascii=False))
    return csv_path, json_path


# The gradebook's text: learner ids, file names, statuses and messages (learner text, or quoting
# it); every other column is a number the grader formatted (points, totals, seconds).
GRADEBOOK_TEXT_COLUMNS = ("learner", "submission", "status", "failed_parts", "reason", "overridden",
                          "corrections")


def gradebook_csv(columns: list[str], rows: list[dict]) -> str:
    """``gradebook.csv``'s text (``grader grade``, ``report``, the service's ``/instructor/gradebook.csv``):
    text cells neutralised against formula injection (:func:`grader.textutil.spreadsheet_text`)."""
    return csv_text(columns, rows, text_columns=GRADEBOOK_TEXT_COLUMNS)


def format_gradebook(results: Iterable[SubmissionResult], *,
                     corrections: Corrections | None = None) -> str:
    """The gradebook as a plain-text table for the terminal (overridden points marked ``*``)."""
    columns, rows = gradebook_rows(results, corrections=corrections)
    shown = [c for c in columns if c not in ("submission", "reason", "max_total", "failed_parts")
             and "@" not in c and c not in CORRECTION_COLUMNS]
    rows = [_marked(row) for row in rows]
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) if rows else len(c) for c in shown}
    lines = ["  ".join(c.ljust(widths[c]) for c in shown)]
    lines.append("  ".join("-" * widths[c] for c in shown))
    for row in rows:
        lines.append("  ".join(str(row.get(c, "")).ljust(widths[c]) for c in shown))
        if row["failed_parts"]:
            lines.append("    " + textwrap.shorten(row["reason"] or row["failed_parts"], 160))
    if any(row["overridden"] for row in rows):
        lines.append("* overridden by course staff (grader override OUT --list; gradebook.csv: "
                     "corrections)")
    return "\n".join(lines)


# --- corrections (grader.corrections) in the gradebook --------------------------------------------

CORRECTION_COLUMNS = ["grader_total", "overridden", "corrections"]


def correction_cells(grade: Grade) -> dict:
    """The gradebook's correction columns for one learner.

    ``grader_total``: the grader's own total (rescores included, overrides not);
    ``overridden``: the overridden part ids; ``corrections``: each override (points,
    who, when, why, and whether the measurement under it changed since) and rescore.
    """
    notes = []
    for part, override in grade.overrides.items():
        text = (f"{part} overridden to {override.points:g} (grader: "
                f"{grade.judged[part].points:g}) by {override.by} on {override.at[:10]}: "
                f"{override.reason}")
        if override.changed:
            text += f" [CHECK: {override.changed}]"
        notes.append(text)
    for part, rescored in grade.rescored.items():
        now = grade.judged[part]
        notes.append(f"{part} rescored on {rescored.at[:10]}: {rescored.before['status']} "
                     f"{rescored.before['points']:g} -> {now.status} {now.points:g} "
                     f"(rule {now.threshold})")
    if grade.penalty is not None:
        notes.append(f"late penalty {grade.penalty.fraction:.0%} ({grade.penalty.reason})")
    return {"grader_total": f"{grade.grader_total:g}", "overridden": " ".join(grade.overrides),
            "corrections": " | ".join(notes)}


def _marked(row: dict) -> dict:
    marked = dict(row)
    for part in row["overridden"].split():
        marked[part] = f"{row[part]}*"
    return marked
