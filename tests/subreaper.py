"""Run a command below a child subreaper, and report what it left: ``python -m tests.subreaper REPORT
[--sigint default|ignore] -- COMMAND...``.

On Linux a process orphaned below COMMAND (for instance the inner bubblewrap of a sandbox whose
outer bubblewrap was killed before it could reap it) goes to the nearest *subreaper* among its
ancestors, else to the machine's init, which may leave it a zombie for good.  This process asks
to be that subreaper (``PR_SET_CHILD_SUBREAPER``), so that a test sees exactly what the command
orphaned: after COMMAND exits it waits (up to ``--patience`` seconds) for the children it
adopted to exit, reaps them, and writes REPORT as JSON::

    {"code": COMMAND's exit status, "ended_at": its end (time.time()),
     "adopted": [{"pid", "name", "state", "exited_after"}, ...]}

(COMMAND's pid is written to REPORT with the suffix ``.pid`` as soon as it starts.)

``state`` is what the orphan was when COMMAND ended (``Z``: already a zombie nobody reaped);
``exited_after`` the seconds it still ran (None: still running at the end, then killed).

``--sigint`` sets COMMAND's SIGINT disposition, as a terminal's shell (``default``) or as a
script's background job (``ignore``: bash ignores SIGINT in what it starts with ``&``) would.
This process ignores SIGINT itself: a signal to the whole process group (the terminal's Ctrl-C)
reaches COMMAND, not the bookkeeping.
"""
from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.processes import children

_PR_SET_CHILD_SUBREAPER = 36


def main(argv: list[str]) -> int:
    report = Path(argv[0])
    sigint = argv[argv.index("--sigint") + 1] if "--sigint" in argv else "default"
    patience = float(argv[argv.index("--patience") + 1]) if "--patience" in argv else 10.0
    command = argv[argv.index("--") + 1:]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    disposition = signal.SIG_IGN if sigint == "ignore" else signal.SIG_DFL
    child = subprocess.Popen(command, preexec_fn=lambda: signal.signal(signal.SIGINT, disposition))
    report.with_suffix(".pid").write_text(str(child.pid))
    code = child.wait()
    ended, ended_at = time.monotonic(), time.time()
    adopted = {pid: {"pid": pid, "name": name, "state": state, "exited_after": None}
               for pid, (name, state) in children().items()}
    while time.monotonic() - ended < patience:
        for pid, item in adopted.items():
            if item["exited_after"] is None:
                try:
                    done, _ = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    done = pid
                if done:
                    item["exited_after"] = round(time.monotonic() - ended, 3)
        if all(item["exited_after"] is not None for item in adopted.values()):
            break
        time.sleep(0.02)
    for pid, item in adopted.items():
        if item["exited_after"] is None:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except OSError:
                pass
    report.write_text(json.dumps({"code": code, "ended_at": ended_at, "adopted": list(adopted.values())}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
