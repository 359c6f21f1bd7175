"""Faults of the harness, its configuration or its environment.

A learner's notebook that fails, raises, hangs or cheats is *not* an
exception: it is a :class:`grader.results.SubmissionResult` with a reason.
Only the harness's own problems raise, and always from this tree::

    GraderError                      base class; the CLI maps it to exit status 2
    ├── SpecError                    assignment.toml / thresholds.toml is invalid
    │   └── UnknownKeyError          a key that the spec does not define
    ├── AssignmentNotFoundError      --assignment names no assignment folder
    ├── DataError                    a data file cannot be found, fetched or verified
    └── KernelSetupError             the kernel or its agent cannot be started at all
"""
from __future__ import annotations


class GraderError(Exception):
    """Base class of every error the harness raises about itself."""


class SpecError(GraderError):
    """An assignment or reference specification is invalid.

    ``path`` is the file and ``field`` the dotted key to fix.
    """

    def __init__(self, message: str, *, path: str | None = None, field: str | None = None):
        self.path = path
        self.field = field
        where = ""
        if path:
            where = f"{path}"
            if field:
                where += f": {field}"
            where += ": "
        super().__init__(where + message)


class UnknownKeyError(SpecError):
    """A specification file contains a key the harness does not know."""


class AssignmentNotFoundError(GraderError):
    """No assignment folder matches what the user asked for."""


class DataError(GraderError):
    """A data file the assignment declares cannot be found, fetched or verified."""


class KernelSetupError(GraderError):
    """The kernel cannot be started, or the grading agent cannot be installed in it."""
