"""Corrections of grades: an append-only log beside the results, and the grade it makes.

Result files (``OUT/results/LEARNER.json``) stay what the grader measured.  What
course staff change afterwards - an override of a part's points, a rescore of
stored measurements under new thresholds - is an *event* appended to the log
``OUT/corrections.sqlite`` (:mod:`grader.corrections.log`), with who, when, which
part, the points before and after, and why.  The grade that counts is computed
from both, in one place: :meth:`Corrections.grade` (:mod:`grader.corrections.grades`),
used by the gradebook, the feedback pages, the class summary and posting.

::

    results/LEARNER.json ──┐
                           ├─► Corrections.grade(result) ─► Grade ─► report, post
    corrections.sqlite ────┘      (rescored verdicts, then overrides)

:mod:`grader.corrections.rescore` judges stored measurements again with the kind
table's rules (no notebook runs); :mod:`grader.corrections.overrides` records and
checks overrides.  This stage sits above ``judge`` and ``results`` and below
``report``, ``post`` and ``batch``.
"""
from __future__ import annotations

from .grades import Corrections, Grade, Override, Rescored, result_id
from .log import LOG_FILE, Event

__all__ = ["Corrections", "Grade", "Override", "Rescored", "result_id", "LOG_FILE", "Event"]
