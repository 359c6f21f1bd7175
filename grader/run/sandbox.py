"""Run the learner's kernel in a bubblewrap sandbox.

Inside the sandbox the kernel has: no network (a new, empty network
namespace), an unprivileged user id (65534) in a user namespace of its own, a
read-only minimal view of the system (the Python installation, the grader's
kernel-side code, the assignment's helper modules, the data files it needs,
system libraries; no home folders, no reference solutions, no other
submissions, no results), a private ``/tmp``, its own working folder as the
only writable place, and an environment emptied of everything but what the
kernel needs.  Memory, process, file-size and open-file limits come from the
kernel's cgroup and rlimits (:mod:`grader.run.limits`), applied by
:mod:`grader.kernel.launch` before it execs bubblewrap, so they hold for
every process inside.  The kernel talks to the harness over the IPC (unix
socket) transport through one shared folder, and is interrupted by message
(a signal to bubblewrap would not reach it).

Modes: ``required`` (fail with a harness error when the sandbox cannot be set
up), ``auto`` (use it when it works, else say in every result why not),
``off``.
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

from ..exceptions import GraderError

MODES = ("required", "auto", "off")
NOBODY = 65534
_ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "fonts", "localtime", "passwd", "group",
        "nsswitch.conf", "mime.types", "matplotlibrc", "alternatives")


class SandboxError(GraderError):
    """The sandbox was required but cannot be set up on this machine."""


@functools.lru_cache(maxsize=1)
def unavailable_reason() -> str:
    """Why the sandbox cannot run here, or "" when it can (checked once per process)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed (Debian package: bubblewrap)"
    from .stop import adopt_orphans, reap_orphans

    adopt_orphans()  # the probe's sandbox init outlives its outer bubblewrap for a moment
    try:
        # A session of its own, as the kernels': the terminal's Ctrl-C is for the harness.
        probe = subprocess.Popen(
            [bwrap, "--unshare-all", "--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY),
             "--die-with-parent", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "true"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    except OSError as exc:
        return f"bubblewrap cannot start: {exc}"
    try:
        _, stderr = probe.communicate(timeout=20)
    except BaseException as exc:  # the timeout below, or Ctrl-C
        probe.kill()
        probe.communicate()
        if isinstance(exc, subprocess.TimeoutExpired):
            return f"bubblewrap cannot start: {exc}"
        raise
    finally:
        reap_orphans()
    if probe.returncode != 0:
        return f"bubblewrap cannot create namespaces here: {stderr.strip()[:200]}"
    return ""


def sandbox_mode(mode: str) -> tuple[bool, str]:
    """(use the sandbox?, description for results) for a --sandbox mode."""
    if mode not in MODES:
        raise GraderError(f"--sandbox must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "off":
        return False, "off (--sandbox off)"
    reason = unavailable_reason()
    if reason:
        if mode == "required":
            raise SandboxError(f"the sandbox is required but {reason}")
        return False, f"off: {reason} (--sandbox auto fell back to running without it)"
    return True, f"bubblewrap: no network, uid {NOBODY}, read-only system, private /tmp"


def _python_roots() -> list[Path]:
    roots = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve()}
    executable = Path(sys.executable).resolve()
    roots.add(executable.parent.parent)
    return sorted(roots)


def bwrap_argv(*, workdir: Path, ipc_dir: Path | None, readonly: list[Path], env: dict,
               chdir: Path | None = None) -> list[str]:
    """The bubblewrap command line that precedes the kernel's own command.

    ``ipc_dir`` is the folder of the kernel's sockets; the evaluator, which talks
    over pipes, has none.  The process starts in ``chdir`` (default ``workdir``).
    """
    argv = [shutil.which("bwrap") or "bwrap", "--unshare-all", "--unshare-user",
            "--uid", str(NOBODY), "--gid", str(NOBODY), "--die-with-parent", "--new-session",
            "--hostname", "sandbox", "--clearenv",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--dir", "/var/tmp"]
    for system in ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32"):
        if os.path.lexists(system):
            argv += ["--ro-bind", system, system] if not os.path.islink(system) else [
                "--symlink", os.readlink(system), system]
    for name in _ETC:
        path = Path("/etc") / name
        if path.exists():
            argv += ["--ro-bind", str(path), str(path)]
    seen: set[Path] = set()
    for path in _python_roots() + [Path(p).resolve() for p in readonly]:
        if path in seen or not path.exists():
            continue
        seen.add(path)
        argv += ["--ro-bind", str(path), str(path)]
    argv += ["--bind", str(workdir), str(workdir)]
    if ipc_dir is not None:
        argv += ["--bind", str(ipc_dir), str(ipc_dir)]
    argv += ["--chdir", str(chdir or workdir)]
    for key, value in env.items():
        argv += ["--setenv", key, str(value)]
    return argv


def sandboxed_env(env: dict, *, workdir: Path) -> dict:
    """The sandboxed kernel's environment: only what it needs, from the harness's choices."""
    keep = ("PYTHONPATH", "PYTHONHASHSEED", "TF_USE_LEGACY_KERAS", "TF_CPP_MIN_LOG_LEVEL", "MPLBACKEND",
            "GRADER_GRADING", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
            "NUMEXPR_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS",
            "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    clean = {k: env[k] for k in keep if k in env}
    clean.update(PATH=f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
                 HOME=str(workdir), TMPDIR="/tmp", LANG="C.UTF-8", MPLCONFIGDIR="/tmp/matplotlib",
                 KERAS_HOME=str(workdir / ".keras"))
    return clean
