"""Self-contained HTML reports: one feedback page per learner, one class summary.

Pages carry their pictures inline (base64 PNG) and their style inline, so a
page can be mailed, uploaded to an LMS or opened from a zip.  Values measured
on data the assignment marks as hidden are never shown on learner pages.
"""
from __future__ import annotations

import base64
import collections
import html
import io
import json
import re
from pathlib import Path
from typing import Iterable

from ..results import PASSED, SubmissionResult, write_atomic
from ..textutil import safe_name

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1000px;margin:2em auto;
padding:0 1em;color:#1d2330;line-height:1.45}
h1{font-size:1.5em;margin-bottom:.2em}.sub{color:#5b6475;margin-top:0}
table{border-collapse:collapse;width:100%;margin:1em 0}th,td{border-bottom:1px solid #dde2ea;
padding:.45em .6em;text-align:left;vertical-align:top}th{background:#f3f5f9}
.badge{display:inline-block;padding:.1em .55em;border-radius:.8em;font-weight:600;font-size:.85em}
.passed{background:#d9f2e1;color:#11632f}.failed{background:#fde2e0;color:#9b1c13}
.error{background:#fff0cc;color:#7a5200}.missing{background:#e7e9ee;color:#3d4452}
.ungradable{background:#fde2e0;color:#9b1c13}
pre{background:#f6f8fa;border:1px solid #e1e4e8;padding:.7em;overflow-x:auto;font-size:.85em}
.total{font-size:1.3em;font-weight:700}figure{margin:1em 0}figcaption{color:#5b6475;font-size:.9em}
img{max-width:100%;border:1px solid #e1e4e8}.note{background:#eef4ff;border-left:4px solid #4a7bd0;
padding:.5em .8em;margin:.5em 0}
"""


def _e(value) -> str:
    return html.escape("" if value is None else str(value))


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>\n{body}\n</body></html>\n")


def _value(value, hidden: bool) -> str:
    if hidden:
        return "<em>hidden</em>"
    if isinstance(value, float):
        return f"{value:.4f}"
    return _e("-" if value is None else value)


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
                  images: list[tuple[int, str]] = ()) -> str:
    """The learner's feedback page."""
    status = result.status if result.status != "graded" else ("passed" if result.passed else "failed")
    body = [f"<h1>{_e(assignment_title or result.assignment)}</h1>",
            f"<p class=\"sub\">Learner <strong>{_e(result.learner)}</strong> · {_e(result.submission)}"
            f" · graded {_e(result.started_at)} · grader {_e(result.harness_version)}</p>",
            f"<p class=\"total\" id=\"total\">{result.total:g} / {result.max_total:g} points "
            f"<span class=\"badge {status}\">{_e(status)}</span></p>"]
    if result.reason:
        body.append(f"<p class=\"note\" id=\"reason\">{_e(result.reason)}</p>")
    body.append("<table id=\"parts\"><thead><tr><th>Part</th><th>Verdict</th><th>Points</th>"
                "<th>Measured</th><th>You reported</th><th>Required</th></tr></thead><tbody>")
    for part in result.parts:
        hidden = part.hidden
        body.append(
            f"<tr class=\"part\" data-part=\"{_e(part.id)}\"><td><strong>{_e(part.id)}</strong><br>"
            f"{_e(part.description)}</td><td><span class=\"badge {_e(part.status)}\">{_e(part.status)}"
            f"</span></td><td>{part.points:g} / {part.max_points:g}</td><td>{_value(part.measured, hidden)}"
            f"</td><td>{_value(part.claimed, False)}</td><td>{'' if hidden else _e(part.threshold)}</td></tr>")
        message = "This part was measured on hidden data." if hidden else part.message
        if message:
            body.append(f"<tr class=\"message\"><td></td><td colspan=\"5\">{_e(message)}</td></tr>")
    body.append("</tbody></table>")
    if result.errors:
        body.append("<h2>Cells that raised in the re-run</h2>")
        for error in result.errors:
            body.append(f"<h3>Cell {error.cell}: {_e(error.ename)}</h3><p>{_e(error.evalue)}</p>"
                        f"<pre class=\"source\">{_e(error.source)}</pre>"
                        + (f"<pre class=\"traceback\">{_e(error.traceback)}</pre>" if error.traceback else ""))
    if images:
        body.append("<h2>Your notebook's plots in the re-run</h2>")
        for cell, data in images:
            body.append(f"<figure><img alt=\"plot from cell {cell}\" src=\"data:image/png;base64,{data}\">"
                        f"<figcaption>Cell {cell}</figcaption></figure>")
    if result.notes:
        body.append("<h2>Notes</h2>" + "".join(f"<p class=\"note\">{_e(n)}</p>" for n in result.notes))
    body.append(f"<p class=\"sub\">The grade comes from a clean top-to-bottom re-run of your notebook "
                f"({result.duration_s:.0f} s); values are measured by the grader, not taken from "
                f"what the notebook printed or reported.</p>")
    return _page(f"{result.learner} - {assignment_title or result.assignment}", "\n".join(body))


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


def _reason_key(message: str) -> str:
    first = re.split(r"(?<=[.:])\s", message.strip(), maxsplit=1)[0]
    return re.sub(r"-?\d+(\.\d+)?", "N", first)[:160]


def summary_page(results: list[SubmissionResult], *, assignment_title: str = "") -> str:
    """The class summary: pass rate per part, score histogram, common failures, slowest notebooks."""
    parts: list[str] = []
    for result in results:
        for part in result.parts:
            if part.id not in parts:
                parts.append(part.id)
    rates = {p: sum(1 for r in results for x in r.parts if x.id == p and x.status == PASSED)
             / max(1, len(results)) for p in parts}
    totals = [r.total for r in results]
    max_total = max((r.max_total for r in results), default=0)
    reasons = collections.Counter()
    for result in results:
        if result.status != "graded":
            reasons[f"not graded: {_reason_key(result.reason)}"] += 1
        for part in result.parts:
            if part.status != PASSED and result.status == "graded":
                reasons[f"{part.id}: {_reason_key(part.message)}"] += 1
    slowest = sorted(results, key=lambda r: r.duration_s, reverse=True)[:10]

    body = [f"<h1>{_e(assignment_title)} - class summary</h1>",
            f"<p class=\"sub\" id=\"counts\">{len(results)} submissions · "
            f"{sum(r.status == 'graded' for r in results)} graded · "
            f"{sum(r.status != 'graded' for r in results)} could not be graded · "
            f"{sum(r.passed for r in results)} passed every part · mean score "
            f"{(sum(totals) / len(totals)) if totals else 0:.2f} / {max_total:g}</p>"]
    if results:
        body.append("<h2>Pass rate per part</h2>")
        chart = _figure(lambda ax: (ax.bar(parts, [100 * rates[p] for p in parts], color="#4a7bd0"),
                                    ax.set_ylim(0, 100), ax.set_ylabel("% passed")))
        body.append(f"<img id=\"pass-rate\" alt=\"pass rate per part\" src=\"data:image/png;base64,{chart}\">")
        body.append("<table id=\"rates\"><tr><th>Part</th><th>Passed</th></tr>" + "".join(
            f"<tr><td>{_e(p)}</td><td>{100 * rates[p]:.0f}%</td></tr>" for p in parts) + "</table>")
        body.append("<h2>Scores</h2>")
        bins = [x - 0.5 for x in range(int(max_total) + 2)] if max_total else 10
        def histogram(ax):
            from matplotlib.ticker import MaxNLocator

            ax.hist(totals, bins=bins, color="#11632f", rwidth=0.85)
            ax.set_xlabel("points")
            ax.set_ylabel("learners")
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))

        chart = _figure(histogram)
        body.append(f"<img id=\"histogram\" alt=\"score histogram\" src=\"data:image/png;base64,{chart}\">")
    body.append("<h2>Most common failure reasons</h2><table id=\"reasons\"><tr><th>Reason</th>"
                "<th>Learners</th></tr>" + "".join(
                    f"<tr><td>{_e(reason)}</td><td>{count}</td></tr>"
                    for reason, count in reasons.most_common(10)) + "</table>")
    body.append("<h2>Slowest notebooks</h2><table id=\"slowest\"><tr><th>Learner</th><th>Seconds</th>"
                "<th>Status</th></tr>" + "".join(
                    f"<tr><td><a href=\"feedback/{_e(safe_name(r.learner))}.html\">{_e(r.learner)}</a></td>"
                    f"<td>{r.duration_s:.0f}</td><td>{_e(r.status)}</td></tr>" for r in slowest) + "</table>")
    return _page(f"{assignment_title} - class summary", "\n".join(body))


def write_reports(results: Iterable[SubmissionResult], out: Path, *, assignment_title: str = "") -> Path:
    """Write ``feedback/LEARNER.html`` for each result and ``summary.html``; returns the summary."""
    results = list(results)
    for result in results:
        images = notebook_images(out / "executed" / f"{safe_name(result.learner)}.ipynb")
        write_atomic(out / "feedback" / f"{safe_name(result.learner)}.html",
                     feedback_page(result, assignment_title=assignment_title, images=images))
    summary = out / "summary.html"
    write_atomic(summary, summary_page(results, assignment_title=assignment_title))
    return summary


def load_results(out: Path) -> list[SubmissionResult]:
    """Every result file of a results folder."""
    results = []
    for path in sorted((out / "results").glob("*.json")):
        try:
            results.append(SubmissionResult.from_json(path.read_text(encoding="utf-8")))
        except (ValueError, TypeError, KeyError):
            continue
    return results
