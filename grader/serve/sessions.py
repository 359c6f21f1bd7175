"""Who is signed in, and who failed to sign in too often: the service's memory of browsers and clients.

Both live in the web server's process and are bounded: a restart forgets them (learners log in to
``/me`` again; the links with a key keep working), and no stream of requests can grow them past
their capacity - the oldest entry goes first.

* :class:`Sessions`: the browser sessions opened by a login (``/me``) or by the instructor's key,
  each valid for :data:`SESSION_S`.
* :class:`FailureThrottle`: failed sign-ins (a wrong token, an unknown email, a wrong key) counted
  per key - a learner's email, a client's address - over a sliding window; a key with too many is
  refused, whatever it sends, until the oldest failure leaves the window.  The service keeps two
  (:data:`PER_LEARNER`, :data:`PER_ADDRESS`).  The window, not a lockout until an instructor acts:
  someone who tries wrong tokens under a learner's email delays that learner by the window at most.

Both are used from the event loop's thread only (the async handlers of :mod:`grader.serve.app`).
"""
from __future__ import annotations

import secrets
import time
from collections import OrderedDict, deque
from typing import Callable

SESSION_S = 12 * 3600
SESSIONS_MAX = 10_000          # far more than a class's browsers; each entry is ~200 bytes

PER_LEARNER = (10, 15 * 60)    # failures allowed per learner's email, in a window of seconds
PER_ADDRESS = (30, 15 * 60)    # ... per client address (a class behind one NAT still fits)
THROTTLED_MAX = 10_000         # keys remembered at most by each throttle


class Sessions:
    """Browser sessions: ``open`` one after a login, ``of(cookie)`` tells whose it is."""

    def __init__(self, *, capacity: int = SESSIONS_MAX, lifetime_s: float = SESSION_S,
                 clock: Callable[[], float] = time.monotonic):
        self.capacity, self.lifetime_s, self.clock = capacity, lifetime_s, clock
        self._sessions: OrderedDict[str, tuple[str, str, float, dict]] = OrderedDict()   # oldest first

    def __len__(self) -> int:
        return len(self._sessions)

    def open(self, role: str, learner: str = "", data: dict | None = None) -> str:
        """A new session's cookie value; expired sessions are dropped, and the oldest ones while
        the store is full.  ``data``: what the session carries besides who it is (an LTI launch's
        course, assignment and line item: :mod:`grader.serve.lti`)."""
        now = self.clock()
        while self._sessions and next(iter(self._sessions.values()))[2] <= now:
            self._sessions.popitem(last=False)   # all sessions live as long: the oldest expire first
        while len(self._sessions) >= self.capacity:
            self._sessions.popitem(last=False)
        token = secrets.token_urlsafe(24)
        self._sessions[token] = (role, learner, now + self.lifetime_s, dict(data or {}))
        return token

    def of(self, cookie: str) -> tuple[str, str]:
        """(role, learner) of the session ``cookie`` names; ("", "") for none or an expired one."""
        return self.get(cookie)[:2]

    def get(self, cookie: str) -> tuple[str, str, dict]:
        """(role, learner, data) of the session ``cookie`` names; ("", "", {}) for none or an expired one."""
        found = self._sessions.get(cookie or "")
        if found is None:
            return "", "", {}
        if found[2] <= self.clock():
            del self._sessions[cookie]
            return "", "", {}
        return found[0], found[1], found[3]


class FailureThrottle:
    """At most ``limit`` failures per key in any ``window_s`` seconds (see the module docstring)."""

    def __init__(self, limit: int, window_s: float, *, capacity: int = THROTTLED_MAX,
                 clock: Callable[[], float] = time.monotonic):
        self.limit, self.window_s, self.capacity, self.clock = limit, window_s, capacity, clock
        self._failures: OrderedDict[str, deque] = OrderedDict()   # least recently failed first

    def __len__(self) -> int:
        return len(self._failures)

    def _recent(self, key: str, now: float) -> deque | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def wait(self, key: str) -> float:
        """Seconds until ``key`` may try again: 0 when it may now."""
        now = self.clock()
        times = self._recent(key, now)
        if times is None or len(times) < self.limit:
            return 0.0
        return times[-self.limit] + self.window_s - now

    def failed(self, key: str) -> None:
        now = self.clock()
        times = self._recent(key, now)
        if times is None:
            while len(self._failures) >= self.capacity:
                self._failures.popitem(last=False)
            times = self._failures[key] = deque(maxlen=self.limit)
        times.append(now)
        self._failures.move_to_end(key)

    def forget(self, key: str) -> None:
        """A success: the key's failures are forgiven."""
        self._failures.pop(key, None)
