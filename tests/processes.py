"""Finding what a grading left running: for tests and the soak benchmark (bench/soak.py).

A harness started with ``GRADER_TEST_MARK=<mark>`` in its environment passes the mark
on to its workers, kernel launchers and both bubblewrap processes of each sandbox;
what runs inside a sandbox has an emptied environment but sits in the kernel's cgroups,
which are named ``grader-<pid of the process that made them>-...``.  So the processes
of one run are those that carry the mark, plus those in a cgroup made by a process that
carried it.
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from grader.run.process_register import processes
from grader.run.limits import _own_cgroup, _unified_own

PROC = Path("/proc")


def _environ(pid: str) -> bytes:
    try:
        return (PROC / pid / "environ").read_bytes()
    except OSError:
        return b""


def cmdline(pid: str) -> str:
    try:
        return (PROC / pid / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _state(pid: str) -> str:
    try:
        stat = (PROC / pid / "stat").read_text()
        return stat[stat.rindex(")") + 2:].split()[0]
    except (OSError, ValueError):
        return "?"


def children(parent: int | None = None) -> dict[int, tuple[str, str]]:
    """pid -> (name, state) of the children of ``parent`` (default: this process)."""
    parent = os.getpid() if parent is None else parent
    return {pid: (name, state) for pid, (ppid, name, state) in processes().items() if ppid == parent}


def marked(mark: str) -> dict[int, str]:
    """pid -> command line of every live (not zombie) process that carries the mark."""
    needle = f"GRADER_TEST_MARK={mark}".encode()
    found = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and entry.name != str(os.getpid()) and needle in _environ(entry.name).split(b"\0"):
            if _state(entry.name) != "Z":
                found[int(entry.name)] = cmdline(entry.name)
    return found


def cgroup_roots() -> list[Path]:
    """The folders under which kernels' cgroups are made (this process's cgroups)."""
    roots = {_own_cgroup("memory"), _own_cgroup("pids"), _unified_own()}
    return sorted(r for r in roots if r is not None and r.exists())


def cgroups_of(owners) -> list[Path]:
    """Existing cgroup folders made by any of the processes ``owners``."""
    found = []
    for root in cgroup_roots():
        for owner in owners:
            found += sorted(root.glob(f"grader-{owner}-*"))
    return found


def cgroup_members(folders) -> dict[int, str]:
    members = {}
    for folder in folders:
        try:
            pids = (folder / "cgroup.procs").read_text().split()
        except OSError:
            continue
        for pid in pids:
            members[int(pid)] = cmdline(pid)
    return members


class Run:
    """The processes and cgroups of one harness run (and of its restarts) with the same mark."""

    def __init__(self, mark: str):
        self.mark = mark
        self.owners: set[int] = set()   # every process seen with the mark (they make cgroups)

    def snapshot(self) -> dict[int, str]:
        """The run's live processes now: marked ones and the members of their cgroups."""
        processes = marked(self.mark)
        self.owners |= set(processes)
        processes.update(cgroup_members(cgroups_of(self.owners)))
        return processes

    def leftovers(self) -> tuple[dict[int, str], list[Path]]:
        """(processes, cgroup folders) of the run that still exist."""
        processes = self.snapshot()
        return processes, cgroups_of(self.owners)

    def wait_clean(self, timeout: float = 30.0) -> tuple[dict[int, str], list[Path]]:
        """Wait until nothing of the run is left; returns what is left at the end."""
        deadline = time.monotonic() + timeout
        while True:
            processes, cgroups = self.leftovers()
            if (not processes and not cgroups) or time.monotonic() >= deadline:
                return processes, cgroups
            time.sleep(0.2)

    def kill_all(self) -> None:
        """Clean up after a failed test: kill what is left of the run, remove its cgroups."""
        from grader.run.limits import remove_cgroups

        for pid in self.snapshot():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        remove_cgroups(cgroups_of(self.owners))
