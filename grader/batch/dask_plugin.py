"""The Dask worker plugin that carries an assignment's files to every worker.

Kept apart from :mod:`grader.batch.dask` because defining it imports
``distributed``, and ``grader --help`` (which imports ``grader.batch.dask`` for
its ``--cluster`` option) must stay fast.

Why a plugin and not ``client.scatter``: the scheduler keeps a registered
plugin and hands it to every worker that joins, replacements of killed
workers included, so the files can never be lost with a worker.  Scattered
data can (Dask forgets it, and cancels the tasks that need it, when the last
worker holding it dies), and tasks that depend on scattered data are placed
on the workers that hold it, which piles a batch onto one worker.  The
grading tasks therefore have no Dask dependency at all; each reads the bytes
from this plugin on its own worker the first time it needs them.
"""
from __future__ import annotations

from distributed.diagnostics.plugin import WorkerPlugin


class AssignmentFiles(WorkerPlugin):
    """An assignment bundle (see :func:`grader.batch.dask_bundle.pack_assignment`) held by every worker."""

    # Same name, same digest, same bytes: registering it again need not resend it to workers.
    idempotent = True

    def __init__(self, digest: str, data: bytes):
        self.digest = digest
        self.data = data

    def setup(self, worker) -> None:
        # Nothing to do at once: the first task on this worker unpacks the bytes
        # (grader.batch.dask_bundle.open_bundle), off the worker's event loop.
        del worker
