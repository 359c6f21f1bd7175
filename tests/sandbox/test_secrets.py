"""No secret of the grader reaches a learner's notebook (issue 24): a canary hunt.

A canary - a random value the notebook cannot know - is put everywhere the grader's
own secrets live: in its environment (as ``GRADER_WEBHOOK_SECRET`` and a cloud key
would be), on its command line (the output path), in a file it holds open (an
inherited descriptor, and its standard input), in its home folder and in its
temporary folder.  The learner's notebook then hunts for it everywhere a notebook
can read: ``/proc/*/environ``, ``/proc/*/cmdline``, the targets and contents of
``/proc/*/fd/*``, ``/proc/*/maps``, and the files under ``/``, ``/run``, ``/tmp``,
``/var/tmp``, ``/dev/shm``, its home and its working folder (the system's and
Python's read-only trees aside).  It knows only the canary's prefix, and reports
what it searched and found as its cell's error, which every result records.

The hunt runs under ``grader check``, ``grader grade --workers 2``, ``grader serve``
and a Dask worker (``--cluster local:1``), all sandboxed; it must search hundreds of
places and find nothing.  The same hunt without the sandbox finds the canary in the
harness's own ``/proc/PID/environ``: that proves the hunt can find it, and is the
limit the threat model states for ``--sandbox off``.  On the code before issue 24
every sandboxed run found it in ``/proc/1/environ`` (bubblewrap's init).

The kernels are the second assignment's (sklearn_digits: no TensorFlow, seconds each).
"""
from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from grader.run.sandbox import unavailable_reason
from tests.conftest import ROOT
from tests.serve.harness import Service, assignment_copy, body

pytestmark = [pytest.mark.kernel]

PREFIX = "GRADERCANARY"
HUNT = r'''
import os, re, glob
walk = WALK
pattern = re.compile(("GRADER" + "CANARY").encode() + rb"[0-9a-f]{24}")
found, searched = set(), 0

def look(place, data):
    global searched
    searched += 1
    if pattern.search(data):
        found.add(place)

for proc in glob.glob("/proc/[0-9]*"):
    shown = "/proc/self" if proc == f"/proc/{os.getpid()}" else proc
    for name in ("environ", "cmdline", "maps", "mountinfo"):
        try:
            look(f"{shown}/{name}", open(f"{proc}/{name}", "rb").read())
        except OSError:
            pass
    for fd in glob.glob(f"{proc}/fd/*"):
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        place = fd.replace(proc, shown, 1)
        look(f"{place} -> {target}", target.encode())
        if target.startswith("/") and os.path.isfile(fd):
            try:
                with open(fd, "rb") as handle:
                    look(f"{place} contents", handle.read(1 << 20))
            except OSError:
                pass

skip = ("/proc", "/sys", "/dev/pts", "/usr", "/lib", "/lib64", "/bin", "/sbin")
roots = ["/", "/run", "/tmp", "/var/tmp", "/dev/shm", "/etc", os.path.expanduser("~"), os.getcwd()] if walk else []
seen = set()
for root in roots:
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not os.path.join(folder, d).startswith(skip)
                   and "site-packages" not in d and not d.startswith("python3")]
        for name in files:
            path = os.path.join(folder, name)
            if path in seen or not os.path.isfile(path):
                continue
            seen.add(path)
            look(path, path.encode())
            try:
                with open(path, "rb") as handle:
                    look(path, handle.read(1 << 20))
            except OSError:
                pass

raise RuntimeError(f"HUNT searched={searched} found={sorted(found)}")
'''


def _hunt_notebook(path: Path, *, walk: bool = True) -> Path:
    """The hunt; ``walk=False`` searches /proc only (outside a sandbox, / is the whole machine)."""
    notebook = nbformat.v4.new_notebook()
    # The second cell names a part: the service accepts only notebooks of its assignment.
    notebook.cells = [nbformat.v4.new_code_cell(HUNT.replace("WALK", str(walk))),
                      nbformat.v4.new_code_cell('part = "class_means"')]
    nbformat.write(notebook, path)
    return path


def _hunt(result: dict) -> tuple[int, list[str]]:
    """(places searched, places where the canary was found) from a result's cell error."""
    for error in result["errors"]:
        match = re.search(r"HUNT searched=(\d+) found=(\[.*\])", error["evalue"])
        if match:
            return int(match.group(1)), eval(match.group(2), {})  # a list of strings the test printed
    raise AssertionError(f"the hunt did not run: {result['reason']} {result['errors']}")


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """The canary, and where it is planted: (canary, environment, folder, open file)."""
    if unavailable_reason():
        pytest.fail(f"the sandbox is needed here: {unavailable_reason()} (make test installs bubblewrap)")
    canary = PREFIX + secrets.token_hex(12)
    folder = tmp_path_factory.mktemp("secrets")  # the command lines' output paths carry the canary
    home, tmp = folder / "home", folder / "tmp"
    (home / ".config" / "grader").mkdir(parents=True)
    (home / ".config" / "grader" / "post.toml").write_text(f'[webhook]\nsecret = "{canary}"\n')
    tmp.mkdir()
    (tmp / "instructor-notes.txt").write_text(canary)
    held = folder / "held-open.txt"
    held.write_text(f"key={canary}\n")
    assignment = assignment_copy(folder / "course", submissions="attempts = 5")
    env = {**os.environ, "GRADER_WEBHOOK_SECRET": canary, "AWS_SECRET_ACCESS_KEY": canary,
           "HOME": str(home), "TMPDIR": str(tmp), "GRADER_LTI_PRIVATE_KEY": f"-----{canary}-----"}
    return canary, env, folder, held, assignment


def _run(planted, *args, cwd=ROOT, timeout=600) -> subprocess.CompletedProcess:
    """``python -m grader ARGS`` with the canary in its environment, an open file and stdin."""
    _, env, _, held, _ = planted
    with open(held, "rb") as stdin, open(held, "rb") as extra:
        return subprocess.run([sys.executable, "-m", "grader", *map(str, args)], env=env, cwd=cwd,
                              stdin=stdin, pass_fds=(extra.fileno(),), capture_output=True, text=True,
                              timeout=timeout)


def _assert_clean(result: dict, canary: str):
    searched, found = _hunt(result)
    assert result["sandbox"].startswith("bubblewrap"), result["sandbox"]
    assert searched > 100, searched   # it really looked
    assert found == [], f"the canary was readable from the notebook at {found}"
    assert canary not in json.dumps(result)


def test_check_gives_the_notebook_nothing(planted):
    canary, _, folder, _, assignment = planted
    notebook = _hunt_notebook(folder / "check-hunt.ipynb")
    done = _run(planted, "check", notebook, "--assignment", assignment, "--json", "--quiet",
                "--sandbox", "required", "--html", folder / f"page-{canary}.html")
    assert done.returncode == 1, done.stderr
    _assert_clean(json.loads(done.stdout), canary)


def test_grade_with_two_workers_gives_the_notebooks_nothing(planted):
    canary, _, folder, _, assignment = planted
    submissions = folder / "class"
    submissions.mkdir()
    for learner in ("ann", "bob"):
        _hunt_notebook(submissions / f"{learner}.ipynb")
    out = folder / f"out-{canary}"
    done = _run(planted, "grade", submissions, "--assignment", assignment, "--out", out, "--workers", 2,
                "--sandbox", "required", "--quiet")
    assert done.returncode == 1, done.stderr
    for learner in ("ann", "bob"):
        result = json.loads((out / "results" / f"{learner}.json").read_text())
        _assert_clean(result, canary)
        page = (out / "feedback" / f"{learner}.html").read_text()
        assert canary not in page and "HUNT searched=" in page


def test_a_dask_worker_gives_the_notebook_nothing(planted):
    pytest.importorskip("distributed")
    canary, _, folder, _, assignment = planted
    submissions = folder / "cluster-class"
    submissions.mkdir()
    _hunt_notebook(submissions / "cara.ipynb")
    out = folder / f"cluster-out-{canary}"
    done = _run(planted, "grade", submissions, "--assignment", assignment, "--out", out,
                "--cluster", "local:1", "--sandbox", "required", "--quiet")
    assert done.returncode == 1, done.stderr
    _assert_clean(json.loads((out / "results" / "cara.json").read_text()), canary)


def test_serve_gives_the_notebook_nothing(planted):
    canary, env, folder, _, assignment = planted
    out = folder / f"serve-out-{canary}"
    service = Service(assignment, out, workers=1, env=env)
    tokens = service.issue(["dora"])
    # The service's own secrets carry the canary too: the instructor key, and the LTI tool's private
    # key (a PEM with the canary on a line before it, which PEM readers skip).
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    (out / "serve" / "instructor.key").write_text(canary)
    (out / "serve" / "instructor.key").chmod(0o600)
    (out / "serve" / "lti").mkdir(mode=0o700)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    (out / "serve" / "lti" / "tool-key.pem").write_bytes(f"{canary}\n".encode() + key)
    (out / "serve" / "lti" / "tool-key.pem").chmod(0o600)
    service.start()
    try:
        notebook = _hunt_notebook(folder / "serve-hunt.ipynb")
        accepted = service.post(body("dora@example.org", tokens["dora"], notebook.read_bytes()))
        assert accepted.status_code == 201, accepted.text
        service.wait_done([accepted.json()])
    finally:
        assert service.stop() == 130   # Ctrl-C
    _assert_clean(json.loads((out / "results" / "dora.json").read_text()), canary)


def test_without_the_sandbox_the_hunt_finds_the_harness(planted):
    """The control: the hunt does find the canary where it is readable, and this is why
    ``--sandbox off`` is refused a place near secrets (the warning below)."""
    canary, _, folder, _, assignment = planted
    notebook = _hunt_notebook(folder / "off-hunt.ipynb", walk=False)
    done = _run(planted, "check", notebook, "--assignment", assignment, "--json", "--quiet",
                "--sandbox", "off")
    result = json.loads(done.stdout)
    _, found = _hunt(result)
    assert any(place.endswith("/environ") for place in found), found
    # The kernel's own environment is the allow-list even so: not one of the planted variables.
    assert not any(place.startswith("/proc/self/") for place in found), found
    warning = done.stderr.splitlines()[0]
    assert warning.startswith("grader: warning: kernels run without the sandbox")
    assert "AWS_SECRET_ACCESS_KEY" in warning and "GRADER_WEBHOOK_SECRET" in warning
    assert canary not in warning
