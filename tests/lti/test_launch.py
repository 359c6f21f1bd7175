"""LTI 1.3 launches from an independent LMS (lti1p3platform) over real HTTP, and the bad ones refused."""
import json

import pytest
import requests

from tests.lti.browserless import authorize, launch
from tests.lti.platform import CLIENT_ID, INSTRUCTOR, LEARNER, _pem_pair

pytestmark = [pytest.mark.kernel]


def test_a_learner_launch_opens_their_assignment_signed_in(lms):
    served, platform = lms
    platform.add_user("ada", name="Ada L")
    link = platform.add_link("Digits", {"assignment": "sklearn_digits"})
    session, answer, page = launch(platform, "ada", link.id)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/lti/landing?ticket=")
    cookie = answer.headers["set-cookie"]
    assert "samesite=none" in cookie.lower() and "partitioned" in cookie.lower() and "secure" in cookie.lower()
    assert page.status_code == 200 and page.url.endswith("/assignments/sklearn_digits"), page.text[:2000]
    assert 'id="learner">ada@uni.example<' in page.text and "Course 101" in page.text
    # Framing: the landing page inside the LMS's frame may be framed by the LMS (and only by it); the
    # page in a window of its own (this browser kept no cookie in the frame) by nobody.
    landing = page.landing.headers
    assert landing["content-security-policy"].endswith(f"frame-ancestors 'self' {platform.url}")
    assert "x-frame-options" not in landing
    assert page.headers["content-security-policy"].endswith("frame-ancestors 'none'")
    assert page.headers["x-frame-options"] == "DENY"
    # The same user's next launch is the same learner, and the JWKS is the tool's key.
    keys = requests.get(served.url + "/lti/jwks.json", timeout=30).json()["keys"]
    assert keys[0]["alg"] == "RS256" and keys[0]["kid"] and "d" not in keys[0]
