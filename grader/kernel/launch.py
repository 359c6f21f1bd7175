"""Start an IPython kernel inside its limits: ``python -m grader.kernel.launch -f CONNECTION_FILE``.

(``python -m grader.kernel.launch --evaluator`` starts the evaluator,
:mod:`grader.kernel.evaluator_server`, inside its own limits the same way.)

The harness's kernelspec runs this instead of ``ipykernel_launcher``.  Before
any learner code exists, the process asks to be killed if its parent dies and
then checks that the parent is still the one that started it (a harness
killed *before* the request, while this process was starting, would
otherwise leave it running for good); joins the cgroups the harness made for
it (memory and process caps that its children inherit); sets its rlimits; and
then replaces itself with the real kernel (same pid, so interrupts and kills
reach the kernel).  Configuration comes from the environment:
``GRADER_PARENT_PID`` (the harness process that started this one),
``GRADER_CGROUPS`` (os.pathsep-separated cgroup folders),
``GRADER_RLIMITS`` (``name=value`` pairs, e.g. ``fsize=1073741824,nofile=1024``),
and ``GRADER_SANDBOX_ARGV`` (a JSON list: the bubblewrap command that wraps
the kernel, see :mod:`grader.run.sandbox`; bubblewrap's ``--die-with-parent``
carries the death signal into the sandbox).  The harness gives this process an
allow-listed environment (:mod:`grader.run.environment`); bubblewrap gets an
empty one, and no file descriptor but the three standard ones.

``GRADER_LAUNCH_HOLD=STAGE:FOLDER`` is a test hook: at ``STAGE`` (``start``:
before the death signal is requested; ``exec``: in the cgroups, just before
the kernel replaces this process) the launcher creates
``FOLDER/ROLE-STAGE-PID`` and waits until that file is removed (at most two
minutes), so that a test can kill the harness at exactly that moment.
``STAGE:FOLDER:once`` holds only the first launch of each role.
"""
from __future__ import annotations

import ctypes
import json
import os
import resource
import runpy
import signal
import sys
import time

_RLIMITS = {
    "as": resource.RLIMIT_AS,
    "cpu": resource.RLIMIT_CPU,
    "core": resource.RLIMIT_CORE,
    "fsize": resource.RLIMIT_FSIZE,
    "nofile": resource.RLIMIT_NOFILE,
    "nproc": resource.RLIMIT_NPROC,
}
_PR_SET_PDEATHSIG = 1
_HOLD_LIMIT_S = 120.0


def die_with_parent(expected_parent: int | None = None) -> None:
    """Ask Linux to SIGKILL this process when its parent exits (no-op elsewhere).

    The request only covers a parent that dies *after* it is made.  When
    ``expected_parent`` is given and this process's parent is no longer that
    process (it died before the request, and this one was handed to init or a
    subreaper), the process exits at once: there is nobody left to work for.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if expected_parent and os.getppid() != expected_parent:
        os._exit(1)


def _join_cgroups(folders: str) -> None:
    for folder in filter(None, folders.split(os.pathsep)):
        with open(os.path.join(folder, "cgroup.procs"), "w") as procs:
            procs.write(str(os.getpid()))


def _set_rlimits(spec: str) -> None:
    for item in filter(None, spec.split(",")):
        name, _, value = item.partition("=")
        limit = int(value)
        soft, hard = resource.getrlimit(_RLIMITS[name])
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(_RLIMITS[name], (limit, limit))


def _hold(spec: str, stage: str, role: str) -> None:
    """The test hook of the module docstring: wait at ``stage`` while the hold file exists."""
    wanted, _, rest = spec.partition(":")
    folder, _, mode = rest.partition(":")
    if wanted != stage or not folder:
        return
    if mode == "once":
        try:
            os.close(os.open(os.path.join(folder, f"{role}.held"), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return
    path = os.path.join(folder, f"{role}-{stage}-{os.getpid()}")
    with open(path, "w"):
        pass
    deadline = time.monotonic() + _HOLD_LIMIT_S
    while os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.02)


def nice_session() -> None:
    """Give this process's session (its scheduler autogroup) the process's own niceness.

    Linux shares the CPU between sessions first (autogroups), then between the processes of a
    session by niceness; a kernel starts in a session of its own (jupyter_client, and again
    bubblewrap's ``--new-session``), so the niceness it inherits from a worker of ``grader
    serve`` (:data:`grader.serve.service.WORKER_NICENESS`) would count for nothing against the
    service's answers.  Nothing happens at niceness 0 or without autogroups."""
    niceness = os.nice(0)
    if niceness <= 0:
        return
    # Linux takes one such change in 100 ms from an unprivileged process, machine-wide (EAGAIN
    # meanwhile): kernels that start together take turns, for a second at most.
    for _ in range(20):
        try:
            with open("/proc/self/autogroup", "w") as handle:
                handle.write(str(niceness))
            return
        except BlockingIOError:
            time.sleep(0.05)
        except OSError:
            return   # no autogroups here


def main(argv: list[str]) -> None:
    if argv[:1] == ["--nice-session"] and argv[1:2] == ["-m"]:   # inside the sandbox, in its new session
        nice_session()
        # The module runs in this process, as ``python -m`` would run it (another interpreter's
        # start for each kernel cost a class of light notebooks 7 % of its time).
        sys.argv = [argv[2], *argv[3:]]
        runpy.run_module(argv[2], run_name="__main__", alter_sys=True)
        return
    role = "evaluator" if argv[:1] == ["--evaluator"] else "kernel"
    hold = os.environ.pop("GRADER_LAUNCH_HOLD", "")
    parent = os.environ.pop("GRADER_PARENT_PID", "")
    _hold(hold, "start", role)
    die_with_parent(int(parent) if parent.isdigit() else None)
    _join_cgroups(os.environ.pop("GRADER_CGROUPS", ""))
    _set_rlimits(os.environ.pop("GRADER_RLIMITS", ""))
    _hold(hold, "exec", role)
    if role == "evaluator":
        kernel = [sys.executable, "-m", "grader.kernel.evaluator_server"]
    else:
        kernel = [sys.executable, "-m", "ipykernel_launcher", *argv]
    sandbox = os.environ.pop("GRADER_SANDBOX_ARGV", "")
    # Nothing the harness had open reaches the learner's process: only stdin, stdout and stderr.
    os.closerange(3, _max_fd())
    if sandbox:
        # bubblewrap inherits the cgroups and rlimits set above, and passes them on.  It starts with
        # no environment but the test suite's marks: its init is PID 1 inside the sandbox, and
        # /proc/1/environ shows the environment that process was started with, whatever --clearenv
        # later gives the kernel.
        wrapper = json.loads(sandbox)
        marks = {k: v for k, v in os.environ.items() if k.startswith("GRADER_TEST_")}
        if os.nice(0) > 0:
            kernel = [sys.executable, "-m", "grader.kernel.launch", "--nice-session", *kernel[1:]]
        os.execve(wrapper[0], wrapper + kernel, marks)
    nice_session()
    os.execv(sys.executable, kernel)


def _max_fd() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY and soft > 3 else 65536


if __name__ == "__main__":
    main(sys.argv[1:])
