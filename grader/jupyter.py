"""Check the notebook you have open, from inside Jupyter: ``%grader_check`` and ``check_here()``.

::

    %load_ext grader
    %grader_check                      # the notebook open here, as last saved
    %grader_check week2.ipynb --assignment mnist_digits --cell-timeout 300

    from grader import check_here      # the same in plain Python
    result = check_here()

The check is the grade: it runs ``grader check`` on the *saved* notebook file
in a separate process, which re-runs it in a fresh kernel (in the assignment's order; never
this one: nothing of the learner's live state counts, and nothing in it is
touched).  Progress (the cell running, each part's verdict as soon as it is
measured) and then the verdict table appear in the cell's output; the header
says which saved version was checked (its save time) and reminds to save first.

Which notebook is open: the argument if given; else VS Code's
``__vsc_ipynb_file__``; else Jupyter Server's ``JPY_SESSION_NAME`` (set for the
kernel by JupyterLab and Notebook 7; relative to the server's folder, so it is
also looked up beside the kernel's working folder); else ipykernel's
``__session__``.  When none names a saved ``.ipynb`` file, the check asks for
the path.

In a grading run (``GRADER_GRADING=1`` in the kernel) the magic does nothing
but say so, and the result's notes list it: a notebook must not grade itself
recursively.
"""
from __future__ import annotations

import datetime
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .exceptions import GraderError, UsageError

_ASK = ("cannot tell which notebook is open here: give its path, e.g. %grader_check my_notebook.ipynb "
        "or check_here(\"my_notebook.ipynb\")")


def load_ipython_extension(ipython) -> None:
    """``%load_ext grader``: registers the ``%grader_check`` line magic."""
    ipython.register_magic_function(grader_check_magic, "line", "grader_check")


def grader_check_magic(line: str = ""):
    """``%grader_check [NOTEBOOK] [grader check options]``: check the saved notebook in a fresh kernel."""
    try:
        tokens = shlex.split(line)
    except ValueError as exc:
        _show_error(f"grader: error: {exc}")
        return None
    notebook = tokens.pop(0) if tokens and not tokens[0].startswith("-") else None
    try:
        check_here(notebook, args=tokens)
    except GraderError as exc:
        _show_error(f"grader: error: {exc}")
    return None  # the table is displayed; a returned result would be displayed again as Out[]


def check_here(notebook: str | Path | None = None, *, assignment: str | None = None, args=(),
               display: bool = True):
    """Check ``notebook`` (default: the one open in this kernel) as saved, in a fresh kernel.

    ``args`` are further ``grader check`` options (``["--cell-timeout", "300"]``).  Shows the
    progress and the verdict table in the output (``display=False``: nothing shown) and
    returns the :class:`grader.results.SubmissionResult`, or None in a grading run or when
    interrupted.  Raises :class:`grader.exceptions.UsageError` when the notebook cannot be
    found or the options are wrong (the message says what to fix).
    """
    if os.environ.get("GRADER_GRADING"):
        _skipped_while_grading()
        return None
    path = find_notebook(notebook)
    command_args = list(args) + (["--assignment", str(assignment)] if assignment else [])
    with tempfile.TemporaryDirectory(prefix="grader-check-here-") as scratch:
        # The version checked is fixed now: a save while the check runs does not change it.
        snapshot = Path(scratch) / path.name
        shutil.copy2(path, snapshot)
        mtime = os.stat(snapshot).st_mtime
        return _run(snapshot, command_args, saved=saved_text(path, mtime), display=display,
                    checked=lambda: saved_text(path, mtime, verb="Checked"))


# --- which notebook --------------------------------------------------------------------------------

def find_notebook(given: str | Path | None = None, *, namespace: dict | None = None,
                  environ: dict | None = None, cwd: Path | None = None) -> Path:
    """The notebook file to check; see the module docstring for where it is looked for."""
    cwd = Path(cwd or os.getcwd())
    if given:
        path = Path(given).expanduser()
        path = path if path.is_absolute() else cwd / path
        if path.is_dir():
            raise UsageError(f"{given} is a folder: give the notebook file (.ipynb)", argument="notebook",
                             value=str(given))
        if not path.is_file():
            raise UsageError(f"{given} does not exist (looked in {cwd}): give the path of the saved "
                             f"notebook (.ipynb)", argument="notebook", value=str(given))
        return path
    namespace = namespace if namespace is not None else _user_namespace()
    environ = environ if environ is not None else os.environ
    candidates = [namespace.get("__vsc_ipynb_file__"), environ.get("JPY_SESSION_NAME"),
                  namespace.get("__session__")]
    for candidate in candidates:
        if not isinstance(candidate, (str, os.PathLike)) or not str(candidate).endswith(".ipynb"):
            continue
        path = Path(candidate).expanduser()
        tries = [path] if path.is_absolute() else [cwd / path, cwd / path.name]
        for found in tries:
            if found.is_file():
                return found
    raise UsageError(_ASK, argument="notebook")


def _user_namespace() -> dict:
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python without IPython: only an explicit path works
        return {}
    shell = get_ipython()
    return shell.user_ns if shell is not None else {}


def saved_text(path: Path, mtime: float, now: float | None = None, *, verb: str = "Checking") -> str:
    """Which saved version is checked, and the reminder to save."""
    now = time.time() if now is None else now
    when = datetime.datetime.fromtimestamp(mtime).strftime("%H:%M:%S")
    if datetime.date.fromtimestamp(mtime) != datetime.date.fromtimestamp(now):
        when = datetime.datetime.fromtimestamp(mtime).strftime("%Y-%m-%d %H:%M:%S")
    ago = max(0, int(now - mtime))
    age = f"{ago} s ago" if ago < 120 else (f"{ago // 60} min ago" if ago < 7200 else f"{ago // 3600} h ago")
    return (f"{verb} {path.name} as saved at {when} ({age}). Changes not saved since are not "
            f"checked: save the notebook (Ctrl+S / Cmd+S) first.")


# --- running grader check --------------------------------------------------------------------------

def _run(snapshot: Path, args: list[str], *, saved: str, display: bool, checked):
    from .events import Finished, event_from_dict
    from .report.notebook import InlineProgress, result_bundle
    from .results import SubmissionResult

    if display and not _in_kernel():
        return _run_in_terminal(snapshot, args, saved=saved)
    command = [sys.executable, "-m", "grader", "check", str(snapshot), "--json", "--progress", "jsonl",
               *args]
    view = InlineProgress(saved)
    handle = _display(view.bundle(0.0)) if display else None
    started = time.monotonic()
    env = {key: value for key, value in os.environ.items() if key != "JPY_SESSION_NAME"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    errors: list[str] = []
    try:
        stdout = _follow(process, view, handle, started, errors, event_from_dict)
    except KeyboardInterrupt:
        _stop(process)
        if handle is not None:
            view.lines.append(("interrupted: the check was stopped", "raised"))
            view.status = ""
            handle.update(view.bundle(time.monotonic() - started), raw=True)
        return None
    if process.returncode not in (0, 1):
        message = errors[-1] if errors else f"grader check ended with exit status {process.returncode}"
        if handle is not None:
            handle.update(view.bundle(time.monotonic() - started), raw=True)
        raise _CheckFailed(message.removeprefix("grader: error: "))
    result = SubmissionResult.from_json(stdout)
    view.add(Finished(elapsed=time.monotonic() - started, result=result))
    if handle is not None:
        handle.update(result_bundle(result, saved=checked()), raw=True)
    return result


def _in_kernel() -> bool:
    """Whether output goes to a notebook front end (a kernel), not to a terminal (IPython)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return getattr(get_ipython(), "kernel", None) is not None


def _run_in_terminal(snapshot: Path, args: list[str], *, saved: str):
    """In a terminal IPython: the command's own display (live on the terminal), then the table."""
    from .report.table import format_table
    from .results import SubmissionResult

    print(saved, file=sys.stderr, flush=True)
    env = {key: value for key, value in os.environ.items() if key != "JPY_SESSION_NAME"}
    process = subprocess.Popen([sys.executable, "-m", "grader", "check", str(snapshot), "--json", *args],
                               stdout=subprocess.PIPE, env=env)
    try:
        stdout, _ = process.communicate()
    except KeyboardInterrupt:
        _stop(process)
        print("interrupted: the check was stopped", file=sys.stderr)
        return None
    if process.returncode not in (0, 1):
        raise _CheckFailed(f"grader check ended with exit status {process.returncode} (see above)")
    result = SubmissionResult.from_json(stdout.decode("utf-8"))
    print(format_table(result))
    return result


class _CheckFailed(UsageError):
    """``grader check`` refused the input (exit 2): its own one-line message."""


def _follow(process, view, handle, started: float, errors: list[str], event_from_dict) -> str:
    """Read the check's events until it ends, updating the view; returns its stdout (the JSON)."""
    import selectors
    import threading

    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: chunks.append(process.stdout.read()), daemon=True)
    reader.start()  # the result's JSON may exceed a pipe's buffer: read it beside the events
    selector = selectors.DefaultSelector()
    selector.register(process.stderr, selectors.EVENT_READ)
    pending = b""
    last_draw = 0.0
    try:
        while True:
            ready = selector.select(timeout=1.0)
            if ready:
                data = os.read(process.stderr.fileno(), 65536)
                if not data:
                    break
                pending += data
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    _take(line.decode("utf-8", "replace"), view, errors, event_from_dict)
            now = time.monotonic()
            if handle is not None and (ready or now - last_draw >= 1.0):
                handle.update(view.bundle(now - started), raw=True)  # the clock ticks on in long cells
                last_draw = now
    finally:
        selector.close()
    if pending:
        _take(pending.decode("utf-8", "replace"), view, errors, event_from_dict)
    process.wait()
    reader.join()
    return b"".join(chunks).decode("utf-8")


def _take(line: str, view, errors: list[str], event_from_dict) -> None:
    if not line.strip():
        return
    try:
        view.add(event_from_dict(json.loads(line)))
    except ValueError:  # not an event: the check's own message (an error, a warning)
        errors.append(line.strip())


def _stop(process) -> None:
    """Stop the check (SIGINT, as Ctrl-C would), then kill it if it does not end."""
    import signal

    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _display(bundle: dict):
    from IPython.display import display

    return display(bundle, raw=True, display_id=True)


def _show_error(message: str) -> None:
    from .report.notebook import error_bundle

    try:
        from IPython.display import display
    except ImportError:
        print(message, file=sys.stderr)
        return
    display(error_bundle(message), raw=True)


def _skipped_while_grading() -> None:
    from .kernel import colab

    colab.note("%grader_check (a self-check does not run inside a grading run)")
