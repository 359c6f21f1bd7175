"""Small text helpers shared by the stages."""
from __future__ import annotations

import re

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def strip_ansi(text: str) -> str:
    """Remove terminal colour and control sequences (IPython tracebacks carry them)."""
    return _ANSI.sub("", text)


def first_line(source: str, width: int = 60) -> str:
    """The first non-empty line of a cell's source, shortened for messages."""
    for line in source.splitlines():
        line = line.strip()
        if line:
            return line if len(line) <= width else line[: width - 1] + "…"
    return ""


def fmt_value(value) -> str:
    """A measured or claimed value as a learner reads it."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def stable_text(text: str) -> str:
    """Drop memory addresses (``<Graph object at 0x7f...>``) so that messages repeat exactly."""
    return _ADDRESS.sub("", text)


def safe_name(learner: str) -> str:
    """A file name for a learner id (any letters and spaces kept; separators replaced).

    Results, executed notebooks and feedback pages of one learner share it.
    """
    name = "".join("_" if c in "/\\\0" or ord(c) < 32 else c for c in learner).strip()
    return ("_" + name) if name.startswith(".") or not name else name


# --- CSV files a spreadsheet opens ------------------------------------------------------------

# OWASP, "CSV Injection": a spreadsheet evaluates a cell that starts with one of these (a formula,
# or a DDE call after a tab or a carriage return), whatever the CSV's quoting.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(text: str) -> str:
    """``text`` as a CSV text cell that a spreadsheet shows and never runs.

    A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading
    single quote (OWASP's rule), so that ``=HYPERLINK(...) x.ipynb`` stays a file name.  Only
    for text: a number the grader formats itself (``-0.5``) is written as it is.
    """
    return "'" + text if isinstance(text, str) and text.startswith(_FORMULA_START) else text


def csv_text(columns: list[str], rows, *, text_columns, header: bool = True, lineterminator: str = "\r\n") -> str:
    """A CSV file's text: ``rows`` (dicts keyed by column, or sequences in column order) under
    ``columns``, the cells of ``text_columns`` made :func:`spreadsheet_text`.

    Every CSV the grader writes goes through here: learner ids, file names, names and messages
    are learner text; the other columns hold what the grader formatted itself (points, times).
    """
    import csv
    import io

    text_columns = set(text_columns)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=lineterminator)
    if header:
        writer.writerow(columns)
    for row in rows:
        cells = [row.get(c, "") for c in columns] if isinstance(row, dict) else list(row)
        writer.writerow([spreadsheet_text(cell) if column in text_columns else cell
                         for column, cell in zip(columns, cells)])
    return buffer.getvalue()
