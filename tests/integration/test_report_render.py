"""Look at the HTML reports in headless Chromium and assert on what is rendered.

Needs Debian's chromium and chromium-driver (``make test`` installs them);
without them the test is skipped locally and fails in CI.
"""
import base64
import io

import pytest

from grader.report.html import feedback_page, summary_page
from grader.results import CellError, PartResult, SubmissionResult
from tests.browser import headless_chromium



def _png() -> str:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0.3, 0.2, 0.1])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _result(learner, hidden_value=0.4321):
    return SubmissionResult(
        learner=learner, assignment="demo", total=1, max_total=2, status="graded", duration_s=12,
        parts=[PartResult(id="acc", description="validation accuracy", status="passed", points=1,
                          measured=0.9512, claimed=0.95, threshold=">= 0.9", message="fine"),
               PartResult(id="test", description="test accuracy", status="failed", points=0,
                          measured=hidden_value, threshold=">= 0.9", message=f"low {hidden_value}",
                          hidden=True)],
        errors=[CellError(cell=4, ename="ZeroDivisionError", evalue="division by zero", source="1/0",
                          traceback="ZeroDivisionError: division by zero")])


@pytest.fixture(scope="module")
def browser():
    driver = headless_chromium()
    yield driver
    driver.quit()


def _rendered_images_ok(driver) -> list[bool]:
    return driver.execute_script(
        "return Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)")


def test_feedback_page_renders(browser, tmp_path):
    from selenium.webdriver.common.by import By

    page = tmp_path / "ada.html"
    page.write_text(feedback_page(_result("ada"), assignment_title="Demo assignment",
                                  images=[(7, _png())]))
    browser.get(page.as_uri())
    assert browser.find_element(By.ID, "total").text.startswith("1 / 2 points")
    rows = browser.find_elements(By.CSS_SELECTOR, "tr.part")
    assert [r.get_attribute("data-part") for r in rows] == ["acc", "test"]
    badge = rows[0].find_element(By.CSS_SELECTOR, ".badge")
    assert badge.is_displayed() and badge.text == "passed"
    assert badge.value_of_css_property("background-color") != "rgba(0, 0, 0, 0)"
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "0.9512" in body and "ZeroDivisionError" in body and "1/0" in body
    assert "0.4321" not in body  # hidden
    assert _rendered_images_ok(browser) == [True]


def test_summary_page_renders(browser, tmp_path):
    from selenium.webdriver.common.by import By

    page = tmp_path / "summary.html"
    page.write_text(summary_page([_result("ada"), _result("bob")], assignment_title="Demo"))
    browser.get(page.as_uri())
    assert "2 submissions" in browser.find_element(By.ID, "counts").text
    assert all(_rendered_images_ok(browser)) and len(_rendered_images_ok(browser)) == 2
    histogram = browser.find_element(By.ID, "histogram")
    assert histogram.size["width"] > 200 and histogram.size["height"] > 100
    reasons = browser.find_element(By.ID, "reasons").text
    assert "test: low N" in reasons


def test_feedback_page_shows_the_schedule_and_only_the_learners_lines(browser, tmp_path):
    """The as-run order's line, the warning of a notebook that passes only as run, and a cell's
    error as the learner's own lines: TensorFlow's stack, ipykernel's and the machine's paths stay
    in the result file."""
    from selenium.webdriver.common.by import By

    result = _result("cy")
    result.schedule = {"order": "as-run", "cells": [1, 2, 3, 2, 4], "again": [3],
                       "text": "graded as you ran it: cell 2 again after cell 3",
                       "clean_run": {"order": "top-down", "parts": {"acc": "error"}, "total": 0,
                                     "warning": "passes only as you ran it: a clean top-to-bottom run "
                                                "(Restart & Run All) does not pass acc (acc error)"}}
    result.errors = [CellError(
        cell=4, ename="FailedPreconditionError", source="print(s.run(loss))",
        evalue="Graph execution error:\n\nDetected at node 'dense/kernel/read' defined at (most recent "
               "call last):\n    File \"/srv/venv/lib/python3.11/site-packages/ipykernel/kernelbase.py\", "
               "line 678, in shell_main\nNode: 'dense/kernel/read'\nAttempting to use uninitialized value "
               "dense/kernel\n\t [[{{node dense/kernel/read}}]]",
        traceback="File /srv/venv/lib/python3.11/site-packages/tensorflow/python/client/session.py:977",
        frames=[{"cell": 4, "line": 1, "code": "print(s.run(loss))", "role": "raised"},
                {"cell": 3, "line": 2, "code": "hidden = tf.layers.dense(input_X, 256)", "role": "defined"}])]
    page = tmp_path / "cy.html"
    page.write_text(feedback_page(result, assignment_title="Demo"))
    browser.get(page.as_uri())
    assert browser.find_element(By.ID, "schedule").text == "graded as you ran it: cell 2 again after cell 3"
    assert browser.find_element(By.ID, "clean-run").text.startswith("Warning: passes only as you ran it")
    frames = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "ul.frames li")]
    assert frames == ["in cell 4, line 1: print(s.run(loss))",
                      "the operation was defined in cell 3, line 2: hidden = tf.layers.dense(input_X, 256)"]
    body = browser.find_element(By.TAG_NAME, "body").text
    assert ("FailedPreconditionError: Attempting to use uninitialized value dense/kernel (operation "
            "dense/kernel/read)") in body
    assert "site-packages" not in body and "/srv/" not in body and "Graph execution error" not in body
    assert "as you ran it (" in body  # the footer says how the re-run ordered the cells
