"""One batch at a time per results folder, and nothing left running from the last one.

:class:`BatchGuard` wraps a batch (``grader grade``) from its first write into
``OUT`` to its last:

* it takes an exclusive lock on ``OUT/.grader/lock`` (``flock``: released by
  the kernel however the holder dies), so two commands never write the same
  results; a second one stops with :class:`~grader.exceptions.BatchBusyError`;
* holding the lock, it knows every earlier run of ``OUT`` is over, so whatever
  the ledger (``OUT/.grader/running``, :mod:`grader.run.process_register`) still records
  was left behind by a run that was killed: its kernels, evaluators and
  workers are killed and its cgroups removed (:attr:`swept` says how many, and
  the journal gets a ``swept`` event);
* it starts the watchdog (:mod:`grader.run.reaper`) that does the same for this
  run the moment the harness dies, and for a worker's kernels when that worker
  dies;
* before and after the batch it sweeps, in this machine's ledger of Dask
  workers' gradings (:func:`grader.run.process_register.machine_ledger`), what workers
  that died left behind (a ``local:N`` cluster's killed workers, say).
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path

from ..exceptions import BatchBusyError
from ..run.process_register import Ledger, Swept, machine_ledger, run_id, sweep
from ..run.reaper import Reaper
from ..run.stop import adopt_orphans, reap_orphans


def hold_folder(out: Path, holder: str):
    """The exclusive lock on ``OUT/.grader/lock`` for ``holder`` (the command, as another one is told),
    as an open file: closing it (or the holder's death) releases it.  Held already:
    :class:`~grader.exceptions.BatchBusyError` naming the command that holds it."""
    folder = Path(out) / ".grader"
    folder.mkdir(parents=True, exist_ok=True)
    handle = open(folder / "lock", "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        pid_text, _, command = handle.read().strip().partition(" ")
        handle.close()
        pid = int(pid_text) if pid_text.isdigit() else None
        command = command or "grader grade"
        wait = ("stop it first" if command == "grader serve" else "wait for it to finish")
        raise BatchBusyError(
            f"another `{command}`{f' (pid {pid})' if pid else ''} is writing to {out}/: "
            f"{wait}, or give another --out", pid=pid) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()} {holder}")
    handle.flush()
    return handle


class BatchGuard:
    """See the module docstring; use as a context manager around the whole batch."""

    def __init__(self, out: Path, *, journal=None, holder: str = "grader grade"):
        self.out = Path(out)
        self.holder = holder          # the command holding the folder, as another one is told
        self.folder = self.out / ".grader"
        self.journal = journal        # a grader.batch.engine.Journal, for the "swept" event
        self.ledger = Ledger(self.folder / "running", run_id())
        self.swept = Swept()
        self._lock = None
        self._reaper: Reaper | None = None

    def __enter__(self) -> "BatchGuard":
        adopt_orphans()  # the sandbox inits of workers that die come here, to be reaped at the end
        self._lock = hold_folder(self.out, self.holder)
        try:
            self.swept = sweep(self.ledger, other_runs=True)
            self.swept.add(sweep(machine_ledger(), dead_owners_only=True))
            if self.swept and self.journal is not None:
                self.journal.write("swept", processes=self.swept.processes, cgroups=self.swept.cgroups,
                                   entries=self.swept.entries)
            self._reaper = Reaper(self.ledger, journal=getattr(self.journal, "path", None)).start()
        except BaseException:
            self._release()
            raise
        return self

    def describe_swept(self) -> str:
        """One line about what an earlier, killed run had left running ("" when nothing)."""
        if not self.swept:
            return ""
        return f"cleaned up after a killed run of this batch: {self.swept.describe()}"

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.close()  # releases the flock
            self._lock = None

    def __exit__(self, *exc) -> None:
        from ..run.evaluator_client import close_shared

        try:
            close_shared(self.ledger)  # this process's evaluator (--workers 1); workers stop their own
            if self._reaper is not None:
                self._reaper.close()
            sweep(machine_ledger(), dead_owners_only=True)
            # Sandbox inits orphaned by workers that were stopped come to this process (grader.run.stop).
            reap_orphans(wait_s=1.0)
        finally:
            self._release()
