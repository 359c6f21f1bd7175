"""Per-kernel resource limits: memory and process caps (cgroups), file size and open files (rlimits).

A learner who allocates 30 GB or forks endlessly must lose their own grade,
nobody else's.  Each kernel gets its own cgroup (memory, pids) nested under
the harness's own, created here and joined by the kernel's launcher
(:mod:`grader.kernel.launch`) before the kernel starts, so every process it
spawns is counted and killed with it.  cgroup v1 (``memory.limit_in_bytes``,
``pids.max``) and v2 (``memory.max``, ``pids.max``) are supported; where
neither can be created (not root, no delegation), the memory cap falls back to
``RLIMIT_AS`` and the process cap to ``RLIMIT_NPROC``, and the result says so.

Killing a kernel's cgroup kills everything in it at once: ``cgroup.kill`` on
v2, and on a v1 machine whose unified (v2) hierarchy is mounted beside the v1
controllers (the "hybrid" layout), the kernel also joins a v2 cgroup there, for
``cgroup.kill`` alone; with v1 only, every pid listed is killed until none is
left.  Every folder is announced (``record``) before it is made, so that a
harness killed at any moment leaves a record of what to remove
(:mod:`grader.run.process_register`).
"""
from __future__ import annotations

import os
import signal
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class Limits:
    """What one kernel may use."""

    memory_mb: int = 6144       # resident memory of the kernel and its children
    processes: int = 256        # processes and threads of the kernel and its children
    file_size_mb: int = 2048    # largest file the kernel may write
    open_files: int = 4096


def _own_cgroup(controller: str) -> Path | None:
    """The folder of this process's cgroup for ``controller`` (v1) or the unified one (v2)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return _ROOT / controller / path.lstrip("/")
    for line in lines:
        hierarchy, controllers, path = line.split(":", 2)
        if hierarchy == "0" and controllers == "" and (_ROOT / "cgroup.controllers").exists():
            return _ROOT / path.lstrip("/")
    return None


def _unified_own() -> Path | None:
    """This process's cgroup in a v2 hierarchy mounted beside v1 controllers (hybrid), if any."""
    unified = _ROOT / "unified"
    if (_ROOT / "cgroup.controllers").exists() or not (unified / "cgroup.controllers").exists():
        return None
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            hierarchy, controllers, path = line.split(":", 2)
            if hierarchy == "0" and controllers == "":
                return unified / path.lstrip("/")
    except OSError:
        pass
    return None


def killed_from_outside(exit_code: int | None, *, out_of_memory: bool) -> bool:
    """True when a kernel or evaluator died of a SIGKILL that its memory cap did not send.

    Such a kill comes from outside the grading (an operator, the machine's OOM
    killer); the grader's own kills (timeouts) are known where they happen, and
    a learner's ``os._exit`` or crash ends with another status.  Under
    bubblewrap the status is the sandbox's: 128 + the signal's number.
    """
    return not out_of_memory and exit_code in (-signal.SIGKILL, 128 + signal.SIGKILL)


def cgroup_pids(folder: Path) -> set[int]:
    """The processes in one cgroup folder (none when it is gone)."""
    try:
        return {int(p) for p in (folder / "cgroup.procs").read_text().split()}
    except (OSError, ValueError):
        return set()


def kill_cgroups(folders, *, patience_s: float = 5.0) -> int:
    """SIGKILL every process in ``folders``; returns how many there were.

    ``cgroup.kill`` (v2) kills the whole group in one step, children forked
    meanwhile included; without it every listed pid is killed, again and
    again until the lists stay empty.
    """
    folders = [Path(f) for f in folders]
    seen: set[int] = set()
    for folder in folders:
        pids = cgroup_pids(folder)
        seen |= pids
        if pids and (folder / "cgroup.kill").exists():
            try:
                (folder / "cgroup.kill").write_text("1")
            except OSError:
                pass
    deadline = time.monotonic() + patience_s
    while time.monotonic() < deadline:
        pids = set().union(*(cgroup_pids(f) for f in folders)) if folders else set()
        if not pids:
            break
        seen |= pids
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.02)
    return len(seen)


def remove_cgroups(folders, *, patience_s: float = 2.0) -> int:
    """Kill what is left in ``folders`` and remove them; returns how many folders were removed."""
    kill_cgroups(folders)
    removed = 0
    for folder in map(Path, folders):
        deadline = time.monotonic() + patience_s
        while folder.exists():
            try:
                folder.rmdir()
                removed += 1
                break
            except FileNotFoundError:
                break
            except OSError:
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.05)  # the last processes are still exiting
    return removed


@dataclass
class KernelCgroup:
    """The cgroups of one kernel; use as a context manager around the kernel's life."""

    limits: Limits
    folders: list[Path] = field(default_factory=list)
    memory_folder: Path | None = None
    enforced: list[str] = field(default_factory=list)
    rlimits: dict = field(default_factory=dict)

    @classmethod
    def create(cls, limits: Limits, *, record=None) -> "KernelCgroup":
        """Make the cgroups; ``record(folder)`` is called before each folder is made."""
        group = cls(limits=limits)
        name = f"grader-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        memory_bytes = limits.memory_mb * 1024 * 1024
        memory, pids = _own_cgroup("memory"), _own_cgroup("pids")
        v2 = memory is not None and memory == pids and (memory / "cgroup.controllers").exists()

        def make(folder: Path) -> Path:
            if record is not None:
                record(folder)
            folder.mkdir()
            group.folders.append(folder)
            return folder

        try:
            if v2:
                folder = make(memory / name)
                (folder / "memory.max").write_text(str(memory_bytes))
                (folder / "memory.swap.max").write_text("0") if (folder / "memory.swap.max").exists() else None
                (folder / "pids.max").write_text(str(limits.processes))
                group.memory_folder = folder
                group.enforced += ["memory", "processes"]
            else:
                if memory is not None and memory.exists():
                    folder = make(memory / name)
                    (folder / "memory.limit_in_bytes").write_text(str(memory_bytes))
                    group.memory_folder = folder
                    group.enforced.append("memory")
                if pids is not None and pids.exists():
                    folder = make(pids / name)
                    (folder / "pids.max").write_text(str(limits.processes))
                    group.enforced.append("processes")
        except OSError:
            pass  # no permission or no controller: fall back to rlimits below
        unified = _unified_own() if not v2 else None
        if unified is not None and unified.exists():
            try:
                make(unified / name)  # for cgroup.kill: the group dies in one step
            except OSError:
                pass
        group.rlimits = {"fsize": limits.file_size_mb * 1024 * 1024, "nofile": limits.open_files,
                         "core": 0}
        if "memory" not in group.enforced:
            # Address space is a poor proxy for memory (TensorFlow maps much more than it uses),
            # so allow a generous multiple.
            group.rlimits["as"] = memory_bytes * 4
        if "processes" not in group.enforced and os.geteuid() != 0:
            group.rlimits["nproc"] = limits.processes  # per user, and ignored for root
        return group

    def env(self) -> dict:
        """Environment variables for :mod:`grader.kernel.launch`."""
        return {"GRADER_CGROUPS": os.pathsep.join(str(f) for f in self.folders),
                "GRADER_RLIMITS": ",".join(f"{k}={v}" for k, v in self.rlimits.items())}

    def describe(self) -> str:
        mem = "cgroup" if "memory" in self.enforced else "RLIMIT_AS (approximate)"
        procs = "cgroup" if "processes" in self.enforced else (
            "RLIMIT_NPROC" if "nproc" in self.rlimits else "not enforced")
        return (f"memory {self.limits.memory_mb} MB ({mem}), processes {self.limits.processes} "
                f"({procs}), file size {self.limits.file_size_mb} MB, open files {self.limits.open_files}")

    def out_of_memory(self) -> bool:
        """True when the kernel hit its memory cap (the OOM killer acted)."""
        if self.memory_folder is None:
            return False
        for name in ("memory.oom_control", "memory.events"):
            path = self.memory_folder / name
            if path.exists():
                for line in path.read_text().splitlines():
                    key, _, value = line.partition(" ")
                    if key in ("oom_kill", "oom") and value.strip().isdigit() and int(value) > 0:
                        return True
        failcnt = self.memory_folder / "memory.failcnt"
        return failcnt.exists() and int(failcnt.read_text() or 0) > 0 and self.peak_memory_mb() >= \
            self.limits.memory_mb * 0.95

    def peak_memory_mb(self) -> float | None:
        """Peak memory of the kernel and its children, when the cgroup records it."""
        if self.memory_folder is None:
            return None
        for name in ("memory.max_usage_in_bytes", "memory.peak"):
            path = self.memory_folder / name
            if path.exists():
                try:
                    return int(path.read_text()) / (1024 * 1024)
                except (OSError, ValueError):
                    return None
        return None

    def reset_peak(self) -> None:
        """Start the peak over (cgroup v1; v2 kernels that allow it), for a process used again."""
        if self.memory_folder is None:
            return
        for name in ("memory.max_usage_in_bytes", "memory.peak"):
            path = self.memory_folder / name
            if path.exists():
                try:
                    path.write_text("0")
                except OSError:
                    pass
                return

    def kill_all(self) -> None:
        """Kill every process left in the cgroups (daemons the notebook started included)."""
        kill_cgroups(self.folders)

    def remove(self) -> None:
        """Kill what is left and remove the folders."""
        remove_cgroups(self.folders)
