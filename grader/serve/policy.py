"""When a submission is accepted, and on what terms: deadline, late penalty, attempts, rate.

The assignment's ``[submissions]`` table (:class:`grader.specs.model.SubmissionPolicy`)
decides, with the service's clock at the moment of acceptance:

* **on time** until ``deadline`` (always, without one);
* **late** until ``late_until``: accepted, ``late_penalty`` (plus ``late_penalty_per_day``
  per started day after the deadline, at most 1) of the points taken off the grade
  (a ``penalty`` event in the corrections log, :mod:`grader.corrections`);
* **refused** after that (after the deadline itself when there is no ``late_until``);
* at most ``attempts`` submissions per learner, ``per_hour`` in any hour, and
  ``min_interval_s`` seconds between two.

Every refusal is a :class:`Refused`: an HTTP status and the one line the learner's
``grader.submit`` prints.
"""
from __future__ import annotations

import datetime
import math
from dataclasses import dataclass

from ..specs.model import SubmissionPolicy


class Refused(Exception):
    """A request the service refuses: ``status`` (HTTP) and ``message`` (what the learner reads);
    ``retry_after``: seconds until trying again can succeed (a 429's ``Retry-After``)."""

    def __init__(self, status: int, message: str, *, code: str = "refused", retry_after: float | None = None):
        self.status, self.message, self.code, self.retry_after = status, message, code, retry_after
        super().__init__(message)


@dataclass(frozen=True)
class Timing:
    """What the clock says of a submission: on time or late, and the penalty that follows."""

    late: bool = False
    late_by_s: float = 0.0
    penalty: float = 0.0

    @property
    def label(self) -> str:
        return "late" if self.late else "on time"


def _when(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def duration(seconds: float) -> str:
    """``2 d 3 h``, ``3 h 5 min``, ``4 min`` (rounded down), ``12 s``."""
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


def timing(policy: SubmissionPolicy, now: datetime.datetime) -> Timing:
    """On time, late (with its penalty), or :class:`Refused` (403) past the last moment."""
    if policy.deadline is None or now <= policy.deadline:
        return Timing()
    late_by = (now - policy.deadline).total_seconds()
    if policy.late_until is None or now > policy.late_until:
        last = policy.late_until or policy.deadline
        raise Refused(403, f"Submissions closed at {_when(last)}"
                           + (f" (the deadline was {_when(policy.deadline)}, late submissions were "
                              f"accepted until then)" if policy.late_until else "")
                           + f"; it is {_when(now)}. Nothing was submitted: write to your instructor.",
                      code="closed")
    days = math.ceil(late_by / 86400)
    penalty = min(1.0, policy.late_penalty + policy.late_penalty_per_day * days)
    return Timing(late=True, late_by_s=late_by, penalty=round(penalty, 6))


def describe_late(policy: SubmissionPolicy, timing_: Timing) -> str:
    """Why a late submission loses what it loses (the penalty event's reason)."""
    return (f"submitted {duration(timing_.late_by_s)} after the deadline of {_when(policy.deadline)}; "
            f"late penalty {timing_.penalty:.0%}")


def check_limits(policy: SubmissionPolicy, *, accepted: list[float], now: float) -> None:
    """Refuse a submission over the learner's limits; ``accepted``: the unix times of theirs so far."""
    if policy.attempts and len(accepted) >= policy.attempts:
        raise Refused(403, f"You have used all {policy.attempts} submissions of this assignment; your grade "
                           f"is that of your {'best' if policy.counts == 'best' else 'last'} graded one. "
                           f"Nothing was submitted.", code="attempts")
    if policy.min_interval_s and accepted and now - max(accepted) < policy.min_interval_s:
        wait = policy.min_interval_s - (now - max(accepted))
        raise Refused(429, f"Too soon after your last submission: wait {duration(math.ceil(wait))} and "
                           f"submit again (at most one submission every {duration(policy.min_interval_s)}). "
                           f"Nothing was submitted.", code="rate", retry_after=wait)
    if policy.per_hour:
        recent = sorted(t for t in accepted if now - t < 3600)
        if len(recent) >= policy.per_hour:
            wait = 3600 - (now - recent[0])
            raise Refused(429, f"You submitted {len(recent)} times in the last hour, the most allowed: "
                               f"wait {duration(math.ceil(wait))} and submit again. Nothing was submitted.",
                          code="rate", retry_after=wait)
