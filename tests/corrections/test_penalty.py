"""A late penalty is a correction event: the gradebook, the pages and posting apply it; a log of the
first schema is migrated to admit it, every row kept and still append-only."""
import sqlite3

import pytest

from grader.corrections import Corrections
from grader.corrections.grades import result_id
from grader.corrections.log import LOG_FILE, PENALTY, SCHEMA_VERSION, Event, Log, read_events
from grader.report.html import feedback_page
from grader.report.table import gradebook_rows
from tests.corrections.factory import mnist_result

# The corrections log as version 1 made it (its CHECK knew four actions).
V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('override', 'clear', 'rescore', 'judged')),
    learner TEXT NOT NULL, part TEXT NOT NULL DEFAULT '', by TEXT NOT NULL, old_points REAL,
    new_points REAL, reason TEXT NOT NULL DEFAULT '', result_id TEXT NOT NULL DEFAULT '',
    run TEXT NOT NULL DEFAULT '', detail TEXT NOT NULL DEFAULT '{}');
CREATE INDEX events_by_learner ON events (learner, id);
CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the corrections log is append-only'); END;
CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the corrections log is append-only'); END;
INSERT INTO meta VALUES ('schema_version', '1');
INSERT INTO events (at, action, learner, part, by, old_points, new_points, reason)
VALUES ('2026-03-02T10:00:00.000+00:00', 'override', 'bea', '9XaAS', 'prof.lee', 1, 0, 'copied shapes');
"""


def _penalty(result, fraction=0.25):
    return Event(action=PENALTY, learner=result.learner, by="grader serve", result_id=result_id(result),
                 reason="submitted 2 h 0 min after the deadline of 2026-12-20 23:59 UTC; late penalty 25%",
                 detail={"fraction": fraction, "submission": "abc"})


def test_a_penalty_takes_its_fraction_off_every_part(tmp_path, assignment):
    result = mnist_result(assignment, "ann")
    assert result.total == 5
    with Log.open(tmp_path) as log:
        log.append([_penalty(result)])
    grade = Corrections.load(tmp_path).grade(result)
    assert grade.penalty.fraction == 0.25 and grade.result.total == pytest.approx(3.75)
    assert [p.points for p in grade.result.parts] == [0.75] * 5
    assert [p.status for p in grade.result.parts] == ["passed"] * 5   # the verdicts stay the grader's
    assert grade.summary() == "3.75/5: late: 25% off"
    _, rows = gradebook_rows([result], corrections=Corrections.load(tmp_path))
    assert rows[0]["total"] == "3.75" and "late penalty 25% (submitted 2 h 0 min after" in rows[0]["corrections"]
    page = feedback_page(result, corrections=Corrections.load(tmp_path))
    assert "Submitted late: 25% of the points were taken off (submitted 2 h 0 min after the deadline" in page
    # Another measurement of the same learner (a later submission graded) is not penalised by it.
    other = mnist_result(assignment, "ann", started_at="2026-03-03T09:00:00+00:00")
    assert Corrections.load(tmp_path).grade(other).result.total == 5


def test_a_first_schema_log_is_migrated_and_stays_append_only(tmp_path, assignment):
    path = tmp_path / LOG_FILE
    db = sqlite3.connect(path)
    db.executescript(V1_SCHEMA)
    db.close()
    result = mnist_result(assignment, "bea")
    with Log.open(tmp_path) as log:
        log.append([_penalty(result, 0.5)])
    events = read_events(tmp_path)
    assert [(e.id, e.action, e.by) for e in events] == [(1, "override", "prof.lee"), (2, "penalty", "grader serve")]
    db = sqlite3.connect(path)
    assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
    for statement in ("UPDATE events SET reason='x'", "DELETE FROM events"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute(statement)
    db.close()
    grade = Corrections.load(tmp_path).grade(result)
    assert grade.overrides["9XaAS"].points == 0 and grade.result.total == pytest.approx(2.0)
    assert not list(tmp_path.glob(".*v2*"))
