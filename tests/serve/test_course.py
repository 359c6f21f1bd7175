"""grader serve --course: one service, one queue and one pool of workers for several assignments."""
import csv
import json
import signal

import pytest
import requests

from grader.cli import main
from tests.serve.harness import COURSE_KEY, SECOND, SECOND_KEY, SOLUTION, WEAK, Service, body, course_copy

pytestmark = [pytest.mark.kernel]


def test_a_course_grades_each_assignment_into_its_own_folder(tmp_path, services, capsys):
    served = services(Service(course_copy(tmp_path, "per_hour = 50"), tmp_path / "out", workers=2, course=True))
    tokens = served.issue(["ann", "ben"])
    served.start()
    try:
        assert f"grading {SECOND}, sklearn_digits into {served.out}/{SECOND}/, {served.out}/sklearn_digits/" \
            in served.output()
        sent = [served.post(body("ann@example.org", tokens["ann"], SOLUTION.read_bytes(), key=COURSE_KEY)),
                served.post(body("ann@example.org", tokens["ann"], WEAK.read_bytes(), key=SECOND_KEY)),
                served.post(body("ben@example.org", tokens["ben"], WEAK.read_bytes(), key=SECOND_KEY))]
        assert [a.status_code for a in sent] == [201, 201, 201], [a.text for a in sent]
        assert "(Digits, week 2)" in sent[1].json()["learnerMessage"]
        other = served.post(body("ann@example.org", tokens["ann"], SOLUTION.read_bytes(), key="nope"))
        assert other.status_code == 422 and other.json()["errorCode"] == "other-assignment"
        assert "Digits, week 2" in other.json()["details"]["learnerMessage"]
        states = served.wait_done([a.json() for a in sent])
        assert [s["result"]["total"] for s in states][0] == 4.0 and states[1]["result"]["total"] < 4.0
        assert [s["assignment_id"] for s in states] == ["sklearn_digits", SECOND, SECOND]
        # A results folder per assignment, as grader grade writes it.
        first = json.loads((served.out / "sklearn_digits" / "results" / "ann.json").read_text())
        second = json.loads((served.out / SECOND / "results" / "ann.json").read_text())
        assert (first["assignment"], first["total"]) == ("sklearn_digits", 4.0)
        assert second["assignment"] == SECOND and second["total"] < 4.0
        assert not (served.out / "sklearn_digits" / "results" / "ben.json").exists()
        with open(served.out / SECOND / "gradebook.csv", newline="") as handle:
            assert sorted(r["learner"] for r in csv.DictReader(handle)) == ["ann", "ben"]
        journal = (served.out / SECOND / "journal.jsonl").read_text()
        assert journal.count('"event": "done"') == 2
        # Attempts count per assignment: ann's first of each.
        assert [a.json()["attempt"] for a in sent] == [1, 1, 1]
        # The instructor's page of the course: one gradebook per assignment; the CSV per assignment.
        key = (served.out / "serve" / "instructor.key").read_text().strip()
        page = requests.get(f"{served.url}/instructor?key={key}", timeout=30).text
        assert f'data-assignment="{SECOND}"' in page and 'id="gradebook-sklearn_digits"' in page
        book = requests.get(f"{served.url}/instructor/gradebook.csv?assignment={SECOND}&key={key}", timeout=30)
        assert book.status_code == 200 and book.text.count("\n") == 3
        # The folder is held while the service runs; the commands of grade work on it.
        assert main(["grade", str(tmp_path / "assignments"), "--out", str(served.out / SECOND)]) == 2
        assert "is writing to" in capsys.readouterr().err
        assert main(["audit", str(served.out / SECOND), "ben"]) == 0
    finally:
        assert served.stop(signal.SIGTERM) == 143
    processes, cgroups = served.run.wait_clean(timeout=30)
    assert not processes and not cgroups
    assert (served.out / SECOND / "summary.html").is_file()


def test_course_usage_mistakes(tmp_path, capsys):
    folder = course_copy(tmp_path)
    assert main(["serve", "--course", str(folder), "--assignment", "x"]) == 2
    assert "give --course DIR or --assignment, not both" in capsys.readouterr().err
    assert main(["serve", "--course", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert main(["serve", "--course", str(folder), "--cluster", "local:2", "--out", str(tmp_path / "o")]) == 2
    assert "--cluster serves one assignment" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
