"""The outbox: a SQLite file in the results folder that remembers every score to post.

A score is *recorded* (``pending``) before anything is sent, and marked
``sent`` only after the destination confirmed it, each step committed on its
own.  So a harness killed at any moment leaves either a pending row (sent
again next time, with the same idempotency key) or a sent one (never sent
again).  A score the destination refused is ``failed`` (sent again only on
request); a pending or failed score replaced by a newer result for the same
learner and destination is ``superseded`` (never sent).

Keys.  A row's key - also the ``Idempotency-Key`` a receiver dedups on - is a
hash of the destination, its target (URL, line item, output file), the
learner, the result's digest and a sequence number.  The sequence number is
what makes a learner's grade going A -> B -> A post A a second time (it is a
new score event), while re-running ``grader post`` on an unchanged result
never creates a new key.

Versions.  Each row is one *version* of a learner's score at one destination
(``version`` = ``seq + 1``): a regrade, a rescore or an override that changes
the grade that counts (:mod:`grader.corrections`) records a new version with a new
key; retries of one version reuse its key.  ``change`` says what the version
is (``4/5: RMv95 overridden to 1 by lee``).

No secret is ever written here: targets are stored without query string or
credentials (the full target only as a hash), and messages are redacted by
the caller.  The file is created readable by its owner only (it holds learner
ids and scores).
"""
from __future__ import annotations

import fcntl
import hashlib
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from ..durable import open_database
from ..exceptions import PostError

OUTBOX_FILE = "outbox.sqlite"
SCHEMA_VERSION = 2   # 2: the change column (what a version of a score is)

PENDING, SENT, FAILED, SUPERSEDED = "pending", "sent", "failed", "superseded"
STATUSES = (PENDING, SENT, FAILED, SUPERSEDED)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (
    key TEXT PRIMARY KEY,              -- idempotency key
    destination TEXT NOT NULL,         -- coursera, webhook, gradescope, lti, ...
    target TEXT NOT NULL,              -- where to, shown to people (no query, no credentials)
    target_id TEXT NOT NULL,           -- sha256 of the full target
    learner TEXT NOT NULL,
    seq INTEGER NOT NULL,              -- 0, 1, ... per (destination, target, learner)
    result_file TEXT NOT NULL,         -- relative to the results folder
    result_digest TEXT NOT NULL,       -- grader.post.payload.result_digest
    score REAL NOT NULL,
    max_score REAL NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    http_status INTEGER,
    message TEXT NOT NULL DEFAULT '',
    recorded_at TEXT NOT NULL,         -- ISO 8601; also the score's timestamp in payloads
    last_attempt_at TEXT,
    sent_at TEXT,
    change TEXT NOT NULL DEFAULT '',   -- what this version is: the grade and its corrections
    UNIQUE (destination, target_id, learner, seq)
);
"""


@dataclass(frozen=True)
class Row:
    """One score for one destination, as the outbox holds it."""

    key: str
    destination: str
    target: str
    target_id: str
    learner: str
    seq: int
    result_file: str
    result_digest: str
    score: float
    max_score: float
    status: str
    attempts: int
    http_status: int | None
    message: str
    recorded_at: str
    last_attempt_at: str | None
    sent_at: str | None
    change: str = ""

    @property
    def version(self) -> int:
        """1 for a learner's first score at this destination and target, then 2, 3, ..."""
        return self.seq + 1


_COLUMNS = ", ".join(f.name for f in fields(Row))


def now_iso() -> str:
    """The current UTC time in ISO 8601 with milliseconds (LTI asks for sub-second precision)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def target_id(target: str) -> str:
    return hashlib.sha256(target.encode("utf-8")).hexdigest()


def delivery_key(*, destination: str, target: str, learner: str, digest: str, seq: int) -> str:
    """The idempotency key of one score event (stable across re-sends)."""
    text = "\0".join(["grader-post/1", destination, target_id(target), learner, digest, str(seq)])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Outbox:
    """The deliveries of one results folder. Use :meth:`open` (it also takes the folder's lock)."""

    def __init__(self, path: Path):
        self.path = path
        try:
            # Owner-only, and a commit is on disk before "sent" is believed (a killed harness
            # must find every row it committed).
            self._db = open_database(path, schema=_SCHEMA, version=SCHEMA_VERSION)
            _migrate(self._db)
        except sqlite3.DatabaseError as exc:
            raise PostError(f"{path}: the outbox cannot be opened: {exc}") from None

    @classmethod
    @contextmanager
    def open(cls, folder: str | Path, *, lock: bool = True) -> Iterator["Outbox"]:
        """The outbox of ``folder``, held exclusively for the duration of the block.

        The lock (``flock`` on ``outbox.sqlite.lock``) stops two ``grader post``
        runs from sending the same pending score at once; the kernel releases it
        when a process dies, so a killed run never leaves it stuck.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        handle = None
        if lock:
            handle = open(folder / (OUTBOX_FILE + ".lock"), "a+")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                raise PostError(f"another `grader post` is posting from {folder} right now; "
                                f"wait for it to finish") from None
        outbox = cls(folder / OUTBOX_FILE)
        try:
            yield outbox
        finally:
            outbox.close()
            if handle is not None:
                handle.close()

    def close(self) -> None:
        self._db.close()

    # --- recording ------------------------------------------------------------------------

    def record(self, *, destination: str, target: str, target_shown: str, learner: str,
               result_file: str, digest: str, score: float, max_score: float,
               change: str = "") -> Row:
        """Record a score as pending unless this very result is already the latest one.

        Returns the row that stands for the result (new, or the existing one in
        whatever state it is). Older pending or failed rows of the same learner and
        target become superseded: only the newest result is posted.
        """
        tid = target_id(target)
        self._db.execute("BEGIN IMMEDIATE")
        try:
            latest = self._db.execute(
                f"SELECT {_COLUMNS} FROM deliveries WHERE destination=? AND target_id=? AND "
                "learner=? ORDER BY seq DESC LIMIT 1", (destination, tid, learner)).fetchone()
            if latest is not None and latest["result_digest"] == digest:
                self._db.execute("COMMIT")
                return _row(latest)
            seq = latest["seq"] + 1 if latest is not None else 0
            self._db.execute(
                "UPDATE deliveries SET status=?, message=? WHERE destination=? AND target_id=? "
                "AND learner=? AND status IN (?, ?)",
                (SUPERSEDED, "replaced by a newer result before it was delivered",
                 destination, tid, learner, PENDING, FAILED))
            key = delivery_key(destination=destination, target=target, learner=learner,
                               digest=digest, seq=seq)
            self._db.execute(
                "INSERT INTO deliveries (key, destination, target, target_id, learner, seq, "
                "result_file, result_digest, score, max_score, status, recorded_at, change) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key, destination, target_shown, tid, learner, seq, result_file, digest,
                 score, max_score, PENDING, now_iso(), change))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return self.get(key)

    # --- state changes (each one committed at once) ----------------------------------------

    def mark_attempt(self, key: str) -> None:
        """Count an attempt *before* the request goes out."""
        self._db.execute("UPDATE deliveries SET attempts = attempts + 1, last_attempt_at=? "
                         "WHERE key=?", (now_iso(), key))

    def mark_sent(self, key: str, *, http_status: int | None, message: str) -> None:
        self._db.execute("UPDATE deliveries SET status=?, http_status=?, message=?, sent_at=? "
                         "WHERE key=?", (SENT, http_status, message, now_iso(), key))

    def mark_failed(self, key: str, *, http_status: int | None, message: str) -> None:
        self._db.execute("UPDATE deliveries SET status=?, http_status=?, message=? WHERE key=?",
                         (FAILED, http_status, message, key))

    def mark_pending(self, key: str, *, http_status: int | None, message: str) -> None:
        """Leave a score pending after transient trouble, with the last error."""
        self._db.execute("UPDATE deliveries SET status=?, http_status=?, message=? WHERE key=?",
                         (PENDING, http_status, message, key))

    def mark_superseded(self, key: str, *, message: str) -> None:
        self._db.execute("UPDATE deliveries SET status=?, message=? WHERE key=?",
                         (SUPERSEDED, message, key))

    # --- queries ---------------------------------------------------------------------------

    def get(self, key: str) -> Row:
        found = self._db.execute(f"SELECT {_COLUMNS} FROM deliveries WHERE key=?",
                                 (key,)).fetchone()
        if found is None:
            raise KeyError(key)
        return _row(found)

    def due(self, *, destination: str, target: str, retry_failed: bool = False) -> list[Row]:
        """Rows of this destination and target still to send, by learner."""
        statuses = (PENDING, FAILED) if retry_failed else (PENDING,)
        marks = ", ".join("?" * len(statuses))
        found = self._db.execute(
            f"SELECT {_COLUMNS} FROM deliveries WHERE destination=? AND target_id=? AND "
            f"status IN ({marks}) ORDER BY learner, seq", (destination, target_id(target), *statuses))
        return [_row(r) for r in found]

    def rows(self, *, destination: str | None = None, learner: str | None = None) -> list[Row]:
        """Every row (of one destination, of one learner), by destination, target, learner,
        newest last."""
        query = f"SELECT {_COLUMNS} FROM deliveries"
        conditions = [(name, value) for name, value in (("destination", destination),
                                                        ("learner", learner)) if value]
        params: tuple = tuple(value for _, value in conditions)
        if conditions:
            query += " WHERE " + " AND ".join(f"{name}=?" for name, _ in conditions)
        found = self._db.execute(query + " ORDER BY destination, target, learner, seq", params)
        return [_row(r) for r in found]

    def counts(self, *, destination: str | None = None) -> dict[str, int]:
        """How many rows are in each status."""
        counts = {status: 0 for status in STATUSES}
        for row in self.rows(destination=destination):
            counts[row.status] = counts.get(row.status, 0) + 1
        return counts


def _migrate(db: sqlite3.Connection) -> None:
    """Bring an outbox written by an older grader to this schema (columns are only added)."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(deliveries)")}
    if "change" not in columns:
        db.execute("ALTER TABLE deliveries ADD COLUMN change TEXT NOT NULL DEFAULT ''")
    db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))


def _row(found: sqlite3.Row) -> Row:
    return Row(**{name: found[name] for name in found.keys()})
