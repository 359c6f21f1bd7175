"""Why a part did not pass, in a few words an instructor can group a class by.

Messages start with what failed ("Could not measure validation loss after cell 16: ..."), which
is the same for learners whose notebooks failed for different reasons.  :func:`cause_of` reads
a verdict (its message, its advice, the errors of its graded cell) and names the cause: a model
never trained after the cell that defined it, variables never initialised, placeholders of a
discarded graph, a name that does not exist, ...  A measured value outside its threshold is its
own cause, kept in the message's words (numbers left out).  Pure text, on stored results: the
class summary (:mod:`grader.report.html`) groups by it, old results included.
"""
from __future__ import annotations

import re

from ..results import MISSING, PASSED

# (label, pattern over the message, the advice and the graded cell's error), most specific first.
CAUSES = (
    ("never trained after the cell that defined it",
     re.compile(r"only trained when cell \d+ runs again|no cell after it trains it")),
    ("variables never initialised",
     re.compile(r"uninitiali[sz]ed value|Attempting to use uninitiali[sz]ed|not initiali[sz]ed", re.I)),
    ("placeholders or tensors of a discarded graph (a session reset left them behind)",
     re.compile(r"must be from the same graph|not an element of this graph|belongs? to another graph|"
                r"from a different graph|graph that (?:was )?discarded", re.I)),
    ("a name that does not exist (a typo, a look-alike letter, a cell that did not run)",
     re.compile(r"NameError|is not defined in the notebook|name '[^']+' is not defined")),
    ("predictions that do not follow the inputs (the integrity check)",
     re.compile(r"do not follow the inputs|do not survive a change|Python code inside the graph|"
                r"sent no model", re.I)),
    ("the run stopped before its graded cell (time, memory or a crash)",
     re.compile(r"^Not measured: the run stopped|time budget|the kernel died|memory cap|ran past \d+ s")),
    ("wrong shapes", re.compile(r"^Wrong shapes")),
)


def reason_key(message: str) -> str:
    """A message's first sentence with its numbers as N: verdicts that differ only in values alike."""
    first = re.split(r"(?<=[.:])\s", message.strip(), maxsplit=1)[0]
    return re.sub(r"-?\d+(\.\d+)?", "N", first)[:160]


def cause_of(part, errors=()) -> str:
    """The cause of a part that did not pass, in a few words ("" for a passed part)."""
    if part.status == PASSED:
        return ""
    if part.status == MISSING:
        return "no graded cell (the template's graded cell was removed or changed)"
    # What the verdict says about this part, without the earlier cells' errors that the message
    # quotes as context (grader.judge.score: "Earlier, cell 4 raised ...").
    message = (part.message or "").split(" Earlier, cell ")[0]
    own = [error for error in errors if error.cell == part.cell and not getattr(error, "again", False)]
    texts = [part.advice or "", message] + [f"{e.ename}: {e.evalue}" for e in own]
    if part.status == "failed" and part.measured is not None:
        texts = [part.advice or "", message]  # measured: the model itself is the cause
    for label, pattern in CAUSES:
        if any(pattern.search(text) for text in texts if text):
            return label
    if own and part.measured is None:
        return f"the graded cell raised {own[0].ename}"
    return reason_key(message)
