"""Grade a batch on a Dask cluster: ``grader grade ... --cluster ADDRESS`` or ``--cluster local:N``.

One Dask task grades one submission, on a worker, by calling the function a
local batch calls (:func:`grader.batch._grade_one`), so each notebook gets the
same kernel, sandbox, limits and time budgets as on this machine.  Everything
that makes a batch resumable stays with the process that started it: the
grading keys are computed here, and results, executed notebooks, the journal
and the outbox are written here, one learner at a time as tasks complete
(``record``, exactly as the local pool does).  A learner is recorded once,
whatever happens to workers.

Workers need no shared disk.  What a task reads is shipped as bytes:

* the **assignment bundle** (:func:`pack_assignment`): one tar of the
  assignment folder (spec, helper modules), the reference's thresholds and
  expected arrays (not the solution) and the data files, named by the sha256
  of its bytes.  It travels once per batch, in a worker plugin
  (:mod:`grader.cluster_plugin`) that the scheduler hands to every worker,
  including workers that join or replace a killed one.  A worker unpacks it
  once into a cache folder named by that digest (:func:`open_bundle`,
  ``$GRADER_CLUSTER_CACHE`` or ``TMPDIR/grader-cluster-UID``), shared by the
  worker processes of one machine, and checks that the unpacked assignment has
  the caller's assignment digest, so grading keys and results match a local
  run's;
* the **submission package** (:func:`pack_submission`): the notebook and the
  files submitted with it, sent with its task.

Submissions are handed to the cluster as workers free up (as many in flight
as the cluster has worker threads), which keeps the scheduler's memory small
and lets a task go to whichever worker is idle.  A worker lost mid-notebook
(killed, out of memory, its machine gone) is Dask's to handle: the scheduler
runs the task again on another worker, and the journal gets a ``worker-lost``
event.  A submission whose worker died more often than the scheduler's
``allowed-failures`` allows is a row saying so (``local:N`` allows one retry,
as the local pool does).  See ``docs/cluster.md`` for running workers.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import os
import shutil
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable

from .exceptions import ClusterError

# hashlib, uuid, tarfile and Dask are imported where used: `grader --help` imports this module.

LOCAL_PREFIX = "local:"
CACHE_ENV = "GRADER_CLUSTER_CACHE"
CONNECT_TIMEOUT_S = 30
WORKERS_TIMEOUT_S = 600      # a queued SLURM job may take a while to start its workers
_MAX_RESUBMITS = 3           # tasks the scheduler forgot (it restarted): try again, then give up

# Dask settings of a ``local:N`` cluster.  On a machine whose cores all run kernels, Dask's own
# housekeeping competes with them: its statistical profiler samples the grading thread 100
# times a second, each server checks its event loop every 20 ms, and monitors poll psutil
# several times a second.  None of it serves a grading batch; these cut the idle CPU of a
# 2-worker cluster from about 5 % of a core to 1.5 %.  The same keys can be set on remote
# workers through DASK_* environment variables (docs/cluster.md).  As the local pool does, a
# submission whose worker dies twice is a row, not a third try (allowed-failures, set below).
LOCAL_CLUSTER_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "500ms",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.scheduler.active-memory-manager.start": False,  # tasks hold no shared data
}


# --- the command line ---------------------------------------------------------------------------

def cluster_address(value: str) -> str:
    """Validate ``--cluster``: ``local:N``, a scheduler address, or a scheduler file."""
    if value.startswith(LOCAL_PREFIX):
        count = value[len(LOCAL_PREFIX):]
        if not count.isdigit() or int(count) < 1:
            raise argparse.ArgumentTypeError(
                f"--cluster local:N needs a number of workers of at least 1, got {value!r}")
        return value
    if "://" in value or ":" in value or Path(value).is_file():
        return value
    raise argparse.ArgumentTypeError(
        f"--cluster expects a Dask scheduler address (tcp://host:8786), a scheduler file, "
        f"or local:N; got {value!r}")


def add_cluster_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--cluster`` to ``grader grade`` (imports nothing of Dask)."""
    parser.add_argument(
        "--cluster", metavar="ADDRESS", type=cluster_address, default=None,
        help="grade on a Dask cluster: a scheduler address (tcp://host:8786), a scheduler file "
             "(dask scheduler --scheduler-file), or local:N for N worker processes on this "
             "machine; results, journal and outbox stay here (see docs/cluster.md)")


def local_workers(address: str) -> int | None:
    """N for ``local:N``, None for a real scheduler."""
    return int(address[len(LOCAL_PREFIX):]) if address.startswith(LOCAL_PREFIX) else None


# --- packing (the caller's side) ----------------------------------------------------------------

@dataclass(frozen=True)
class Bundle:
    """An assignment's files as one tar archive; everything but ``data`` is the manifest."""

    digest: str                 # sha256 of data: the cache folder's name on workers
    assignment: str             # the assignment folder inside the archive
    reference: str | None       # the reference folder inside the archive, when there is one
    data_files: dict            # data file name -> path inside the archive
    files: dict                 # path inside the archive -> sha256 of the file
    data: bytes = field(default=b"", repr=False)

    def manifest(self) -> "Bundle":
        """The same without the bytes: what each task is sent."""
        return dataclasses.replace(self, data=b"")


@dataclass(frozen=True)
class Package:
    """A submission's notebook and extra files as one tar archive."""

    data: bytes = field(repr=False)
    notebook: str               # the notebook inside the archive
    files: tuple = ()           # the other submitted files inside the archive


def _files_of(folder: Path) -> list[Path]:
    # The same walk as spec._folder_digest, so the digest checked on workers covers the same files.
    return sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def _tar(entries: list[tuple[str, Path]]) -> tuple[bytes, dict]:
    """A deterministic tar (sorted, no times or owners) and the sha256 of each member."""
    import hashlib
    import tarfile

    buffer, sums = io.BytesIO(), {}
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, path in sorted(entries):
            content = path.read_bytes()
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(content), 0
            info.mode = 0o755 if path.stat().st_mode & 0o111 else 0o644
            tar.addfile(info, io.BytesIO(content))
            sums[name] = hashlib.sha256(content).hexdigest()
    return buffer.getvalue(), sums


def pack_assignment(assignment, data_paths: dict) -> Bundle:
    """The bundle a worker needs to grade ``assignment``: spec, helpers, thresholds, data.

    The reference folder contributes only ``thresholds.toml`` and the expected
    arrays it names; the reference solution is never shipped.
    """
    import hashlib

    top = f"assignment/{assignment.folder.name}"
    entries = [(f"{top}/{p.relative_to(assignment.folder).as_posix()}", p)
               for p in _files_of(assignment.folder)]
    reference = None
    if assignment.reference_folder is not None:
        reference = f"reference/{assignment.reference_folder.name}"
        wanted = ["thresholds.toml"] + [t.expected_file for t in assignment.thresholds if t.expected_file]
        for name in wanted:
            path = assignment.reference_folder / name
            if path.is_file():
                entries.append((f"{reference}/{PurePosixPath(name).as_posix()}", path))
    data_files = {}
    for data in assignment.data:
        data_files[data.name] = f"data/{data.name}/{data.file}"
        entries.append((data_files[data.name], Path(data_paths[data.name])))
    archive, sums = _tar(entries)
    return Bundle(digest=hashlib.sha256(archive).hexdigest(), assignment=top, reference=reference,
                  data_files=data_files, files=sums, data=archive)


def pack_submission(submission) -> Package:
    """The notebook and files of a :class:`grader.inputs.Submission`, paths kept relative."""
    paths = [submission.notebook, *submission.files]
    # Relative to the learner's folder, as a local run places the files.
    base = submission.root or Path(os.path.commonpath([str(p.parent) for p in paths]))
    names = [p.relative_to(base).as_posix() for p in paths]
    archive, _ = _tar(list(zip(names, paths)))
    return Package(data=archive, notebook=names[0], files=tuple(names[1:]))


# --- unpacking (the worker's side) --------------------------------------------------------------

def cache_root() -> Path:
    """Where workers unpack bundles: ``$GRADER_CLUSTER_CACHE`` or ``TMPDIR/grader-cluster-UID``."""
    root = Path(os.environ.get(CACHE_ENV) or Path(tempfile.gettempdir()) / f"grader-cluster-{os.getuid()}")
    root.mkdir(parents=True, exist_ok=True)
    return root


def unpack(data: bytes, target: Path) -> None:
    """Unpack a tar made by :func:`_tar` into ``target``: regular files only, never outside it."""
    import tarfile

    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        for member in tar.getmembers():
            name = PurePosixPath(member.name)
            if not member.isfile() or name.is_absolute() or ".." in name.parts:
                raise ClusterError(f"refusing archive member {member.name!r}")
            destination = target.joinpath(*name.parts)
            destination.parent.mkdir(parents=True, exist_ok=True)
            with tar.extractfile(member) as source, open(destination, "wb") as out:
                shutil.copyfileobj(source, out)
            # World-readable: the sandboxed kernel reads helpers and data as another user.
            os.chmod(destination, 0o755 if member.mode & 0o111 else 0o644)
    for folder, _, _ in os.walk(target):
        os.chmod(folder, 0o755)


def _intact(folder: Path, files: dict) -> bool:
    import hashlib

    for name, digest in files.items():
        try:
            if hashlib.sha256((folder / name).read_bytes()).hexdigest() != digest:
                return False
        except OSError:
            return False
    return True


_OPENED: dict[str, tuple] = {}   # per worker process: bundle digest -> (assignment, data paths)
_OPEN_LOCK = threading.Lock()


def open_bundle(manifest: Bundle, assignment, fetch: Callable[[], bytes]) -> tuple:
    """``(assignment, data_paths)`` pointing into this machine's unpacked copy of the bundle.

    Unpacks it (bytes from ``fetch()``) unless an intact copy is there already.
    The worker processes of one machine share the cache: a lock file makes one
    of them unpack while the others wait, and the copy is unpacked into a
    temporary folder renamed into place, so nobody reads half a bundle.  The
    returned assignment is the caller's with its folders moved; its digest is
    checked against the unpacked files.
    """
    from .spec import load_assignment

    with _OPEN_LOCK:
        if manifest.digest in _OPENED:
            return _OPENED[manifest.digest]
        root = cache_root()
        folder = root / manifest.digest
        with _machine_lock(root / f".{manifest.digest}.lock"):
            if not _intact(folder, manifest.files):
                _unpack_into_place(fetch(), manifest.digest, folder)
        reference = folder / manifest.reference if manifest.reference else None
        local = dataclasses.replace(assignment, folder=folder / manifest.assignment,
                                    reference_folder=reference)
        loaded = load_assignment(local.folder, reference_folder=reference)
        if assignment.digest and loaded.digest != assignment.digest:
            raise ClusterError(f"the assignment unpacked on this worker has digest {loaded.digest[:12]}, "
                               f"the batch's is {assignment.digest[:12]}: is the grader here the same "
                               f"version as the caller's?")
        data_paths = {name: folder / path for name, path in manifest.data_files.items()}
        _OPENED[manifest.digest] = (local, data_paths)
        return local, data_paths


@contextlib.contextmanager
def _machine_lock(path: Path):
    """An exclusive lock among the processes of this machine (flock on a file of the cache)."""
    import fcntl

    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _unpack_into_place(data: bytes, digest: str, folder: Path) -> None:
    """Unpack ``data`` at ``folder``, replacing a damaged copy (a tmp cleaner, a full disk)."""
    import hashlib
    import uuid

    if hashlib.sha256(data).hexdigest() != digest:
        raise ClusterError("the assignment bundle arrived damaged (sha256 differs)")
    fresh = Path(tempfile.mkdtemp(prefix=f".{digest[:16]}-", dir=folder.parent))
    try:
        unpack(data, fresh)
        if folder.exists():
            stale = folder.parent / f".stale-{uuid.uuid4().hex}"
            os.rename(folder, stale)
            shutil.rmtree(stale, ignore_errors=True)
        os.rename(fresh, folder)
    except OSError as exc:
        raise ClusterError(f"cannot unpack the assignment bundle into {folder}: {exc}") from None
    finally:
        shutil.rmtree(fresh, ignore_errors=True)


def grade_on_worker(plugin: str, manifest: Bundle, assignment, package: Package, submission,
                    options, key: str, version: str):
    """The Dask task: grade one submission on this worker; returns (result, executed notebook text)."""
    from distributed import get_worker

    from . import __version__
    from .batch import _grade_one, safe_name

    if version != __version__:
        raise ClusterError(f"worker {get_worker().address} runs grader {__version__}, the batch was "
                           f"started with {version}: install the same version on every worker")

    def fetch() -> bytes:
        carrier = get_worker().plugins.get(plugin)
        if carrier is None:
            raise ClusterError(f"worker {get_worker().address} has no plugin {plugin} "
                               f"(the assignment's files); was it unregistered?")
        return carrier.data

    local, data_paths = open_bundle(manifest, assignment, fetch)
    work = Path(tempfile.mkdtemp(prefix="grader-task-"))
    try:
        root = work / "submission"
        unpack(package.data, root)
        here = dataclasses.replace(submission, notebook=root / package.notebook,
                                   files=[root / name for name in package.files],
                                   root=root if submission.root else None)
        executed_dir = work / "executed"
        result = _grade_one(here, local, options, data_paths, executed_dir, key)
        executed = executed_dir / f"{safe_name(submission.learner)}.ipynb"
        return result, (executed.read_text(encoding="utf-8") if executed.is_file() else None)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _worker_facts() -> dict:
    """What the caller checks on each worker before a batch."""
    from . import __version__

    return {"version": __version__, "bwrap": bool(shutil.which("bwrap")), "cores": os.cpu_count()}


# --- running (the caller's side) ----------------------------------------------------------------

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
        from .batch import _MAX_ATTEMPTS

        with dask.config.set(LOCAL_CLUSTER_CONFIG | {
                "distributed.scheduler.allowed-failures": _MAX_ATTEMPTS - 1}):
            cluster = LocalCluster(n_workers=count, threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address=None,
                                   memory_limit=0,  # each kernel has its own cap (grader.limits)
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
    from . import __version__

    try:
        client.wait_for_workers(1, timeout=WORKERS_TIMEOUT_S)
    except (TimeoutError, OSError):
        raise ClusterError(f"no Dask worker joined the scheduler at {address} within "
                           f"{WORKERS_TIMEOUT_S} s: start workers (docs/cluster.md)") from None
    try:
        facts = client.run(_worker_facts)
    except Exception as exc:  # a worker that cannot import grader fails to unpickle the call
        raise ClusterError(f"the Dask workers at {address} cannot run the grader ({type(exc).__name__}: "
                           f"{exc}); install this package on every worker (docs/cluster.md)") from None
    others = {worker: f["version"] for worker, f in facts.items() if f["version"] != __version__}
    if others:
        raise ClusterError(f"workers run another grader version than this one ({__version__}): "
                           + ", ".join(f"{w}: {v}" for w, v in sorted(others.items())))
    if options.sandbox == "required":
        missing = sorted(w for w, f in facts.items() if not f["bwrap"])
        if missing:
            raise ClusterError(f"--sandbox required, but bubblewrap is not installed on {', '.join(missing)}")
    return facts


def _died(times: int) -> str:
    return "twice" if times == 2 else f"{times} times"


def run_on_cluster(todo, *, address: str, assignment, options, data_paths: dict, executed_dir: Path,
                   record, progress, journal) -> None:
    """Grade ``todo`` (``(submission, grading key)`` pairs) on a Dask cluster.

    The same contract as the local pool: ``record(submission, key, result)`` is
    called here, once per submission, as each finishes; the executed notebook is
    written to ``executed_dir`` first.  Harness faults raise, as locally.
    """
    from .batch import _grade_one

    remote = []
    for submission, key in todo:
        if submission.problem or submission.notebook is None:
            # Nothing to run: its row is made here, as the local engine's worker would make it.
            journal.write("start", learner=submission.learner, key=key)
            progress.start(submission.learner)
            record(submission, key, _grade_one(submission, assignment, options, data_paths,
                                               executed_dir, key))
        else:
            remote.append((submission, key))
    if not remote:
        return
    bundle = pack_assignment(assignment, data_paths)
    with _connect(address) as client:
        facts = _check_workers(client, address, options)
        from .cluster_plugin import AssignmentFiles

        plugin = f"grader-assignment-{bundle.digest[:16]}"
        client.register_plugin(AssignmentFiles(bundle.digest, bundle.data), name=plugin)
        journal.write("cluster", address=address, workers=len(facts),
                      threads=sum(client.nthreads().values()), bundle=bundle.digest[:16],
                      bundle_mb=round(len(bundle.data) / 2**20, 1))
        _Dispatch(client, plugin, bundle.manifest(), assignment, options, executed_dir, record,
                  progress, journal).run(remote)


class _Dispatch:
    """Hands submissions to the cluster as worker threads free up, and records what comes back."""

    def __init__(self, client, plugin, manifest, assignment, options, executed_dir, record, progress,
                 journal):
        self.client, self.plugin, self.manifest = client, plugin, manifest
        self.assignment, self.options, self.executed_dir = assignment, options, executed_dir
        self.record, self.progress, self.journal = record, progress, journal
        self.running: dict = {}                # future -> (submission, key)
        self.learner_of: dict[str, str] = {}   # task key -> learner, for worker-lost events
        self.resubmits: dict[str, int] = {}
        self.recorded: set[str] = set()
        self.losses: deque = deque()            # filled on the client's event thread

    def _on_event(self, event) -> None:
        _, message = event
        if isinstance(message, dict) and message.get("action") == "remove-worker" \
                and not message.get("expected"):
            self.losses.append(message)

    def _journal_losses(self) -> None:
        while self.losses:
            message = self.losses.popleft()
            retry = sorted(self.learner_of[k] for k in message.get("processing-tasks", ())
                           if k in self.learner_of)
            self.journal.write("worker-lost", worker=message.get("worker", ""), retry=retry)

    def _submit(self, submission, key) -> None:
        import uuid

        from . import __version__

        task = f"grade-{uuid.uuid4().hex}"
        future = self.client.submit(grade_on_worker, self.plugin, self.manifest, self.assignment,
                                    pack_submission(submission), submission, self.options, key,
                                    __version__, key=task, pure=False)
        self.running[future] = (submission, key)
        self.learner_of[task] = submission.learner
        self.completed.add(future)

    def _fill(self, queue: deque) -> None:
        # As many in flight as there are worker threads (at least one): each idle thread gets
        # the next submission, and packages wait here rather than in the scheduler's memory.
        limit = max(1, sum(self.client.nthreads().values()))
        while queue and len(self.running) < limit:
            submission, key = queue.popleft()
            if submission.learner not in self.resubmits:
                self.journal.write("start", learner=submission.learner, key=key)
                self.progress.start(submission.learner)
                self.resubmits[submission.learner] = 0
            self._submit(submission, key)

    def run(self, todo) -> None:
        from distributed import CancelledError, KilledWorker, as_completed

        from .orchestrate import ungradable

        self.client.subscribe_topic("all", self._on_event)
        self.completed = as_completed()
        queue = deque(todo)
        self._fill(queue)
        for future in self.completed:
            submission, key = self.running.pop(future)
            self._journal_losses()
            executed = None
            try:
                result, executed = future.result()
            except KilledWorker as exc:
                deaths = getattr(exc, "allowed_failures", 1) + 1
                result = ungradable(Path(submission.source), self.assignment,
                                    f"the grading worker process died {_died(deaths)} while grading "
                                    f"this submission", time.monotonic(), "", submission.learner)
                result.grading_key = key
            except CancelledError as exc:
                # The scheduler forgot the task: it restarted, or this client lost it.
                self.resubmits[submission.learner] += 1
                if self.client.status != "running" or self.resubmits[submission.learner] > _MAX_RESUBMITS:
                    raise ClusterError(f"the Dask scheduler dropped the grading of {submission.learner} "
                                       f"({exc}); run the same command again to resume") from None
                self.journal.write("resubmit", learner=submission.learner, reason=str(exc)[:200])
                queue.appendleft((submission, key))
                self._fill(queue)
                continue
            finally:
                future.release()  # recorded results must not be recomputed if their worker dies
            if submission.learner not in self.recorded:
                self.recorded.add(submission.learner)
                if executed is not None:
                    from .batch import safe_name
                    from .results import write_atomic

                    write_atomic(self.executed_dir / f"{safe_name(submission.learner)}.ipynb", executed)
                self.record(submission, key, result)
            self._fill(queue)
        self._journal_losses()
        self.client.unsubscribe_topic("all")
