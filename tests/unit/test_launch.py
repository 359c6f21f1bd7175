"""The kernel launcher dies with the process that started it, even one that died while it was starting.

A real launcher (``python -m grader.kernel.launch``) is started by a real parent process,
held at a stage by the launcher's test hook (``GRADER_LAUNCH_HOLD``), and the parent is
SIGKILLed there.  Released, the launcher must not go on to start a kernel for nobody.
"""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.run.process_register import alive, start_time
from tests.conftest import ROOT

PARENT = """
import os, subprocess, sys
launcher = subprocess.Popen([sys.executable, "-m", "grader.kernel.launch", "-f", sys.argv[1]],
                            env={**os.environ, "GRADER_PARENT_PID": str(os.getpid())},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(launcher.pid, flush=True)
launcher.wait()
"""


def _wait(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize("stage", ["start", "exec"])
def test_a_launcher_whose_parent_died_starts_no_kernel(tmp_path, stage):
    # "start": the parent dies before the launcher asked to die with it (only the check of its
    # parent catches that); "exec": after (the death signal does it, at once).
    hold = tmp_path / "hold"
    hold.mkdir()
    env = {**os.environ, "GRADER_LAUNCH_HOLD": f"{stage}:{hold}", "PYTHONPATH": str(ROOT)}
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(tmp_path / "kernel.json")], env=env,
                              stdout=subprocess.PIPE, text=True, start_new_session=True)
    launcher = int(parent.stdout.readline())
    started = start_time(launcher)
    try:
        assert _wait(lambda: any(hold.glob(f"kernel-{stage}-{launcher}"))), "the launcher never reached the hold"
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        for held in hold.glob("kernel-*"):
            held.unlink()  # go on, as if the machine had been slow just there
        assert _wait(lambda: not alive(launcher, started), timeout=20), \
            "the launcher outlived its parent (it would have started a kernel for nobody)"
        assert not (tmp_path / "kernel.json").exists()  # no kernel ever wrote its connection file
    finally:
        if alive(launcher, started):
            os.kill(launcher, signal.SIGKILL)


def test_a_launcher_whose_parent_lives_starts_the_kernel(tmp_path):
    # The same launcher, parent alive: it goes on and the kernel writes its connection file.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(tmp_path / "kernel.json")], env=env,
                              stdout=subprocess.PIPE, text=True, start_new_session=True)
    launcher = int(parent.stdout.readline())
    try:
        assert _wait(lambda: Path(tmp_path / "kernel.json").exists(), timeout=60)
    finally:
        os.killpg(parent.pid, signal.SIGKILL)
        os.kill(launcher, signal.SIGKILL) if alive(launcher, start_time(launcher)) else None
        parent.wait()
