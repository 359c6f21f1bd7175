"""The grading service's database: ``OUT/serve/serve.sqlite``, and where its files go.

One SQLite file holds the roster with the learners' token digests
(:mod:`grader.serve.tokens`) and the queue of submissions
(:mod:`grader.serve.queue`).  It is owner-only, in WAL mode with
``synchronous=FULL``: a submission the service answered "accepted" to is on
disk, whatever happens to the process next; WAL lets the pages read while a
submission is written.  Each thread opens its own connection (:func:`connect`).

Files of one submission live in ``OUT/serve/submissions/ID/`` (the notebook as
uploaded, its result, its progress events); the executed notebooks in
``OUT/serve/executed/``.
"""
from __future__ import annotations

import datetime
import os
import sqlite3
import threading
from pathlib import Path

from ..durable import open_database

SCHEMA_VERSION = 3   # 2: submissions.assignment (a service grades a course of assignments); 3: uploads

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS learners (
    learner TEXT PRIMARY KEY,              -- the id results and the gradebook use
    email TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name TEXT NOT NULL DEFAULT '',
    token_sha256 TEXT,                     -- sha256 of the learner's token (never the token)
    issued_at TEXT,
    expires_at TEXT,
    revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS submissions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, -- order of acceptance: the queue's order
    id TEXT NOT NULL UNIQUE,
    assignment TEXT NOT NULL DEFAULT '',   -- the assignment's id ('' in a database of version 1: the only one)
    learner TEXT NOT NULL,
    email TEXT NOT NULL,
    received_at TEXT NOT NULL,             -- the service's clock at acceptance, UTC
    received_unix REAL NOT NULL,
    file_name TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    attempt INTEGER NOT NULL,              -- 1, 2, ... per learner
    timing TEXT NOT NULL,                  -- on time | late
    late_by_s REAL NOT NULL DEFAULT 0,
    penalty REAL NOT NULL DEFAULT 0,       -- fraction of the points taken off
    view_key_sha256 TEXT NOT NULL,         -- the learner's page key, hashed
    state TEXT NOT NULL DEFAULT 'queued'   -- queued | running | done
        CHECK (state IN ('queued', 'running', 'done')),
    runs INTEGER NOT NULL DEFAULT 0,       -- gradings started (more than 1: the service restarted)
    started_at TEXT,
    finished_at TEXT,
    finished_unix REAL,
    status TEXT,                           -- the result's status when done
    total REAL,                            -- points as they count (penalty applied)
    max_total REAL,
    grading_key TEXT
);
CREATE INDEX IF NOT EXISTS submissions_by_state ON submissions (state, seq);
-- A committed submission's notebook until its file is on disk (grader/serve/queue.py: it is
-- recorded with the row, in the same transaction, and the file written after the answer).
CREATE TABLE IF NOT EXISTS uploads (id TEXT PRIMARY KEY, content BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS submissions_by_learner ON submissions (learner, seq);
-- LTI 1.3 (grader/serve/lti.py): the platforms the tool is registered with, the launches under way,
-- who an LMS user is here, which link grades into which line item, and the platform's roster.
CREATE TABLE IF NOT EXISTS lti_platforms (
    issuer TEXT NOT NULL,
    client_id TEXT NOT NULL,
    auth_url TEXT NOT NULL,                -- the platform's OIDC authorization endpoint
    jwks_url TEXT NOT NULL,                -- the platform's public keys
    token_url TEXT NOT NULL,               -- OAuth 2 token endpoint (AGS, NRPS)
    deployments TEXT NOT NULL DEFAULT '[]',-- JSON list of the deployment ids accepted
    origin TEXT NOT NULL,                  -- the LMS's web origin: the only one that may frame the pages
    added_at TEXT NOT NULL,
    PRIMARY KEY (issuer, client_id)
);
CREATE TABLE IF NOT EXISTS lti_states (
    state TEXT PRIMARY KEY,                -- sha256 of the state (never the state)
    nonce TEXT NOT NULL,
    issuer TEXT NOT NULL,
    client_id TEXT NOT NULL,
    created_unix REAL NOT NULL,
    used_unix REAL
);
CREATE TABLE IF NOT EXISTS lti_registration_tickets (
    ticket TEXT PRIMARY KEY,               -- sha256 of a dynamic registration's ticket (grader lti register)
    created_unix REAL NOT NULL,
    used_unix REAL
);
CREATE TABLE IF NOT EXISTS lti_nonces (nonce TEXT PRIMARY KEY, used_unix REAL NOT NULL);
CREATE TABLE IF NOT EXISTS lti_users (
    issuer TEXT NOT NULL,
    sub TEXT NOT NULL,                     -- the LMS's user id (AGS userId)
    learner TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (issuer, sub)
);
CREATE INDEX IF NOT EXISTS lti_users_by_learner ON lti_users (learner);
CREATE TABLE IF NOT EXISTS lti_contexts (
    issuer TEXT NOT NULL,
    context TEXT NOT NULL,                 -- the LMS course
    client_id TEXT NOT NULL,
    deployment TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    lineitems_url TEXT NOT NULL DEFAULT '',
    memberships_url TEXT NOT NULL DEFAULT '',
    roster_synced_unix REAL,
    PRIMARY KEY (issuer, context)
);
CREATE TABLE IF NOT EXISTS lti_lineitems (
    issuer TEXT NOT NULL,
    context TEXT NOT NULL,
    assignment TEXT NOT NULL,
    lineitem TEXT NOT NULL,                -- where this assignment's scores go in that course
    PRIMARY KEY (issuer, context, assignment)
);
CREATE TABLE IF NOT EXISTS lti_members (
    issuer TEXT NOT NULL,
    context TEXT NOT NULL,
    sub TEXT NOT NULL,
    roles TEXT NOT NULL DEFAULT '[]',
    status TEXT NOT NULL,                  -- Active | Inactive | Deleted (NRPS), or absent from the last roster
    name TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (issuer, context, sub)
);
"""


def serve_folder(out: Path) -> Path:
    return Path(out) / "serve"


def database_path(out: Path) -> Path:
    return serve_folder(out) / "serve.sqlite"


def submission_folder(out: Path, submission_id: str) -> Path:
    return serve_folder(out) / "submissions" / submission_id


def executed_folder(out: Path) -> Path:
    return serve_folder(out) / "executed"


_LOCAL = threading.local()


def connect(out: Path) -> sqlite3.Connection:
    """This thread's connection to ``out``'s service database (created on first use)."""
    cache = getattr(_LOCAL, "connections", None)
    if cache is None:
        cache = _LOCAL.connections = {}
    db = cache.get(str(out))   # as the caller names it: no system call (each one lets other threads in)
    if db is not None:
        return db
    path = database_path(out)
    key = str(path.resolve()) if path.exists() else str(path)
    db = cache.get(key)
    if db is not None:
        cache[str(out)] = db
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
        db = open_database(path, schema=_SCHEMA, version=SCHEMA_VERSION)
        _migrate(db)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA busy_timeout=30000")
        cache[str(path.resolve())] = cache[str(out)] = db
    return db


def _migrate(db: sqlite3.Connection) -> None:
    """Bring a database of an older service to this schema (columns are only added)."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(submissions)")}
    if "assignment" not in columns:
        db.execute("ALTER TABLE submissions ADD COLUMN assignment TEXT NOT NULL DEFAULT ''")
    db.execute("CREATE INDEX IF NOT EXISTS submissions_by_learner_assignment ON submissions (learner, assignment)")
    db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))


def close_connections() -> None:
    """Close this thread's connections (a thread that ends, a test)."""
    for db in set(getattr(_LOCAL, "connections", {}).values()):
        db.close()
    _LOCAL.connections = {}


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).isoformat(timespec="seconds")
