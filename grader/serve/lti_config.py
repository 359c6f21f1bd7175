"""What an LMS administrator pastes to register ``grader serve`` as an LTI 1.3 tool (``grader lti config``).

The tool's URLs, derived from the service's public address; the JSON Canvas takes (Admin >
Developer Keys > + LTI Key > Method "Paste JSON"); the values of Moodle's form (Site
administration > Plugins > Activity modules > External tool > Manage tools > configure a tool
manually); then the values to bring back with ``grader lti add-platform``.
"""
from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

from ..exceptions import UsageError
from .lti import jwks

SCOPES = ["https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
          "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
          "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
          "https://purl.imsglobal.org/spec/lti-ags/scope/score",
          "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"]


def urls(public_url: str) -> dict[str, str]:
    """The tool's addresses under ``public_url``."""
    parts = urlsplit(public_url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--public-url must be the service's http(s) address, got {public_url!r}",
                         argument="public_url", value=public_url)
    base = public_url.rstrip("/")
    return {"login": f"{base}/lti/login", "launch": f"{base}/lti/launch", "deep_linking": f"{base}/lti/launch",
            "jwks": f"{base}/lti/jwks.json", "domain": parts.netloc}


def canvas_json(public_url: str, title: str = "grader") -> dict:
    """Canvas's developer key, as JSON."""
    found = urls(public_url)
    placements = [{"placement": placement, "message_type": "LtiDeepLinkingRequest",
                   "target_link_uri": found["deep_linking"]}
                  for placement in ("link_selection", "assignment_selection")]
    return {"title": title, "description": "Notebook assignments graded by running them (grader serve)",
            "oidc_initiation_url": found["login"], "target_link_uri": found["launch"],
            "public_jwk_url": found["jwks"], "scopes": SCOPES, "redirect_uris": [found["launch"]],
            "extensions": [{"platform": "canvas.instructure.com", "privacy_level": "public",
                            "domain": found["domain"], "settings": {"placements": placements}}],
            "custom_fields": {}}


def describe(*, out: str | Path, public_url: str, title: str = "grader", json_only: bool = False) -> str:
    """The whole text ``grader lti config`` prints (the tool's key is made when there is none)."""
    found = urls(public_url)
    canvas = json.dumps(canvas_json(public_url, title), indent=2)
    if json_only:
        return canvas
    kid = jwks(Path(out))["keys"][0]["kid"]
    if urlsplit(public_url).scheme != "https":
        warning = ("\nWARNING: browsers frame this service inside the LMS only over https (its cookies there "
                   "must be Secure): use the https address of the reverse proxy.\n")
    else:
        warning = ""
    return f"""grader serve as an LTI 1.3 tool ({found['domain']}); its key: {Path(out) / 'serve/lti/tool-key.pem'} \
(owner-only, kid {kid})
{warning}
The tool's URLs
  OIDC login initiation URL:  {found['login']}
  Redirect (launch) URL:      {found['launch']}
  Deep linking URL:           {found['deep_linking']}
  Public key set (JWKS) URL:  {found['jwks']}

Canvas: Admin > Developer Keys > + Developer Key > + LTI Key > Method "Paste JSON", then turn the key ON and
add the app to the account or course by its Client ID (Settings > Apps > + App > By Client ID):
{canvas}

Moodle: Site administration > Plugins > Activity modules > External tool > Manage tools > configure a tool manually:
  Tool name:                        {title}
  Tool URL:                         {found['launch']}
  LTI version:                      LTI 1.3
  Public key type:                  Keyset URL
  Public keyset:                    {found['jwks']}
  Initiate login URL:               {found['login']}
  Redirection URI(s):               {found['launch']}
  Supports Deep Linking:            yes
  Content Selection URL:            {found['deep_linking']}
  IMS LTI Assignment and Grade Services:   Use this service for grade sync and column management
  IMS LTI Names and Role Provisioning:     Use this service to retrieve members' information as per privacy settings
  Privacy: share launcher's name with tool, share launcher's email with tool: Always

Then record what the LMS shows (Canvas: the Client ID, and the Deployment ID of the installed app; Moodle:
"View configuration details" of the tool):
  grader lti add-platform --out {out} --issuer ISSUER --client-id CLIENT_ID --deployment-id DEPLOYMENT_ID \\
      --auth-url AUTH_URL --jwks-url JWKS_URL --token-url TOKEN_URL
  Canvas cloud: --issuer https://canvas.instructure.com --auth-url https://sso.canvaslms.com/api/lti/authorize_redirect \\
      --jwks-url https://sso.canvaslms.com/api/lti/security/jwks --token-url https://sso.canvaslms.com/login/oauth2/token
  Moodle at SITE: --issuer SITE --auth-url SITE/mod/lti/auth.php --jwks-url SITE/mod/lti/certs.php \\
      --token-url SITE/mod/lti/token.php"""
