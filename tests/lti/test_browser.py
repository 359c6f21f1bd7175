"""The LTI flow in headless Chromium, inside the LMS's frame, under today's cookie rules.

The LMS is ``http://localhost:P`` and the service ``http://127.0.0.1:Q``: two sites, so the service
is a third party in the LMS's iframe, and this Chromium blocks third-party cookies (checked below:
an ordinary ``SameSite=None; Secure`` cookie is not kept there).  The service's partitioned cookies
(CHIPS) are: the instructor picks an assignment (deep linking), a learner launches it, uploads the
notebook from the page, follows the grading and finds the LMS's copy of the grade - all inside the
frame.  A second browser keeps no cookie at all for the service inside the frame (as Safari by
default): the launch continues in a window of its own.

Screenshots go to the test's folder, and to ``$GRADER_SCREENSHOTS`` when it is set (the docs').
"""
import os
import shutil

import pytest

from tests.browser import headless_chromium
from tests.integration.test_orphans import _wait

pytestmark = [pytest.mark.kernel]


def _driver(prefs: dict | None = None):
    # Third-party cookies blocked, as browsers do now (Chromium's setting, stated).
    return headless_chromium(window="1100,1000", prefs={
        "profile.block_third_party_cookies": True, "profile.cookie_controls_mode": 1, **(prefs or {})})


@pytest.fixture
def chromium():
    driver = _driver()
    yield driver
    driver.quit()


def _shot(driver, tmp_path, name):
    path = tmp_path / f"{name}.png"
    driver.save_screenshot(str(path))
    if os.environ.get("GRADER_SCREENSHOTS"):
        shutil.copy(path, os.path.join(os.environ["GRADER_SCREENSHOTS"], path.name))


def _violations(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser")
            if "Content Security Policy" in e["message"] or "frame-ancestors" in e["message"]]


def _in_tool(driver, predicate, what, timeout=120):
    """Wait until ``predicate(driver)`` holds inside the LMS's frame of the tool."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By

    def check():
        driver.switch_to.default_content()
        try:
            driver.switch_to.frame(driver.find_element(By.ID, "tool"))
            return predicate(driver)
        except (NoSuchElementException, StaleElementReferenceException):
            return False
    return _wait(check, timeout=timeout, what=what)


def test_link_launch_upload_and_grade_inside_the_lms_frame(lms, chromium, tmp_path):
    from selenium.webdriver.common.by import By

    from tests.serve.harness import SOLUTION

    served, platform = lms
    # The instructor adds the assignment to the course: the picker, inside the frame.
    chromium.get(platform.page_url("prof", deep=True))
    _in_tool(chromium, lambda d: d.find_elements(By.ID, "pick-sklearn_digits"), "the assignment picker")
    assert "Add an assignment to Course 101" in chromium.find_element(By.TAG_NAME, "h1").text
    _shot(chromium, tmp_path, "lti-instructor-pick")
    chromium.find_element(By.ID, "pick-sklearn_digits").click()
    _in_tool(chromium, lambda d: d.find_elements(By.ID, "linked"), "the LMS's answer to the deep link")
    link = next(l for l in platform.links.values() if l.custom.get("assignment") == "sklearn_digits" and l.lineitem)
    assert platform.lineitems[link.lineitem]["resourceId"] == "sklearn_digits"
    # A learner opens the link: their page inside the frame, signed in as that LMS user.
    platform.add_user("cy", name="Cy")
    chromium.get(platform.page_url("cy", link))
    _in_tool(chromium, lambda d: d.find_elements(By.ID, "upload"), "the learner's assignment page")
    assert chromium.find_element(By.ID, "learner").text == "cy@uni.example"
    assert "The LMS has no grade from this service yet." in chromium.find_element(By.ID, "lms").text
    _shot(chromium, tmp_path, "lti-learner-assignment")
    chromium.find_element(By.ID, "file").send_keys(str(SOLUTION))
    chromium.find_element(By.ID, "send").click()
    # The upload lands on the submission's page: the grading live, then the feedback.
    _in_tool(chromium, lambda d: d.find_elements(By.ID, "feedback"), "the graded submission's feedback", 180)
    assert chromium.find_element(By.ID, "state").text == "graded: 4 / 4 points"
    chromium.switch_to.frame(chromium.find_element(By.ID, "feedback"))
    assert chromium.find_element(By.ID, "total").text.startswith("4 / 4 points")
    _shot(chromium, tmp_path, "lti-learner-graded")
    # The LMS got the grade once; the learner's page says so.
    _wait(lambda: [s for s in platform.scores if s["userId"] == "cy"], what="the LMS's copy of the grade")
    (score,) = [s for s in platform.scores if s["userId"] == "cy"]
    assert (score["scoreGiven"], score["scoreMaximum"], score["lineitem"]) == (4.0, 4.0, link.lineitem)

    def says_sent():   # the learner opens the link again from the LMS
        chromium.get(platform.page_url("cy", link))
        return _in_tool(chromium, lambda d: d.find_elements(By.ID, "lms"), "the learner's page", 30)[0] \
            .get_attribute("data-status") == "sent"
    _wait(says_sent, timeout=60, what="the page saying the LMS has the grade")
    assert "The LMS has your grade: 4 / 4 (version 1" in chromium.find_element(By.ID, "lms").text
    _shot(chromium, tmp_path, "lti-learner-lms-has-it")
    # The instructor's launch of the same link: the course's instructor page, inside the frame.
    chromium.get(platform.page_url("prof", link))
    _in_tool(chromium, lambda d: d.find_elements(By.ID, "roster"), "the instructor's page with the roster")
    assert chromium.find_elements(By.CSS_SELECTOR, "#gradebook-sklearn_digits tr[data-learner='cy@uni.example']")
    _shot(chromium, tmp_path, "lti-instructor-page")
    chromium.switch_to.default_content()
    assert _violations(chromium) == []
    assert not platform.errors


def test_the_frame_refuses_a_site_other_than_the_lms(lms, chromium, tmp_path):
    """Framing per route: an LTI page framed by a site other than the registered LMS is blocked."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    served, platform = lms

    class Evil(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(f"<iframe id='tool' src='{served.url}/lti/landing?ticket=x'></iframe>".encode())

        def log_message(self, *args):
            pass

    evil = ThreadingHTTPServer(("127.0.0.2", 0), Evil)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    try:
        chromium.get(f"http://127.0.0.2:{evil.server_address[1]}/")   # another site than the LMS's
        logs = []
        _wait(lambda: logs.extend(chromium.get_log("browser")) or logs, timeout=30,
              what="the browser refusing the frame")
        assert any(f"frame-ancestors 'self' {platform.url}" in e["message"] and "blocked" in e["message"]
                   for e in logs), logs
    finally:
        evil.shutdown()
        evil.server_close()


def test_a_browser_that_keeps_no_cookie_in_the_frame_continues_in_a_new_window(lms, tmp_path):
    from selenium.webdriver.common.by import By

    served, platform = lms
    # No cookie at all for the service while it is embedded in the LMS (Safari's default, or a user's
    # setting); first-party cookies stay allowed.
    driver = _driver({"profile.content_settings.exceptions.cookies": {
        "http://127.0.0.1:*,http://localhost:*": {"setting": 2}}})
    try:
        platform.add_user("dot", name="Dot")
        link = platform.add_link("Digits", {"assignment": "sklearn_digits"})
        driver.get(platform.page_url("dot", link))
        _in_tool(driver, lambda d: d.find_elements(By.ID, "continue"), "the new-window button")
        _shot(driver, tmp_path, "lti-new-window")
        first = driver.current_window_handle
        driver.find_element(By.ID, "continue").click()
        _wait(lambda: len(driver.window_handles) == 2, what="the new window")
        driver.switch_to.window(next(h for h in driver.window_handles if h != first))
        _wait(lambda: driver.find_elements(By.ID, "upload"), what="the learner's page in its own window")
        assert driver.find_element(By.ID, "learner").text == "dot@uni.example"
        # The ticket worked once: the same link again is refused.
        driver.get(driver.current_url.replace("/assignments/sklearn_digits", "/lti/landing?ticket=used"))
        assert "This launch was refused" in driver.page_source
    finally:
        driver.quit()
