"""What every destination is: settings in, one score out, an :class:`Attempt` back.

A destination class declares its ``SETTINGS`` (see :mod:`grader.post.config`),
checks them in :meth:`Destination.check`, names its ``target`` (the URL, line
item or file a score goes to: part of every idempotency key), says when a
learner cannot be posted (:meth:`Destination.missing`), and posts one score
in :meth:`Destination.send`.  Retrying, the outbox and secrets in messages are
handled around it, the same for all destinations.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar
from urllib.parse import urlsplit

from ...exceptions import DestinationConfigError
from ...corrections import Grade
from ...results import SubmissionResult
from ..config import Identity, Setting
from ..delivery import Attempt, RetryPolicy, from_exception, from_response
from ..outbox import Row
from ..secrets import Redactor


@dataclass
class PostContext:
    """What a destination may use besides its settings."""

    base: Path                                   # the results folder (home of the outbox)
    redactor: Redactor
    policy: RetryPolicy
    assignment: Callable[[str], Any]             # assignment id -> grader.specs.Assignment
    _session: Any = field(default=None, repr=False)

    def http(self):
        """One ``requests.Session`` per run (connections are reused between learners)."""
        if self._session is None:
            import requests

            from ...version import __version__

            self._session = requests.Session()
            self._session.headers["User-Agent"] = f"grader/{__version__}"
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()


@dataclass(frozen=True)
class Delivery:
    """One score to post: its outbox row, the result, who the learner is.

    ``result`` is the grade that counts (corrections applied); ``grade`` holds the
    result file and its overrides and rescores, for destinations that show them.
    """

    row: Row
    result: SubmissionResult
    identity: Identity
    grade: Grade | None = None


def shown_url(url: str) -> str:
    """A URL as it may be printed and stored: no credentials, no query, no fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str | None, *, destination: str, setting: str, env: str | None) -> str:
    """A usable http(s) URL, or an error saying how to set it.

    Plain http is accepted only to this machine: scores, emails and tokens must
    not cross a network unencrypted.
    """
    how = f" (--url, ${env} or [{destination}] {setting} in the config file)" if env else ""
    if not url:
        raise DestinationConfigError(f"no {setting} set{how}", destination=destination,
                                     field=setting)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise DestinationConfigError(f"{setting} is not a valid URL", destination=destination,
                                     field=setting) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DestinationConfigError(f"{setting} must be an http(s) URL, got {shown_url(url)!r}",
                                     destination=destination, field=setting)
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise DestinationConfigError(
            f"{setting} {shown_url(url)} is plain http to another machine: use https",
            destination=destination, field=setting)
    return url


class Destination:
    """Base class of destinations. Subclasses set ``SETTINGS`` and implement ``send``."""

    SETTINGS: ClassVar[tuple[Setting, ...]] = ()
    SUMMARY: ClassVar[str] = ""
    # False for a destination that receives measured values and grades them itself
    # (coursera): corrections of points cannot reach it, and `grader post` says so.
    CARRIES_POINTS: ClassVar[bool] = True

    def __init__(self, *, name: str, settings: dict, context: PostContext):
        self.name = name
        self.settings = settings
        self.context = context

    # --- to override ----------------------------------------------------------------------

    def check(self, results: list) -> None:
        """Raise :class:`DestinationConfigError` when the settings cannot work (before any row)."""

    def target(self) -> str:
        """Where scores go, in full (hashed into keys, never stored as is)."""
        raise NotImplementedError

    def target_shown(self) -> str:
        """Where scores go, as it may be printed and stored."""
        return shown_url(self.target())

    def missing(self, result: SubmissionResult, identity: Identity) -> str | None:
        """Why this learner's score cannot be posted here (no email, no token, ...), or None."""
        return None

    def send(self, delivery: Delivery) -> Attempt:
        """Post one score; called once per try."""
        raise NotImplementedError

    def close(self) -> None:
        """Release connections."""

    # --- helpers --------------------------------------------------------------------------

    def http_post(self, url: str, *, data: bytes, headers: dict | None = None,
                  accepted: Callable[[int], bool] = lambda s: 200 <= s < 300,
                  describe: Callable[[Any], str], ok_message: str = "") -> Attempt:
        """POST ``data`` to ``url`` and classify the answer (no redirects followed)."""
        import requests

        timeout = self.context.policy.timeout
        try:
            response = self.context.http().post(url, data=data, headers=headers or {},
                                                timeout=(timeout, timeout), allow_redirects=False)
        except requests.exceptions.InvalidURL:
            raise DestinationConfigError(f"invalid URL {shown_url(url)}",
                                         destination=self.name) from None
        except requests.exceptions.RequestException as exc:
            return from_exception(exc, shown_url(url), timeout)
        return from_response(response, accepted=accepted, describe=describe,
                             ok_message=ok_message)
