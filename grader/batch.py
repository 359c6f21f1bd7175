"""The public entry points: check one notebook, grade a whole class.

A batch runs each submission through :func:`grader.orchestrate.grade_notebook`
on a pool of worker processes (``workers``, default: one per core), each
kernel capped to its share of the CPU threads.  It is resumable: every result
is written atomically to ``OUT/results/LEARNER.json`` the moment it is ready,
stamped with a *grading key* (a digest of the submission's bytes, the
assignment and reference, the harness version and the grading options), and
events are appended to ``OUT/journal.jsonl``.  Running the same command again
after a crash or a SIGKILL grades only what has no result with the current
key; ``force=True`` regrades everything.  A submission that fails, hangs, dies
or is not a notebook is a row with its reason, never an abort.
"""
from __future__ import annotations

import concurrent.futures
import datetime
import hashlib
import json
import multiprocessing
import os
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Callable

from . import __version__
from .assignments import find_assignment
from .data import resolve_all
from .exceptions import GraderError
from .inputs import Submission, collect, read_mapping
from .orchestrate import GradeOptions, grade_notebook, ungradable
from .report import write_gradebook
from .results import SubmissionResult, write_atomic
from .spec import Assignment

_MAX_ATTEMPTS = 2  # a worker that dies twice on one submission: that submission is the cause


def _assignment(assignment: Assignment | str | Path | None, notebooks=()) -> Assignment:
    if isinstance(assignment, Assignment):
        return assignment
    return find_assignment(assignment, notebooks=list(notebooks))


def check(notebook: str | Path, *, assignment: Assignment | str | Path | None = None,
          options: GradeOptions = GradeOptions()) -> SubmissionResult:
    """Grade one notebook (a learner's self-check) and return its result."""
    assignment = _assignment(assignment, [Path(notebook)])
    return grade_notebook(notebook, assignment=assignment, options=options)


def safe_name(learner: str) -> str:
    """A file name for a learner id (any letters and spaces kept; separators replaced)."""
    name = "".join("_" if c in "/\\\0" or ord(c) < 32 else c for c in learner).strip()
    return ("_" + name) if name.startswith(".") or not name else name


def grading_key(submission: Submission, assignment: Assignment, options: GradeOptions) -> str:
    """Changes whenever the grade could change: submission bytes, assignment, harness, options."""
    digest = hashlib.sha256()
    for path in ([submission.notebook] if submission.notebook else []) + list(submission.files):
        digest.update(path.name.encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    digest.update(submission.problem.encode())
    digest.update(assignment.digest.encode())
    digest.update(__version__.encode())
    relevant = {k: v for k, v in asdict(options).items() if k not in ("keep_workdir", "threads", "data")}
    digest.update(json.dumps(relevant, sort_keys=True).encode())
    return digest.hexdigest()


class Journal:
    """Append-only event log of a batch (``journal.jsonl``), flushed to disk on every line."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, event: str, **fields) -> None:
        line = json.dumps({"time": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"), "event": event, **fields}, ensure_ascii=False)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())


def _load_result(path: Path) -> SubmissionResult | None:
    try:
        return SubmissionResult.from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError, KeyError):
        return None  # missing or from another schema: grade again


def _grade_one(submission: Submission, assignment: Assignment, options: GradeOptions,
               data_paths: dict, executed_dir: Path, key: str) -> SubmissionResult:
    """Grade one submission; runs in a worker process."""
    started = time.monotonic()
    if submission.problem or submission.notebook is None:
        result = ungradable(Path(submission.source or submission.learner), assignment,
                            submission.problem or "no notebook", started, "", submission.learner)
        result.submission = submission.source
    else:
        # Extra files keep their place relative to the learner's folder (the notebook may sit
        # in a subfolder of it).
        root = (submission.root or submission.notebook.parent) if submission.files else None
        result = grade_notebook(submission.notebook, assignment=assignment, options=options,
                                learner=submission.learner, data_paths=data_paths,
                                executed_path=executed_dir / f"{safe_name(submission.learner)}.ipynb",
                                files=submission.files, files_root=root)
        result.submission = submission.source
    result.grading_key = key
    return result


def _worker_init() -> None:
    # A worker must not outlive a killed harness (it would keep grading for nobody).
    from .kernel.launch import die_with_parent

    die_with_parent()


def grade(directory: str | Path = "submissions", *, assignment: Assignment | str | Path | None = None,
          out: str | Path = "results", options: GradeOptions = GradeOptions(), workers: int | None = None,
          force: bool = False, mapping: str | Path | None = None,
          progress: "Progress | Callable[[str], None] | bool | None" = None,
          cluster: str | None = None) -> list[SubmissionResult]:
    """Grade every submission of ``directory`` (a folder or an LMS .zip) into ``out``.

    ``progress``: None/False for silence, True for progress on stderr (a live line on a
    terminal, plain lines otherwise), or a callable that receives each progress line.
    ``cluster``: grade on a Dask cluster instead of local worker processes: a scheduler
    address (``tcp://host:8786``), a scheduler file, or ``local:N`` (:mod:`grader.cluster`).
    """
    from .progress import Progress

    directory, out = Path(directory), Path(out)
    if not directory.exists():
        raise GraderError(f"{directory} does not exist: give a folder of submissions or a .zip")
    submissions = collect(directory, mapping=read_mapping(Path(mapping) if mapping else None),
                          unpack_to=out / ".inputs")
    assignment = _assignment(assignment, [s.notebook for s in submissions if s.notebook])
    data_paths = resolve_all(assignment, explicit=options.data)
    cores = os.cpu_count() or 1
    workers = max(1, workers or cores)
    journal = Journal(out / "journal.jsonl")
    results_dir, executed_dir = out / "results", out / "executed"

    finished: dict[str, SubmissionResult] = {}
    todo: list[tuple[Submission, str]] = []
    for submission in submissions:
        key = grading_key(submission, assignment, options)
        previous = None if force else _load_result(results_dir / f"{safe_name(submission.learner)}.json")
        if previous is not None and getattr(previous, "grading_key", "") == key:
            finished[submission.learner] = previous
        else:
            todo.append((submission, key))
    workers = min(workers, max(1, len(todo)))
    if options.threads is None:
        options = replace(options, threads=max(1, cores // workers))
    journal.write("batch", submissions=len(submissions), to_grade=len(todo), resumed=len(finished),
                  workers=workers, threads=options.threads, assignment=assignment.id)

    if not isinstance(progress, Progress):
        progress = Progress(total=len(submissions), already=len(finished), workers=workers,
                            stream=sys.stderr, quiet=not progress,
                            printer=progress if callable(progress) else None)

    def record(submission: Submission, key: str, result: SubmissionResult) -> None:
        write_atomic(results_dir / f"{safe_name(submission.learner)}.json", result.to_json())
        journal.write("done", learner=submission.learner, key=key, total=result.total,
                      status=result.status)
        finished[submission.learner] = result
        progress.finish(submission.learner, result)

    if cluster:
        from .cluster import run_on_cluster

        run_on_cluster(todo, address=cluster, assignment=assignment, options=options,
                       data_paths=data_paths, executed_dir=executed_dir, record=record,
                       progress=progress, journal=journal)
    elif workers == 1:
        for submission, key in todo:
            progress.start(submission.learner)
            journal.write("start", learner=submission.learner, key=key)
            record(submission, key, _grade_one(submission, assignment, options, data_paths,
                                               executed_dir, key))
    else:
        _run_pool(todo, workers, assignment, options, data_paths, executed_dir, journal, progress, record)

    progress.close()
    results = [finished[s.learner] for s in submissions if s.learner in finished]
    write_gradebook(results, out)
    from .report_html import write_reports

    write_reports(results, out, assignment_title=assignment.title)
    journal.write("finished", graded=len(todo), total=len(results))
    return results


def _run_pool(todo, workers, assignment, options, data_paths, executed_dir, journal, progress, record):
    """Grade ``todo`` on a pool of worker processes, surviving workers that die."""
    attempts: dict[str, int] = {}
    pending = list(todo)
    context = multiprocessing.get_context("spawn")  # no fork: zmq and asyncio do not survive it
    while pending:
        retry = []
        with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=context,
                                                    initializer=_worker_init) as pool:
            futures = {}
            for submission, key in pending:
                journal.write("start", learner=submission.learner, key=key)
                futures[pool.submit(_grade_one, submission, assignment, options, data_paths,
                                    executed_dir, key)] = (submission, key)
                progress.start(submission.learner)
            for future in concurrent.futures.as_completed(futures):
                submission, key = futures[future]
                try:
                    result = future.result()
                except concurrent.futures.process.BrokenProcessPool:
                    attempts[submission.learner] = attempts.get(submission.learner, 0) + 1
                    if attempts[submission.learner] < _MAX_ATTEMPTS:
                        retry.append((submission, key))
                        continue
                    result = ungradable(Path(submission.source), assignment,
                                        "the grading worker process died twice while grading this "
                                        "submission", time.monotonic(), "", submission.learner)
                    result.grading_key = key
                record(submission, key, result)
        pending = retry
        if pending:
            journal.write("worker-lost", retry=[s.learner for s, _ in pending])
