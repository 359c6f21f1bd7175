"""The corrections log: ``OUT/corrections.sqlite``, append-only.

One row per event, never changed and never deleted - SQLite triggers refuse
``UPDATE`` and ``DELETE`` on the table, so even a tool that opens the file
directly can only add to it.  Each event says who (``by``), when (``at``, UTC),
which learner and part, the points before and after, and why (``reason``), and
names the measurement it was made against (``result_id``: see
:func:`grader.corrections.grades.result_id`).

Actions:

========  =====================================================================
override  course staff set a part's points (``new_points``) for a reason
clear     an override withdrawn: the grader's own verdict counts again
rescore   a part's verdict judged again under new thresholds changed
          (``detail``: the verdict before and after)
judged    a learner's result was judged again with the thresholds whose
          digest is in ``detail`` (with or without a change): what a resumed
          ``grader grade`` reads to know what was graded under which thresholds
penalty   a late penalty on one measurement (``result_id``) of a submission
          that ``grader serve`` accepted after the deadline (``detail``: the
          fraction taken off, how late, the deadline, the submission's id)
========  =====================================================================

Events of one command (an override, a rescore of a class) are appended in one
transaction: all of them or none.  The file is created readable by its owner
only (it holds learner ids, points and reasons).
"""
from __future__ import annotations

import dataclasses
import getpass
import json
import os
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from ..durable import open_database
from ..exceptions import CorrectionError

LOG_FILE = "corrections.sqlite"
SCHEMA_VERSION = 2   # 2: the action penalty (a version 1 file is migrated when opened)

OVERRIDE, CLEAR, RESCORE, JUDGED, PENALTY = "override", "clear", "rescore", "judged", "penalty"
ACTIONS = (OVERRIDE, CLEAR, RESCORE, JUDGED, PENALTY)

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,                  -- ISO 8601, UTC, milliseconds
    action TEXT NOT NULL CHECK (action IN ({", ".join(repr(a) for a in ACTIONS)})),
    learner TEXT NOT NULL,
    part TEXT NOT NULL DEFAULT '',     -- '' for events about the whole result (judged)
    by TEXT NOT NULL,                  -- who: --by, $GRADER_USER or the login name
    old_points REAL,
    new_points REAL,
    reason TEXT NOT NULL DEFAULT '',
    result_id TEXT NOT NULL DEFAULT '',-- the measurement the event was made against
    run TEXT NOT NULL DEFAULT '',      -- groups the events of one command (a rescore)
    detail TEXT NOT NULL DEFAULT '{{}}' -- JSON: verdicts before/after, thresholds digest
);
CREATE INDEX IF NOT EXISTS events_by_learner ON events (learner, id);
CREATE TRIGGER IF NOT EXISTS events_append_only_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the corrections log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_append_only_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the corrections log is append-only'); END;
"""


@dataclass(frozen=True)
class Event:
    """One row of the log."""

    action: str
    learner: str
    by: str
    part: str = ""
    old_points: float | None = None
    new_points: float | None = None
    reason: str = ""
    result_id: str = ""
    run: str = ""
    detail: dict = field(default_factory=dict)
    at: str = ""          # set when appended
    id: int = 0           # set when appended


def utc_now_text() -> str:
    """The current UTC time in ISO 8601 with milliseconds (the outbox's format too)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def default_author() -> str:
    """Who is correcting when ``--by`` is not given: ``$GRADER_USER``, else the login name."""
    name = os.environ.get("GRADER_USER", "").strip()
    if name:
        return name
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no user name in the environment or the password database
        return f"uid {os.getuid()}"


def read_events(out: str | Path, *, learner: str | None = None) -> list[Event]:
    """Every event of ``out``'s log in order (of one learner); [] when there is no log.

    Opens the file read-only: reading never creates a log.
    """
    path = Path(out) / LOG_FILE
    if not path.is_file():
        return []
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            query = "SELECT * FROM events"
            params: tuple = ()
            if learner is not None:
                query, params = query + " WHERE learner=?", (learner,)
            db.row_factory = sqlite3.Row
            return [_event(row) for row in db.execute(query + " ORDER BY id", params)]
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        raise CorrectionError(f"{path}: the corrections log cannot be read: {exc}",
                              path=str(path)) from None


class Log:
    """The log of one results folder, open for appending; use :meth:`open`."""

    def __init__(self, path: Path):
        self.path = path
        try:
            # Owner-only, and a correction is on disk before we say it is recorded.
            if path.is_file():
                _migrate(path)
            self._db = open_database(path, schema=_SCHEMA, version=SCHEMA_VERSION)
        except sqlite3.DatabaseError as exc:
            raise CorrectionError(f"{path}: the corrections log cannot be opened: {exc}",
                                  path=str(path)) from None

    @classmethod
    @contextmanager
    def open(cls, out: str | Path) -> Iterator["Log"]:
        """The log of the results folder ``out`` (created on first use)."""
        log = cls(Path(out) / LOG_FILE)
        try:
            yield log
        finally:
            log._db.close()

    def append(self, events: list[Event]) -> list[Event]:
        """Append ``events`` in one transaction; returns them with their id and time."""
        at = utc_now_text()
        stored = []
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for event in events:
                cursor = self._db.execute(
                    "INSERT INTO events (at, action, learner, part, by, old_points, new_points, "
                    "reason, result_id, run, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (at, event.action, event.learner, event.part, event.by, event.old_points,
                     event.new_points, event.reason, event.result_id, event.run,
                     json.dumps(event.detail, sort_keys=True, ensure_ascii=False,
                                allow_nan=False)))
                stored.append(dataclasses.replace(event, at=at, id=cursor.lastrowid))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return stored


def _migrate(path: Path) -> None:
    """A version 1 log becomes version 2 (whose CHECK admits ``penalty``), every row kept as it was.

    SQLite cannot change a CHECK in place: the rows are copied into a new file made with
    the current schema, which then replaces the old one in one rename (a kill leaves
    either file whole).
    """
    db = sqlite3.connect(path, timeout=30)
    try:
        row = db.execute("SELECT sql FROM sqlite_master WHERE type='table' AND name='events'").fetchone()
        if row is None or repr(PENALTY) in row[0]:
            return
        rows = db.execute("SELECT * FROM events ORDER BY id").fetchall()
    finally:
        db.close()
    fresh = path.with_name(f".{path.name}.v{SCHEMA_VERSION}")
    fresh.unlink(missing_ok=True)
    new = open_database(fresh, schema=_SCHEMA, version=SCHEMA_VERSION)
    try:
        new.execute("BEGIN IMMEDIATE")
        if rows:
            new.executemany(f"INSERT INTO events VALUES ({', '.join('?' * len(rows[0]))})", rows)
        new.execute("COMMIT")
    finally:
        new.close()
    os.replace(fresh, path)


def _event(row: sqlite3.Row) -> Event:
    values = {key: row[key] for key in row.keys()}
    values["detail"] = json.loads(values["detail"] or "{}")
    return Event(**values)
