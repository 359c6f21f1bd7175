"""An LTI launch driven with ``requests`` (a browser that keeps no cookie over plain http: the service's
cookies there are ``Secure``), for the tests that need no Chromium: the bad launches, the roster."""
from __future__ import annotations

import re
from html import unescape

import requests


def form_fields(html: str) -> tuple[str, dict]:
    """The action and hidden fields of the first form of a page."""
    action = unescape(re.search(r"action='([^']*)'|action=\"([^\"]*)\"", html).group(1) or
                      re.search(r"action=\"([^\"]*)\"", html).group(1))
    fields = {unescape(n): unescape(v) for n, v in
              re.findall(r"name=['\"]([^'\"]+)['\"] value=['\"]([^'\"]*)['\"]", html)}
    return action, fields


def authorize(platform, user: str, hint: str, session: requests.Session | None = None, target: str | None = None):
    """The login as the LMS starts it, up to the platform's auto-posting form: (session, login answer,
    the form's fields: id_token and state)."""
    session = session or requests.Session()
    login = session.get(platform.login_url(user, hint, target), allow_redirects=False, timeout=30)
    assert login.status_code == 302, login.text[:2000]
    page = session.get(login.headers["location"], allow_redirects=False, timeout=30)
    assert page.status_code == 200, page.text[:2000]
    _, fields = form_fields(page.text)
    return session, login, fields


def launch(platform, user: str, hint: str, *, session=None, follow: bool = True):
    """A whole launch; returns (session, the launch's answer, the page it ends on or None)."""
    session, _, fields = authorize(platform, user, hint, session)
    answer = session.post(platform.tool + "/lti/launch", data=fields, allow_redirects=False, timeout=60)
    if not follow or answer.status_code != 303:
        return session, answer, None
    landing = session.get(platform.tool + answer.headers["location"], allow_redirects=False, timeout=30)
    assert landing.status_code == 200 and "Open in a new window" in landing.text, landing.text[:2000]
    ticket_url = re.search(r'href="(/lti/continue\?ticket=[^"]+)"', landing.text).group(1)
    page = session.get(platform.tool + unescape(ticket_url), timeout=60)
    page.landing = landing
    return session, answer, page
