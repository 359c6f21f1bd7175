"""``grader serve`` as an LTI 1.3 tool: the tool's key, the platforms it trusts, and the launch.

A learner or an instructor reaches the service from the LMS by an LTI 1.3 launch (IMS LTI 1.3
Core, and the OpenID Connect third-party-initiated login it builds on):

1. the LMS sends the browser to ``/lti/login`` (``iss``, ``login_hint``, ``target_link_uri``,
   ``lti_message_hint``, ``client_id``); :func:`begin_login` finds the platform registered for
   ``iss`` (and ``client_id``), makes a fresh ``state`` and ``nonce`` (kept in the service's
   database, the state only as its SHA-256), and answers with the platform's authorization URL;
2. the platform signs the user in and POSTs an ``id_token`` (a JWT it signed) and the ``state``
   to ``/lti/launch``; :func:`verify_launch` checks, in this order: the token is a JWT signed
   RS256 by a key of the platform's JWKS (``kid``), ``iss`` is a registered platform and
   ``aud`` holds its client id (``azp`` too when there are several audiences), ``exp`` and
   ``iat`` (60 s of clock skew), the ``nonce`` was never used before, the ``state`` is one this
   service made less than 10 minutes ago and never used, the token's nonce is that state's,
   the browser's state cookie (when the browser kept it) is that state, the deployment id is
   one registered, the message type (a resource link or a deep-linking request), the version
   (1.3.0), the roles claim, the user (``sub``), and for a deep-linking request an instructor.
   Every refusal is a :class:`~grader.serve.policy.Refused` whose message says why, shown on a
   page (the bad-launch table: ``docs/operator/lti.md``).

Who the LMS user is here: :func:`learner_for` maps ``(iss, sub)`` to a learner id once - the
learner of the roster with the same email when there is one, else the email, else
``sub@platform`` - and keeps the mapping, so the gradebook, ``grader post`` and the corrections
log see one learner whatever route they submitted by.

The tool's own key (RSA 2048, PKCS #8) is ``OUT/serve/lti/tool-key.pem``, created owner-only on
first use; its public half is served at ``/lti/jwks.json`` with a ``kid`` that is its RFC 7638
thumbprint.  It signs the client assertions of the platform's services (AGS, NRPS:
:func:`service_token`) and the deep-linking responses (:mod:`grader.serve.lti_links`).  No
kernel can read it: the kernels' environment is an allow-list and the folder is owner-only.

Why not a library: ``pylti1p3next`` (the maintained fork of ``pylti1p3``) is written for Django
and Flask through adapters of their requests, sessions and cookies, keeps the nonce in a
cookie-backed session that a third-party iframe loses, and reports a refused launch as a few
generic exceptions; the checks above are a page of PyJWT (``PyJWKClient`` fetches and caches the
platform's keys), which the project already uses to sign AGS client assertions.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from ..exceptions import UsageError
from .policy import Refused
from .store import connect, iso, serve_folder, utc_now

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
DEEP_LINKING = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
RESOURCE_LINK, DEEP_LINK_REQUEST = "LtiResourceLinkRequest", "LtiDeepLinkingRequest"
STATE_S = 600          # a login must come back as a launch within 10 minutes
LEEWAY_S = 60          # clock skew allowed on exp and iat
STATE_COOKIE = "grader_lti_state"
# The largest body each LTI route reads (grader.serve.protect.BodyGuard): an id_token and a state
# (a platform's claims stay far below 64 kB); a login's parameters; a picked assignment.
BODY_LIMITS = {"/lti/launch": 64 * 1024, "/lti/login": 16 * 1024, "/lti/deep-link": 16 * 1024}
INSTRUCTOR_ROLES = {"Instructor", "TeachingAssistant", "ContentDeveloper", "Administrator"}
LEARNER_ROLES = {"Learner", "Student"}


def lti_folder(out: Path) -> Path:
    folder = serve_folder(out) / "lti"
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    return folder


# --- the tool's key ------------------------------------------------------------------------------

@dataclass(frozen=True)
class ToolKey:
    """The tool's signing key: the PEM file, the key, its ``kid`` and its public JWK."""

    path: Path
    private: object
    kid: str
    jwk: dict


_KEYS: dict[str, ToolKey] = {}
_KEYS_LOCK = threading.Lock()


def tool_key(out: Path) -> ToolKey:
    """``OUT/serve/lti/tool-key.pem``, made on first use (owner-only, never overwritten)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from jwt.algorithms import RSAAlgorithm

    path = lti_folder(out) / "tool-key.pem"
    with _KEYS_LOCK:
        cached = _KEYS.get(str(path))
        if cached is not None and path.is_file():
            return cached
        if not path.is_file():
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
            try:
                descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            except FileExistsError:
                pass   # made by another process meanwhile: read it
            else:
                with os.fdopen(descriptor, "wb") as handle:
                    handle.write(pem)
                    handle.flush()
                    os.fsync(handle.fileno())
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
        public = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
        thumbprint = json.dumps({k: public[k] for k in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True)
        kid = base64.urlsafe_b64encode(hashlib.sha256(thumbprint.encode()).digest()).rstrip(b"=").decode()
        found = ToolKey(path=path, private=private, kid=kid,
                        jwk={**public, "kid": kid, "alg": "RS256", "use": "sig"})
        _KEYS[str(path)] = found
        return found


def jwks(out: Path) -> dict:
    """The tool's public keys (``/lti/jwks.json``)."""
    return {"keys": [tool_key(out).jwk]}


def sign(out: Path, claims: dict) -> str:
    """``claims`` as a JWT signed RS256 by the tool's key (with its ``kid``)."""
    import jwt

    key = tool_key(out)
    return jwt.encode(claims, key.private, algorithm="RS256", headers={"kid": key.kid})


# --- the platforms -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Platform:
    """An LMS the tool is registered with (one client id of one issuer)."""

    issuer: str
    client_id: str
    auth_url: str
    jwks_url: str
    token_url: str
    deployments: tuple[str, ...] = ()
    origin: str = ""


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _check_url(what: str, url: str, *, argument: str) -> str:
    from ..post.destinations.base import _loopback

    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--{argument}: {what} must be an http(s) URL, got {url!r}", argument=argument, value=url)
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise UsageError(f"--{argument}: {what} {url} is plain http to another machine: use https",
                         argument=argument, value=url)
    return url


def add_platform(out: Path, *, issuer: str, client_id: str, auth_url: str, jwks_url: str, token_url: str,
                 deployments: list[str], origin: str = "") -> Platform:
    """Record (or update) the registration of the tool on a platform; a UsageError names what to fix."""
    if not issuer or not client_id:
        raise UsageError("--issuer and --client-id are required: the platform shows them once the tool is "
                         "registered", argument="issuer")
    if not deployments:
        raise UsageError("--deployment-id is required (repeat it for several deployments): the platform shows "
                         "it once the tool is deployed in a course or account", argument="deployment_id")
    for what, url, argument in (("the authorization endpoint", auth_url, "auth-url"),
                                ("the platform's key set", jwks_url, "jwks-url"),
                                ("the token endpoint", token_url, "token-url")):
        _check_url(what, url, argument=argument)
    origin = origin_of(_check_url("the LMS's origin", origin, argument="origin") if origin else auth_url)
    db = connect(out)
    db.execute("INSERT INTO lti_platforms (issuer, client_id, auth_url, jwks_url, token_url, deployments, origin, "
               "added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (issuer, client_id) DO UPDATE SET "
               "auth_url=excluded.auth_url, jwks_url=excluded.jwks_url, token_url=excluded.token_url, "
               "deployments=excluded.deployments, origin=excluded.origin",
               (issuer, client_id, auth_url, jwks_url, token_url, json.dumps(sorted(set(deployments))), origin,
                iso(utc_now())))
    return find_platform(out, issuer, client_id)


def _platform(row) -> Platform:
    return Platform(issuer=row["issuer"], client_id=row["client_id"], auth_url=row["auth_url"],
                    jwks_url=row["jwks_url"], token_url=row["token_url"],
                    deployments=tuple(json.loads(row["deployments"])), origin=row["origin"])


def platforms(out: Path) -> list[Platform]:
    return [_platform(r) for r in connect(out).execute("SELECT * FROM lti_platforms ORDER BY issuer, client_id")]


def find_platform(out: Path, issuer: str, client_id: str | None = None) -> Platform | None:
    """The registration of ``issuer`` (and ``client_id``); None when there is none, or several and no
    client id tells them apart."""
    db = connect(out)
    if client_id:
        row = db.execute("SELECT * FROM lti_platforms WHERE issuer=? AND client_id=?", (issuer, client_id)).fetchone()
        return _platform(row) if row else None
    rows = db.execute("SELECT * FROM lti_platforms WHERE issuer=?", (issuer,)).fetchall()
    return _platform(rows[0]) if len(rows) == 1 else None


def origins(out: Path) -> list[str]:
    """Every registered LMS's origin (the pages an LMS frames allow these, and only these)."""
    return sorted({p.origin for p in platforms(out)})


# --- the login -----------------------------------------------------------------------------------

def _refused(status: int, code: str, message: str) -> Refused:
    return Refused(status, message, code=code)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def begin_login(out: Path, params: dict, *, launch_url: str, base_url: str) -> tuple[str, str]:
    """The platform's authorization URL for this OIDC login initiation, and the new state."""
    issuer, hint = params.get("iss", ""), params.get("login_hint", "")
    if not issuer or not hint:
        raise _refused(400, "bad-login", "This sign-in from the LMS lacks its issuer or its login hint: open the "
                                         "assignment again from the LMS.")
    platform = find_platform(out, issuer, params.get("client_id") or None)
    if platform is None:
        raise _refused(403, "unknown-platform", f"This service is not registered with the LMS {issuer[:200]!r}"
                       + (f" (client id {params['client_id'][:100]!r})" if params.get("client_id") else "")
                       + ": the administrator registers it with grader lti add-platform.")
    target = params.get("target_link_uri", "")
    if target and not target.startswith(base_url.rstrip("/") + "/"):
        raise _refused(400, "bad-target", f"This launch is for {target[:200]!r}, not for this service "
                                          f"({base_url}): check the tool's launch URL in the LMS.")
    if params.get("lti_deployment_id") and platform.deployments and \
            params["lti_deployment_id"] not in platform.deployments:
        raise _refused(403, "unknown-deployment", _unknown_deployment(params["lti_deployment_id"]))
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    db = connect(out)
    now = time.time()
    db.execute("DELETE FROM lti_states WHERE created_unix < ?", (now - 2 * STATE_S,))
    db.execute("INSERT INTO lti_states (state, nonce, issuer, client_id, created_unix) VALUES (?, ?, ?, ?, ?)",
               (_digest(state), nonce, platform.issuer, platform.client_id, now))
    query = {"scope": "openid", "response_type": "id_token", "response_mode": "form_post", "prompt": "none",
             "client_id": platform.client_id, "redirect_uri": launch_url, "login_hint": hint, "state": state,
             "nonce": nonce}
    if params.get("lti_message_hint"):
        query["lti_message_hint"] = params["lti_message_hint"]
    separator = "&" if urlsplit(platform.auth_url).query else "?"
    return f"{platform.auth_url}{separator}{urlencode(query)}", state


def _unknown_deployment(deployment: str) -> str:
    return (f"This LMS deployment ({deployment[:100]!r}) is not one this service was registered for: the "
            f"administrator adds it with grader lti add-platform --deployment-id.")


# --- the launch ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Launch:
    """A verified launch: who, from where, to do what."""

    platform: Platform
    deployment: str
    message_type: str
    sub: str
    roles: tuple[str, ...]
    name: str = ""
    email: str = ""
    context: str = ""
    context_title: str = ""
    resource_link: str = ""
    target_link_uri: str = ""
    custom: dict = field(default_factory=dict)
    lineitem: str = ""
    lineitems: str = ""
    memberships_url: str = ""
    deep_linking: dict = field(default_factory=dict)

    @property
    def short_roles(self) -> set[str]:
        return {role.rsplit("#", 1)[-1].rsplit("/", 1)[-1] for role in self.roles}

    @property
    def instructor(self) -> bool:
        return bool(self.short_roles & INSTRUCTOR_ROLES)

    @property
    def learner(self) -> bool:
        return bool(self.short_roles & LEARNER_ROLES)

    @property
    def wants_instructor_page(self) -> bool:
        return self.custom.get("page") == "instructor" or \
            urlsplit(self.target_link_uri).path.rstrip("/").endswith("/instructor")


class KeyCache:
    """The platforms' key sets, fetched over HTTPS when a ``kid`` is new and kept (``PyJWKClient``)."""

    def __init__(self):
        self._clients: dict[str, object] = {}
        self._lock = threading.Lock()

    def signing_key(self, jwks_url: str, token: str):
        import jwt

        with self._lock:
            client = self._clients.get(jwks_url)
            if client is None:
                client = self._clients[jwks_url] = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=3600,
                                                                   timeout=10)
        return client.get_signing_key_from_jwt(token).key


def _claims_unverified(token: str) -> tuple[dict, dict]:
    import jwt

    try:
        return jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})
    except (jwt.PyJWTError, ValueError, TypeError):
        raise _refused(400, "bad-token", "The LMS sent no valid id_token (not a JWT): open the assignment again "
                                         "from the LMS.") from None


def verify_launch(out: Path, *, id_token: str, state: str, cookie_state: str | None, keys: KeyCache,
                  now: float | None = None) -> Launch:
    """The launch the platform's ``id_token`` describes, every check passed (see the module docstring);
    :class:`Refused` saying which failed.  The state and the nonce are used up only by a launch that
    passed every check of the token itself."""
    import jwt

    if not id_token or not state:
        raise _refused(400, "bad-launch", "This launch carries no id_token or no state: open the assignment "
                                          "again from the LMS.")
    header, unverified = _claims_unverified(id_token)
    issuer = unverified.get("iss")
    audiences = unverified.get("aud")
    audiences = [audiences] if isinstance(audiences, str) else audiences if isinstance(audiences, list) else []
    candidates = [p for p in platforms(out) if p.issuer == issuer]
    if not candidates:
        raise _refused(403, "unknown-platform", f"This launch comes from {str(issuer)[:200]!r}, an LMS this service "
                                                f"is not registered with.")
    platform = next((p for p in candidates if p.client_id in audiences), None)
    if platform is None:
        raise _refused(401, "wrong-audience", f"This id_token is for another tool (audience {audiences!r:.200}), "
                                              f"not for this service's client id on {issuer}.")
    if header.get("alg") != "RS256":
        raise _refused(401, "bad-signature", f"The id_token is signed with {str(header.get('alg'))[:20]!r}, not "
                                             f"RS256: this service accepts only LTI 1.3's RS256.")
    try:
        key = keys.signing_key(platform.jwks_url, id_token)
    except jwt.PyJWKClientError as exc:
        raise _refused(401, "bad-signature", f"The id_token's key ({str(header.get('kid'))[:80]!r}) is not in the "
                                             f"LMS's key set ({exc}).") from None
    now = time.time() if now is None else now
    try:
        claims = jwt.decode(id_token, key, algorithms=["RS256"], audience=platform.client_id, issuer=issuer,
                            leeway=LEEWAY_S, options={"require": ["iss", "aud", "exp", "iat", "nonce", "sub"],
                                                      "verify_iat": True})
    except jwt.ExpiredSignatureError:
        raise _refused(401, "expired", "This launch has expired (the LMS's id_token is past its exp): open the "
                                       "assignment again from the LMS.") from None
    except jwt.ImmatureSignatureError:
        raise _refused(401, "not-yet-valid", "This id_token was issued in the future (iat): the LMS's clock or "
                                             "this server's is wrong.") from None
    except jwt.InvalidSignatureError:
        raise _refused(401, "bad-signature", "The id_token's signature does not verify with the LMS's key: this "
                                             "launch was not made by the LMS.") from None
    except jwt.MissingRequiredClaimError as exc:
        raise _refused(400, "bad-token", f"The id_token has no {exc.claim!r} claim.") from None
    except jwt.PyJWTError as exc:
        raise _refused(401, "bad-token", f"The id_token does not hold: {str(exc)[:200]}.") from None
    if len(audiences) > 1 and claims.get("azp") != platform.client_id or \
            ("azp" in claims and claims["azp"] != platform.client_id):
        raise _refused(401, "wrong-audience", "The id_token's authorized party (azp) is another tool, not this "
                                              "service.")
    _use_state(out, platform, claims["nonce"], state, cookie_state, now)
    return _launch(platform, claims)


def _use_state(out: Path, platform: Platform, nonce: str, state: str, cookie_state: str | None, now: float):
    """The nonce once only, the state this service made (unused, recent, this nonce's, this browser's)."""
    db = connect(out)
    db.execute("BEGIN IMMEDIATE")
    try:
        if db.execute("SELECT 1 FROM lti_nonces WHERE nonce=?", (_digest(str(nonce)),)).fetchone():
            raise _refused(401, "replayed", "This launch was already used (its id_token's nonce was seen "
                                            "before): a replayed launch is refused. Open the assignment again "
                                            "from the LMS.")
        row = db.execute("SELECT * FROM lti_states WHERE state=?", (_digest(state),)).fetchone()
        if row is None or row["used_unix"] is not None or row["created_unix"] < now - STATE_S:
            raise _refused(401, "unknown-state", "This sign-in is unknown, was already used or started more than "
                                                 "10 minutes ago: open the assignment again from the LMS.")
        if not secrets.compare_digest(str(row["nonce"]), str(nonce)):
            raise _refused(401, "wrong-nonce", "The id_token's nonce is not the one this sign-in asked for: the "
                                               "launch is refused.")
        if (row["issuer"], row["client_id"]) != (platform.issuer, platform.client_id):
            raise _refused(401, "wrong-audience", "The id_token comes from another LMS than the sign-in started "
                                                  "with.")
        if cookie_state and not secrets.compare_digest(cookie_state, state):
            raise _refused(401, "state-mismatch", "This launch was started in another browser window than the "
                                                  "one it came back to: open the assignment again from the LMS.")
        db.execute("UPDATE lti_states SET used_unix=? WHERE state=?", (now, _digest(state)))
        db.execute("INSERT INTO lti_nonces (nonce, used_unix) VALUES (?, ?)", (_digest(str(nonce)), now))
        db.execute("DELETE FROM lti_nonces WHERE used_unix < ?", (now - 86400,))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _launch(platform: Platform, claims: dict) -> Launch:
    deployment = claims.get(LTI + "deployment_id")
    if not isinstance(deployment, str) or not deployment:
        raise _refused(400, "bad-message", "The launch has no deployment id.")
    if deployment not in platform.deployments:
        raise _refused(403, "unknown-deployment", _unknown_deployment(deployment))
    message_type = claims.get(LTI + "message_type")
    if message_type not in (RESOURCE_LINK, DEEP_LINK_REQUEST):
        raise _refused(400, "bad-message", f"This service answers resource link and deep-linking launches, not "
                                           f"{str(message_type)[:60]!r}.")
    if claims.get(LTI + "version") != "1.3.0":
        raise _refused(400, "bad-message", f"This launch is LTI version {str(claims.get(LTI + 'version'))[:20]!r}, "
                                           f"not 1.3.0.")
    roles = claims.get(LTI + "roles")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise _refused(400, "bad-message", "The launch has no roles claim.")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.strip():
        raise _refused(400, "bad-message", "The launch is anonymous (no sub): this service grades people.")
    link = claims.get(LTI + "resource_link") or {}
    if message_type == RESOURCE_LINK and not (isinstance(link, dict) and link.get("id")):
        raise _refused(400, "bad-message", "The launch has no resource link id.")
    context = claims.get(LTI + "context") or {}
    ags = claims.get(AGS) or {}
    nrps = claims.get(NRPS) or {}
    custom = claims.get(LTI + "custom") or {}
    launch = Launch(
        platform=platform, deployment=deployment, message_type=message_type, sub=sub, roles=tuple(roles),
        name=str(claims.get("name") or ""), email=str(claims.get("email") or ""),
        context=str(context.get("id") or "") if isinstance(context, dict) else "",
        context_title=str(context.get("title") or "") if isinstance(context, dict) else "",
        resource_link=str(link.get("id") or "") if isinstance(link, dict) else "",
        target_link_uri=str(claims.get(LTI + "target_link_uri") or ""),
        custom={str(k): str(v) for k, v in custom.items()} if isinstance(custom, dict) else {},
        lineitem=str(ags.get("lineitem") or "") if isinstance(ags, dict) else "",
        lineitems=str(ags.get("lineitems") or "") if isinstance(ags, dict) else "",
        memberships_url=str(nrps.get("context_memberships_url") or "") if isinstance(nrps, dict) else "",
        deep_linking=claims.get(DEEP_LINKING) if isinstance(claims.get(DEEP_LINKING), dict) else {})
    if message_type == DEEP_LINK_REQUEST and not launch.instructor:
        raise _refused(403, "instructors-only", "Only the course's instructors can add this service's assignments "
                                                "to the course: your LMS role is not an instructor's.")
    if message_type == DEEP_LINK_REQUEST and not launch.deep_linking.get("deep_link_return_url"):
        raise _refused(400, "bad-message", "The deep-linking launch has no deep_link_return_url.")
    if not launch.context:
        raise _refused(400, "bad-message", "The launch has no course (context claim).")
    return launch


# --- who the LMS user is here --------------------------------------------------------------------

def map_user(db, issuer: str, sub: str, *, email: str = "", name: str = "") -> str:
    """The learner id of the LMS user ``(issuer, sub)``, made and kept on first sight (inside the
    caller's transaction): the roster's learner with the same email, else the email, else
    ``sub@platform``."""
    row = db.execute("SELECT learner FROM lti_users WHERE issuer=? AND sub=?", (issuer, sub)).fetchone()
    if row is not None:
        if name:
            db.execute("UPDATE lti_users SET name=? WHERE issuer=? AND sub=?", (name, issuer, sub))
        return row["learner"]
    email = email.strip()
    fallback = f"{sub}@{urlsplit(issuer).hostname or 'lms'}"
    known = db.execute("SELECT learner FROM learners WHERE email=?", (email,)).fetchone() if email else None
    if known is not None:
        learner = known["learner"]
    else:
        learner = email or fallback
        if db.execute("SELECT 1 FROM learners WHERE learner=? OR email=?", (learner, learner)).fetchone():
            learner = fallback   # the id of another learner already
        db.execute("INSERT OR IGNORE INTO learners (learner, email, name) VALUES (?, ?, ?)",
                   (learner, email or learner, name))
    db.execute("INSERT INTO lti_users (issuer, sub, learner, name) VALUES (?, ?, ?, ?)", (issuer, sub, learner, name))
    return learner


def learner_for(out: Path, launch: Launch) -> str:
    """The learner id of the launch's user (made on the first launch, kept; "" for an instructor, who is
    no learner of the course), and the course recorded."""
    db = connect(out)
    issuer = launch.platform.issuer
    db.execute("BEGIN IMMEDIATE")
    try:
        learner = "" if launch.instructor else map_user(db, issuer, launch.sub, email=launch.email,
                                                        name=launch.name)
        db.execute("INSERT INTO lti_contexts (issuer, context, client_id, deployment, title, lineitems_url, "
                   "memberships_url) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (issuer, context) DO UPDATE SET "
                   "title=excluded.title, lineitems_url=CASE WHEN excluded.lineitems_url<>'' THEN "
                   "excluded.lineitems_url ELSE lti_contexts.lineitems_url END, memberships_url=CASE WHEN "
                   "excluded.memberships_url<>'' THEN excluded.memberships_url ELSE lti_contexts.memberships_url END",
                   (issuer, launch.context, launch.platform.client_id, launch.deployment, launch.context_title,
                    launch.lineitems, launch.memberships_url))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return learner


def identities(out: Path, issuer: str) -> dict[str, str]:
    """learner id -> the LMS user id (``sub``) of ``issuer``'s users."""
    return {row["learner"]: row["sub"] for row in
            connect(out).execute("SELECT learner, sub FROM lti_users WHERE issuer=?", (issuer,))}


# --- the platform's services (AGS, NRPS) ---------------------------------------------------------

_TOKENS: dict[tuple, tuple[str, float]] = {}
_TOKENS_LOCK = threading.Lock()


def service_token(out: Path, platform: Platform, scopes: list[str], *, session=None) -> str:
    """An access token for ``scopes`` (OAuth 2 client credentials with a signed client assertion,
    IMS Security Framework 1.0), kept in memory until shortly before it expires."""
    import requests

    from ..post.destinations.lti import ASSERTION_TYPE, signed_assertion

    cache_key = (platform.token_url, platform.client_id, " ".join(sorted(scopes)))
    with _TOKENS_LOCK:
        cached = _TOKENS.get(cache_key)
    if cached and cached[1] > time.monotonic():
        return cached[0]
    key = tool_key(out)
    form = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": signed_assertion(client_id=platform.client_id, audience=platform.token_url,
                                                 key=key.private, key_id=key.kid),
            "scope": " ".join(scopes)}
    try:
        response = (session or requests).post(platform.token_url, data=form, timeout=15, allow_redirects=False)
    except requests.RequestException as exc:
        raise Refused(502, f"The LMS's token endpoint could not be reached ({type(exc).__name__}).",
                      code="lms-down") from None
    if response.status_code != 200:
        raise Refused(502, f"The LMS's token endpoint refused this service (HTTP {response.status_code}): "
                           f"check its registration (grader lti add-platform).", code="lms-token")
    data = response.json()
    token = str(data["access_token"])
    with _TOKENS_LOCK:
        _TOKENS[cache_key] = (token, time.monotonic() + float(data.get("expires_in", 3600)) - 30)
    return token
