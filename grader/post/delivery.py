"""Trying to deliver one score: HTTP outcomes, what is retried, backoff with jitter.

Retried (the score stays pending if every try fails): connection errors,
timeouts, HTTP 5xx and 429, waiting ``base_delay * 2**n`` seconds (capped at
``max_delay``, half of it random so that many graders do not retry in step),
or at least what the server's ``Retry-After`` asks (seconds or an HTTP date).
Not retried: any other 4xx - the destination said no, and its message is
kept (the score is ``failed``).  Redirects are not followed: ``requests``
would turn a redirected POST into a GET and "deliver" nothing.
"""
from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Callable

from .config import Setting

SENT, RETRY, REFUSED = "sent", "retry", "refused"

RETRY_SETTINGS = (
    Setting("attempts", "tries per score in one run before it is left pending", 5,
            env="GRADER_POST_ATTEMPTS", type=int),
    Setting("base_delay", "seconds before the first retry; doubled at each retry", 1.0,
            env="GRADER_POST_BASE_DELAY", type=float),
    Setting("max_delay", "longest wait between two tries, in seconds", 60.0, type=float),
    Setting("max_retry_after", "longest Retry-After honoured; a longer one leaves the score "
                               "pending for a later run", 300.0, type=float),
    Setting("timeout", "seconds to wait for a destination to answer one request", 30.0,
            env="GRADER_POST_TIMEOUT", type=float),
)

_EXCERPT_CHARS = 200


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently one score is tried (settings: ``RETRY_SETTINGS``)."""

    attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0
    max_retry_after: float = 300.0
    timeout: float = 30.0

    def wait(self, retry: int, retry_after: float | None = None,
             rng: Callable[[], float] = random.random) -> float | None:
        """Seconds to wait before retry number ``retry`` (1, 2, ...); None: give up for now."""
        backoff = min(self.max_delay, self.base_delay * 2 ** (retry - 1))
        jittered = backoff / 2 + rng() * backoff / 2
        if retry_after is None:
            return jittered
        if retry_after > self.max_retry_after:
            return None
        return max(retry_after, jittered)


@dataclass(frozen=True)
class Attempt:
    """The outcome of one try: ``sent``, ``retry`` (transient) or ``refused`` (final)."""

    outcome: str
    message: str
    http_status: int | None = None
    retry_after: float | None = None


def deliver(send: Callable[[], Attempt], *, policy: RetryPolicy,
            before_try: Callable[[], None] = lambda: None,
            notify: Callable[[str], None] | None = None,
            sleep: Callable[[float], None] = time.sleep) -> tuple[Attempt, int]:
    """Call ``send`` until it is sent or refused, or the policy gives up; (last attempt, tries).

    ``before_try`` runs before each request (the outbox counts the attempt there,
    before anything leaves the machine).
    """
    attempt = Attempt(RETRY, "not tried")
    for number in range(1, policy.attempts + 1):
        before_try()
        attempt = send()
        if attempt.outcome != RETRY or number == policy.attempts:
            return attempt, number
        wait = policy.wait(number, attempt.retry_after)
        if wait is None:
            return Attempt(RETRY, f"{attempt.message}; the server asked to wait "
                                  f"{attempt.retry_after:.0f} s: run `grader post` again later",
                           attempt.http_status, attempt.retry_after), number
        if notify:
            notify(f"{attempt.message}; retrying in {wait:.1f} s")
        sleep(wait)
    return attempt, policy.attempts


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds asked for by a ``Retry-After`` header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


def excerpt(body: str) -> str:
    """A short, one-line excerpt of a response body, HTML tags dropped."""
    text = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", body)
    text = re.sub(r"<[^>]*>", " ", text)
    text = " ".join(text.split())
    if len(text) > _EXCERPT_CHARS:
        text = text[: _EXCERPT_CHARS - 3].rstrip() + "..."
    return text or "(empty body)"


def is_retryable_status(status: int) -> bool:
    return status == 429 or status >= 500


def from_response(response, *, accepted: Callable[[int], bool],
                  describe: Callable[[object], str], ok_message: str = "") -> Attempt:
    """Classify an HTTP answer; ``describe(response)`` words a refusal or an error."""
    status = response.status_code
    if accepted(status):
        return Attempt(SENT, ok_message or f"HTTP {status}", status)
    if 300 <= status < 400:
        where = response.headers.get("Location", "?").split("?")[0]
        return Attempt(REFUSED, f"HTTP {status}: redirected to {where}; configure that URL "
                                f"instead (redirects are not followed for a POST)", status)
    if is_retryable_status(status):
        return Attempt(RETRY, f"HTTP {status}: {describe(response)}", status,
                       parse_retry_after(response.headers.get("Retry-After")))
    return Attempt(REFUSED, f"HTTP {status}: {describe(response)}", status)


def body_message(response) -> str:
    """The usual wording of an error body: a JSON error field, or an excerpt of the text."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in ("message", "error_description", "error", "detail"):
            if isinstance(data.get(key), str) and data[key]:
                return excerpt(data[key])
    return excerpt(response.text)


def from_exception(exc: Exception, shown: str, timeout: float) -> Attempt:
    """A request that got no HTTP answer: always worth retrying.

    The message is written here rather than taken from ``str(exc)``, which quotes
    the full URL (its query string may carry a secret).
    """
    import requests

    if isinstance(exc, requests.exceptions.Timeout):
        return Attempt(RETRY, f"no answer from {shown} within {timeout:g} s")
    reason = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", str(exc))
    why = reason.group(1).strip() if reason else type(exc).__name__
    return Attempt(RETRY, f"could not reach {shown} ({why})")
