"""Registration: what grader lti config prints for Canvas and Moodle, and LTI Dynamic Registration
against the tests' LMS (its platform side of registration is the test's own: lti1p3platform has none)."""
import json
import re
import signal
import subprocess
import sys
from urllib.parse import quote

import pytest
import requests

from grader.cli import main
from tests.conftest import ROOT
from tests.lti.browserless import launch
from tests.lti.platform import CLIENT_ID, DEPLOYMENT, Platform
from tests.serve.harness import Service, assignment_copy

pytestmark = [pytest.mark.kernel]


def test_config_prints_the_tool_for_canvas_and_moodle_and_keeps_the_key_owner_only(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["lti", "config", "--out", str(out), "--public-url", "https://grader.example.org"]) == 0
    text = capsys.readouterr().out
    for line in ("OIDC login initiation URL:  https://grader.example.org/lti/login",
                 "Redirect (launch) URL:      https://grader.example.org/lti/launch",
                 "Public key set (JWKS) URL:  https://grader.example.org/lti/jwks.json",
                 "Initiate login URL:               https://grader.example.org/lti/login",
                 "--token-url SITE/mod/lti/token.php"):
        assert line in text, text
    key = out / "serve" / "lti" / "tool-key.pem"
    assert key.stat().st_mode & 0o777 == 0o600 and (key.parent.stat().st_mode & 0o777) == 0o700
    before = key.read_bytes()
    assert main(["lti", "config", "--out", str(out), "--public-url", "https://grader.example.org", "--json"]) == 0
    canvas = json.loads(capsys.readouterr().out)
    assert key.read_bytes() == before                                   # never made again
    assert canvas["oidc_initiation_url"] == "https://grader.example.org/lti/login"
    assert canvas["public_jwk_url"] == "https://grader.example.org/lti/jwks.json"
    assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in canvas["scopes"]
    placements = canvas["extensions"][0]["settings"]["placements"]
    assert {p["message_type"] for p in placements} == {"LtiDeepLinkingRequest"}
    # Usage mistakes: one line, exit 2, nothing written.
    assert main(["lti", "config", "--out", str(tmp_path / "o2"), "--public-url", "grader.example.org"]) == 2
    assert "--public-url must be the service's http(s) address" in capsys.readouterr().err
    assert main(["lti", "add-platform", "--out", str(tmp_path / "o3"), "--issuer", "x", "--client-id", "c",
                 "--auth-url", "http://lms.example.org/auth", "--jwks-url", "https://l/j", "--token-url",
                 "https://l/t", "--deployment-id", "1"]) == 2
    assert "plain http to another machine: use https" in capsys.readouterr().err
    assert main(["lti", "add-platform", "--out", str(tmp_path / "o4"), "--issuer", "x", "--client-id", "c",
                 "--auth-url", "https://l/a", "--jwks-url", "https://l/j", "--token-url", "https://l/t"]) == 2
    assert "--deployment-id is required" in capsys.readouterr().err
    assert not (tmp_path / "o2").exists() and not (tmp_path / "o4" / "serve" / "serve.sqlite").exists()


def test_dynamic_registration_then_a_launch(tmp_path, services):
    served = services(Service(assignment_copy(tmp_path, "per_hour = 50"), tmp_path / "out", workers=1))
    served.start()
    platform = Platform(served.url)
    try:
        done = subprocess.run([sys.executable, "-m", "grader", "lti", "register", "--out", str(served.out),
                               "--public-url", served.url], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        url = re.search(r"(http://\S+/lti/register\?ticket=\S+)", done.stdout).group(1)
        # The LMS opens the URL with its configuration and its registration token.
        opened = f"{url}&openid_configuration={quote(platform.url + '/.well-known/openid-configuration')}" \
                 f"&registration_token={platform.registration_token}"
        answer = requests.get(opened, timeout=60)
        assert answer.status_code == 200, answer.text
        assert f'id="client-id">{CLIENT_ID}<' in answer.text and "org.imsglobal.lti.close" in answer.text
        (asked,) = platform.registrations
        assert asked["token_endpoint_auth_method"] == "private_key_jwt"
        assert "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly" in asked["scope"]
        listed = subprocess.run([sys.executable, "-m", "grader", "lti", "platforms", str(served.out)], cwd=ROOT,
                                capture_output=True, text=True, timeout=60).stdout
        assert f"{platform.url}  client {CLIENT_ID}  deployments {DEPLOYMENT}" in listed
        # The ticket worked once.
        again = requests.get(opened, timeout=60)
        assert again.status_code == 403 and "already used" in again.text
        # Registered: a launch works.
        platform.add_user("ivy")
        link = platform.add_link("Digits", {"assignment": "sklearn_digits"})
        _, _, page = launch(platform, "ivy", link.id)
        assert page.url.endswith("/assignments/sklearn_digits") and "ivy@uni.example" in page.text
        assert not platform.errors
    finally:
        platform.close()
        assert served.stop(signal.SIGTERM) == 143
