"""The fault and attack catalogue: each a notebook graded by a real, sandboxed kernel.

One batch grades them all side by side (2 workers), so the tests also show
that one learner's attack leaves the others' results untouched.  The kernels
skip TensorFlow (framework "none") to keep this fast: what is exercised here
is the sandbox, the limits and the harness's handling of faults.
"""
import dataclasses
import http.server
import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import pytest

from grader.api import grade
from grader.orchestrate import GradeOptions
from grader.run.sandbox import unavailable_reason
from tests.conftest import REFERENCE_DIR, ROOT

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

PREFIX = "import os, sys, time, socket, subprocess\n"


class _Counter(http.server.BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self):  # noqa: N802
        type(self).hits += 1
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd
    httpd.shutdown()


def _nb(path: Path, *cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(PREFIX + cells[0])] + [nbformat.v4.new_code_cell(c) for c in cells[1:]]
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory, assignment, server):
    if unavailable_reason():
        pytest.fail(f"the sandbox is needed here: {unavailable_reason()} (make test installs bubblewrap)")
    folder = tmp_path_factory.mktemp("attacks")
    out = tmp_path_factory.mktemp("out")
    port = server.server_address[1]
    after = "print('next cell ran')"
    attacks = {
        "infinite_loop": ["while True:\n    pass", after],
        "long_sleep": ["time.sleep(10**6)", after],
        "os_exit": ["os._exit(3)", after],
        "segfault": ["import ctypes\nctypes.string_at(0)", after],
        "memory_hog": ["x = []\nwhile True:\n    x.append(b'x' * 50_000_000)", after],
        "fork_bomb": ["n = 0\ntry:\n    while True:\n        if os.fork() == 0:\n            time.sleep(20)\n"
                      "            os._exit(0)\n        n += 1\nexcept OSError as e:\n    print('fork refused after', n)",
                      after],
        "huge_output": ["for i in range(200_000):\n    print('y' * 500)", after],
        "asks_input": ["input('your name? ')", after],
        "sys_exit": ["sys.exit(1)", after],
        "daemon": ["subprocess.Popen(['sleep', '4242'], start_new_session=True)", after],
        "network": [f"socket.create_connection(('127.0.0.1', {port}), timeout=3)", after],
        "external_network": ["socket.create_connection(('1.1.1.1', 53), timeout=3)", after],
        "reads_shadow": ["print(open('/etc/shadow').read())", after],
        "reads_reference": [f"print(open({str(REFERENCE_DIR / 'solution.ipynb')!r}).read()[:100])", after],
        "reads_home": ["print('HOME:', sorted(os.listdir('/root')))", after],
        "reads_other_submission": [f"print(open({str(folder / 'fine.ipynb')!r}).read()[:100])", after],
        "writes_results": [f"open({str(out / 'results' / 'fine.json')!r}, 'w').write('{{}}')", after],
        "writes_harness": [f"open({str(ROOT / 'grader' / 'evil.py')!r}, 'w').write('x')", after],
        "fine": ["print('hello')", after],
    }
    for name, cells in attacks.items():
        _nb(folder / f"{name}.ipynb", *cells)
    (folder / "corrupt.ipynb").write_text('{"cells": [{"cell_type": "code", ')
    (folder / "empty.ipynb").write_text("")
    shutil.copy(ROOT / "assignments" / "mnist_digits" / "template.ipynb", folder / "Ünïcode name with spaces.ipynb")
    other = sorted((ROOT / "assignments").glob("*/template.ipynb"))
    other = [p for p in other if p.parent.name != "mnist_digits"]
    if other:
        shutil.copy(other[0], folder / "other_assignment.ipynb")
    fast = dataclasses.replace(assignment, kernel=dataclasses.replace(
        assignment.kernel, framework="none", tf1_compat=False))
    results = grade(folder, assignment=fast, out=out, workers=2, options=GradeOptions(
        cell_timeout=5, notebook_budget=60, memory_mb=1000, max_processes=64, sandbox="required"))
    executed = {r.learner: nbformat.read(out / "executed" / f"{r.learner}.ipynb", as_version=4)
                for r in results if (out / "executed" / f"{r.learner}.ipynb").exists()}
    return {r.learner: r for r in results}, executed, out


def _errors(result):
    return " | ".join(f"{e.ename}: {e.evalue}" for e in result.errors)


def _ran_after(executed, learner):
    return any("next cell ran" in "".join(o.get("text", "") for o in c.get("outputs", []))
               for c in executed[learner].cells)


@pytest.mark.parametrize("learner, reason, continues", [
    ("infinite_loop", "Timeout", True),
    ("long_sleep", "Timeout", True),
    ("os_exit", "exit status 3", False),
    ("segfault", "the kernel died", False),
    ("memory_hog", "memory cap of 1000 MB", False),
    ("asks_input", "StdinNotImplementedError", True),
    ("sys_exit", "SystemExit", True),
    ("network", "ConnectionRefusedError", True),      # its own empty network namespace
    ("external_network", "Network is unreachable", True),
    ("reads_shadow", "FileNotFoundError", True),
    ("reads_reference", "FileNotFoundError", True),
    ("reads_other_submission", "FileNotFoundError", True),
    ("writes_results", "Error", True),
    ("writes_harness", "Error", True),
])
def test_fault_is_a_verdict_with_a_reason(catalogue, learner, reason, continues):
    results, executed, _ = catalogue
    result = results[learner]
    assert result.status == "graded"
    assert result.sandbox.startswith("bubblewrap")
    assert reason in _errors(result) + result.reason, (_errors(result), result.reason)
    assert _ran_after(executed, learner) == continues
    assert all(p.message for p in result.parts)


def test_home_folders_are_not_visible(catalogue):
    import os

    _, executed, _ = catalogue
    text = "".join(o.get("text", "") for c in executed["reads_home"].cells for o in c.get("outputs", []))
    # Only the Python installation may show (when Python itself lives under a home folder).
    python_roots = {p.relative_to("/root").parts[0] for p in map(Path, {os.path.realpath(sys.base_prefix)})
                    if str(p).startswith("/root/")}
    for entry in set(os.listdir("/root")) - python_roots:
        assert repr(entry) not in text, text


def test_network_server_saw_nothing(catalogue):
    assert _Counter.hits == 0


def test_fork_bomb_is_capped(catalogue):
    results, executed, _ = catalogue
    text = "".join(o.get("text", "") for c in executed["fork_bomb"].cells for o in c.get("outputs", []))
    assert "fork refused after" in text and _ran_after(executed, "fork_bomb")


def test_huge_output_is_capped_and_the_notebook_goes_on(catalogue):
    _, executed, out = catalogue
    assert _ran_after(executed, "huge_output")
    assert "output truncated" in json.dumps(executed["huge_output"].cells[0].outputs)
    assert (out / "executed" / "huge_output.ipynb").stat().st_size < 10 * 1024 * 1024


def test_daemon_dies_with_its_kernel(catalogue):
    assert subprocess.run(["pgrep", "-f", "sleep 4242"], capture_output=True).returncode == 1


def test_nothing_was_written_outside_the_sandbox(catalogue):
    _, _, out = catalogue
    assert json.loads((out / "results" / "fine.json").read_text())["learner"] == "fine"
    assert not (ROOT / "grader" / "evil.py").exists()


def test_bad_files_and_names(catalogue):
    results, _, _ = catalogue
    assert results["corrupt"].status == "ungradable" and "not a Jupyter notebook" in results["corrupt"].reason
    assert results["empty"].status == "ungradable" and "empty" in results["empty"].reason
    unicode = results["Ünïcode name with spaces"]
    assert unicode.status == "graded" and all(p.status != "passed" for p in unicode.parts)
    if "other_assignment" in results:
        assert all(p.status == "missing" for p in results["other_assignment"].parts)
    assert results["fine"].status == "graded" and _ran_after(catalogue[1], "fine")
