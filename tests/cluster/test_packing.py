"""What a Dask worker is sent: the assignment bundle and submission packages (no kernel, no Dask).

The bundle must be self-contained (a worker has no shared disk) and must give
the worker an assignment with the caller's digest, so grading keys and
results match a local run's.
"""
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile

import pytest

from grader.batch import dask as dask_executor
from grader.batch import dask_bundle as cluster
from grader.exceptions import ClusterError, UsageError
from grader.batch.inputs import Submission
from grader.assignments import load_assignment
from tests.conftest import ASSIGNMENT_DIR, REFERENCE_DIR, ROOT


@pytest.fixture()
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(cluster.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(cluster, "_OPENED", {})
    return tmp_path / "cache"


@pytest.fixture()
def copied(tmp_path, mnist_path):
    """The assignment, its reference and MNIST copied to a folder the test deletes later."""
    root = tmp_path / "copy"
    shutil.copytree(ASSIGNMENT_DIR, root / "assignments" / "mnist_digits")
    shutil.copytree(REFERENCE_DIR, root / "reference" / "mnist_digits")
    shutil.copy(mnist_path, root / "mnist.npz")
    assignment = load_assignment(root / "assignments" / "mnist_digits")
    return root, assignment, {"mnist": root / "mnist.npz"}


def test_bundle_is_deterministic_and_leaves_the_solution_out(assignment, mnist_path):
    first = cluster.pack_assignment(assignment, {"mnist": mnist_path})
    second = cluster.pack_assignment(assignment, {"mnist": mnist_path})
    assert first.digest == second.digest == hashlib.sha256(first.data).hexdigest()
    names = set(first.files)
    assert "assignment/mnist_digits/assignment.toml" in names
    assert "assignment/mnist_digits/helpers/grading.py" in names
    assert "reference/mnist_digits/thresholds.toml" in names
    assert first.data_files == {"mnist": "data/mnist/mnist.npz"}
    assert not any("solution" in name or "calibration" in name for name in names)
    assert first.manifest().data == b"" and first.manifest().files == first.files


def test_a_worker_needs_nothing_but_the_bundle(copied, fresh_cache):
    root, assignment, data_paths = copied
    bundle = cluster.pack_assignment(assignment, data_paths)
    shutil.rmtree(root)  # no shared disk: the caller's files are gone
    local, local_data = cluster.open_bundle(bundle.manifest(), assignment, lambda: bundle.data)
    assert local.digest == assignment.digest
    assert local.folder.is_relative_to(fresh_cache) and (local.helpers_path / "grading.py").is_file()
    assert (local.reference_folder / "thresholds.toml").is_file()
    assert not (local.reference_folder / "solution.ipynb").exists()
    assert hashlib.sha256(local_data["mnist"].read_bytes()).hexdigest() == bundle.files["data/mnist/mnist.npz"]
    assert oct(local_data["mnist"].stat().st_mode & 0o777) == oct(0o644)  # the sandbox user reads it
    # Unpacked once: the next task of this process does not even look at the bytes.
    assert cluster.open_bundle(bundle.manifest(), assignment, lambda: pytest.fail("fetched twice")) \
        == (local, local_data)


def test_a_damaged_cache_is_unpacked_again(assignment, mnist_path, fresh_cache, monkeypatch):
    bundle = cluster.pack_assignment(assignment, {"mnist": mnist_path})
    local, _ = cluster.open_bundle(bundle.manifest(), assignment, lambda: bundle.data)
    (local.helpers_path / "grading.py").write_text("# truncated by a tmp cleaner")
    monkeypatch.setattr(cluster, "_OPENED", {})  # another worker process
    again, _ = cluster.open_bundle(bundle.manifest(), assignment, lambda: bundle.data)
    assert (again.helpers_path / "grading.py").read_bytes() == \
        (assignment.helpers_path / "grading.py").read_bytes()


def test_a_bundle_of_another_assignment_version_is_refused(assignment, mnist_path, fresh_cache):
    import dataclasses

    bundle = cluster.pack_assignment(assignment, {"mnist": mnist_path})
    other = dataclasses.replace(assignment, digest="0" * 64)
    with pytest.raises(ClusterError, match="digest"):
        cluster.open_bundle(bundle.manifest(), other, lambda: bundle.data)
    damaged = cluster.Bundle(**{**bundle.manifest().__dict__, "digest": "f" * 64})
    with pytest.raises(ClusterError, match="damaged"):
        cluster.open_bundle(damaged, assignment, lambda: bundle.data)


def test_a_submission_package_keeps_the_folder_layout(tmp_path):
    folder = tmp_path / "alice"
    (folder / "data").mkdir(parents=True)
    (folder / "work.ipynb").write_text("{}")
    (folder / "data" / "x.csv").write_text("1,2")
    (folder / "notes é.txt").write_text("hi")
    submission = Submission(learner="alice", notebook=folder / "work.ipynb",
                            files=[folder / "data" / "x.csv", folder / "notes é.txt"], source="alice/")
    package = cluster.pack_submission(submission)
    assert package.notebook == "work.ipynb" and package.files == ("data/x.csv", "notes é.txt")
    cluster.unpack(package.data, tmp_path / "out")
    assert (tmp_path / "out" / "data" / "x.csv").read_text() == "1,2"
    assert (tmp_path / "out" / "notes é.txt").read_text() == "hi"


def test_unpack_refuses_members_outside_the_target(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("../escape.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    with pytest.raises(ClusterError, match="refusing"):
        cluster.unpack(buffer.getvalue(), tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()


def test_cluster_option_parses_without_importing_dask():
    code = ("import argparse, sys\n"
            "from grader.cli.options import add_cluster_option\n"
            "p = argparse.ArgumentParser(); add_cluster_option(p)\n"
            "print(p.parse_args(['--cluster', 'local:2']).cluster, p.parse_args([]).cluster,\n"
            "      'distributed' in sys.modules or 'dask' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.stdout.split() == ["local:2", "None", "False"], done.stderr
    for good in ("local:1", "tcp://10.0.0.5:8786", "scheduler:8786"):
        assert dask_executor.cluster_address(good) == good
    for bad in ("local:0", "local:two", "nowhere"):
        with pytest.raises(UsageError):
            dask_executor.cluster_address(bad)


def test_worker_processes_of_one_machine_share_one_unpacked_copy(assignment, mnist_path, tmp_path):
    # Four worker processes open the bundle at once on an empty cache: one unpacks, the others
    # wait for it (a lock file), nobody sees half a bundle or sets another's copy aside.
    import pickle

    bundle = cluster.pack_assignment(assignment, {"mnist": mnist_path})
    (tmp_path / "bundle.pickle").write_bytes(pickle.dumps((bundle.manifest(), assignment, bundle.data)))
    code = ("import pickle, sys\n"
            "from grader.batch import dask_bundle as cluster\n"
            "manifest, assignment, data = pickle.loads(open(sys.argv[1], 'rb').read())\n"
            "local, _ = cluster.open_bundle(manifest, assignment, lambda: data)\n"
            "print(local.digest == assignment.digest)\n")
    env = {**os.environ, cluster.CACHE_ENV: str(tmp_path / "cache")}
    workers = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "bundle.pickle")], cwd=ROOT,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(4)]
    outputs = [worker.communicate(timeout=120) for worker in workers]
    assert [out.strip() for out, _ in outputs] == ["True"] * 4, [err[-500:] for _, err in outputs]
    assert [p.name for p in (tmp_path / "cache").iterdir() if not p.name.startswith(".")] == [bundle.digest]
