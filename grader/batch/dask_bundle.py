"""What Dask workers need to grade, shipped as bytes: workers need no shared disk.

* the **assignment bundle** (:func:`pack_assignment`): one tar of the
  assignment folder (spec, helper modules), the reference's thresholds and
  expected arrays (not the solution) and the data files, named by the sha256
  of its bytes.  It travels once per batch, in a worker plugin
  (:mod:`grader.batch.dask_plugin`) that the scheduler hands to every worker,
  including workers that join or replace a killed one.  A worker unpacks it
  once into a cache folder named by that digest (:func:`open_bundle`,
  ``$GRADER_CLUSTER_CACHE`` or ``TMPDIR/grader-cluster-UID``), shared by the
  worker processes of one machine, and checks that the unpacked assignment has
  the caller's assignment digest, so grading keys and results match a local
  run's;
* the **submission package** (:func:`pack_submission`): the notebook and the
  files submitted with it, sent with its task.

:func:`grade_on_worker` is the task itself: it opens the bundle, unpacks the
package and runs the same :func:`grader.batch.job.grade_job` a local worker runs.
"""
from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable

from ..exceptions import ClusterError
from ..textutil import safe_name

# hashlib, uuid, tarfile and Dask are imported where used.

CACHE_ENV = "GRADER_CLUSTER_CACHE"
PROGRESS_TOPIC = "grader-progress"   # Dask events carrying a job's progress to the engine's machine


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
    """The notebook and files of a :class:`grader.batch.inputs.Submission`, paths kept relative."""
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
    from ..assignments import load_assignment

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


def grade_on_worker(plugin: str, manifest: Bundle, context, package: Package, job, version: str):
    """The Dask task: grade one job on this worker; returns its :class:`~grader.batch.job.Outcome`.

    ``context`` is the batch's (its assignment folders and data paths are the
    caller's; they are moved to this machine's unpacked bundle), and the
    executed notebook comes back as text: the caller writes it.
    """
    from distributed import get_worker

    from ..version import __version__
    from .job import Job, grade_job

    if version != __version__:
        raise ClusterError(f"worker {get_worker().address} runs grader {__version__}, the batch was "
                           f"started with {version}: install the same version on every worker")

    def fetch() -> bytes:
        carrier = get_worker().plugins.get(plugin)
        if carrier is None:
            raise ClusterError(f"worker {get_worker().address} has no plugin {plugin} "
                               f"(the assignment's files); was it unregistered?")
        return carrier.data

    local, data_paths = open_bundle(manifest, context.assignment, fetch)
    # What a killed worker of this machine left (its kernels, cgroups, folders) goes first; this
    # task's own are recorded in the same machine-wide ledger.
    import uuid

    from ..run.process_register import machine_ledger, sweep

    ledger = machine_ledger()
    sweep(ledger, dead_owners_only=True)
    entry = ledger.entry(f"task {job.submission.learner}")
    work = Path(tempfile.gettempdir()) / f"grader-task-{uuid.uuid4().hex[:12]}"
    entry.add_path(work)
    work.mkdir(mode=0o700)
    try:
        root = work / "submission"
        unpack(package.data, root)
        submission = job.submission
        here = dataclasses.replace(submission, notebook=root / package.notebook,
                                   files=[root / name for name in package.files],
                                   root=root if submission.root else None)
        executed_dir = work / "executed"
        on_event = None
        if job.progress:
            # The progress file is on the engine's machine: the events travel as Dask events,
            # written there by the executor (grader.batch.dask).
            worker = get_worker()

            def on_event(event, worker=worker, file=job.progress):
                worker.log_event(PROGRESS_TOPIC, {"file": file, "event": event.to_dict()})
        here_job = Job(here, job.key, name=job.name)
        outcome = grade_job(dataclasses.replace(context, assignment=local, data_paths=data_paths, ledger=ledger),
                            here_job, executed_dir, on_event=on_event)
        executed = executed_dir / f"{here_job.file_name}.ipynb"
        outcome.executed = executed.read_text(encoding="utf-8") if executed.is_file() else None
        return outcome
    finally:
        shutil.rmtree(work, ignore_errors=True)
        entry.close()


def worker_facts() -> dict:
    """What the caller checks on each worker before a batch."""
    from ..version import __version__

    return {"version": __version__, "bwrap": bool(shutil.which("bwrap")), "cores": os.cpu_count()}


