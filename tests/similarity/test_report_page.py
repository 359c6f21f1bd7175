"""The similarity page in headless Chromium: what an instructor sees, and learner text kept as text.

Needs Debian's chromium and chromium-driver (``make test`` installs them); the browser fixture
is the report tests' own.
"""
from __future__ import annotations

import shutil

from grader.similarity import similarity_report
from tests.integration.test_report_render import browser  # noqa: F401  (the fixture)
from tests.similarity.test_code_evidence import FIXTURES, lay_out_class


def test_the_similarity_page_renders_pairs_side_by_side(browser, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By

    # A learner id with markup in it: shown as text, never run.
    odd = '<img src=x onerror="document.title=1">'
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(FIXTURES / "class" / "ada.ipynb", folder / "ada.ipynb")
    shutil.copy(FIXTURES / "class" / "bruno.ipynb", folder / "bruno.ipynb")
    lay_out_class(tmp_path / "out", {"ada": folder / "ada.ipynb", odd: folder / "bruno.ipynb",
                                     "farid": FIXTURES / "class" / "farid.ipynb"})
    report = similarity_report(tmp_path / "out")
    assert [{p.first, p.second} for p in report.standing_out] == [{odd, "ada"}]
    assert len(report.pairs) == 3 and report.pairs[0].stands_out  # three learners: every pair listed
    browser.get((tmp_path / "out" / "similarity.html").as_uri())
    assert browser.title != "1"
    rows = browser.find_elements(By.CSS_SELECTOR, "#ranked tr.ranked")
    assert len(rows) == 3 and odd in rows[0].text and "stands out" in rows[0].text
    assert "stands out" not in rows[1].text + rows[2].text
    pairs = browser.find_elements(By.CSS_SELECTOR, "div.pair")
    assert len(pairs) == 3 and odd in pairs[0].find_element(By.TAG_NAME, "h3").text
    assert "code is in" in pairs[0].find_element(By.CSS_SELECTOR, "p.why").text
    sides = pairs[0].find_elements(By.CSS_SELECTOR, "div.side")
    assert len(sides) == len(report.pairs[0].code.fragments) >= 2
    left, right = sides[0].find_elements(By.CSS_SELECTOR, ":scope > div")
    assert left.is_displayed() and right.is_displayed()
    assert left.location["x"] < right.location["x"]  # side by side
    assert left.location["x"] + left.size["width"] <= right.location["x"] + 1  # no overlap
    assert "cell" in left.text and "line" in left.text and "def " in (left.text + right.text)
    assert "evidence for a person to judge" in browser.find_element(By.ID, "caution").text
