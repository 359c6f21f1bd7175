"""Grading a class on a Dask cluster gives the local engine's gradebook, even when a worker dies.

Tiny notebooks (an untrained model, seconds per kernel; see
tests/integration/test_batch.py) so that the cluster machinery is what takes
the time.  The clusters are Dask LocalClusters of worker processes on this
machine: ``local:2`` made by the grader itself, and clusters made here and
given by address, as a remote scheduler would be.  One batch runs at a time.
"""
import json
import os
import signal
import threading
import time

import pytest

from grader.api import grade
from tests.integration.test_batch import GRADED, UNTRAINED, _gradebook, _notebook

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

# Fields that differ between two gradings of the same notebook anywhere.
_VOLATILE = {"started_at", "duration_s", "peak_memory_mb", "evaluator_peak_memory_mb", "timings"}


@pytest.fixture(scope="module")
def class_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    _notebook(root / "alice.ipynb", UNTRAINED, GRADED)
    _notebook(root / "José María Ñandú.ipynb", UNTRAINED, GRADED)
    # bob's W takes its size from the file he submitted: it passes only if the file reached the kernel.
    _notebook(root / "bob" / "work.ipynb",
              UNTRAINED.replace("shape=(784, 10)", "shape=(int(open('sizes/w.txt').read()), 10)"), GRADED)
    (root / "bob" / "sizes").mkdir()
    (root / "bob" / "sizes" / "w.txt").write_text("784")
    _notebook(root / "frank.ipynb", UNTRAINED, "1 / 0", GRADED)
    _notebook(root / "gina.ipynb", UNTRAINED.replace("shape=(784, 10)", "shape=(784, 5)"), GRADED)
    _notebook(root / "carol" / "a.ipynb", UNTRAINED)
    _notebook(root / "carol" / "b.ipynb", UNTRAINED)
    (root / "dave.pdf").write_text("%PDF")
    (root / "erin.ipynb").write_text('{"cells": [')
    return root


def _results(out):
    found = {}
    for path in sorted((out / "results").glob("*.json")):
        result = json.loads(path.read_text(encoding="utf-8"))
        found[result["learner"]] = {k: v for k, v in result.items() if k not in _VOLATILE}
    return found


def _done_events(out):
    events = [json.loads(line) for line in (out / "journal.jsonl").read_text().splitlines()]
    return [e["learner"] for e in events if e["event"] == "done"], events


def _same_as_local(out, local):
    assert _gradebook(out) == _gradebook(local)
    ours, theirs = _results(out), _results(local)  # grading keys, digests, measured values, messages
    assert sorted(ours) == sorted(theirs)
    differing = {(learner, field): (ours[learner].get(field), theirs[learner].get(field))
                 for learner in ours for field in set(ours[learner]) | set(theirs[learner])
                 if ours[learner].get(field) != theirs[learner].get(field)}
    assert not differing
    assert sorted(p.name for p in (out / "executed").iterdir()) == \
        sorted(p.name for p in (local / "executed").iterdir())
    done, _ = _done_events(out)
    assert len(done) == len(set(done)) == len(_gradebook(local))  # each learner recorded once


@pytest.fixture(scope="module")
def local_run(class_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("local")
    grade(class_folder, out=out, assignment="mnist_digits", workers=2)
    rows = {r["learner"]: r for r in _gradebook(out)}
    assert rows["bob"]["9XaAS"] == "1" and rows["gina"]["9XaAS"] == "0"
    assert rows["frank"]["9XaAS"] == "1"  # measured despite the ZeroDivisionError before it
    assert rows["erin"]["status"] == "ungradable" and "several notebooks" in rows["carol"]["reason"]
    return out


def test_local_cluster_gives_the_local_gradebook(class_folder, local_run, tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_CLUSTER_CACHE", str(tmp_path / "cache"))  # the workers inherit it
    out = tmp_path / "out"
    lines = []
    results = grade(class_folder, out=out, assignment="mnist_digits", workers=2, cluster="local:2",
                    progress=lines.append)
    assert len(results) == 8 and lines[-1].startswith("graded 8 submission(s)")
    _same_as_local(out, local_run)
    _, events = _done_events(out)
    (batch,) = [e for e in events if e["event"] == "cluster"]
    assert batch["workers"] == 2 and batch["bundle_mb"] > 10  # MNIST travelled in the bundle
    (unpacked,) = _bundles(tmp_path / "cache")  # two workers, one machine: unpacked once
    assert (unpacked / "data" / "mnist" / "mnist.npz").is_file()

    again = grade(class_folder, out=out, assignment="mnist_digits", cluster="local:2",
                  progress=lines.append)  # resume: nothing to grade, no cluster started
    assert "resuming: 8 of 8 already graded" in lines and len(again) == 8
    assert sum(1 for e in _done_events(out)[1] if e["event"] == "cluster") == 1


def _bundles(cache):
    return [p for p in cache.iterdir() if not p.name.startswith(".")]


def _kill_a_busy_worker(client, killed: list, *, after_s: float = 2.0, then=None) -> None:
    """SIGKILL the process of a worker that is grading, ``after_s`` into its notebook."""
    pids = client.run(os.getpid)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for worker, keys in client.processing().items():
            grading = [k for k in keys if str(k).startswith("grade-")]
            if grading:
                time.sleep(after_s)
                if grading[0] in client.processing().get(worker, ()):
                    os.kill(pids[worker], signal.SIGKILL)
                    killed.append(worker)
                    if then:
                        then()
                    return
        time.sleep(0.2)


def _graded_while_killing(folder, out, n_workers, then=None):
    from distributed import Client, LocalCluster

    killed: list = []
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, memory_limit=0) as cluster, Client(cluster) as client:
        killer = threading.Thread(target=_kill_a_busy_worker, args=(client, killed),
                                  kwargs={"then": then})
        killer.start()
        grade(folder, out=out, assignment="mnist_digits", workers=n_workers,
              cluster=cluster.scheduler_address)
        killer.join()
    assert killed, "no worker was grading when the test looked"
    return killed


def test_a_killed_worker_costs_a_regrade_not_a_result(class_folder, local_run, tmp_path):
    out = tmp_path / "out"
    killed = _graded_while_killing(class_folder, out, 2)
    _same_as_local(out, local_run)
    _, events = _done_events(out)
    lost = [e for e in events if e["event"] == "worker-lost"]
    assert [e["worker"] for e in lost] == killed and len(lost[0]["retry"]) == 1


def test_a_replacement_worker_gets_the_files_from_the_scheduler(class_folder, local_run, tmp_path,
                                                                monkeypatch):
    # One worker, killed mid-notebook, and its machine's cache wiped: the replacement starts with
    # no files at all, and can only get them from the plugin the scheduler hands it.
    import shutil

    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(class_folder / "alice.ipynb", folder)
    shutil.copytree(class_folder / "bob", folder / "bob")
    cache = tmp_path / "cache"
    monkeypatch.setenv("GRADER_CLUSTER_CACHE", str(cache))
    wiped = []

    def wipe():
        wiped.extend(p.name for p in _bundles(cache))
        shutil.rmtree(cache)

    out = tmp_path / "out"
    _graded_while_killing(folder, out, 1, then=wipe)
    expected = [r for r in _gradebook(local_run) if r["learner"] in ("alice", "bob")]
    assert _gradebook(out) == expected
    assert len(wiped) == 1 and [p.name for p in _bundles(cache)] == wiped  # unpacked again
    done, events = _done_events(out)
    assert sorted(done) == ["alice", "bob"]
    assert [len(e["retry"]) for e in events if e["event"] == "worker-lost"] == [1]


def test_a_notebook_that_kills_its_worker_twice_is_a_row(tmp_path):
    # Without the sandbox a kernel can reach its parent, the Dask worker process. As with the
    # local pool, the second death makes the submission the cause: a row, and the batch goes on.
    from grader.orchestrate import GradeOptions

    folder = tmp_path / "in"
    _notebook(folder / "alice.ipynb", UNTRAINED, GRADED)
    _notebook(folder / "mallory.ipynb", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)", GRADED)
    out = tmp_path / "out"
    grade(folder, out=out, assignment="mnist_digits", cluster="local:2",
          options=GradeOptions(sandbox="off"))
    rows = {r["learner"]: r for r in _gradebook(out)}
    assert rows["alice"]["status"] == "graded" and rows["alice"]["9XaAS"] == "1"
    assert rows["mallory"]["status"] == "ungradable"
    assert rows["mallory"]["reason"].startswith(  # the local engine's words
        "the grading worker process died twice while grading this submission")
    done, events = _done_events(out)
    assert sorted(done) == ["alice", "mallory"]
    assert sum(1 for e in events if e["event"] == "worker-lost") == 2
