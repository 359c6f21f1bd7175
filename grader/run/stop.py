"""Stopping a grading: on Ctrl-C or SIGTERM at any moment, and its processes from the inside out.

**A stop request can come at any moment**: before the kernel's launcher exists, while the
launcher starts, while the harness waits for the kernel's ``kernel_info`` reply, inside a
cell, or just as a cell ends.  Letting asyncio turn SIGINT into one cancellation of the
grading's task (what ``asyncio.run`` does) was not enough:

* nbclient turns a cancelled cell into ``DeadKernelError`` (it assumes only a dead kernel
  cancels it), and the task it leaves behind ends with "Task exception was never
  retrieved" and a traceback after "grader: interrupted";
* Python 3.11's ``asyncio.wait_for`` returns the inner result instead of raising when the
  inner future finished in the same step as the cancellation: the grading went on with
  the next cell, a sleeping one for ever;
* a command started with SIGINT ignored - a background job of a script, of a CI runner
  (bash ignores SIGINT in what it starts with ``&`` when job control is off) - never saw
  the signal at all: the check waited for its held kernel until the test gave up.

So :func:`honour_stop_signals` makes SIGINT and SIGTERM stop the command whatever it
inherited, and during a kernel's run :class:`StopRequest` records the signal, cancels the
grading's task, cancels it again every quarter of a second until the task is in its
clean-up, and is checked by the run at each step; the clean-up kills the kernel and the
evaluator, and then the run raises :class:`Interrupted`.  A second Ctrl-C during the
clean-up ends the process at once: the watchdog (:mod:`grader.run.reaper`) kills what is
left (a SIGTERM meanwhile - a batch stopping its workers - lets the clean-up finish).

**Orphaned sandboxes.**  A sandboxed kernel is two bubblewrap processes: the launcher
(which became the outer bubblewrap) and the sandbox's init, its child, pid 1 of the
sandbox's pid namespace.  The outer one exits as soon as the init reports the kernel's
exit status, often before the init itself has exited and been reaped, and a kill of the
kernel's process group kills both at once: either way the init is orphaned, handed to the
machine's init, which may leave it a zombie for good.  A process that starts sandboxes is
therefore a child subreaper (:func:`adopt_orphans`): those inits come back to it, and
:func:`reap_orphans` reaps them (only processes of a pid namespace below this one: a
``Popen`` of its own is never waited for behind its back).
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time

_RECANCEL_S = 0.25
_COMMAND = {"pid": None}   # the command's own process (where a second signal prints its line)


class Interrupted(KeyboardInterrupt):
    """The command was asked to stop (SIGINT: Ctrl-C; SIGTERM); not a grade, not a fault."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    @property
    def message(self) -> str:
        return "terminated" if self.signum == signal.SIGTERM else "interrupted"


def exit_code_of(interrupt: KeyboardInterrupt) -> tuple[int, str]:
    """(exit status, word) for a stop request: 130 "interrupted" for Ctrl-C, 143 "terminated"."""
    if isinstance(interrupt, Interrupted):
        return interrupt.exit_code, interrupt.message
    return 128 + signal.SIGINT, "interrupted"


def _terminate(signum, _frame):
    raise Interrupted(signum)


def honour_stop_signals() -> None:
    """SIGINT and SIGTERM stop this command (with its clean-up), even when inherited as ignored.

    A check that ignores Ctrl-C leaves a learner with a frozen terminal; a batch that a CI
    runner cannot stop with SIGTERM leaves its kernels to the watchdog.  (To keep a batch
    running when the script that started it is interrupted, start it in a session of its
    own: ``setsid grader grade ...``.)
    """
    if threading.current_thread() is not threading.main_thread():
        return
    _COMMAND["pid"] = os.getpid()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)


class StopRequest:
    """A stop signal during one kernel's run (see the module docstring)."""

    def __init__(self):
        self.signum: int | None = None
        self.cleaning = False          # the run reached its clean-up: no more cancelling
        self._loop = None              # the run's event loop and task (see attach)
        self._task = None

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def check(self) -> None:
        """Raise CancelledError if a stop was requested (a cancellation something swallowed)."""
        if self.signum is not None:
            import asyncio

            raise asyncio.CancelledError

    def interrupted(self) -> Interrupted:
        return Interrupted(self.signum or signal.SIGINT)

    def attach(self, task) -> None:
        """The task of the run (call from inside it)."""
        self._loop, self._task = task.get_loop(), task
        if self.signum is not None:
            self._cancel()

    @contextlib.contextmanager
    def catching_signals(self):
        """While inside, SIGINT and SIGTERM are stop requests (main thread only: elsewhere the
        thread's owner handles them)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        for s in previous:
            signal.signal(s, self._on_signal)
        try:
            yield self
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler if handler is not None else signal.SIG_DFL)

    def _on_signal(self, signum, _frame) -> None:
        if self.signum is not None:
            if signum == signal.SIGINT == self.signum:
                _stop_now(signum)   # Ctrl-C again: the impatient learner
            return                  # (SIGTERM meanwhile: the clean-up under way is the answer)
        self.signum = signum
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._cancel)

    def _cancel(self) -> None:
        task = self._task
        if task is None or task.done() or self.cleaning:
            return
        task.cancel()
        # Cancelled again until the run is in its clean-up: a cancellation that a library
        # swallowed (see the module docstring) must not let the notebook go on.
        task.get_loop().call_later(_RECANCEL_S, self._cancel)


def _stop_now(signum: int) -> None:
    """A second stop signal while cleaning up: end the process now (the watchdog sweeps)."""
    if os.getpid() == _COMMAND["pid"]:
        word = "terminated" if signum == signal.SIGTERM else "interrupted"
        try:
            sys.stderr.write(f"grader: {word}\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
    os._exit(128 + signum)


_PR_SET_CHILD_SUBREAPER = 36
_ADOPTING = {"on": False}


def adopt_orphans() -> None:
    """Make this process a child subreaper (Linux; once): orphaned sandbox inits come to it."""
    if _ADOPTING["on"] or not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        _ADOPTING["on"] = libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        pass


def _sandbox_children() -> list[int]:
    """This process's children that live in a pid namespace below its own (sandbox inits)."""
    from .process_register import processes

    me, found = os.getpid(), []
    for pid, (parent, _, _) in processes().items():
        if parent != me:
            continue
        try:
            with open(f"/proc/{pid}/status") as status:
                fields = dict(line.split(":", 1) for line in status if ":" in line)
        except (OSError, ValueError):
            continue
        if len(fields.get("NSpid", "").split()) > 1:
            found.append(pid)
    return found


def reap_orphans(wait_s: float = 1.0) -> int:
    """Reap the orphaned sandbox inits this process adopted, waiting up to ``wait_s`` for those
    still exiting; returns how many were reaped.  Ctrl-C and SIGTERM wait until it is done (they
    are blocked meanwhile, then delivered): a stop must not leave the inits to the machine."""
    if not _ADOPTING["on"]:
        return 0
    blocked = threading.current_thread() is threading.main_thread()
    if blocked:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        return _reap(wait_s)
    finally:
        if blocked:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _reap(wait_s: float) -> int:
    reaped = 0
    deadline = time.monotonic() + wait_s
    while True:
        running = 0
        for pid in _sandbox_children():
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                continue
            if done:
                reaped += 1
            else:
                running += 1
        if not running or time.monotonic() >= deadline:
            return reaped
        time.sleep(0.005)
