"""Owner-only SQLite files whose commits survive a kill: the outbox, the corrections log and
the grading service's database.

Each holds what must never be lost or read by others (what was sent where; who changed a
grade and why; who submitted what, and their hashed tokens), so each opens its file the same way: created owner-only before SQLite
would create it under the umask, autocommit (each statement its own transaction unless the
caller opens one), ``synchronous=FULL`` so that a committed row is on disk before the
harness acts on it, and a schema applied idempotently with its version recorded.
"""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path


def open_database(path: Path, *, schema: str, version: int) -> sqlite3.Connection:
    """Open (creating owner-only) the SQLite file at ``path`` with ``schema`` applied.

    Raises :class:`sqlite3.DatabaseError` for a file that is not a usable database; the
    caller turns it into its own error, naming what the file is.
    """
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(schema)
        db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(version),))
    except sqlite3.DatabaseError:
        db.close()
        raise
    return db
