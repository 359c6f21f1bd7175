"""Grade a batch on a Dask cluster: ``grader grade ... --cluster ADDRESS`` or ``--cluster local:N``.

:class:`DaskExecutor` is the batch engine's executor (:mod:`grader.batch.executor`)
for a Dask cluster: one Dask task grades one job, on a worker, with the same
:func:`grader.batch.job.grade_job` a local worker runs, so each notebook gets
the same kernel, sandbox, limits and time budgets as on this machine.
Everything that makes a batch resumable stays with the engine, in the process
that started it: grading keys, results, executed notebooks, the journal and
the outbox are written there as jobs complete.

Workers need no shared disk: the assignment's files travel once per batch in
a worker plugin, each submission with its task (:mod:`grader.batch.dask_bundle`).

The engine keeps as many jobs in flight as the cluster has worker threads,
which keeps the scheduler's memory small and lets a job go to whichever worker
is idle.  A worker lost mid-notebook (killed, out of memory, its machine gone)
is Dask's to handle first: the scheduler runs the task again on another worker,
and the journal gets a ``worker-lost`` event.  When the scheduler gives up
(``allowed-failures``; ``local:N`` allows one retry, as the local pool does),
the job raises :class:`~grader.batch.job.WorkerLost` and the engine makes the
row.  See ``docs/operator/cluster.md`` for running workers.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import uuid
from pathlib import Path

from ..exceptions import ClusterError, UsageError
from .executor import GradingExecutor
from .job import MAX_ATTEMPTS, BatchContext, Job, JobLost, WorkerLost

# Dask is imported where used: `grader --help` imports this module for --cluster.

LOCAL_PREFIX = "local:"
CONNECT_TIMEOUT_S = 30
WORKERS_TIMEOUT_S = 600      # a queued SLURM job may take a while to start its workers

# Dask settings of a ``local:N`` cluster.  On a machine whose cores all run kernels, Dask's own
# housekeeping competes with them: its statistical profiler samples the grading thread 100
# times a second, each server checks its event loop every 20 ms, and monitors poll psutil
# several times a second.  None of it serves a grading batch; these cut the idle CPU of a
# 2-worker cluster from about 5 % of a core to 1.5 %.  The same keys can be set on remote
# workers through DASK_* environment variables (docs/operator/cluster.md).  As the local pool does, a
# submission whose worker dies twice is a row, not a third try (allowed-failures, set below).
LOCAL_CLUSTER_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "500ms",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.scheduler.active-memory-manager.start": False,  # tasks hold no shared data
}


# --- the address ---------------------------------------------------------------------------------

def cluster_address(value: str) -> str:
    """Check a cluster address: ``local:N``, a scheduler address, or a scheduler file.

    Raises :class:`grader.exceptions.UsageError` naming what to give instead.
    """
    if value.startswith(LOCAL_PREFIX):
        count = value[len(LOCAL_PREFIX):]
        if not count.isdigit() or int(count) < 1:
            raise UsageError(f"--cluster local:N needs a number of workers of at least 1, got {value!r}",
                             argument="cluster", value=value)
        return value
    if "://" in value or ":" in value or Path(value).is_file():
        return value
    raise UsageError(
        f"--cluster expects a Dask scheduler address (tcp://host:8786), a scheduler file, "
        f"or local:N; got {value!r}", argument="cluster", value=value)


def local_workers(address: str) -> int | None:
    """N for ``local:N``, None for a real scheduler."""
    return int(address[len(LOCAL_PREFIX):]) if address.startswith(LOCAL_PREFIX) else None



@contextlib.contextmanager
def _connect(address: str):
    """A Client: on a LocalCluster made here for ``local:N``, else on the given scheduler."""
    import logging

    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError:
        raise ClusterError("--cluster needs Dask: pip install 'grader[cluster]' "
                           "(or pip install 'dask[distributed]')") from None

    count = local_workers(address)
    if count is not None:
        with dask.config.set(LOCAL_CLUSTER_CONFIG | {
                "distributed.scheduler.allowed-failures": MAX_ATTEMPTS - 1}):
            cluster = LocalCluster(n_workers=count, threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address=None,
                                   memory_limit=0,  # each kernel has its own cap (grader.run.limits)
                                   silence_logs=logging.ERROR)
        with cluster, Client(cluster) as client:
            yield client
        return
    try:
        if Path(address).is_file():
            client = Client(scheduler_file=address, timeout=CONNECT_TIMEOUT_S)
        else:
            client = Client(address, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    with client:
        yield client


def _check_workers(client, address: str, options) -> dict:
    from ..version import __version__
    from .dask_bundle import worker_facts

    try:
        client.wait_for_workers(1, timeout=WORKERS_TIMEOUT_S)
    except (TimeoutError, OSError):
        raise ClusterError(f"no Dask worker joined the scheduler at {address} within "
                           f"{WORKERS_TIMEOUT_S} s: start workers (docs/operator/cluster.md)") from None
    try:
        facts = client.run(worker_facts)
    except Exception as exc:  # a worker that cannot import grader fails to unpickle the call
        raise ClusterError(f"the Dask workers at {address} cannot run the grader ({type(exc).__name__}: "
                           f"{exc}); install this package on every worker (docs/operator/cluster.md)") from None
    others = {worker: f["version"] for worker, f in facts.items() if f["version"] != __version__}
    if others:
        raise ClusterError(f"workers run another grader version than this one ({__version__}): "
                           + ", ".join(f"{w}: {v}" for w, v in sorted(others.items())))
    if options.sandbox == "required":
        missing = sorted(w for w, f in facts.items() if not f["bwrap"])
        if missing:
            raise ClusterError(f"--sandbox required, but bubblewrap is not installed on {', '.join(missing)}")
    return facts


class DaskExecutor(GradingExecutor):
    """Jobs as tasks of a Dask cluster: a scheduler address, a scheduler file, or ``local:N``."""

    def __init__(self, address: str):
        self.address = address
        self._stack = contextlib.ExitStack()
        self._learner_of: dict[str, str] = {}     # task key -> learner, for worker-lost events
        self._remote: dict[str, object] = {}      # task key -> Dask future not yet settled
        self.client = None

    @property
    def slots(self) -> int:
        # As many in flight as there are worker threads (at least one), counted anew as workers
        # come and go: packages wait in the engine rather than in the scheduler's memory.
        return max(1, sum(self.client.nthreads().values())) if self.client is not None else 1

    def open(self, context: BatchContext, *, events=None) -> None:
        from .dask_bundle import pack_assignment
        from .dask_plugin import AssignmentFiles

        super().open(context, events=events)
        bundle = pack_assignment(context.assignment, context.data_paths)
        self.client = self._stack.enter_context(_connect(self.address))
        facts = _check_workers(self.client, self.address, context.options)
        self.plugin = f"grader-assignment-{bundle.digest[:16]}"
        self.client.register_plugin(AssignmentFiles(bundle.digest, bundle.data), name=self.plugin)
        self.manifest = bundle.manifest()
        # Only what workers cannot have: their own folders replace the caller's (dask_bundle).
        self.remote_context = BatchContext(assignment=context.assignment, options=context.options)
        self.events("cluster", address=self.address, workers=len(facts),
                    threads=sum(self.client.nthreads().values()), bundle=bundle.digest[:16],
                    bundle_mb=round(len(bundle.data) / 2**20, 1))
        self.client.subscribe_topic("all", self._on_event)
        self.client.subscribe_topic(self._progress_topic(), self._on_progress)

    @staticmethod
    def _progress_topic() -> str:
        from .dask_bundle import PROGRESS_TOPIC

        return PROGRESS_TOPIC

    @staticmethod
    def _on_progress(event) -> None:
        # A job's progress event from its worker, written to its file here (grader.batch.job.Job).
        _, message = event
        try:
            import json

            with open(message["file"], "a", encoding="utf-8") as handle:
                handle.write(json.dumps(message["event"], ensure_ascii=False, default=str) + "\n")
        except (OSError, KeyError, TypeError):
            pass  # progress is a view of the grading, never part of it

    def _on_event(self, event) -> None:
        # On the client's event thread: a worker that left without being asked to.
        _, message = event
        if isinstance(message, dict) and message.get("action") == "remove-worker" \
                and not message.get("expected"):
            retry = sorted(self._learner_of[k] for k in message.get("processing-tasks", ())
                           if k in self._learner_of)
            self.events("worker-lost", worker=message.get("worker", ""), retry=retry)

    def submit(self, job: Job) -> concurrent.futures.Future:
        from ..version import __version__
        from .dask_bundle import grade_on_worker, pack_submission

        if self.client.status != "running":
            raise ClusterError(f"the connection to the Dask scheduler at {self.address} was lost; "
                               f"run the same command again to resume")
        task = f"grade-{uuid.uuid4().hex}"
        self._learner_of[task] = job.learner
        remote = self.client.submit(grade_on_worker, self.plugin, self.manifest, self.remote_context,
                                    pack_submission(job.submission), job, __version__, key=task,
                                    pure=False)
        self._remote[task] = remote
        outer: concurrent.futures.Future = concurrent.futures.Future()
        remote.add_done_callback(lambda done: self._settle(done, outer))
        return outer

    def _settle(self, remote, outer: concurrent.futures.Future) -> None:
        from distributed import CancelledError, KilledWorker

        self._remote.pop(remote.key, None)
        try:
            outer.set_result(remote.result())
        except KilledWorker as exc:
            outer.set_exception(WorkerLost(getattr(exc, "allowed_failures", 1) + 1))
        except CancelledError as exc:  # the scheduler forgot the task: it restarted
            outer.set_exception(JobLost(str(exc)[:200]))
        except BaseException as exc:  # a fault of the grader on the worker: the engine records it
            outer.set_exception(exc)
        finally:
            remote.release()  # recorded results must not be recomputed if their worker dies

    def cancel(self) -> None:
        if self.client is not None and self.client.status == "running":
            self.client.cancel(list(self._remote.values()), force=True)

    def close(self) -> None:
        if self.client is not None and self.client.status == "running":
            self.client.unsubscribe_topic("all")
            self.client.unsubscribe_topic(self._progress_topic())
        self._stack.close()
        self.client = None
