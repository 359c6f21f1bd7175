"""LTI 1.3 Assignment and Grade Services: a score per learner on an LMS line item.

1. Access token (OAuth 2 client credentials, RFC 7523 client assertion): a JWT
   signed RS256 with the tool's private key - ``iss`` and ``sub`` the client
   id, ``aud`` the token URL (or the platform's ``audience``), ``iat``,
   ``exp`` (5 minutes), a fresh ``jti`` - sent with the score scope.  The
   token is kept in memory (never on disk) until shortly before it expires.
2. ``POST {lineitem}/scores`` with ``application/vnd.ims.lis.v1.score+json``:
   ``userId`` (the learner's ``lms_user_id``), ``scoreGiven``,
   ``scoreMaximum``, ``activityProgress`` Completed, ``gradingProgress``
   FullyGraded, ``timestamp`` and a per-part ``comment``.

A platform that refuses the tool's credentials (HTTP 4xx from the token
endpoint) stops the run with :class:`PostError`: every score would fail the
same way, and they stay pending until the configuration is fixed.
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

from ...exceptions import DestinationConfigError, PostError
from ..config import Setting
from ..delivery import RETRY, SENT, Attempt, body_message, from_exception, from_response
from ..scores import part_summary
from ..secrets import Secret, read_private_text
from .base import Delivery, Destination, check_url, shown_url

SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
SCORE_MEDIA_TYPE = "application/vnd.ims.lis.v1.score+json"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = 300          # seconds a client assertion is valid
EXPIRY_MARGIN = 30                # renew a token this many seconds before it expires
COMMENT_CHARS = 1000

# Access tokens by (token URL, client id, audience): (token, monotonic expiry). In memory
# only: a token is a secret and lives no longer than the process.
_TOKENS: dict[tuple, tuple[Secret, float]] = {}
_TOKENS_LOCK = threading.Lock()


def scores_url(lineitem: str) -> str:
    """``{lineitem}/scores``, keeping a query string after the path (some LMSs put one there)."""
    parts = urlsplit(lineitem)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))


def score_document(delivery: Delivery) -> dict:
    """The AGS Score for one result."""
    result = delivery.result
    return {
        "userId": delivery.identity.lms_user_id,
        "scoreGiven": result.total,
        "scoreMaximum": result.max_total,
        "activityProgress": "Completed",
        "gradingProgress": "FullyGraded",
        # When the score was recorded, not sent: a re-send is the same score event.
        "timestamp": delivery.row.recorded_at,
        "comment": part_summary(result, delivery.grade)[:COMMENT_CHARS],
    }


def signed_assertion(*, client_id: str, audience: str, key, key_id: str | None = None) -> str:
    """A fresh client assertion (RFC 7523): a JWT signed RS256 by the tool's ``key``, valid 5 minutes,
    with a new ``jti``; shared by AGS posting and the service's LTI calls (:mod:`grader.serve.lti`)."""
    import jwt

    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": audience, "iat": now, "exp": now + ASSERTION_LIFETIME,
              "jti": uuid.uuid4().hex}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": key_id} if key_id else None)


def clear_token_cache() -> None:
    """Forget every cached access token (tests; a platform that revoked them)."""
    with _TOKENS_LOCK:
        _TOKENS.clear()


class LtiDestination(Destination):
    """Post scores to an LMS line item through LTI 1.3 AGS."""

    SUMMARY = "an LMS gradebook column through LTI 1.3 Assignment and Grade Services"
    SETTINGS = (
        Setting("token_url", "the platform's OAuth 2 token endpoint", None,
                env="GRADER_LTI_TOKEN_URL"),
        Setting("client_id", "the tool's client id on the platform", None,
                env="GRADER_LTI_CLIENT_ID"),
        Setting("key_id", "kid of the tool's key in its JWKS (optional)", None,
                env="GRADER_LTI_KEY_ID"),
        Setting("private_key", "the tool's RSA private key, PEM text (secret)", None,
                env="GRADER_LTI_PRIVATE_KEY", secret=True),
        Setting("private_key_file", "file holding the PEM key (must be mode 600)", None,
                env="GRADER_LTI_PRIVATE_KEY_FILE"),
        Setting("lineitem", "the line item URL (the gradebook column)", None,
                env="GRADER_LTI_LINEITEM"),
        Setting("audience", "aud of the client assertion (default: the token URL)", None,
                env="GRADER_LTI_AUDIENCE"),
    )

    def check(self, results: list) -> None:
        check_url(self.settings["token_url"], destination=self.name, setting="token_url",
                  env="GRADER_LTI_TOKEN_URL")
        check_url(self.settings["lineitem"], destination=self.name, setting="lineitem",
                  env="GRADER_LTI_LINEITEM")
        if not self.settings["client_id"]:
            raise DestinationConfigError("no client_id: set $GRADER_LTI_CLIENT_ID or [lti] "
                                         "client_id", destination=self.name, field="client_id")
        assignments = sorted({found.result.assignment for found in results})
        if len(assignments) > 1:
            raise DestinationConfigError(
                f"one line item is one gradebook column, but the results are for "
                f"{', '.join(assignments)}: post each assignment's results on their own",
                destination=self.name, field="lineitem")
        self._key = self._load_key()

    def _load_key(self):
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        secret = self.settings.get("private_key")
        if secret is None and self.settings.get("private_key_file"):
            secret = Secret(read_private_text(self.settings["private_key_file"],
                                              what="LTI private key"),
                            source=self.settings["private_key_file"])
            self.context.redactor.add(secret)
        if secret is None:
            raise DestinationConfigError(
                "no private key: set $GRADER_LTI_PRIVATE_KEY_FILE (a mode-600 PEM file), "
                "$GRADER_LTI_PRIVATE_KEY, or [lti] private_key_file", destination=self.name,
                field="private_key")
        try:
            return load_pem_private_key(secret.reveal().encode("utf-8"), password=None)
        except (ValueError, TypeError):
            # The library's message could quote the key; say only where it came from.
            raise DestinationConfigError(f"the private key from {secret.source} is not an "
                                         f"unencrypted PEM private key", destination=self.name,
                                         field="private_key") from None

    def target(self) -> str:
        return self.settings["lineitem"]

    def missing(self, result, identity) -> str | None:
        if not identity.lms_user_id:
            return (f"no LMS user id for learner {result.learner!r}: add it to the learners "
                    f"file (--learners FILE, column lms_user_id)")
        if not result.max_total:
            return "the result has no points possible (scoreMaximum must be positive)"
        return None

    # --- the access token ------------------------------------------------------------------

    def _cache_key(self) -> tuple:
        return (self.settings["token_url"], self.settings["client_id"], self._audience())

    def _audience(self) -> str:
        return self.settings.get("audience") or self.settings["token_url"]

    def client_assertion(self) -> str:
        """A fresh signed JWT identifying the tool to the token endpoint."""
        if getattr(self, "_key", None) is None:
            self._key = self._load_key()
        return signed_assertion(client_id=self.settings["client_id"], audience=self._audience(),
                                key=self._key, key_id=self.settings.get("key_id"))

    def _token(self) -> tuple[Secret, bool] | Attempt:
        """A valid access token and whether it is fresh (not cached); an Attempt on trouble."""
        with _TOKENS_LOCK:
            cached = _TOKENS.get(self._cache_key())
        if cached and cached[1] > time.monotonic():
            return cached[0], False
        import requests

        url, timeout = self.settings["token_url"], self.context.policy.timeout
        form = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": self.client_assertion(), "scope": SCORE_SCOPE}
        try:
            response = self.context.http().post(url, data=form, timeout=(timeout, timeout),
                                                allow_redirects=False)
        except requests.exceptions.RequestException as exc:
            return from_exception(exc, shown_url(url), timeout)
        if response.status_code == 429 or response.status_code >= 500:
            return from_response(response, accepted=lambda s: False, describe=body_message)
        if response.status_code != 200:
            raise PostError(
                f"the platform's token endpoint {shown_url(url)} refused the tool's credentials "
                f"(HTTP {response.status_code}: "
                f"{self.context.redactor.redact(body_message(response))}); check client_id, "
                f"key_id and that the platform has the tool's public key",
                destination=self.name, status=response.status_code)
        try:
            data = response.json()
            token = Secret(str(data["access_token"]), source="token endpoint")
            lifetime = float(data.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError):
            return Attempt(RETRY, f"the token endpoint {shown_url(url)} answered without an "
                                  f"access_token", response.status_code)
        self.context.redactor.add(token)
        with _TOKENS_LOCK:
            _TOKENS[self._cache_key()] = (token, time.monotonic() + lifetime - EXPIRY_MARGIN)
        return token, True

    def _forget_token(self) -> None:
        with _TOKENS_LOCK:
            _TOKENS.pop(self._cache_key(), None)

    # --- the score -------------------------------------------------------------------------

    def send(self, delivery: Delivery) -> Attempt:
        got = self._token()
        if isinstance(got, Attempt):
            return got
        token, fresh = got
        body = json.dumps(score_document(delivery), ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": SCORE_MEDIA_TYPE, "Authorization": f"Bearer {token.reveal()}"}
        attempt = self.http_post(scores_url(self.target()), data=body, headers=headers,
                                 describe=body_message)
        if attempt.http_status == 401 and not fresh:
            # The platform may revoke a token before its announced expiry: fetch a new one on
            # the next try rather than failing the score. (401 with a fresh token is final.)
            self._forget_token()
            return Attempt(RETRY, attempt.message + " (cached access token dropped)", 401, 0.0)
        if attempt.outcome == SENT:
            return Attempt(SENT, f"score accepted (HTTP {attempt.http_status})",
                           attempt.http_status)
        return attempt
