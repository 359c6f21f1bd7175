"""A signed JSON document per learner, POSTed to a URL of the course's own.

Headers:

- ``X-Grader-Signature: sha256=<hex>``: HMAC-SHA256 of the exact body bytes
  with the shared secret (``$GRADER_WEBHOOK_SECRET`` or ``[webhook] secret``);
  a receiver recomputes it over the raw body before parsing it.
- ``Idempotency-Key``: the outbox key of this score event.  A re-send (after
  a timeout, or after the harness was killed between sending and recording)
  carries the same key, so the receiver applies it once.
- ``version`` in the body: 1 for a learner's first score at this URL, then 2,
  3, ... for each changed grade (a regrade, a rescore, an override).  Each
  version has its own key; a receiver keeps the highest version per learner
  and assignment, so a late retry of an older version never wins.

The body is the same bytes on every re-send: its ``timestamp`` is when the
score was recorded in the outbox, not when it was sent.
"""
from __future__ import annotations

import hashlib
import hmac
import json

from ...exceptions import DestinationConfigError
from ..config import Setting
from ..delivery import Attempt, body_message
from .base import Delivery, Destination, check_url

SIGNATURE_HEADER = "X-Grader-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
EVENT = "grader.score"


def document(delivery: Delivery) -> dict:
    """The JSON document for one score (field names: ``docs/instructor/posting.md``)."""
    result, identity, row = delivery.result, delivery.identity, delivery.row
    doc = {
        "event": EVENT,
        "idempotency_key": row.key,
        "version": row.version,
        "assignment": result.assignment,
        "assignment_version": result.assignment_version,
        "learner": result.learner,
        "status": result.status,
        "reason": result.reason,
        "total": result.total,
        "max_total": result.max_total,
        "parts": [{"id": p.id, "status": p.status, "points": p.points,
                   "max_points": p.max_points, "measured": p.measured, "message": p.message,
                   "hidden": p.hidden} for p in result.parts],
        "harness_version": result.harness_version,
        "submission_sha256": result.submission_sha256,
        "result_digest": row.result_digest,
        "graded_at": result.started_at,
        "timestamp": row.recorded_at,
    }
    doc.update(_corrections(delivery))
    if identity.email:
        doc["email"] = identity.email
    if identity.lms_user_id:
        doc["lms_user_id"] = identity.lms_user_id
    return doc


def _corrections(delivery: Delivery) -> dict:
    """``grader_total`` and, per corrected part, how (added only when a grade was corrected)."""
    grade = delivery.grade
    if grade is None or not grade.corrected:
        return {}
    notes = {}
    for part, override in grade.overrides.items():
        notes[part] = {"overridden": True, "grader_points": grade.judged[part].points,
                       "reason": override.reason, "by": override.by, "at": override.at}
    for part, rescored in grade.rescored.items():
        notes.setdefault(part, {}).update({"rescored_at": rescored.at,
                                           "graded_status": rescored.before["status"],
                                           "graded_points": rescored.before["points"]})
    return {"grader_total": grade.grader_total, "corrections": notes}


def encode(doc: dict) -> bytes:
    """Canonical bytes: the signature is over exactly these."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def sign(body: bytes, secret: str) -> str:
    """The signature header's value for ``body``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(body: bytes, header: str | None, secret: str) -> bool:
    """What a receiver does: constant-time comparison of the signature over the raw body."""
    return bool(header) and hmac.compare_digest(sign(body, secret), header)


class WebhookDestination(Destination):
    """POST a signed JSON document per learner to a URL."""

    SUMMARY = "a signed JSON document per learner to any URL (HMAC-SHA256, Idempotency-Key)"
    SETTINGS = (
        Setting("url", "where to POST", None, env="GRADER_WEBHOOK_URL"),
        Setting("secret", "shared HMAC-SHA256 key (secret)", None, env="GRADER_WEBHOOK_SECRET",
                secret=True),
    )

    def check(self, results: list) -> None:
        check_url(self.settings["url"], destination=self.name, setting="url",
                  env="GRADER_WEBHOOK_URL")
        if not self.settings["secret"]:
            raise DestinationConfigError(
                "no signing secret: set $GRADER_WEBHOOK_SECRET or [webhook] secret in the "
                "config file (receivers must be able to tell our scores from forged ones)",
                destination=self.name, field="secret")

    def target(self) -> str:
        return self.settings["url"]

    def send(self, delivery: Delivery) -> Attempt:
        body = encode(document(delivery))
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(body, self.settings["secret"].reveal()),
            IDEMPOTENCY_HEADER: delivery.row.key,
        }
        return self.http_post(self.target(), data=body, headers=headers,
                              describe=body_message)
