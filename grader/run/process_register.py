"""What gradings started, written down, so that nothing outlives the harness that started it.

Every kernel and evaluator is tied to its harness while both live: the
launcher's death signal (:mod:`grader.kernel.launch`), bubblewrap's
``--die-with-parent``, and its cgroup, killed as a whole when the grading
ends.  What is left when the harness itself is killed (a kernel that was
still starting, processes the notebook detached, the cgroup folders) is found
through the *ledger*: a folder with one small JSON file per kernel or
evaluator, written before anything is started and removed once it is all
gone.  An entry names

* its ``run`` (one harness command) and its ``owner`` (the process that
  started it: a batch worker, or the harness itself), as pid and start time;
* its ``cgroups``, each recorded before the folder is made;
* its ``processes`` (the launcher's pid and start time, recorded as soon as it
  exists);
* its scratch ``paths`` (working folders, logs), removed with it.

:func:`sweep` kills and removes what entries record: those of dead owners
while a run goes on (:mod:`grader.run.reaper` does this, and everything of
its run once the harness is gone), and every entry of an earlier run when a
batch starts again on the same results folder.  Start times guard against
reused pids: a recorded pid whose process started at another time is left
alone.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import uuid
from dataclasses import dataclass
from pathlib import Path

from .limits import cgroup_pids, remove_cgroups

_PROC = Path("/proc")


def start_time(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot), or None when there is no such process."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    fields = stat[stat.rindex(")") + 2:].split()
    if fields[0] == "Z":
        return None  # a zombie holds nothing: it only waits for its parent
    return int(fields[19])


def alive(pid: int, started: int | None) -> bool:
    """True when ``pid`` is the process that started at ``started`` and has not exited."""
    return bool(pid) and started is not None and start_time(pid) == started


def processes() -> dict[int, tuple[int, str, str]]:
    """pid -> (parent pid, command name, state letter) of every process on the machine."""
    table = {}
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, parent = stat[stat.rindex(")") + 2:].split()[:2]
        table[int(entry.name)] = (int(parent), stat[stat.index("(") + 1:stat.rindex(")")], state)
    return table


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for pid, (parent, _, _) in processes().items():
        tree.setdefault(parent, []).append(pid)
    return tree


def tree(pid: int, started: int | None, children: dict | None = None) -> list[int]:
    """``pid`` (if it is still the process that started at ``started``) and its descendants."""
    if not alive(pid, started):
        return []
    children = _children() if children is None else children
    todo, found = [pid], []
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def _kill(pids) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _me() -> list:
    return [os.getpid(), start_time(os.getpid())]


def _write(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


class Entry:
    """One kernel's or evaluator's record; :meth:`close` once it is gone and its cgroups removed."""

    def __init__(self, path: Path, data: dict):
        self.path, self.data = path, data
        _write(path, data)

    def add_cgroup(self, folder: Path) -> None:
        """Record a cgroup folder (before it is made)."""
        self.data["cgroups"].append(str(folder))
        _write(self.path, self.data)

    def add_process(self, pid: int) -> None:
        """Record a process this entry started (its start time read now)."""
        self.data["processes"].append([pid, start_time(pid)])
        _write(self.path, self.data)

    def add_path(self, path: Path) -> None:
        """Record a scratch folder or file, removed when the entry is swept."""
        self.data["paths"].append(str(path))
        _write(self.path, self.data)

    def close(self) -> None:
        self.path.unlink(missing_ok=True)


@dataclass(frozen=True)
class Ledger:
    """The folder of entries of one results folder (``OUT/.grader/running``) or of one check."""

    folder: Path
    run: str = ""   # the run this process's entries belong to (see :func:`run_id`)

    def entry(self, what: str) -> Entry:
        """A new entry owned by this process; nothing is started yet."""
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{os.getpid()}-{uuid.uuid4().hex[:12]}.json"
        return Entry(self.folder / name, {"run": self.run, "what": what, "owner": _me(),
                                          "cgroups": [], "processes": [], "paths": []})

    def entries(self) -> list[tuple[Path, dict]]:
        found = []
        try:
            paths = sorted(self.folder.glob("*.json"))
        except OSError:
            return []
        for path in paths:
            try:
                found.append((path, json.loads(path.read_text())))
            except (OSError, ValueError):
                continue  # being replaced right now, or gone
        return found


def machine_ledger() -> Ledger:
    """The ledger of this user's gradings on this machine that no batch folder holds (Dask workers).

    Entries here are swept only when their owner has died (:func:`sweep` with
    ``dead_owners_only``), so every grading on the machine may sweep it safely
    before it starts: a worker killed mid-grading leaves nothing for long.
    """
    import tempfile

    return Ledger(Path(tempfile.gettempdir()) / f"grader-ledger-{os.getuid()}", run_id())


def run_id() -> str:
    """An id for this harness command: its pid and start time."""
    pid = os.getpid()
    return f"{pid}-{start_time(pid)}"


@dataclass
class Swept:
    """What a sweep killed and removed."""

    entries: int = 0
    processes: int = 0
    cgroups: int = 0

    def __bool__(self) -> bool:
        return bool(self.processes or self.cgroups)

    def add(self, other: "Swept") -> None:
        self.entries += other.entries
        self.processes += other.processes
        self.cgroups += other.cgroups

    def describe(self) -> str:
        return (f"killed {self.processes} process(es) and removed {self.cgroups} cgroup(s) of "
                f"{self.entries} kernel(s) or evaluator(s)")


def sweep_entry(data: dict, *, kill_owner: bool = False) -> Swept:
    """Kill and remove what one entry records (its owner too, with ``kill_owner``)."""
    children = _children()
    pids: set[int] = set()
    for pid, started in data.get("processes", []):
        pids.update(tree(pid, started, children))
    cgroups = [Path(f) for f in data.get("cgroups", [])]
    for folder in cgroups:
        pids |= cgroup_pids(folder)
    owner, owner_started = (data.get("owner") or [0, None])[:2]
    if kill_owner and owner != os.getpid():
        pids.update(tree(owner, owner_started, children))
    _kill(pids)
    swept = Swept(entries=1, processes=len(pids), cgroups=remove_cgroups(cgroups))
    for path in map(Path, data.get("paths", [])):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return swept


def sweep(ledger: Ledger, *, run: str | None = None, dead_owners_only: bool = False,
          other_runs: bool = False) -> Swept:
    """Kill and remove what the entries of ``ledger`` record; see the module docstring.

    ``run``: only entries of that run; ``other_runs``: only entries of runs other than
    ``ledger.run`` (a batch starting again: their harness is gone), their owners included;
    ``dead_owners_only``: only entries whose owner process has exited.
    """
    swept = Swept()
    for path, data in ledger.entries():
        if run is not None and data.get("run") != run:
            continue
        if other_runs and data.get("run") == ledger.run:
            continue
        owner, owner_started = (data.get("owner") or [0, None])[:2]
        if dead_owners_only and alive(owner, owner_started):
            continue
        swept.add(sweep_entry(data, kill_owner=other_runs))
        path.unlink(missing_ok=True)
    return swept
