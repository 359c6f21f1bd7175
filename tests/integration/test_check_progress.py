"""``grader check`` shows its progress while the notebook runs: real kernels, a real terminal.

A tiny notebook (an untrained model: seconds per kernel) with two graded parts:
the shapes (measured in the kernel) and the linear accuracy (its model goes to
the evaluator, which measures it beside the kernel), then a cell that sleeps,
a cell that raises and a last cell.  The accuracy's verdict must be shown while
the sleeping cell runs, before the notebook ends.  The terminal is a real
pseudo-terminal (pty), read back through a terminal emulator (pyte) to see what
stays on the screen.
"""
import fcntl
import json
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time

import pytest

from tests.conftest import ROOT
from tests.snippets import SHAPES, UNTRAINED_MODEL as UNTRAINED, write_notebook as _notebook

pytestmark = pytest.mark.kernel

ACCURACY = 'grader.set_answer("RMv95", 0.5)  # the claim; the grader measures'
SLEEP_S = 12  # longer than the evaluator takes to answer on a loaded machine


@pytest.fixture(scope="module")
def notebooks(tmp_path_factory):
    folder = tmp_path_factory.mktemp("progress")
    slow = _notebook(folder / "sleeps.ipynb", UNTRAINED, SHAPES, ACCURACY, f"import time\ntime.sleep({SLEEP_S})",
                     "x = undefined_name", "print('end')")
    quick = _notebook(folder / "quick.ipynb", UNTRAINED, SHAPES, ACCURACY, "x = undefined_name", "print('end')")
    return {"slow": slow, "quick": quick}


def _command(notebook, *extra):
    return [sys.executable, "-m", "grader", "check", str(notebook), "--assignment", "mnist_digits",
            "--cell-timeout", "120", *extra]


def _on_pty(argv, *, columns=120, rows=60, timeout=600):
    """Run ``argv`` with a pseudo-terminal as stdin, stdout and stderr.

    Returns the output, the exit status and when each piece arrived ((seconds, text) pairs).
    """
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    env = {**os.environ, "COLUMNS": str(columns), "LINES": str(rows), "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    started = time.monotonic()
    process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=ROOT, env=env,
                               start_new_session=True)
    os.close(slave)
    output, arrivals = b"", []
    try:
        while time.monotonic() - started < timeout:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the other side is closed
                break
            if not chunk:
                break
            arrivals.append((time.monotonic() - started, chunk.decode("utf-8", "replace")))
            output += chunk
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        os.close(master)
    return output.decode("utf-8", "replace"), process.returncode, arrivals


def test_live_progress_on_a_terminal(notebooks):
    import pyte

    text, status, arrivals = _on_pty(_command(notebooks["slow"]))
    assert status == 1, text[-2000:]
    # The status line is drawn for every cell, in order (transient: only in the stream).
    positions = [text.find(f"cell {n}/6") for n in range(1, 7)]
    assert -1 not in positions and positions == sorted(positions), positions
    # The accuracy's verdict is printed while the sleeping cell runs: before cell 5 starts.
    assert text.index("RMv95") < text.find("cell 5/6"), text
    # The display is up at once, long before the kernel is ready.
    ready = next(at for at, chunk in arrivals if "kernel ready" in chunk)
    assert arrivals[0][0] < ready - 1.0, (arrivals[0][0], ready)

    screen = pyte.Screen(120, 60)
    pyte.ByteStream(screen).feed(text.encode("utf-8"))
    shown = [line.rstrip() for line in screen.display if line.strip()]
    order = ["checking sleeps.ipynb for mnist_digits: 6 code cells, 5 parts; graded after 9XaAS (cell 2), "
             "RMv95 (cell 3)", "kernel ready in", "PASS    9XaAS 1/1 after cell 2  Shapes 784 10 10 None 784",
             "FAIL    RMv95 0/1 after cell 3  The linear model's validation accuracy is",
             "cell 5/6 raised: NameError: name 'undefined_name' is not defined", "done in 0:",
             "mnist_digits | sleeps.ipynb | 1/5 points", "part    verdict  points  measured"]
    at = [next((i for i, line in enumerate(shown) if line.startswith(want)), None) for want in order]
    assert None not in at and at == sorted(at), "\n".join(shown)
    assert not any("cell 6/6" in line for line in shown)  # the status line does not stay
    assert not any("\u2819" in line or "\u280b" in line for line in shown)  # nor its spinner


def test_plain_lines_html_page_and_open(notebooks, tmp_path):
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser"
    # A stand-in for the learner's browser (there is none here): it records the address it is given.
    browser.write_text(f"#!/bin/sh\necho \"$1\" > {opened}\n")
    browser.chmod(0o755)
    page = tmp_path / "pages" / "feedback.html"
    run = subprocess.run(_command(notebooks["quick"], "--html", str(page), "--open"), cwd=ROOT,
                         capture_output=True, text=True, timeout=600, env={**os.environ, "BROWSER": str(browser)})
    assert run.returncode == 1, run.stderr
    assert run.stdout.startswith("mnist_digits | quick.ipynb | 1/5 points")  # the table only
    lines = [line.split("] ", 1)[1] for line in run.stderr.splitlines() if line.startswith("[")]
    assert lines[0].startswith("checking quick.ipynb for mnist_digits: 5 code cells")
    assert lines[1].startswith("starting a fresh kernel") and lines[2].startswith("kernel ready in")
    cells = [lines.index(next(line for line in lines if line.startswith(f"cell {n}/5: "))) for n in range(1, 6)]
    assert cells == sorted(cells)
    shapes = lines.index(next(line for line in lines if line.startswith("9XaAS PASS 1/1 after cell 2:")))
    assert cells[1] < shapes < cells[2]  # measured in the kernel right after its cell, before the next
    assert any(line.startswith("RMv95 FAIL 0/1 after cell 3: The linear model's validation accuracy")
               for line in lines)
    raised = lines.index("cell 4/5 raised: NameError: name 'undefined_name' is not defined")
    assert cells[3] < raised < cells[4] and lines[-1] == "done: 1/5 points"
    assert "\x1b[" not in run.stderr  # no terminal codes in a log

    html = page.read_text(encoding="utf-8")
    assert 'data-part="9XaAS"' in html and 'data-part="RMv95"' in html and "undefined_name" in html
    assert opened.read_text().strip() == page.resolve().as_uri()
    assert f"feedback page: {page}" in run.stderr


def test_streamed_verdicts_are_the_final_ones(notebooks):
    run = subprocess.run(_command(notebooks["slow"], "--progress", "jsonl", "--json"), cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 1, run.stderr
    result = json.loads(run.stdout)  # stdout is the result and nothing else
    events = [json.loads(line) for line in run.stderr.splitlines()]
    names = [e["event"] for e in events]
    assert names[:3] == ["started", "kernel_starting", "kernel_ready"] and names[-1] == "finished"
    assert events[-1]["result"] == result
    started = {e["number"]: e["elapsed"] for e in events if e["event"] == "cell_started"}
    judged = {e["part"]["id"]: e for e in events if e["event"] == "part_judged"}
    assert sorted(judged) == ["9XaAS", "RMv95"]
    # The evaluator's verdict came during the sleep, long before the notebook ended.
    assert judged["RMv95"]["elapsed"] < started[5] and names.index("part_judged") < names.index("finished")
    assert started[5] - judged["RMv95"]["elapsed"] > 1.0
    final = {part["id"]: part for part in result["parts"]}
    for part_id, event in judged.items():
        assert event["part"] == final[part_id]  # the streamed verdict is the graded verdict
