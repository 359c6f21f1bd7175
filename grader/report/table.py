"""Present results: the per-part table of ``grader check`` and the gradebook files."""
from __future__ import annotations

import csv
import io
import json
import textwrap
from pathlib import Path
from typing import Iterable

from ..results import PASSED, SubmissionResult, write_atomic
from ..textutil import fmt_value

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


def gradebook_rows(results: Iterable[SubmissionResult]) -> tuple[list[str], list[dict]]:
    """Columns and one row per learner: total, per-part points, status and reason."""
    results = list(results)
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
        "failed_parts", "reason", "duration_s"] + reported
    rows = []
    for result in sorted(results, key=lambda r: (r.learner, r.submission)):
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
        rows.append(row)
    return columns, rows


def write_gradebook(results: Iterable[SubmissionResult], out: Path) -> tuple[Path, Path]:
    """Write gradebook.csv and gradebook.json into ``out``."""
    columns, rows = gradebook_rows(results)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    csv_path, json_path = out / "gradebook.csv", out / "gradebook.json"
    write_atomic(csv_path, buffer.getvalue())
    write_atomic(json_path, json.dumps({"columns": columns, "rows": rows}, indent=2, ensure_ascii=False))
    return csv_path, json_path


def format_gradebook(results: Iterable[SubmissionResult]) -> str:
    """The gradebook as a plain-text table for the terminal."""
    columns, rows = gradebook_rows(results)
    shown = [c for c in columns if c not in ("submission", "reason", "max_total", "failed_parts")
             and "@" not in c]
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) if rows else len(c) for c in shown}
    lines = ["  ".join(c.ljust(widths[c]) for c in shown)]
    lines.append("  ".join("-" * widths[c] for c in shown))
    for row in rows:
        lines.append("  ".join(str(row.get(c, "")).ljust(widths[c]) for c in shown))
        if row["failed_parts"]:
            lines.append("    " + textwrap.shorten(row["reason"] or row["failed_parts"], 160))
    return "\n".join(lines)
