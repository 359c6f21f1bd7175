"""LTI Dynamic Registration (IMS LTI Dynamic Registration 1.0): the LMS registers the tool by itself.

``grader lti register --out OUT --public-url URL`` prints a registration URL,
``URL/lti/register?ticket=T``, valid once and for a day (the ticket is stored hashed).  An LMS
administrator pastes it where the LMS takes a tool's dynamic registration URL (Canvas: Developer
Keys > + LTI Registration; Moodle: Manage tools > "Tool URL" > Add LTI Advantage).  The LMS opens it
with ``openid_configuration`` (its OpenID configuration's URL) and ``registration_token``; the
service (:func:`register`):

1. reads the platform's OpenID configuration (https, or a loopback address; its ``issuer`` must
   begin the configuration's URL, as the specification asks);
2. POSTs the tool's configuration to its ``registration_endpoint`` (the registration token as the
   bearer): the login and launch URLs, the key set's URL, the scopes of AGS and NRPS, deep linking;
3. records what the platform answers - the client id, the deployment id - with the platform's
   issuer, authorization, key set and token endpoints, as ``grader lti add-platform`` would;
4. answers a page whose script tells the LMS's window it is done (``org.imsglobal.lti.close``).

The ticket is what makes the registration the administrator's: without one (or with a used or
expired one) the URL registers nothing.
"""
from __future__ import annotations

import hashlib
import secrets
import time
from pathlib import Path
from urllib.parse import urlsplit

from .lti import Platform, add_platform, origin_of
from .lti_config import SCOPES, urls
from .policy import Refused
from .store import connect

TICKET_S = 86400
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"

def _digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode("utf-8", "surrogatepass")).hexdigest()


def new_ticket(out: Path) -> str:
    """A registration ticket: valid once, for a day."""
    ticket = secrets.token_urlsafe(24)
    db = connect(out)
    db.execute("INSERT INTO lti_registration_tickets (ticket, created_unix) VALUES (?, ?)",
               (_digest(ticket), time.time()))
    return ticket


def registration_url(out: Path, public_url: str) -> str:
    urls(public_url)   # checks the address
    return f"{public_url.rstrip('/')}/lti/register?ticket={new_ticket(out)}"


def _use_ticket(out: Path, ticket: str) -> None:
    db = connect(out)
    db.execute("BEGIN IMMEDIATE")
    try:
        row = db.execute("SELECT * FROM lti_registration_tickets WHERE ticket=?", (_digest(ticket),)).fetchone()
        if row is None or row["used_unix"] is not None or row["created_unix"] < time.time() - TICKET_S:
            raise Refused(403, "This registration link is unknown, was already used or is more than a day old: "
                               "make a new one with grader lti register.", code="bad-ticket")
        db.execute("UPDATE lti_registration_tickets SET used_unix=? WHERE ticket=?", (time.time(), _digest(ticket)))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _safe_url(url: str, what: str) -> str:
    from ..post.destinations.base import _loopback

    parts = urlsplit(url or "")
    if parts.scheme == "https" and parts.hostname or parts.scheme == "http" and _loopback(parts.hostname or ""):
        return url
    raise Refused(400, f"The LMS's {what} ({str(url)[:200]!r}) is not an https address.", code="bad-registration")


def tool_configuration(public_url: str, title: str = "grader") -> dict:
    """The client metadata the service sends to the platform's registration endpoint."""
    found = urls(public_url)
    return {
        "application_type": "web", "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"], "initiate_login_uri": found["login"],
        "redirect_uris": [found["launch"]], "client_name": title, "jwks_uri": found["jwks"],
        "token_endpoint_auth_method": "private_key_jwt", "scope": " ".join(SCOPES),
        TOOL_CONFIGURATION: {
            "domain": found["domain"], "target_link_uri": found["launch"], "claims": ["iss", "sub", "name", "email"],
            "messages": [{"type": "LtiDeepLinkingRequest", "target_link_uri": found["deep_linking"],
                          "label": f"Add a {title} assignment"}],
            "description": "Notebook assignments graded by running them (grader serve)"},
    }


def register(out: Path, *, ticket: str, configuration_url: str, registration_token: str, public_url: str,
             session=None) -> Platform:
    """The dynamic registration (see the module docstring); :class:`Refused` saying what failed."""
    import requests

    _use_ticket(out, ticket)
    http = session or requests
    _safe_url(configuration_url, "OpenID configuration")
    try:
        answer = http.get(configuration_url, timeout=15, allow_redirects=False)
        configuration = answer.json()
    except (requests.RequestException, ValueError):
        raise Refused(502, "The LMS's OpenID configuration could not be read.", code="bad-registration") from None
    issuer = str(configuration.get("issuer") or "")
    if not issuer or not configuration_url.startswith(issuer.rstrip("/")):
        raise Refused(400, f"The LMS's OpenID configuration names the issuer {issuer[:200]!r}, which does not "
                           f"begin its URL: refused.", code="bad-registration")
    endpoints = {name: _safe_url(str(configuration.get(name) or ""), name) for name in
                 ("registration_endpoint", "authorization_endpoint", "jwks_uri", "token_endpoint")}
    headers = {"Authorization": f"Bearer {registration_token}"} if registration_token else {}
    try:
        answer = http.post(endpoints["registration_endpoint"], json=tool_configuration(public_url), headers=headers,
                           timeout=15, allow_redirects=False)
        registered = answer.json() if answer.status_code in (200, 201) else None
    except (requests.RequestException, ValueError):
        registered = None
    if not registered or not registered.get("client_id"):
        raise Refused(502, f"The LMS refused the tool's registration (HTTP {answer.status_code}).",
                      code="bad-registration")
    deployment = str((registered.get(TOOL_CONFIGURATION) or {}).get("deployment_id") or "")
    if not deployment:
        raise Refused(502, "The LMS registered the tool but gave no deployment id: record it with grader lti "
                           "add-platform --deployment-id.", code="bad-registration")
    platform_origin = (configuration.get(PLATFORM_CONFIGURATION) or {}).get("origin") or \
        origin_of(endpoints["authorization_endpoint"])
    return add_platform(out, issuer=issuer, client_id=str(registered["client_id"]),
                        auth_url=endpoints["authorization_endpoint"], jwks_url=endpoints["jwks_uri"],
                        token_url=endpoints["token_endpoint"], deployments=[deployment], origin=platform_origin)
