"""The roster and the learners' tokens: ``grader tokens issue|list|revoke``.

The instructor's roster is a CSV with a column ``email`` and, optionally,
``learner`` (the id results and the gradebook use; default: the email) and
``name``.  :func:`issue` gives each learner a random token (``secrets``, 192
bits), stores only its SHA-256 (a token is as random as a key, so a fast hash
is enough to make a stolen database useless) with an expiry, and writes the
tokens once, to an owner-only CSV for the instructor to send out.  Issuing
again replaces a learner's token; :func:`revoke` ends one at once.

:func:`authenticate` is what the service asks for every submission: the email
and the token the learner's ``grader.submit(email, token)`` sent.  A refusal is
a :class:`Refused` with the one line the learner reads.
"""
from __future__ import annotations

import csv
import datetime
import hashlib
import hmac
import io
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from ..exceptions import UsageError
from ..textutil import csv_text
from .policy import Refused
from .store import connect, iso, serve_folder, utc_now

DEFAULT_DAYS = 180


@dataclass(frozen=True)
class Learner:
    learner: str
    email: str
    name: str = ""
    issued_at: str | None = None
    expires_at: str | None = None
    revoked_at: str | None = None

    def state(self, now: datetime.datetime | None = None) -> str:
        now = now or utc_now()
        if self.revoked_at:
            return "revoked"
        if not self.issued_at:
            return "no token"
        if self.expires_at and datetime.datetime.fromisoformat(self.expires_at) <= now:
            return "expired"
        return "active"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def read_roster(path: Path) -> list[tuple[str, str, str]]:
    """(learner, email, name) per row of the roster CSV; a UsageError names what to fix."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UsageError(f"{path} does not exist: give the roster CSV (columns email, and optionally "
                         f"learner and name)", argument="roster", value=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path} cannot be read as a CSV file ({exc})", argument="roster",
                         value=str(path)) from None
    reader = csv.DictReader(io.StringIO(text))
    columns = {c.strip().lower(): c for c in reader.fieldnames or []}
    if "email" not in columns:
        raise UsageError(f"{path}: the roster needs a column email (found: "
                         f"{', '.join(reader.fieldnames or []) or 'nothing'})", argument="roster",
                         value=str(path))
    rows, seen = [], {}
    for number, row in enumerate(reader, start=2):
        email = (row.get(columns["email"]) or "").strip()
        if not email:
            continue
        if "@" not in email:
            raise UsageError(f"{path}, line {number}: {email!r} is not an email address",
                             argument="roster", value=str(path))
        learner = (row.get(columns.get("learner", ""), "") or "").strip() or email
        name = (row.get(columns.get("name", ""), "") or "").strip()
        for key, value in (("email", email.lower()), ("learner", learner)):
            if (key, value) in seen:
                raise UsageError(f"{path}, line {number}: {key} {value!r} is on line {seen[key, value]} "
                                 f"too", argument="roster", value=str(path))
            seen[key, value] = number
        rows.append((learner, email, name))
    if not rows:
        raise UsageError(f"{path}: the roster lists nobody", argument="roster", value=str(path))
    return rows


@dataclass(frozen=True)
class Issued:
    tokens_file: Path | None   # None when nobody got a token
    issued: list[str]
    kept: list[str]
    expires_at: str


def issue(roster: Path, *, out: Path, days: float = DEFAULT_DAYS, learners: list[str] | None = None,
          reissue: bool = False) -> Issued:
    """Add the roster's learners and give a token to each that has none active (``reissue``: to
    all, or to ``learners``); the tokens go to a new ``OUT/serve/tokens-TIME-RANDOM.csv``, owner-only."""
    if not days > 0:
        raise UsageError(f"--days must be above 0, got {days:g}", argument="days", value=days)
    rows = read_roster(roster)
    wanted = set(learners or [])
    unknown = wanted - {learner for learner, _, _ in rows} - {email for _, email, _ in rows}
    if unknown:
        raise UsageError(f"not on the roster {roster}: {', '.join(sorted(unknown))}", argument="learners",
                         value=sorted(unknown))
    now = utc_now()
    expires = iso(now + datetime.timedelta(days=days))
    db = connect(out)
    issued, kept, lines = [], [], []
    db.execute("BEGIN IMMEDIATE")
    try:
        for learner, email, name in rows:
            row = db.execute("SELECT * FROM learners WHERE learner=?", (learner,)).fetchone()
            clash = db.execute("SELECT learner FROM learners WHERE email=? AND learner<>?",
                               (email, learner)).fetchone()
            if clash is not None:
                raise UsageError(f"{email} is already the email of learner {clash['learner']}",
                                 argument="roster", value=str(roster))
            if row is None:
                db.execute("INSERT INTO learners (learner, email, name) VALUES (?, ?, ?)", (learner, email, name))
            else:
                db.execute("UPDATE learners SET email=?, name=? WHERE learner=?", (email, name, learner))
            current = _learner(db.execute("SELECT * FROM learners WHERE learner=?", (learner,)).fetchone())
            targeted = (not wanted or learner in wanted or email in wanted)
            if not targeted or (current.state(now) == "active" and not reissue):
                kept.append(learner)
                continue
            token = new_token()
            db.execute("UPDATE learners SET token_sha256=?, issued_at=?, expires_at=?, revoked_at=NULL "
                       "WHERE learner=?", (digest(token), iso(now), expires, learner))
            issued.append(learner)
            lines.append((learner, email, name, token, expires))
        tokens_file = _tokens_file(out, now, lines) if lines else None
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return Issued(tokens_file=tokens_file, issued=issued, kept=kept, expires_at=expires)


def issue_for(out: Path, learner: str, *, days: float = DEFAULT_DAYS) -> tuple[str, str, str]:
    """A new token for one learner already known (an LMS launch's), replacing theirs: (email, token,
    expiry).  Shown once, to that learner, on their page; stored hashed like every token."""
    db = connect(out)
    row = db.execute("SELECT * FROM learners WHERE learner=?", (learner,)).fetchone()
    if row is None:
        raise Refused(404, "You are not on this course's roster yet: open the assignment from the LMS first.",
                      code="not-found")
    now = utc_now()
    token, expires = new_token(), iso(now + datetime.timedelta(days=days))
    db.execute("UPDATE learners SET token_sha256=?, issued_at=?, expires_at=?, revoked_at=NULL WHERE learner=?",
               (digest(token), iso(now), expires, learner))
    return row["email"], token, expires


def new_token() -> str:
    """A learner's token: 192 random bits, URL-safe, never starting with ``-`` (a spreadsheet
    that opens the tokens file would read ``-abc`` as a formula and show an error instead)."""
    while True:
        token = secrets.token_urlsafe(24)
        if not token.startswith("-"):
            return token


def _tokens_file(out: Path, now: datetime.datetime, lines: list[tuple]) -> Path:
    """The tokens of one issue, in a new owner-only file: created exclusively (``O_EXCL``, mode 0600
    from the start) under a name no other issue has, so that two issues in one second never
    overwrite each other's file."""
    folder = serve_folder(out)
    folder.mkdir(parents=True, exist_ok=True)
    text = csv_text(["learner", "email", "name", "token", "expires_at"], lines,
                    text_columns=("learner", "email", "name"))
    while True:
        path = folder / f"tokens-{now.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}.csv"
        try:
            descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        return path


def _learner(row) -> Learner:
    return Learner(learner=row["learner"], email=row["email"], name=row["name"],
                   issued_at=row["issued_at"], expires_at=row["expires_at"], revoked_at=row["revoked_at"])


def roster(out: Path) -> list[Learner]:
    """Every learner of the service, with the state of their token."""
    return [_learner(row) for row in connect(out).execute("SELECT * FROM learners ORDER BY learner")]


def revoke(out: Path, who: list[str]) -> list[str]:
    """End the tokens of ``who`` (learner ids or emails) now; returns the learner ids."""
    db = connect(out)
    found = []
    db.execute("BEGIN IMMEDIATE")
    try:
        for name in who:
            row = db.execute("SELECT learner FROM learners WHERE learner=? OR email=?", (name, name)).fetchone()
            if row is None:
                raise UsageError(f"{name} is not a learner of this service (grader tokens list {out})",
                                 argument="learner", value=name)
            db.execute("UPDATE learners SET revoked_at=? WHERE learner=?", (iso(utc_now()), row["learner"]))
            found.append(row["learner"])
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return found


def authenticate(out: Path, email: str, token: str) -> Learner:
    """The learner whose email and token these are; :class:`Refused` (401) otherwise."""
    if not isinstance(email, str) or not email.strip() or not isinstance(token, str) or not token.strip():
        raise Refused(401, "The submission has no email or no token: call grader.submit(email, token) "
                           "with the email your instructor registered and the token you were sent.",
                      code="no-credentials")
    email, token = email.strip(), token.strip()
    db = connect(out)
    row = db.execute("SELECT * FROM learners WHERE email=?", (email,)).fetchone()
    if row is None:
        shown = email if len(email) <= 100 else email[:99] + "\u2026"   # a megabyte "email" is not echoed
        raise Refused(401, f"{shown} is not on this course's roster: use the email your instructor "
                           f"registered (the one your token was sent to).", code="unknown-email")
    learner = _learner(row)
    if not row["token_sha256"] or not hmac.compare_digest(row["token_sha256"], digest(token)):
        other = db.execute("SELECT learner FROM learners WHERE token_sha256=?", (digest(token),)).fetchone()
        if other is not None:
            raise Refused(403, f"This token was issued to another learner, not to {email}: submit with "
                               f"your own email and token.", code="other-learner")
        raise Refused(401, f"This is not the token issued for {email}: check it (copy it again from the "
                           f"message you were sent), or ask your instructor for a new one.",
                      code="wrong-token")
    state = learner.state()
    if state == "revoked":
        raise Refused(401, f"The token of {email} was revoked on {learner.revoked_at[:10]}: ask your "
                           f"instructor for a new one.", code="revoked")
    if state == "expired":
        raise Refused(401, f"The token of {email} expired on {learner.expires_at[:10]}: ask your "
                           f"instructor for a new one.", code="expired")
    return learner
