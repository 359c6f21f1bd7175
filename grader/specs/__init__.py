"""Stage 1, the specification: what an assignment is, read from its TOML files and data.

* :mod:`grader.specs.model`: ``assignment.toml`` and ``thresholds.toml`` read into
  frozen dataclasses (:class:`Assignment`, :class:`Part`, :class:`Threshold`, ...).
* :mod:`grader.specs.data`: the data files an assignment declares, found, fetched,
  built and verified; the splits' inputs and labels.

Nothing here knows how a part is graded: the spec names a part's kind, and the
kind table (:mod:`grader.judge.kinds`) knows the rest.
"""
from .model import (ASSIGNMENT_FILE, THRESHOLDS_FILE, Assignment, DataFile, KernelSpec, Part,
                    Split, SubmissionPolicy, Threshold, describe, read_assignment)

__all__ = ["ASSIGNMENT_FILE", "THRESHOLDS_FILE", "Assignment", "DataFile", "KernelSpec", "Part",
           "Split", "SubmissionPolicy", "Threshold", "describe", "read_assignment"]
