"""The watchdog of one harness command: it kills what the command started once the command is gone.

``python -m grader.run.reaper FOLDER RUN [--journal FILE] [--remove-folder]``
is started by :class:`Reaper` in a session of its own (a kill of the
harness's process group does not reach it) with a pipe on its stdin whose
other end only the harness holds.  Every second it sweeps the ledger entries
(:mod:`grader.run.process_register`) of run ``RUN`` whose owner process has died (a batch
worker killed by the OOM killer, say); when the pipe closes, because the
harness exited or was killed at any moment, it sweeps every entry of the run
and exits.  What it found is appended to the batch's journal as a ``reaped``
event.  It imports nothing but the standard library and the ledger.
"""
from __future__ import annotations

import datetime
import json
import os
import select
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from .process_register import Ledger, Swept, sweep

_TICK_S = 1.0


def _note(journal: Path | None, swept: Swept, when: str) -> None:
    if journal is None or not swept:
        return
    line = json.dumps({"time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                       "event": "reaped", "when": when, "processes": swept.processes,
                       "cgroups": swept.cgroups, "entries": swept.entries})
    try:
        with open(journal, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
    except OSError:
        pass


def watch(ledger: Ledger, *, journal: Path | None = None, remove_folder: bool = False) -> None:
    """The watchdog's loop (see the module docstring); returns once the harness is gone and swept."""
    while True:
        readable, _, _ = select.select([0], [], [], _TICK_S)
        if readable:
            try:
                if not os.read(0, 4096):
                    break
            except OSError:
                break
            continue
        _note(journal, sweep(ledger, run=ledger.run, dead_owners_only=True), "a worker died")
    _note(journal, sweep(ledger, run=ledger.run), "the harness ended")
    if remove_folder:
        shutil.rmtree(ledger.folder, ignore_errors=True)


class Reaper:
    """Starts the watchdog for ``ledger``'s run; :meth:`close` when the harness has cleaned up itself."""

    def __init__(self, ledger: Ledger, *, journal: Path | None = None, remove_folder: bool = False):
        self.ledger, self.journal, self.remove_folder = ledger, journal, remove_folder
        self._proc: subprocess.Popen | None = None

    def start(self) -> "Reaper":
        self.ledger.folder.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "grader.run.reaper", str(self.ledger.folder), self.ledger.run]
        if self.journal is not None:
            argv += ["--journal", str(self.journal)]
        if self.remove_folder:
            argv.append("--remove-folder")
        package_root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            filter(None, [package_root, os.environ.get("PYTHONPATH", "")]))}
        self._proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, start_new_session=True, env=env,
                                      cwd="/")
        return self

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def close(self, timeout: float = 30.0) -> None:
        """Close the pipe: the watchdog sweeps what is left of the run, then exits."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def __enter__(self) -> "Reaper":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


def main(argv: list[str]) -> None:
    # The terminal's Ctrl-C and hang-up are the harness's business: this process goes on until the
    # harness is gone and its leftovers are swept.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    folder, run = Path(argv[0]), argv[1]
    journal = Path(argv[argv.index("--journal") + 1]) if "--journal" in argv else None
    watch(Ledger(folder, run), journal=journal, remove_folder="--remove-folder" in argv)


if __name__ == "__main__":
    main(sys.argv[1:])
