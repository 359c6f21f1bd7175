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
