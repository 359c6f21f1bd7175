"""Where a batch's gradings run: the executor seam, and the local process pool behind it.

The batch engine (:mod:`grader.batch.engine`) decides *what* to grade and
where results go; an executor decides *where* each grading runs.  The seam is
the one Python already has: :meth:`GradingExecutor.submit` takes a
:class:`~grader.batch.job.Job` and returns a :class:`concurrent.futures.Future`
whose result is an :class:`~grader.batch.job.Outcome`, or which raises
:class:`~grader.batch.job.WorkerLost` when the process grading it died (any
other exception is a fault of the grader, recorded as that learner's row).

Implementations:

* :class:`LocalPoolExecutor` (here): worker processes on this machine.
* :class:`grader.batch.dask.DaskExecutor`: a Dask cluster, local or remote.

A third is one new file: a subclass that opens its connection in
:meth:`~GradingExecutor.open`, turns jobs into futures in
:meth:`~GradingExecutor.submit`, and reports lost workers through
:attr:`~GradingExecutor.events`.  (What the engine grades is another seam: a
:class:`~grader.batch.engine.JobSource`, a batch's list or the queue of
``grader serve``, :mod:`grader.serve.service`.)
"""
from __future__ import annotations

import abc
import concurrent.futures
import multiprocessing
import os
import threading
from typing import Callable

from .job import BatchContext, Job, Outcome, WorkerLost, grade_job

# (event name, fields) -> None: the engine writes them to the batch's journal.
EventSink = Callable[..., None]


class GradingExecutor(abc.ABC):
    """Runs jobs somewhere; the engine keeps at most :attr:`slots` of them in flight."""

    slots: int = 1
    local: bool = False   # gradings run on this machine (their kernels go in the batch's ledger)
    events: EventSink = staticmethod(lambda event, **fields: None)

    def open(self, context: BatchContext, *, events: EventSink | None = None) -> None:
        """Get ready to grade jobs of one batch (start processes, connect, ship files)."""
        self.context = context
        if events is not None:
            self.events = events

    @abc.abstractmethod
    def submit(self, job: Job) -> concurrent.futures.Future:
        """Start grading ``job``; the future's result is an :class:`Outcome`."""

    @abc.abstractmethod
    def cancel(self) -> None:
        """Give up on everything not finished (the engine is stopping)."""

    def stop_now(self) -> None:
        """Stop what runs now, not after it finishes (a service shutting down); default: cancel."""
        self.cancel()

    def warm(self) -> None:
        """Be ready to grade at once (a service, before it answers); default: nothing to do."""

    def close(self) -> None:
        """Release what :meth:`open` took; waits for nothing that was cancelled."""

    def __enter__(self) -> "GradingExecutor":
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is not None:
            # Ctrl-C, or a fault of the engine: what runs is stopped, not waited for.
            self.stop_now()
        self.close()


def _worker_init(parent: int, nice: int = 0) -> None:
    # A worker must not outlive a killed harness (it would keep grading for nobody), even one
    # killed while this worker was starting.
    import signal

    from ..kernel.launch import die_with_parent

    die_with_parent(parent)
    # The terminal's Ctrl-C reaches the workers too: the harness stops them (stop_now), and a
    # grading in progress stops its kernel on it (grader.run.stop); an idle worker ignores it
    # rather than print a traceback from the middle of multiprocessing.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if nice:
        os.nice(nice)


def _ready() -> None:
    """A worker's imports for grading, done before its first job (see LocalPoolExecutor.warm)."""
    from .. import orchestrate  # noqa: F401 - nbclient, jupyter_client, the kernel's launch
    from ..run import execute  # noqa: F401


def _run(context: BatchContext, job: Job) -> Outcome:
    return grade_job(context, job)


class LocalPoolExecutor(GradingExecutor):
    """``workers`` processes of this machine (spawned: zmq and asyncio do not survive a fork).

    When a worker process dies, :class:`concurrent.futures.ProcessPoolExecutor`
    fails every job of the pool; each of them raises :class:`WorkerLost` here,
    the loss is reported once, and the next job gets a fresh pool.
    """

    local = True

    def __init__(self, workers: int, *, nice: int = 0):
        self.slots, self.nice = max(1, workers), nice
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._generation = 0
        self._in_flight: dict[int, set[str]] = {}   # pool generation -> learners running in it
        self._reported: set[int] = set()
        self._lock = threading.Lock()

    def _fresh_pool(self) -> concurrent.futures.ProcessPoolExecutor:
        broken = self._pool is not None and getattr(self._pool, "_broken", False)
        if self._pool is None or broken:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
            self._generation += 1
            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=self.slots, mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_init, initargs=(os.getpid(), self.nice))
        return self._pool

    def warm(self, timeout: float = 120.0) -> None:
        """Start the workers and their imports now, and wait for them, not with the first job (a
        service: its first submissions, a burst at a deadline, would wait for the cores the
        workers' start takes).  A worker that cannot start is the first job's to report."""
        pool = self._fresh_pool()
        started = [pool.submit(_ready) for _ in range(self.slots)]
        concurrent.futures.wait(started, timeout=timeout)

    def submit(self, job: Job) -> concurrent.futures.Future:
        pool = self._fresh_pool()
        generation = self._generation
        with self._lock:
            self._in_flight.setdefault(generation, set()).add(job.learner)
        outer: concurrent.futures.Future = concurrent.futures.Future()
        inner = pool.submit(_run, job.context or self.context, job)

        def settle(done: concurrent.futures.Future) -> None:
            with self._lock:
                running = self._in_flight.get(generation, set())
                lost = sorted(running)
                running.discard(job.learner)
            try:
                outer.set_result(done.result())
            except concurrent.futures.process.BrokenProcessPool:
                with self._lock:
                    first = generation not in self._reported
                    self._reported.add(generation)
                if first:
                    self.events("worker-lost", worker="", retry=lost)
                outer.set_exception(WorkerLost(1))
            except concurrent.futures.CancelledError:
                outer.cancel() or outer.set_exception(concurrent.futures.CancelledError())
            except BaseException as exc:  # a fault of the grader in the worker: the engine records it
                outer.set_exception(exc)

        inner.add_done_callback(settle)
        return outer

    def cancel(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def stop_now(self) -> None:
        # The workers end (SIGTERM), their kernels with them (their launchers' death signal), and
        # the watchdog removes what they recorded; close() then has nothing to wait for.
        pool = self._pool
        if pool is None:
            return
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class InlineExecutor(GradingExecutor):
    """Grades each job in this process, one at a time (``--workers 1``): no worker to lose."""

    local = True

    def submit(self, job: Job) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        try:
            future.set_result(grade_job(job.context or self.context, job))
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # a fault of the grader: the engine records it as the row
            future.set_exception(exc)
        return future

    def cancel(self) -> None:
        pass
