"""The whole flow against the independent LMS: an instructor links an assignment (deep linking), a learner
launches it, uploads the notebook from the page, the grade reaches the LMS's line item once; re-linking
makes no second column; a correction is a new version; a learner who left the course is refused."""
import json
import re
import time
from html import unescape

import pytest
import requests

from tests.lti.browserless import form_fields, launch
from tests.serve.harness import SECOND, SOLUTION, WEAK

pytestmark = [pytest.mark.kernel]


def deep_link(platform, served, assignment=SECOND) -> list:
    """The instructor adds ``assignment`` to the course; returns the platform's content items."""
    session, answer, picker = launch(platform, "prof", "deep")
    assert picker.url.endswith("/lti/deep-link") and "Add an assignment to Course 101" in picker.text, picker.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', picker.text).group(1)
    answer = session.post(served.url + "/lti/deep-link", data={"csrf": csrf, "assignment": assignment}, timeout=30)
    assert answer.status_code == 200, answer.text
    action, fields = form_fields(answer.text)
    assert action == platform.url + "/deep_link_return"
    assert f"form-action 'self' {platform.url}" in answer.headers["content-security-policy"]
    back = requests.post(action, data=fields, timeout=30)
    assert back.status_code == 200 and "Linked" in back.text, back.text
    return platform.deep_link_answers[-1]


def upload(served, session, page, notebook) -> requests.Response:
    csrf = re.search(r'data-csrf="([^"]+)"', page.text).group(1)
    return session.post(served.url + f"/assignments/{SECOND}/upload", data=notebook.read_bytes(),
                        headers={"X-CSRF-Token": csrf, "X-File-Name": notebook.name}, timeout=60)


def wait(predicate, what, timeout=180):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"not in {timeout} s: {what}"
        time.sleep(0.2)


def test_link_launch_upload_grade_reaches_the_lms_once(lms):
    served, platform = lms
    (item,) = deep_link(platform, served)
    assert item["type"] == "ltiResourceLink" and item["custom"] == {"assignment": SECOND}
    assert item["lineItem"] == {"scoreMaximum": 4.0, "label": "Digits, week 2", "resourceId": SECOND,
                                "tag": "grade"}
    (lineitem,) = [i for i, v in platform.lineitems.items() if v["resourceId"] == SECOND]
    link = next(l for l in platform.links.values() if l.lineitem == lineitem)
    # Linking it again reuses the column: no second line item.
    (again,) = deep_link(platform, served)
    assert "lineItem" not in again and [v["resourceId"] for v in platform.lineitems.values()].count(SECOND) == 1
    platform.add_user("bea", name="Bea")
    session, _, page = launch(platform, "bea", link.id)
    assert "The LMS has no grade from this service yet." in page.text
    accepted = upload(served, session, page, WEAK)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["learnerMessage"].startswith("Submitted weak_model.ipynb for grading: attempt 1")
    wait(lambda: [s for s in platform.scores if s["userId"] == "bea"], "bea's score at the LMS")
    (score,) = [s for s in platform.scores if s["userId"] == "bea"]
    assert score["lineitem"] == lineitem and score["scoreMaximum"] == 4.0 and score["gradingProgress"] == \
        "FullyGraded" and score["scoreGiven"] < 4
    weak = score["scoreGiven"]
    shown = lambda: session.get(served.url + f"/assignments/{SECOND}", timeout=30).text  # noqa: E731
    wait(lambda: f"The LMS has your grade: {weak:g} / 4 (version 1" in shown(), "the grade's state on the page")
    page = session.get(served.url + f"/assignments/{SECOND}", timeout=30)
    # A better notebook: a new version, sent once.
    time.sleep(0.1)
    assert upload(served, session, page, SOLUTION).status_code == 201
    wait(lambda: len([s for s in platform.scores if s["userId"] == "bea"]) == 2, "bea's second score")
    assert [s["scoreGiven"] for s in platform.scores if s["userId"] == "bea"] == [weak, 4.0]
    # An instructor's correction: a third version, with a later timestamp.
    from grader.cli import main

    assert main(["override", str(served.out / SECOND), "bea@uni.example", "class_means", "--points", "0", "--reason",
                 "shared code", "--by", "prof"]) == 0
    wait(lambda: len([s for s in platform.scores if s["userId"] == "bea"]) == 3, "the corrected score", 120)
    scores = [s for s in platform.scores if s["userId"] == "bea"]
    assert scores[-1]["scoreGiven"] == 3.0 and "set by your instructor: shared code" in scores[-1]["comment"]
    assert scores[-1]["timestamp"] > scores[-2]["timestamp"]
    time.sleep(2)
    assert len([s for s in platform.scores if s["userId"] == "bea"]) == 3     # nothing twice
    assert not platform.errors


def test_a_learner_from_the_lms_gets_a_token_for_the_notebook(lms):
    """grader.submit from the notebook, besides the page: the learner's page gives a token, once."""
    from tests.serve.harness import COURSE_KEY, body

    served, platform = lms
    platform.add_user("tom", name="Tom")
    link = platform.add_link("Digits", {"assignment": SECOND})
    session, _, page = launch(platform, "tom", link.id)
    csrf = re.search(r'data-csrf="([^"]+)"', page.text).group(1)
    assert session.post(served.url + f"/assignments/{SECOND}/token", timeout=30).status_code == 403   # no CSRF
    given = session.post(served.url + f"/assignments/{SECOND}/token", headers={"X-CSRF-Token": csrf}, timeout=30)
    assert given.status_code == 200, given.text
    token = given.json()["token"]
    assert given.json()["learnerMessage"].startswith(f"In your notebook: grader.submit('tom@uni.example', '{token}')")
    from tests.serve.harness import SECOND_KEY

    answer = served.post(body("tom@uni.example", token, WEAK.read_bytes(), key=SECOND_KEY))
    assert answer.status_code == 201, answer.text
    assert answer.json()["learnerMessage"].startswith("Submitted digits.ipynb for grading (Digits, week 2)")
    refused = served.post(body("tom@uni.example", "old-" + token, WEAK.read_bytes(), key=COURSE_KEY))
    assert refused.status_code == 401
    served.wait_done([answer.json()])
