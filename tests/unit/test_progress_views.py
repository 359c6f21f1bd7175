"""The views of a check's events, and how the Jupyter check finds the notebook.

The events here are made by hand in the order a grading emits them; the same
views on a real grading (a kernel, a pseudo-terminal, a Jupyter kernel) are in
``tests/integration/test_check_progress.py`` and ``test_jupyter_magic.py``.
"""
import io
import json
import os
import time
import warnings

import pytest

from grader.events import (CellFinished, CellStarted, CleanRunStarted, Emitter, Finished, KernelReady,
                           KernelStarting, PartJudged, Started, event_from_dict)
from grader.exceptions import UsageError
from grader.jupyter import find_notebook, saved_text
from grader.report.live import JsonLinesProgress, PlainProgress, check_progress
from grader.report.notebook import InlineProgress, result_bundle
from grader.results import PartResult, SubmissionResult

PASSED = PartResult(id="9XaAS", status="passed", points=1, max_points=1, cell=2,
                    message="Shapes 784 10 10 None 784 None 10.")
HIDDEN = PartResult(id="T3st", status="failed", points=0, max_points=1, cell=3, hidden=True,
                    measured=0.4242, message="Test accuracy 0.4242 is below the required 0.9.")
RESULT = SubmissionResult(learner="nb", assignment="mnist_digits", submission="nb.ipynb", total=1,
                          max_total=2, parts=[PASSED, HIDDEN])


def _events():
    return [Started(elapsed=0.1, notebook="nb.ipynb", assignment="mnist_digits", cells=3,
                    parts=("9XaAS", "T3st"), graded={"9XaAS": 2, "T3st": 3}),
            KernelStarting(elapsed=0.2, sandbox="off"), KernelReady(elapsed=3.0, seconds=2.8),
            CellStarted(elapsed=3.0, number=1, total=3, first_line="import numpy as np"),
            CellFinished(elapsed=3.5, number=1, total=3, duration_s=0.5),
            CellStarted(elapsed=3.5, number=2, total=3, first_line="grader.set_answer(...)"),
            CellFinished(elapsed=3.6, number=2, total=3, duration_s=0.1),
            PartJudged(elapsed=3.7, part=PASSED),
            CellStarted(elapsed=3.7, number=3, total=3, first_line="x = undefined"),
            CellFinished(elapsed=3.8, number=3, total=3, status="error", duration_s=0.1,
                         error="NameError: name 'undefined' is not defined"),
            PartJudged(elapsed=4.0, part=HIDDEN),
            Finished(elapsed=4.1, result=RESULT)]


def test_plain_lines_in_order_without_hidden_values():
    stream = io.StringIO()
    view = PlainProgress(stream)
    for event in _events():
        view(event)
    lines = [line.split("] ", 1)[1] for line in stream.getvalue().splitlines()]
    assert lines == [
        "checking nb.ipynb for mnist_digits: 3 code cells, 2 parts; graded after 9XaAS (cell 2), T3st (cell 3)",
        "starting a fresh kernel (off)", "kernel ready in 2.8 s",
        "cell 1/3: import numpy as np", "cell 2/3: grader.set_answer(...)",
        "9XaAS PASS 1/1 after cell 2: Shapes 784 10 10 None 784 None 10.",
        "cell 3/3: x = undefined", "cell 3/3 raised: NameError: name 'undefined' is not defined",
        "T3st FAIL 0/1 after cell 3: (measured on hidden data)", "done: 1/2 points"]
    assert "0.4242" not in stream.getvalue()


def test_json_lines_round_trip():
    stream = io.StringIO()
    view = JsonLinesProgress(stream)
    for event in _events():
        view(event)
    back = [event_from_dict(json.loads(line)) for line in stream.getvalue().splitlines()]
    assert back == _events()
    with pytest.raises(ValueError):
        event_from_dict({"event": "no_such_event"})


def test_auto_is_plain_off_a_terminal_and_none_is_silent():
    stream = io.StringIO()
    with check_progress("auto", stream) as view:
        view(_events()[0])
    assert stream.getvalue().count("\n") == 1
    with check_progress("none", stream) as view:
        for event in _events():
            view(event)
    assert stream.getvalue().count("\n") == 1
    with pytest.raises(ValueError):
        check_progress("loud", stream)


def test_live_view_prints_verdicts_and_leaves_no_status_line():
    stream = io.StringIO()
    with check_progress("live", stream, announce="checking nb.ipynb") as view:
        for event in _events():
            view(event)
    text = stream.getvalue()
    assert "checking nb.ipynb" in text and "cell 2/3" in text  # the status line was drawn
    for fragment in ("PASS", "9XaAS", "cell 3/3 raised", "(measured on hidden data)", "done in 0:04: 1/2 points"):
        assert fragment in text
    assert text.index("PASS") < text.index("cell 3/3 raised") < text.index("(measured on hidden data)")
    assert "0.4242" not in text
    # What stays on the screen: the lines printed above the status line, which is gone.
    import pyte

    screen = pyte.Screen(100, 30)
    pyte.Stream(screen).feed(text.replace("\n", "\r\n"))  # a terminal's line discipline adds the \r
    shown = [line.rstrip() for line in screen.display if line.strip()]
    assert shown[0].startswith("checking nb.ipynb for mnist_digits")  # wrapped at 80 columns
    assert shown[-5:] == ["kernel ready in 2.8 s", "PASS    9XaAS 1/1 after cell 2  Shapes 784 10 10 None 784 None 10.",
                         "cell 3/3 raised: NameError: name 'undefined' is not defined",
                         "FAIL    T3st 0/1 after cell 3  (measured on hidden data)", "done in 0:04: 1/2 points"]
    assert not any("x = undefined" in line for line in shown)  # the status line did not stay


def test_a_failing_listener_never_stops_the_grading():
    calls = []

    def broken(event):
        calls.append(event)
        raise BrokenPipeError("stderr closed")

    emit = Emitter(broken)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        emit(KernelReady, seconds=1.0)
        emit(KernelReady, seconds=2.0)
    assert len(calls) == 1 and isinstance(emit.failure, BrokenPipeError)
    assert "progress display stopped" in str(caught[0].message)


def test_inline_views_show_progress_then_the_table():
    view = InlineProgress("Checking nb.ipynb as saved at 10:00:00 (5 s ago).")
    for event in _events()[:-1]:
        view.add(event)
    bundle = view.bundle(4.0)
    assert "9XaAS PASS 1/1" in bundle["text/plain"] and "(measured on hidden data)" in bundle["text/plain"]
    assert "cell 3/3: x = undefined (0:04)" in bundle["text/plain"]
    assert "0.4242" not in bundle["text/html"]
    final = result_bundle(RESULT, saved="Checked nb.ipynb as saved at 10:00:00 (5 s ago).")
    assert 'data-part="9XaAS"' in final["text/html"] and ">passed<" in final["text/html"]
    assert "0.4242" not in final["text/html"] and "Checked nb.ipynb" in final["text/plain"]
    hostile = PartResult(id="x", status="failed", message="<script>alert(1)</script>")
    html = result_bundle(SubmissionResult(learner="n", assignment="a", parts=[hostile]), saved="s")["text/html"]
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_the_notebook_open_in_jupyter_is_found(tmp_path):
    folder = tmp_path / "course" / "week2"
    folder.mkdir(parents=True)
    notebook = folder / "digits.ipynb"
    notebook.write_text("{}")
    # JupyterLab / Notebook 7: relative to the server's folder; the kernel runs beside the notebook.
    assert find_notebook(namespace={}, environ={"JPY_SESSION_NAME": "week2/digits.ipynb"}, cwd=folder) == notebook
    assert find_notebook(namespace={}, environ={"JPY_SESSION_NAME": str(notebook)}, cwd=tmp_path) == notebook
    # VS Code, then ipykernel's __session__.
    assert find_notebook(namespace={"__vsc_ipynb_file__": str(notebook)}, environ={}, cwd=tmp_path) == notebook
    assert find_notebook(namespace={"__session__": "week2/digits.ipynb"}, environ={}, cwd=folder) == notebook
    assert find_notebook("digits.ipynb", namespace={}, environ={}, cwd=folder) == notebook
    # A console session, or nothing: ask for the path.
    for environ in ({}, {"JPY_SESSION_NAME": "console-1"}, {"JPY_SESSION_NAME": "week2/gone.ipynb"}):
        with pytest.raises(UsageError, match="give its path"):
            find_notebook(namespace={}, environ=environ, cwd=folder)
    with pytest.raises(UsageError, match="does not exist"):
        find_notebook("nope.ipynb", namespace={}, environ={}, cwd=folder)
    with pytest.raises(UsageError, match="is a folder"):
        find_notebook(str(folder), namespace={}, environ={}, cwd=folder)


def test_the_saved_version_is_named_with_a_reminder(tmp_path):
    # Noon today, so that five minutes earlier is the same day whenever the suite runs.
    now = time.mktime(time.localtime()[:3] + (12, 0, 0, 0, 0, -1))
    text = saved_text(tmp_path / "digits.ipynb", now - 300, now)
    assert text.startswith("Checking digits.ipynb as saved at 11:55:00 (5 min ago).")
    # A save from another day names the day too.
    day_before = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now - 13 * 3600))
    yesterday = saved_text(tmp_path / "digits.ipynb", now - 13 * 3600, now)
    assert yesterday.startswith(f"Checking digits.ipynb as saved at {day_before} (13 h ago)."), yesterday
    assert "save the notebook" in text
    assert "(4 s ago)" in saved_text(tmp_path / "x.ipynb", now - 4, now, verb="Checked")
    assert os.path.basename(str(tmp_path / "x.ipynb")) == "x.ipynb"


def test_a_long_first_line_is_cut_not_the_clock():
    import re

    stream = io.StringIO()
    long_line = "# write the code here to get a new `step` operation and then run the cell with training " * 3
    with check_progress("live", stream) as view:
        view(CellStarted(elapsed=1.0, number=16, total=19, first_line=long_line))
    frames = [re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", frame) for frame in stream.getvalue().split("\r")]
    frame = next(f for f in frames if "cell 16/19" in f)
    assert re.search(r"cell 16/19 \S+\s+0:00:0\d # write the code", frame), frame
    assert frame.rstrip().endswith("…") and len(frame.rstrip()) <= 80


def _as_run_events():
    """A check under the as-run order: cell 1 runs again before cell 3; then a clean run."""
    return [Started(elapsed=0.1, notebook="nb.ipynb", assignment="mnist_digits", cells=3, parts=("9XaAS",),
                    graded={"9XaAS": 3}, steps=4, order="as-run",
                    schedule="graded as you ran it: cell 1 again after cell 2"),
            CellStarted(elapsed=1.0, number=1, total=3, first_line="train()", step=1, steps=4),
            CellStarted(elapsed=1.1, number=2, total=3, first_line="model = MLP()", step=2, steps=4),
            CellStarted(elapsed=1.2, number=1, total=3, first_line="train()", again=True, step=3, steps=4),
            CellFinished(elapsed=1.3, number=1, total=3, status="error", error="ValueError: x", again=True,
                         step=3, steps=4),
            CleanRunStarted(elapsed=2.0, reason="graded as you ran it: cell 1 again after cell 2", steps=3),
            CellStarted(elapsed=2.5, number=1, total=3, first_line="train()", step=1, steps=3)]


def test_a_cell_run_again_and_the_clean_run_are_said_in_every_view():
    stream = io.StringIO()
    view = PlainProgress(stream)
    for event in _as_run_events():
        view(event)
    lines = [line.split("] ", 1)[1] for line in stream.getvalue().splitlines()]
    assert lines == [
        "checking nb.ipynb for mnist_digits: 3 code cells, 1 parts; graded after 9XaAS (cell 3); "
        "graded as you ran it: cell 1 again after cell 2",
        "cell 1/3: train()", "cell 2/3: model = MLP()", "cell 1/3 again: train()",
        "cell 1/3 again raised: ValueError: x",
        "graded as you ran it: cell 1 again after cell 2; now a clean top-to-bottom run (3 cells), to tell "
        "which parts pass only as you ran it",
        "cell 1/3: train()"]
    inline = InlineProgress("grader check")
    for event in _as_run_events():
        inline.add(event)
    text = inline.bundle(3.0)["text/plain"]
    assert "cell 1/3 again raised: ValueError: x" in text and "now a clean top-to-bottom run" in text
    # The JSON form carries the fields, and reads back.
    for event in _as_run_events():
        assert event_from_dict(json.loads(json.dumps(event.to_dict()))) == event


def test_the_check_table_says_how_the_cells_ran():
    from grader.report.table import format_table

    result = SubmissionResult(learner="nb", assignment="mnist_digits", submission="nb.ipynb", total=1,
                              max_total=1, parts=[PASSED], schedule={
                                  "order": "as-run", "cells": [1, 2, 1, 3], "again": [2],
                                  "text": "graded as you ran it: cell 1 again after cell 2",
                                  "clean_run": {"order": "top-down", "parts": {"9XaAS": "error"}, "total": 0,
                                                "warning": "passes only as you ran it: ..."}})
    lines = format_table(result).splitlines()
    assert lines[1:3] == ["graded as you ran it: cell 1 again after cell 2",
                          "WARNING: passes only as you ran it: ..."]
    bundle = result_bundle(result, saved="saved 12:00")
    assert "graded as you ran it: cell 1 again after cell 2" in bundle["text/html"]
    assert "as you ran it)" in bundle["text/html"]  # the footer
