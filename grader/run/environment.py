"""What the processes a notebook can see inherit of the harness's environment: an allow-list.

The learner's kernel, the evaluator beside it, and bubblewrap itself (whose
init is PID 1 inside the sandbox, its ``/proc/1/environ`` readable by the
notebook) start from the few variables named here, never from the harness's own
environment.  A variable set in the instructor's shell - a webhook secret, an
LTI key's password, a cloud credential - is therefore not readable from the
learner's process, neither in its ``os.environ`` nor under ``/proc``.  Secrets
the grader needs are read where they are used (:mod:`grader.post.secrets`), in
the harness, and never put in a child's environment.

Without the sandbox (``--sandbox off``, or ``auto`` on a machine where
bubblewrap cannot run) the kernel still starts from this allow-list, but it
runs as the same user as the harness, in the same PID namespace: it can read
``/proc/PID/environ`` and ``/proc/PID/cmdline`` of the harness itself.  That
cannot be prevented from inside one user account, so :func:`unsandboxed_warning`
names the secret-looking variables such a run exposes.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping

# How programs run on this machine; none of them is a secret.  PATH is replaced inside the sandbox.
SYSTEM = ("PATH", "PYTHONPATH", "LANG", "LC_ALL", "LC_CTYPE", "LC_NUMERIC", "TZ", "LD_LIBRARY_PATH")
# Without the sandbox the kernel lives in the user's own home and temporary folder.
UNSANDBOXED = ("HOME", "TMPDIR")
# The launcher's test hooks (grader.kernel.launch): they reach the launcher, never the kernel.
TEST_HOOKS = ("GRADER_LAUNCH_HOLD",)
TEST_HOOK_PREFIX = "GRADER_TEST_"

_SECRET_NAME = re.compile(
    r"SECRET|TOKEN|PASSW|PASSPHRASE|PRIVATE|CREDENTIAL|API_?KEY|ACCESS_?KEY|_KEY$|^KEY$|(?<!X)AUTH|COOKIE"
    r"|^DATABASE_URL$|_DSN$",
    re.IGNORECASE)


def inherited(*, sandboxed: bool, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables of the harness's environment a kernel or evaluator may start with."""
    environ = os.environ if environ is None else environ
    names = SYSTEM if sandboxed else SYSTEM + UNSANDBOXED
    return {name: environ[name] for name in names if name in environ}


def test_hooks(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The launcher's test hooks set in ``environ`` (empty outside the test suite)."""
    environ = os.environ if environ is None else environ
    return {name: value for name, value in environ.items()
            if name in TEST_HOOKS or name.startswith(TEST_HOOK_PREFIX)}


def secret_looking(environ: Mapping[str, str] | None = None) -> list[str]:
    """Names in ``environ`` that look like they hold a secret (a key, token, password, credential)."""
    environ = os.environ if environ is None else environ
    return sorted(name for name, value in environ.items() if value and _SECRET_NAME.search(name))


def unsandboxed_warning(environ: Mapping[str, str] | None = None) -> str:
    """The warning for a run without the sandbox while secret-looking variables are set, or ""."""
    names = secret_looking(environ)
    if not names:
        return ""
    shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
    return (f"warning: kernels run without the sandbox, as your own user: a notebook can read this "
            f"command's environment from /proc, including {shown}; unset them for grading, or run "
            f"where bubblewrap works (--sandbox required)")
