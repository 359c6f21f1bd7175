"""Faults of the harness, its configuration or its environment.

A learner's notebook that fails, raises, hangs or cheats is *not* an
exception: it is a :class:`grader.results.SubmissionResult` with a reason.
Only the harness's own problems raise, and always from this tree::

    GraderError                      base class; the CLI maps it to exit status 2
    ├── UsageError                   a call's own input is wrong: a notebook that does not exist,
    │                                a folder with no notebooks, --workers 0, a negative time
    │                                limit, an output path that is a file (nothing is written)
    ├── SpecError                    assignment.toml / thresholds.toml is invalid
    │   └── UnknownKeyError          a key that the spec does not define
    ├── AssignmentNotFoundError      --assignment names no assignment folder
    ├── DataError                    a data file cannot be found, fetched or verified
    ├── KernelSetupError             the kernel or its agent cannot be started at all
    ├── KernelLostError              a grading was cut short from outside the notebook (its kernel or
    │                                evaluator killed, or dead while starting) on every try
    ├── BatchBusyError               another `grader grade` is writing to the same results folder
    ├── ClusterError                 a Dask cluster cannot be reached or cannot grade (no workers,
    │                                the grader missing or of another version on a worker)
    ├── CorrectionError              an override, clear or rescore cannot be recorded (unknown
    │                                learner or part, points out of range, no reason, no log)
    ├── SimilarityError              the similarity report cannot be made (no results, a corpus that
    │                                is not a folder, a setting out of range)
    └── PostError                    scores cannot be posted at all (results folder, outbox, lock,
        │                            a platform refusing the tool's own credentials)
        └── DestinationConfigError   a destination's settings, secrets or learner map are missing
                                     or unsafe (e.g. a config file readable by others)

A score that one destination rejects for one learner (HTTP 401 for an expired
token, say) is not an exception either: it is a row of the outbox, ``failed``
with the destination's message (``grader post RESULTS --status``).
"""
from __future__ import annotations


class GraderError(Exception):
    """Base class of every error the harness raises about itself."""


class UsageError(GraderError):
    """What the caller asked for cannot be done as asked; the message says what to fix.

    ``argument`` names the input concerned (``notebook``, ``out``, ``workers``,
    ``cell_timeout``, ...) and ``value`` is what was given.  Raised before
    anything is written.
    """

    def __init__(self, message: str, *, argument: str | None = None, value=None):
        self.argument = argument
        self.value = value
        super().__init__(message)


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


class KernelLostError(GraderError):
    """A grading was cut short by something outside the notebook, on each of its tries.

    The kernel died or did not answer before the learner's first cell, or the
    kernel or the evaluator was killed with SIGKILL that was not its memory cap
    (an operator, the machine's OOM killer).  That is no grade: the learner's row
    says the grader could not run the notebook, and the next run grades it.
    ``reasons`` says what happened to each try.
    """

    def __init__(self, reasons: list[str]):
        self.reasons = list(reasons)
        tries = "; then ".join(self.reasons)
        super().__init__(f"the notebook's run was cut short from outside it {len(self.reasons)} times "
                         f"({tries}); not the notebook's fault")

    def __reduce__(self):  # rebuilt from its fields in the batch's main process
        return type(self), (self.reasons,)


class BatchBusyError(GraderError):
    """Another ``grader grade`` is writing to the same results folder; ``pid`` is its process."""

    def __init__(self, message: str, *, pid: int | None = None):
        self.pid = pid
        super().__init__(message)


class ClusterError(GraderError):
    """A batch cannot run on the Dask cluster it was given (see :mod:`grader.batch.dask`)."""


class CorrectionError(GraderError):
    """A correction of grades cannot be made; nothing was written.

    ``learner``, ``part`` and ``path`` name what to fix, when known
    (:mod:`grader.corrections`).
    """

    def __init__(self, message: str, *, learner: str | None = None, part: str | None = None,
                 path: str | None = None):
        self.learner, self.part, self.path = learner, part, path
        super().__init__(message)
class SimilarityError(GraderError):
    """``grader similarity`` cannot compare: ``option`` names the option or folder to fix."""

    def __init__(self, message: str, *, option: str | None = None):
        self.option = option
        super().__init__(f"{option}: {message}" if option else message)


class PostError(GraderError):
    """Scores cannot be posted at all: nothing about one learner, the posting itself is broken.

    ``destination`` names the destination (``coursera``, ``webhook``, ...) when
    one is concerned, ``status`` the HTTP status when a server answered.  The
    message never contains a secret.
    """

    def __init__(self, message: str, *, destination: str | None = None, status: int | None = None):
        self.destination = destination
        self.status = status
        super().__init__(f"{destination}: {message}" if destination else message)


class DestinationConfigError(PostError):
    """A destination's settings, secrets or learner map are missing, invalid or unsafe.

    ``path`` is the file to fix (config file, learners CSV, key file) and
    ``field`` the setting, when known.
    """

    def __init__(self, message: str, *, destination: str | None = None, path: str | None = None,
                 field: str | None = None):
        self.path = path
        self.field = field
        where = ""
        if path:
            where = f"{path}: " if not field else f"{path}: {field}: "
        elif field:
            where = f"{field}: "
        super().__init__(where + message, destination=destination)
