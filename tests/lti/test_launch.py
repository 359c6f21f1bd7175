"""LTI 1.3 launches from an independent LMS (lti1p3platform) over real HTTP, and the bad ones refused."""
import json
from html import unescape

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


# --- the bad launches ----------------------------------------------------------------------------

def _start(platform, user: str, link, address: str):
    """A login begun at the tool as the LMS begins it: (session, state, nonce)."""
    from urllib.parse import parse_qs, urlsplit

    session = requests.Session()
    session.headers["X-Forwarded-For"] = address
    login = session.get(platform.login_url(user, link.id), allow_redirects=False, timeout=30)
    assert login.status_code == 302, login.text
    query = {k: v[0] for k, v in parse_qs(urlsplit(login.headers["location"]).query).items()}
    return session, query["state"], query["nonce"]


def _other_key():
    return _pem_pair()[0]


BAD = [
    # name, how the launch is made: (platform, session, state, nonce, link) -> (id_token, state, cookies)
    ("an expired id_token", lambda p, s, st, n, l: (p.id_token(user="eve", nonce=n, link=l, exp=1_700_000_000,
                                                               iat=1_699_999_700), st, {}),
     401, "expired", "This launch has expired"),
    ("a wrong nonce", lambda p, s, st, n, l: (p.id_token(user="eve", nonce="not-" + n, link=l), st, {}),
     401, "wrong-nonce", "nonce is not the one this sign-in asked for"),
    ("a wrong audience", lambda p, s, st, n, l: (p.id_token(user="eve", nonce=n, link=l, aud="another-tool",
                                                            azp="another-tool"), st, {}),
     401, "wrong-audience", "This id_token is for another tool"),
    ("a second audience without azp", lambda p, s, st, n, l: (p.id_token(user="eve", nonce=n, link=l,
                                                                         aud=[CLIENT_ID, "x"], azp=None), st, {}),
     401, "wrong-audience", "authorized party (azp)"),
    ("an unknown deployment", lambda p, s, st, n, l: (p.id_token(user="eve", nonce=n, link=l,
                                                                 deployment_id="dep-elsewhere"), st, {}),
     403, "unknown-deployment", "'dep-elsewhere') is not one this service was registered for"),
    ("a signature by another key", lambda p, s, st, n, l: (p.id_token(user="eve", nonce=n, link=l,
                                                                      key=_other_key()), st, {}),
     401, "bad-signature", "signature does not verify with the LMS's key"),
    ("an unknown platform", lambda p, s, st, n, l: (p.id_token(user="eve", nonce=n, link=l,
                                                               iss="https://lms.evil.example"), st, {}),
     403, "unknown-platform", "an LMS this service is not registered with"),
    ("a state this service never made", lambda p, s, st, n, l: (p.id_token(user="eve", nonce=n, link=l),
                                                                "made-up-state", {}),
     401, "unknown-state", "This sign-in is unknown, was already used"),
    ("another browser's state cookie", lambda p, s, st, n, l: (p.id_token(user="eve", nonce=n, link=l), st,
                                                               {"Cookie": "grader_lti_state=someone-elses"}),
     401, "state-mismatch", "started in another browser window"),
    ("a learner's launch asking for the instructor's page",
     lambda p, s, st, n, l: (p.id_token(user="eve", nonce=n, link=l,
                                        custom={"assignment": "sklearn_digits", "page": "instructor"}), st, {}),
     403, "learner-not-instructor", "This link opens the instructor's page, and your role in this course is a "
                                    "learner's"),
    ("a learner's deep-linking launch",
     lambda p, s, st, n, l: (p.id_token(user="eve", nonce=n, link=l, message_type="LtiDeepLinkingRequest",
                                        **{"https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings":
                                           {"deep_link_return_url": p.url + "/deep_link_return"}}), st, {}),
     403, "instructors-only", "Only the course's instructors can add"),
    ("LTI 1.1's version", lambda p, s, st, n, l: (p.id_token(user="eve", nonce=n, link=l, version="1.1.0"), st, {}),
     400, "bad-message", "not 1.3.0"),
    ("no roles claim", lambda p, s, st, n, l: (p.id_token(user="eve", nonce=n, link=l, **{
        "https://purl.imsglobal.org/spec/lti/claim/roles": None}), st, {}), 400, "bad-message", "no roles claim"),
    ("an id_token that is not a JWT", lambda p, s, st, n, l: ("not.a.jwt", st, {}), 400, "bad-token",
     "not a JWT"),
    ("an id_token signed HS256", lambda p, s, st, n, l: (__import__("jwt").encode({"iss": p.url, "aud": CLIENT_ID}, "k" * 32,
                                                                                   algorithm="HS256"), st, {}),
     401, "bad-signature", "not RS256"),
]


@pytest.mark.parametrize("name, make, status, code, message", BAD, ids=[b[0] for b in BAD])
def test_a_bad_launch_is_refused_with_a_page_that_says_why(lms, name, make, status, code, message):
    served, platform = lms
    platform.add_user("eve")
    link = platform.add_link("Digits", {"assignment": "sklearn_digits"})
    address = f"10.28.0.{BAD.index(next(b for b in BAD if b[0] == name)) + 1}"
    before = _learners(served)
    session, state, nonce = _start(platform, "eve", link, address)
    token, state, headers = make(platform, session, state, nonce, link)
    answer = session.post(served.url + "/lti/launch", data={"id_token": token, "state": state},
                          headers=headers, allow_redirects=False, timeout=30)
    assert answer.status_code == status, answer.text[:3000]
    assert f'data-code="{code}"' in answer.text and message in unescape(answer.text), answer.text[-800:]
    assert "This launch was refused" in answer.text and "Traceback" not in answer.text
    assert answer.headers["content-security-policy"].endswith(f"frame-ancestors 'self' {platform.url}")
    assert "set-cookie" not in answer.headers                       # no session for a refused launch
    assert _learners(served) == before                               # nobody was signed up by it
    assert not platform.errors


def test_a_replayed_launch_is_refused(lms):
    served, platform = lms
    platform.add_user("rex")
    link = platform.add_link("Digits", {"assignment": "sklearn_digits"})
    session, _, fields = authorize(platform, "rex", link.id)
    first = session.post(served.url + "/lti/launch", data=fields, allow_redirects=False, timeout=30)
    assert first.status_code == 303
    again = requests.post(served.url + "/lti/launch", data=fields, allow_redirects=False, timeout=30,
                          headers={"X-Forwarded-For": "10.28.1.1"})
    assert again.status_code == 401 and 'data-code="replayed"' in again.text
    assert "This launch was already used" in again.text


def _learners(served) -> list:
    import sqlite3

    db = sqlite3.connect(served.out / "serve" / "serve.sqlite")
    try:
        return db.execute("SELECT * FROM learners ORDER BY learner").fetchall()
    finally:
        db.close()


def test_a_learner_who_left_the_course_is_refused_and_the_roster_comes_from_the_lms(lms):
    """NRPS: an instructor's launch reads the roster; a learner the LMS lists as inactive is refused at
    launch, at the upload and at /submit, with a clear message; the token route stays for the others."""
    import re

    from tests.lti.browserless import launch as full_launch
    from tests.serve.harness import SOLUTION

    served, platform = lms
    platform.add_user("leo", name="Leo")
    link = platform.add_link("Digits", {"assignment": "sklearn_digits"})
    session, _, page = full_launch(platform, "leo", link.id)
    csrf = re.search(r'data-csrf="([^"]+)"', page.text).group(1)
    platform.status["leo"] = "Inactive"                      # Leo drops the course
    full_launch(platform, "prof", link.id)                   # the instructor's launch reads the roster again
    key = (served.out / "serve" / "instructor.key").read_text().strip()
    roster = requests.get(f"{served.url}/instructor?key={key}", timeout=30).text
    assert re.search(r'<tr data-member="leo@uni.example">.*?Inactive', roster, re.S), roster[-3000:]
    _, refused, _ = full_launch(platform, "leo", link.id, follow=False)
    assert refused.status_code == 403 and 'data-code="left-course"' in refused.text
    assert "You are no longer a member of Course 101 in the LMS" in unescape(refused.text)
    upload = session.post(served.url + "/assignments/sklearn_digits/upload", data=SOLUTION.read_bytes(),
                          headers={"X-CSRF-Token": csrf, "X-File-Name": "x.ipynb"}, timeout=30)
    assert upload.status_code == 403 and upload.json()["errorCode"] == "left-course"
    page = session.get(served.url + "/assignments/sklearn_digits", timeout=30)
    assert 'id="gone"' in page.text and 'id="upload"' not in page.text
    # The token route: Leo's token (issued while enrolled) is refused too; a CSV learner's is not.
    import csv
    import subprocess
    import sys

    from tests.conftest import ROOT
    from tests.serve.harness import body

    roster_csv = served.out.parent / "leo.csv"
    roster_csv.write_text("email,learner\nleo@uni.example,leo@uni.example\ncsv1@example.org,csv1\n")
    done = subprocess.run([sys.executable, "-m", "grader", "tokens", "issue", str(roster_csv), "--out",
                           str(served.out)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    tokens_file = done.stdout.split(": ", 1)[1].split(" (owner-only")[0]
    with open(tokens_file, newline="") as handle:
        tokens = {row["learner"]: row["token"] for row in csv.DictReader(handle)}
    answer = served.post(body("leo@uni.example", tokens["leo@uni.example"], SOLUTION.read_bytes()))
    assert answer.status_code == 403 and answer.json()["errorCode"] == "left-course", answer.text
    assert "no longer a member of Course 101" in answer.json()["details"]["learnerMessage"]
    platform.status["leo"] = "Active"
    full_launch(platform, "prof", link.id)
    _, back, _ = full_launch(platform, "leo", link.id, follow=False)
    assert back.status_code == 303                            # enrolled again: welcome back
