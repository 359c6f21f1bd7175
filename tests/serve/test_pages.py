"""grader serve's pages in headless Chromium: the learner's page follows the grading as it runs,
then shows the feedback; the instructor's page shows the queue and the class so far.

Screenshots go to the test's folder, and to ``$GRADER_SCREENSHOTS`` when it is set (the README's).
"""
import os
import shutil

import pytest

from tests.integration.test_orphans import _wait
from tests.integration.test_report_render import browser  # noqa: F401 (the fixture)
from tests.serve.harness import slow_notebook

pytestmark = [pytest.mark.kernel]


def _shot(driver, tmp_path, name):
    path = tmp_path / f"{name}.png"
    driver.save_screenshot(str(path))
    if os.environ.get("GRADER_SCREENSHOTS"):
        shutil.copy(path, os.path.join(os.environ["GRADER_SCREENSHOTS"], path.name))
    return path


def _csp_violations(driver) -> list[str]:
    """What Chromium's console said against the pages' Content-Security-Policy since last asked."""
    return [entry["message"] for entry in driver.get_log("browser") if "Content Security Policy" in entry["message"]]


def test_the_learner_page_shows_the_grading_live_then_the_feedback(service, browser, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By

    accepted = service.submit("fay", service.tokens["fay"], slow_notebook(tmp_path / "fay.ipynb", 8)).json()
    browser.get(accepted["url"])
    state = lambda: browser.find_element(By.ID, "state").get_attribute("data-state")  # noqa: E731
    assert state() in ("queued", "running")
    # While the notebook sleeps after its first graded part, that part's verdict is on the page.
    row = _wait(lambda: state() == "running" and browser.find_elements(
        By.CSS_SELECTOR, "#verdicts tr.part[data-part='class_means']"), what="the first verdict while running")
    assert "passed" in row[0].text
    assert browser.find_element(By.ID, "cell").text.startswith(("cell ", "starting"))
    assert browser.find_element(By.ID, "state").text == "being graded"
    _shot(browser, tmp_path, "serve-learner-running")
    _wait(lambda: browser.find_elements(By.ID, "feedback"), what="the feedback page after the grading")
    assert browser.find_element(By.ID, "state").text == "graded: 4 / 4 points"
    browser.switch_to.frame(browser.find_element(By.ID, "feedback"))
    assert browser.find_element(By.ID, "total").text.startswith("4 / 4 points")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#parts tr.part")) == 4
    browser.switch_to.default_content()
    _shot(browser, tmp_path, "serve-learner-done")
    # The page, its live updates and the framed feedback page all keep to the service's CSP.
    assert _csp_violations(browser) == []


def test_the_instructor_page_shows_the_queue_and_the_gradebook(service, browser, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By

    key = (service.out / "serve" / "instructor.key").read_text().strip()
    browser.get(f"{service.url}/instructor?key={key}")
    assert int(browser.find_element(By.ID, "done").text) >= 1
    rows = browser.find_elements(By.CSS_SELECTOR, "#gradebook tr[data-learner='fay']")
    assert rows and "4" in rows[0].text
    assert browser.find_elements(By.CSS_SELECTOR, "#recent tbody tr")
    _shot(browser, tmp_path, "serve-instructor")
    # The session opened with the key lets the instructor open any learner's page.
    assert _csp_violations(browser) == []
    link = browser.find_element(By.CSS_SELECTOR, "#recent tbody tr a")
    link.click()
    _wait(lambda: browser.find_elements(By.ID, "state"), what="a learner's page from the instructor's")
    assert _csp_violations(browser) == []
    # The check sees a violation when there is one: a script the page did not ship is refused.
    browser.execute_script("var s = document.createElement('script'); s.textContent = 'window.injected = 1';"
                           "document.body.appendChild(s);")
    assert browser.execute_script("return window.injected") is None
    assert any("script-src" in message for message in _csp_violations(browser))
