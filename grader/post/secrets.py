"""Secrets for posting: where they may come from, and how they are kept out of every text.

A secret (a learner's course token, the webhook's HMAC key, the LTI tool's
private key) is read from an environment variable or from a file that only
its owner can read - never from a command-line option, which any user of the
machine can see in ``ps``.  It is held in a :class:`Secret`, whose ``str`` and
``repr`` are masked, and every message that leaves the posting code (printed,
stored in the outbox) goes through :meth:`Redactor.redact` first, in case a
server echoes a secret back in an error page.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

from ..exceptions import DestinationConfigError

MASK = "***"

# Values shorter than this are not redacted by substring: replacing "a" or "1"
# everywhere would mangle messages and protect nothing.
_MIN_REDACT_LEN = 4


class Secret:
    """A secret value that does not show itself in logs, reprs or tracebacks."""

    __slots__ = ("_value", "source")

    def __init__(self, value: str, *, source: str = ""):
        self._value = value
        self.source = source          # where it came from, e.g. "$GRADER_WEBHOOK_SECRET"

    def reveal(self) -> str:
        """The value itself: call this only where the secret is put on the wire or used to sign."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK}{', from ' + self.source if self.source else ''})"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class Redactor:
    """Remembers every secret in use and masks them in any text."""

    def __init__(self):
        self._values: set[str] = set()

    def add(self, secret: Secret | str | None) -> None:
        value = secret.reveal() if isinstance(secret, Secret) else secret
        if value and len(value) >= _MIN_REDACT_LEN:
            self._values.add(value)
            # A PEM key can surface line by line (or one line of base64 in a message).
            for line in value.splitlines():
                line = line.strip()
                if len(line) >= 16 and not line.startswith("-----"):
                    self._values.add(line)

    def redact(self, text: str) -> str:
        """``text`` with every known secret replaced by ``***``."""
        for value in sorted(self._values, key=len, reverse=True):
            if value in text:
                text = text.replace(value, MASK)
        return text


def check_private_file(path: str | Path, *, what: str) -> Path:
    """Refuse a secrets file that its owner's group or other users can read or write.

    ``what`` names the file in the message ("config file", "LTI private key").
    """
    path = Path(path).expanduser()
    try:
        info = path.stat()
    except FileNotFoundError:
        raise DestinationConfigError(f"{what} not found", path=str(path)) from None
    if not stat.S_ISREG(info.st_mode):
        raise DestinationConfigError(f"{what} is not a regular file", path=str(path))
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise DestinationConfigError(
            f"{what} holds secrets but is readable or writable by group or others "
            f"(mode {mode:04o}); allow only its owner: chmod 600 {path}", path=str(path))
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise DestinationConfigError(
            f"{what} holds secrets but belongs to another user (uid {info.st_uid}); "
            f"use a file of your own with mode 600", path=str(path))
    return path


def read_private_text(path: str | Path, *, what: str) -> str:
    """The text of a secrets file, after :func:`check_private_file`."""
    path = check_private_file(path, what=what)
    return path.read_text(encoding="utf-8")


def env_secret(name: str) -> Secret | None:
    """The secret in environment variable ``name``, or None when it is unset or empty."""
    value = os.environ.get(name)
    return Secret(value, source=f"${name}") if value else None
