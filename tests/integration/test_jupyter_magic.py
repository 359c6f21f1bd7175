"""``%load_ext grader`` and ``%grader_check`` in a learner's own Jupyter kernel.

The learner's kernel is a real IPython kernel (jupyter_client), started beside the
notebook as Jupyter Server starts it, with ``JPY_SESSION_NAME`` set to the notebook's
path relative to the server's folder (what JupyterLab and Notebook 7 do).  What the
magic displays is read from the kernel's IOPub messages, as a front end reads them.
The check itself is a real ``grader check`` in a fresh, sandboxed kernel.
"""
import os
import time

import pytest

from tests.snippets import SHAPES, UNTRAINED_MODEL, write_notebook

pytestmark = pytest.mark.kernel



@pytest.fixture(scope="module")
def learner_kernel(tmp_path_factory):
    """A learner's kernel in ``server/week2``, the notebook saved there, as Jupyter Server runs it."""
    from jupyter_client.manager import start_new_kernel

    server = tmp_path_factory.mktemp("server")
    folder = server / "week2"
    folder.mkdir()
    notebook = folder / "digits.ipynb"
    write_notebook(notebook, UNTRAINED_MODEL, SHAPES)
    saved_at = time.time() - 300
    os.utime(notebook, (saved_at, saved_at))
    env = {**os.environ, "JPY_SESSION_NAME": "week2/digits.ipynb"}
    env.pop("GRADER_GRADING", None)
    km, kc = start_new_kernel(kernel_name="python3", env=env, cwd=str(folder))
    try:
        yield kc, notebook, saved_at
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def _run(kc, code, timeout=600):
    """Execute ``code``; the displays it made (data bundles in order, updates included) and its reply."""
    shown = []

    def hook(msg):
        if msg["msg_type"] in ("display_data", "update_display_data", "execute_result"):
            shown.append(msg["content"]["data"])
        elif msg["msg_type"] == "stream":
            shown.append({"text/plain": msg["content"]["text"]})
        elif msg["msg_type"] == "error":
            shown.append({"text/plain": "\n".join(msg["content"]["traceback"])})

    reply = kc.execute_interactive(code, output_hook=hook, timeout=timeout)
    return shown, reply["content"]


def test_the_magic_checks_the_saved_notebook_and_shows_the_table(learner_kernel):
    kc, notebook, saved_at = learner_kernel
    # The learner's live state differs from the saved file: it must not count, nor be touched.
    _run(kc, "W = 'my live W'")
    shown, reply = _run(kc, "%load_ext grader\n%grader_check --assignment mnist_digits --cell-timeout 120")
    assert reply["status"] == "ok", shown
    stamp = time.strftime("%H:%M:%S", time.localtime(saved_at))
    if time.localtime(saved_at)[:3] != time.localtime()[:3]:  # saved before midnight: the day is named
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(saved_at))
    first, final = shown[0], shown[-1]
    assert first["text/plain"].startswith(f"Checking digits.ipynb as saved at {stamp} (5 min ago).")
    assert "save the notebook" in first["text/plain"]
    # Progress came in while it ran: a cell, then the verdict of 9XaAS, before the table.
    progress = [bundle["text/plain"] for bundle in shown[:-1]]
    assert any("cell 1/2: import numpy as np" in text for text in progress)
    assert any("9XaAS PASS 1/1 after cell 2" in text for text in progress)
    # The verdict table, inline.
    html = final["text/html"]
    assert f"Checked digits.ipynb as saved at {stamp}" in html
    assert 'data-part="9XaAS"' in html and ">passed<" in html and ">missing<" in html
    assert "mnist_digits | digits.ipynb | 1/5 points" in final["text/plain"]
    shown, _ = _run(kc, "print(W)")
    assert shown == [{"text/plain": "my live W\n"}]


def test_the_magic_asks_for_the_path_and_skips_inside_a_grading(learner_kernel):
    kc, _, _ = learner_kernel
    # Neither Jupyter Server's variable nor ipykernel's copy of it (__session__): ask.
    shown, reply = _run(kc, "%load_ext grader\nimport os\nos.environ.pop('JPY_SESSION_NAME')\n"
                            "globals().pop('__session__', None)\n%grader_check")
    assert reply["status"] == "ok"
    assert shown[-1]["text/plain"].startswith("grader: error: cannot tell which notebook is open here: "
                                              "give its path")
    shown, _ = _run(kc, "%grader_check nowhere.ipynb")
    assert "nowhere.ipynb does not exist" in shown[-1]["text/plain"]
    shown, _ = _run(kc, "%grader_check digits.ipynb --cell-timeout -1")  # refused by grader check itself
    assert "--cell-timeout: must be a number of seconds above 0" in shown[-1]["text/plain"]
    # A notebook that calls the magic is graded without grading itself again.
    shown, _ = _run(kc, "os.environ['GRADER_GRADING'] = '1'\n%grader_check\n"
                        "from grader.kernel import colab\nprint(colab.skipped())")
    assert "skipped during grading: %grader_check" in shown[0]["text/plain"]
    assert "%grader_check (a self-check does not run inside a grading run)" in shown[-1]["text/plain"]
