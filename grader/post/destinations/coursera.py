"""Coursera's programming-assignment endpoint, spoken exactly as the course's Grader did.

One JSON body per learner (``docs/instructor/posting.md``; the protocol is in the
course's ``grading.Grader``): the assignment's ``course_key``, the learner's
email and course token, and every part of the assignment, each
``{"output": TEXT}`` or ``{}`` when nothing was measured.  TEXT is the value
the *grader measured*, written as the course's ``set_answer`` would have
written it - never what the notebook claimed.  HTTP 201 means accepted; an
error's ``details.learnerMessage`` is kept as the reason.

Tokens are per learner and secret: ``$GRADER_COURSERA_TOKEN_<LEARNER>`` (the
learner id upper-cased, anything but letters and digits turned into ``_``) or
``[coursera.tokens]`` in the owner-only config file.
"""
from __future__ import annotations

import json
import re

from ...exceptions import DestinationConfigError
from ..config import Identity, Setting
from ..delivery import Attempt, body_message, excerpt
from ..scores import course_output
from ..secrets import Secret, env_secret
from .base import Delivery, Destination, check_url

DEFAULT_URL = "https://www.coursera.org/api/onDemandProgrammingScriptSubmissions.v1"
ACCEPTED_MESSAGE = "accepted by Coursera (HTTP 201)"
TOKEN_ENV_PREFIX = "GRADER_COURSERA_TOKEN_"


def token_env(learner: str) -> str:
    """The environment variable holding ``learner``'s course token."""
    return TOKEN_ENV_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", learner).upper()


def payload(*, course_key: str, email: str, token: str, part_ids, result) -> dict:
    """The body the course's Grader posted, built from the *measured* values of ``result``."""
    measured = {part.id: part.measured for part in result.parts}
    parts = {}
    for part_id in part_ids:
        text = course_output(measured.get(part_id))
        # A part without an answer is still sent, as an empty object (as the course did).
        parts[part_id] = {"output": text} if text is not None else {}
    return {"assignmentKey": course_key, "submitterEmail": email, "secret": token,
            "parts": parts}


def describe(response) -> str:
    """``details.learnerMessage`` when the platform sent one, else a body excerpt.

    Unlike the course's Grader, a non-JSON error page (an HTML 502 from a proxy)
    is described, not a crash.
    """
    try:
        data = response.json()
    except ValueError:
        return f"{response.reason or 'error'}: {excerpt(response.text)}"
    details = data.get("details") if isinstance(data, dict) else None
    if isinstance(details, dict) and details.get("learnerMessage"):
        return str(details["learnerMessage"])
    return f"{response.reason or 'error'}: {body_message(response)}"


class CourseraDestination(Destination):
    """Post each learner's measured answers to the course platform."""

    SUMMARY = "the course platform's assignment endpoint (assignmentKey, email, token, parts)"
    CARRIES_POINTS = False  # the platform grades the measured values with its own grader
    SETTINGS = (
        Setting("url", "submission endpoint", DEFAULT_URL, env="GRADER_COURSERA_URL"),
        Setting("course_key", "assignment key on the platform (default: course_key in "
                              "assignment.toml)", None, env="GRADER_COURSERA_COURSE_KEY"),
        Setting("tokens", "learner id -> course token (secret; or $GRADER_COURSERA_TOKEN_<ID>)",
                None, secret=True, type=dict),
    )

    def check(self, results: list) -> None:
        check_url(self.settings["url"], destination=self.name, setting="url",
                  env="GRADER_COURSERA_URL")
        for found in results:
            self._course_key(found.result.assignment)

    def target(self) -> str:
        return self.settings["url"]

    def _course_key(self, assignment_id: str) -> str:
        key = self.settings.get("course_key") or self.context.assignment(assignment_id).course_key
        if not key:
            raise DestinationConfigError(
                f"assignment {assignment_id!r} has no course_key in assignment.toml; set one "
                f"there or pass --course-key", destination=self.name, field="course_key")
        return key

    def _token(self, learner: str) -> Secret | None:
        token = env_secret(token_env(learner))
        if token is None:
            token = (self.settings.get("tokens") or {}).get(learner)
        if token is not None:
            self.context.redactor.add(token)
        return token

    def missing(self, result, identity: Identity) -> str | None:
        if not identity.email:
            return (f"no email for learner {result.learner!r}: add it to the learners file "
                    f"(--learners FILE, columns learner,email,lms_user_id)")
        if self._token(result.learner) is None:
            return (f"no course token for learner {result.learner!r}: set "
                    f"${token_env(result.learner)} or [coursera.tokens] {result.learner} in the "
                    f"config file")
        return None

    def send(self, delivery: Delivery) -> Attempt:
        result = delivery.result
        assignment = self.context.assignment(result.assignment)
        body = payload(course_key=self._course_key(result.assignment),
                       email=delivery.identity.email,
                       token=self._token(result.learner).reveal(),
                       part_ids=[part.id for part in assignment.parts], result=result)
        # ASCII JSON as bytes and no Content-Type header: byte for byte what the course sent.
        data = json.dumps(body).encode("ascii")
        return self.http_post(self.target(), data=data, accepted=lambda status: status == 201,
                              describe=describe, ok_message=ACCEPTED_MESSAGE)
