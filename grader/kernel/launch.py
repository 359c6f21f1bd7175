"""Start an IPython kernel inside its limits: ``python -m grader.kernel.launch -f CONNECTION_FILE``.

(``python -m grader.kernel.launch --evaluator`` starts the evaluator,
:mod:`grader.kernel.evaluator`, inside its own limits the same way.)

The harness's kernelspec runs this instead of ``ipykernel_launcher``.  Before
any learner code exists, the process joins the cgroups the harness made for
it (memory and process caps that its children inherit), sets its rlimits,
asks to be killed if its parent dies (so a killed harness leaves no kernel
behind), and then replaces itself with the real kernel (same pid, so
interrupts and kills reach the kernel).  Configuration comes from the
environment: ``GRADER_CGROUPS`` (os.pathsep-separated cgroup folders) and
``GRADER_RLIMITS`` (``name=value`` pairs, e.g. ``fsize=1073741824,nofile=1024``), and
``GRADER_SANDBOX_ARGV`` (a JSON list: the bubblewrap command that wraps the
kernel, see :mod:`grader.run.sandbox`).
"""
from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys

_RLIMITS = {
    "as": resource.RLIMIT_AS,
    "cpu": resource.RLIMIT_CPU,
    "core": resource.RLIMIT_CORE,
    "fsize": resource.RLIMIT_FSIZE,
    "nofile": resource.RLIMIT_NOFILE,
    "nproc": resource.RLIMIT_NPROC,
}
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent exits (no-op elsewhere)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


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


def main(argv: list[str]) -> None:
    die_with_parent()
    _join_cgroups(os.environ.pop("GRADER_CGROUPS", ""))
    _set_rlimits(os.environ.pop("GRADER_RLIMITS", ""))
    if argv[:1] == ["--evaluator"]:
        kernel = [sys.executable, "-m", "grader.kernel.evaluator"]
    else:
        kernel = [sys.executable, "-m", "ipykernel_launcher", *argv]
    sandbox = os.environ.pop("GRADER_SANDBOX_ARGV", "")
    if sandbox:
        # bubblewrap inherits the cgroups and rlimits set above, and passes them on.
        wrapper = json.loads(sandbox)
        os.execv(wrapper[0], wrapper + kernel)
    os.execv(sys.executable, kernel)


if __name__ == "__main__":
    main(sys.argv[1:])
