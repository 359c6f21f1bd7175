"""An LMS for the tests: the platform side of LTI 1.3 from PyPI's ``lti1p3platform``, over real HTTP.

``lti1p3platform`` (MIT, not this project's code) makes and signs the platform's messages: the OIDC
login initiation URL (``OIDCLoginAbstract``), the launch's id_token with its AGS, NRPS and
deep-linking claims (``LTIAdvantageMessageLaunchAbstract``), the access tokens of the client
credentials grant with the tool's signed assertion checked against the tool's JWKS URL
(``LTI1P3PlatformConfAbstract.get_access_token``), the deep-linking answer checked the same way
(``validate_deeplinking_resp``), and the AGS and NRPS endpoints with their bearer-token checks
(``AssignmentsGradesService``, ``NamesRoleProvisioningService``).  What an LMS keeps - users,
links, line items, scores - is here, in memory, as the library's abstract classes ask.

The platform listens on 127.0.0.1 and is addressed as ``http://localhost:PORT``, while the tool is
``http://127.0.0.1:PORT``: two sites, so that in Chromium the tool is a third party inside the
LMS's frame, as in production.

Pages: ``/course?user=U&link=L`` (the LMS's page of a link: an iframe that starts the launch),
``/course?user=U&deep=1`` (an instructor adding content: a deep-linking launch).
"""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from html import escape
from urllib.parse import parse_qs, urlencode, urlsplit

from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request
from lti1p3platform.service_connector import AssignmentsGradesService, NamesRoleProvisioningService
from lti1p3platform.membership import Context
from lti1p3platform.score import UpdateScoreStatus

from tests.post.servers import Base

CLIENT_ID = "grader-tool-7"
DEPLOYMENT = "deployment-1"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
CONTEXT = "course-101"


def _pem_pair():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


@dataclass
class Link:
    id: str
    title: str
    custom: dict = field(default_factory=dict)
    lineitem: str = ""          # the line item's id (URL), when the link created one


class _Conf(LTI1P3PlatformConfAbstract):
    def init_platform_config(self, **kwargs):
        self._registration = kwargs["registration"]

    def get_registration_by_params(self, **kwargs):
        return self._registration


class _HttpRequest(Request):
    def build_metadata(self, request):
        return request


class Platform(Base):
    """The LMS (see the module docstring); ``tool`` is the tool's base URL."""

    def __init__(self, tool: str):
        self.tool = tool.rstrip("/")
        self.private_key, self.public_key = _pem_pair()
        self.users = {"prof": {"name": "Prof Lee", "email": "lee@uni.example", "roles": [INSTRUCTOR]}}
        self.status: dict[str, str] = {}                 # user -> NRPS status (default Active)
        self.links: dict[str, Link] = {}
        self.lineitems: dict[str, dict] = {}
        self.scores: list[dict] = []
        self.deep_link_answers: list[list[dict]] = []
        self.registrations: list[dict] = []
        self.token_requests = 0
        self.errors: list[str] = []                      # tracebacks of the platform's own faults
        super().__init__()   # the server in its thread (tests/post/servers.py), on a free port
        self.registration = (Registration().set_iss(self.url).set_client_id(CLIENT_ID)
                             .set_deployment_id(DEPLOYMENT).set_launch_url(f"{self.tool}/lti/launch")
                             .set_deeplink_launch_url(f"{self.tool}/lti/launch")
                             .set_oidc_login_url(f"{self.tool}/lti/login")
                             .set_tool_key_set_url(f"{self.tool}/lti/jwks.json")
                             .set_platform_public_key(self.public_key).set_platform_private_key(self.private_key))

    @property
    def url(self) -> str:
        """``localhost``, not the service's ``127.0.0.1``: the LMS and the tool are two sites."""
        return f"http://localhost:{self.port}"

    # --- what the tool is told at registration ----------------------------------------------------

    def conf(self) -> _Conf:
        return _Conf(registration=self.registration)

    @property
    def add_platform_args(self) -> list[str]:
        return ["--issuer", self.url, "--client-id", CLIENT_ID, "--deployment-id", DEPLOYMENT,
                "--auth-url", f"{self.url}/authorize", "--jwks-url", f"{self.url}/jwks",
                "--token-url", f"{self.url}/token"]

    def add_user(self, user: str, *, roles=(LEARNER,), email: str | None = None, name: str = "") -> None:
        self.users[user] = {"name": name or user.title(), "email": f"{user}@uni.example" if email is None else email,
                            "roles": list(roles)}

    def add_link(self, title: str, custom: dict | None = None, lineitem: str = "") -> Link:
        link = Link(id=f"link-{uuid.uuid4().hex[:8]}", title=title, custom=dict(custom or {}), lineitem=lineitem)
        self.links[link.id] = link
        return link

    # --- the browser's pages ----------------------------------------------------------------------

    def page_url(self, user: str, link: Link | None = None, *, deep: bool = False) -> str:
        query = {"user": user, **({"link": link.id} if link else {}), **({"deep": "1"} if deep else {})}
        return f"{self.url}/course?{urlencode(query)}"

    def login_url(self, user: str, hint: str, target: str | None = None) -> str:
        """The OIDC login initiation URL the LMS sends the browser to (lti1p3platform's)."""
        platform = self

        class Login(OIDCLoginAbstract):
            def set_lti_message_hint(self, **kwargs):
                self._lti_message_hint = kwargs["hint"]

            def get_redirect(self, url):
                return url

        login = Login(None, self.conf())
        login.set_lti_message_hint(hint=hint)
        if target:
            login.set_launch_url(target)
        return login.initiate_login(user)

    def handle(self, method, path, headers, body, action=None):
        """The answer to one request; a fault of the platform itself is a 500 that the test sees."""
        try:
            return self._answer(method, path, dict(headers), body)
        except Exception:  # noqa: BLE001 - a test's LMS says what broke, and the test fails on it
            import traceback

            self.errors.append(traceback.format_exc())
            return 500, {"Content-Type": "text/plain"}, self.errors[-1]

    def _answer(self, method, path, headers, body):
        parts = urlsplit(path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()} if body and "json" not in \
            headers.get("Content-Type", "") else {}
        route = parts.path
        if route == "/course":
            hint = "deep" if query.get("deep") else query.get("link", "")
            src = self.login_url(query["user"], hint)
            return 200, {"Content-Type": "text/html"}, (
                f"<!DOCTYPE html><title>LMS</title><h1 id='lms'>Course 101 - {escape(query['user'])}</h1>"
                f"<iframe id='tool' name='tool' src='{escape(src)}' style='width:100%;height:820px'></iframe>")
        if route == "/jwks":
            return 200, {"Content-Type": "application/json"}, json.dumps(self.conf().get_jwks())
        if route == "/authorize":
            return self._authorize(query)
        if route == "/token":
            with self.lock:
                self.token_requests += 1
            try:
                answer = self.conf().get_access_token(form)
            except Exception as exc:  # noqa: BLE001 - the library's refusals, as an LMS answers them
                return 401, {"Content-Type": "application/json"}, json.dumps({"error": "invalid_client",
                                                                             "error_description": str(exc)})
            return 200, {"Content-Type": "application/json"}, json.dumps(answer)
        if route == "/deep_link_return":
            items = self.conf().validate_deeplinking_resp({"JWT": form["JWT"]})
            self.deep_link_answers.append(items)
            titles = []
            for item in items:
                lineitem = ""
                if item.get("lineItem"):
                    lineitem = f"{self.url}/lineitems/{len(self.lineitems) + 1}"
                    self.lineitems[lineitem] = {"id": lineitem, **item["lineItem"]}
                link = self.add_link(item.get("title", ""), item.get("custom"), lineitem)
                titles.append(f"<li data-link='{link.id}'>{escape(link.title)}</li>")
            return 200, {"Content-Type": "text/html"}, f"<h1 id='linked'>Linked</h1><ul>{''.join(titles)}</ul>"
        if route == "/.well-known/openid-configuration":
            return 200, {"Content-Type": "application/json"}, json.dumps(self.openid_configuration())
        if route == "/register" and method == "POST":
            return self._register(headers, body)
        if route.startswith("/lineitems") or route == "/memberships":
            return self._service(method, route, query, headers, body)
        return 404, {}, "not found"

    def _authorize(self, query):
        platform = self
        user = query.get("login_hint", "")
        if query.get("redirect_uri") != f"{self.tool}/lti/launch" or user not in self.users:
            return 400, {"Content-Type": "text/plain"}, "bad authorization request"

        class Launch(LTIAdvantageMessageLaunchAbstract):
            def get_preflight_response(self):
                return query

            def prepare_launch(self, preflight_response):
                who = platform.users[user]
                self.set_user_data(user, who["roles"], who["name"], who["email"] or None)
                self.set_launch_context_claim(CONTEXT, context_title="Course 101")
                self.set_ags(f"{platform.url}/lineitems", None, True)
                self.set_nrps(f"{platform.url}/memberships")
                hint = preflight_response.get("lti_message_hint", "")
                if hint == "deep":
                    self.set_dl(f"{platform.url}/deep_link_return", extra_data={"from": "test-lms"},
                                accept_types={"ltiResourceLink"})
                    return
                link = platform.links[hint]
                self.set_resource_link_claim(link.id, title=link.title)
                if link.custom:
                    self.set_custom_parameters_claim(link.custom)
                if link.lineitem:
                    self.set_ags(f"{platform.url}/lineitems", link.lineitem, True)

            def render_launch_form(self, launch_data, **kwargs):
                return launch_data

        launch = Launch(_HttpRequest({"get_data": query, "form_data": {}}), self.conf())
        data = launch.lti_launch()
        page = (f"<!DOCTYPE html><form id='launch' method='post' action='{escape(data['launch_url'])}'>"
                f"<input type='hidden' name='id_token' value='{escape(data['id_token'])}'>"
                f"<input type='hidden' name='state' value='{escape(data['state'])}'></form>"
                f"<script>document.getElementById('launch').submit()</script>")
        return 200, {"Content-Type": "text/html"}, page

    # --- LTI Dynamic Registration (the platform side is this test's: lti1p3platform has none) -----

    registration_token = "reg-token-0123456789"

    def openid_configuration(self) -> dict:
        return {"issuer": self.url, "authorization_endpoint": f"{self.url}/authorize",
                "token_endpoint": f"{self.url}/token", "jwks_uri": f"{self.url}/jwks",
                "registration_endpoint": f"{self.url}/register", "scopes_supported": ["openid"],
                "response_types_supported": ["id_token"], "id_token_signing_alg_values_supported": ["RS256"],
                "https://purl.imsglobal.org/spec/lti-platform-configuration": {
                    "product_family_code": "test-lms", "version": "1", "messages_supported": [
                        {"type": "LtiResourceLinkRequest"}, {"type": "LtiDeepLinkingRequest"}]}}

    def _register(self, headers, body):
        if headers.get("Authorization") != f"Bearer {self.registration_token}":
            return 401, {"Content-Type": "application/json"}, '{"error": "invalid registration token"}'
        asked = json.loads(body)
        self.registrations.append(asked)
        tool = asked.get("https://purl.imsglobal.org/spec/lti-tool-configuration", {})
        if asked.get("redirect_uris") != [f"{self.tool}/lti/launch"] or \
                asked.get("initiate_login_uri") != f"{self.tool}/lti/login" or \
                asked.get("jwks_uri") != f"{self.tool}/lti/jwks.json" or not tool.get("target_link_uri"):
            return 400, {"Content-Type": "application/json"}, '{"error": "invalid_client_metadata"}'
        return 200, {"Content-Type": "application/json"}, json.dumps(
            {**asked, "client_id": CLIENT_ID,
             "https://purl.imsglobal.org/spec/lti-tool-configuration": {**tool, "deployment_id": DEPLOYMENT}})

    # --- AGS and NRPS ----------------------------------------------------------------------------

    def _service(self, method, route, query, headers, body):
        platform = self
        request = _HttpRequest({"method": method, "headers": headers, "get_data": dict(query),
                                "json": json.loads(body) if body else None, "form_data": {},
                                "content_type": headers.get("Content-Type"), "path": route})

        class Ags(AssignmentsGradesService):
            def find_lineitems(self, page=1, limit=None, line_item_id=None, resource_link_id=None,
                               resource_id=None, tag=None):
                items = [i for i in platform.lineitems.values() if not resource_id or i.get("resourceId") == resource_id]
                return {"content": items, "has_next": False}

            def find_lineitem(self, line_item_id):
                return platform.lineitems[line_item_id]

            def create_lineitem(self, creation_data):
                raise AssertionError("the tool must not create line items of its own")

            def update_lineitem(self, update_data):
                raise AssertionError("not used")

            def delete_lineitem(self, line_item_id):
                raise AssertionError("not used")

            def update_score(self, line_item_id, score):
                with platform.lock:
                    platform.scores.append({"lineitem": line_item_id, **score})
                return UpdateScoreStatus.SUCCESS

            def get_results(self, line_item_id, page=1, limit=None, user_id=None):
                return {"content": [], "has_next": False}

        class Nrps(NamesRoleProvisioningService):
            def get_member_data_page(self, page=1, limit=None, role=None, since=None, **kwargs):
                members = [{"user_id": user, "roles": who["roles"], "name": who["name"], "email": who["email"],
                            "status": platform.status.get(user, "Active")} for user, who in platform.users.items()]
                return {"content": members, "has_next": False}

            def get_context_by_id(self):
                return Context(id=CONTEXT, label="C101", title="Course 101")

        conf = self.conf()
        # handle_resp: the library's refusals (a bad bearer token, a method) as its HTTP answers.
        if route == "/memberships":
            nrps = Nrps(request, conf, f"{self.url}/memberships")
            response = nrps.handle_resp(nrps.handle_get_members)
        else:
            service = Ags(request, conf, f"{self.url}/lineitems")
            if route == "/lineitems":
                response = service.handle_resp(service.handle_get_lineitems)
            elif route.endswith("/scores"):
                response = service.handle_resp(service.handle_update_score,
                                               line_item_id=f"{self.url}{route[:-len('/scores')]}")
            else:
                response = service.handle_resp(service.handle_get_lineitem, line_item_id=f"{self.url}{route}")
        status = response.code if hasattr(response, "code") else 200
        result = response.result if hasattr(response, "result") else None
        return status, {"Content-Type": "application/json"}, json.dumps(result if result is not None else
                                                                        {"message": getattr(response, "message", "")})

    # --- tokens made by hand, for the bad launches -----------------------------------------------

    def id_token(self, *, user: str, nonce: str, link: Link | None = None, key: str | None = None,
                 **changes) -> str:
        """A launch's id_token as this platform signs it, with ``changes`` to its claims (None: removed)."""
        who = self.users[user]
        now = int(time.time())
        claims = {"iss": self.url, "aud": CLIENT_ID, "azp": CLIENT_ID, "sub": user, "nonce": nonce,
                  "iat": now, "exp": now + 300, "name": who["name"], "email": who["email"],
                  "https://purl.imsglobal.org/spec/lti/claim/message_type": "LtiResourceLinkRequest",
                  "https://purl.imsglobal.org/spec/lti/claim/version": "1.3.0",
                  "https://purl.imsglobal.org/spec/lti/claim/deployment_id": DEPLOYMENT,
                  "https://purl.imsglobal.org/spec/lti/claim/target_link_uri": f"{self.tool}/lti/launch",
                  "https://purl.imsglobal.org/spec/lti/claim/roles": who["roles"],
                  "https://purl.imsglobal.org/spec/lti/claim/context": {"id": CONTEXT, "title": "Course 101"},
                  "https://purl.imsglobal.org/spec/lti/claim/resource_link": {"id": link.id if link else "l-1"},
                  "https://purl.imsglobal.org/spec/lti/claim/custom": dict(link.custom) if link else {}}
        for name, value in changes.items():
            name = {"message_type": "https://purl.imsglobal.org/spec/lti/claim/message_type",
                    "version": "https://purl.imsglobal.org/spec/lti/claim/version",
                    "deployment_id": "https://purl.imsglobal.org/spec/lti/claim/deployment_id",
                    "target_link_uri": "https://purl.imsglobal.org/spec/lti/claim/target_link_uri",
                    "custom": "https://purl.imsglobal.org/spec/lti/claim/custom"}.get(name, name)
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        headers = {"kid": self.registration.get_kid()}
        return Registration.encode_and_sign(claims, key or self.private_key, headers)
