"""What the service asks of an LMS, and sends it: the roster (NRPS), line items, scores (AGS).

* **Roster** (LTI Names and Role Provisioning Services 2.0): :func:`sync_roster` reads a course's
  members from the ``context_memberships_url`` of its launches (all pages, ``Link: rel="next"``)
  and replaces what the service knew of that course: each member's roles and status
  (``Active``, ``Inactive``, ``Deleted``; a member missing from the latest roster counts as
  ``Deleted``), each LMS user mapped to a learner id (:func:`grader.serve.lti.learner_for`).  For a
  course taught from an LMS this is the roster: :func:`left_course` refuses the launches,
  uploads and submissions of a learner no longer active in any of their LMS courses.  Courses
  without an LMS keep the CSV roster and tokens (:mod:`grader.serve.tokens`).
* **Line items** (AGS 2.0): the gradebook column of an assignment in an LMS course is the one the
  deep-linking answer created (``resourceId`` = the assignment's id; :mod:`grader.serve.lti_app`),
  the one a launch names (``lineitem``), or the one the platform lists for that ``resource_id``
  (:func:`find_lineitem`); the service creates none of its own, so re-linking an assignment never
  makes a second column.
* **Scores**: :class:`GradeSync`, a thread of the service, posts every course's counting grades to
  their line items through the outbox of the assignment's results folder
  (:func:`grader.post.post_results`, destination ``lti``): recorded before sent, sent once per
  version, a correction or a late penalty a new version (with a later ``timestamp``, which AGS
  platforms take as the new result).  It runs after every grading and once a minute (corrections
  made with ``grader override`` meanwhile).
"""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

from .lti import Platform, find_platform, service_token
from .policy import Refused
from .store import close_connections, connect

NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
# Reading line items: the read-only scope, and the full one (a platform may grant either).
LINEITEM_SCOPES = ["https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
                   "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"]
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
MEMBERS_MEDIA = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
LINEITEMS_MEDIA = "application/vnd.ims.lis.v2.lineitemcontainer+json"
ROSTER_S = 300        # a course's roster is read again when older than this, at a launch
SYNC_S = 60           # grades are posted again this often (corrections made meanwhile)
MAX_PAGES = 200       # pages of a roster read at most (a platform that links pages in a loop)


def _get(session, url: str, token: str, accept: str):
    """GET a platform's service; :class:`Refused` (502) when the platform cannot be reached."""
    import requests

    try:
        return (session or requests).get(url, headers={"Authorization": f"Bearer {token}", "Accept": accept},
                                          timeout=15, allow_redirects=False)
    except requests.RequestException as exc:
        raise Refused(502, f"The LMS could not be reached ({type(exc).__name__}).", code="lms-down") from None


# --- the roster ----------------------------------------------------------------------------------

def sync_roster(out: Path, platform: Platform, context: str, url: str, *, session=None) -> int:
    """Read the course's members from the platform and record them; returns how many."""
    from .lti import LEARNER_ROLES, map_user

    token = service_token(out, platform, [NRPS_SCOPE], session=session)
    members, pages = [], 0
    while url and pages < MAX_PAGES:
        response = _get(session, url, token, MEMBERS_MEDIA)
        if response.status_code != 200:
            raise Refused(502, f"The LMS did not give this course's roster (HTTP {response.status_code}).",
                          code="lms-roster")
        data = response.json()
        members += [m for m in data.get("members", []) if isinstance(m, dict) and m.get("user_id")]
        url = (response.links.get("next") or {}).get("url") or data.get("next") or ""
        pages += 1
    db = connect(out)
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("UPDATE lti_members SET status='Deleted' WHERE issuer=? AND context=?", (platform.issuer, context))
        for member in members:
            sub, roles = str(member["user_id"]), [str(r) for r in member.get("roles") or []]
            db.execute("INSERT INTO lti_members (issuer, context, sub, roles, status, name, email) VALUES "
                       "(?, ?, ?, ?, ?, ?, ?) ON CONFLICT (issuer, context, sub) DO UPDATE SET roles=excluded.roles, "
                       "status=excluded.status, name=excluded.name, email=excluded.email",
                       (platform.issuer, context, sub, json.dumps(roles), str(member.get("status") or "Active"),
                        str(member.get("name") or ""), str(member.get("email") or "")))
            if {r.rsplit("#", 1)[-1].rsplit("/", 1)[-1] for r in roles} & LEARNER_ROLES:   # learners only
                map_user(db, platform.issuer, sub, email=str(member.get("email") or ""),
                         name=str(member.get("name") or ""))
        db.execute("UPDATE lti_contexts SET roster_synced_unix=? WHERE issuer=? AND context=?",
                   (time.time(), platform.issuer, context))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return len(members)


def roster_stale(out: Path, issuer: str, context: str) -> bool:
    row = connect(out).execute("SELECT roster_synced_unix FROM lti_contexts WHERE issuer=? AND context=?",
                               (issuer, context)).fetchone()
    return row is None or row["roster_synced_unix"] is None or row["roster_synced_unix"] < time.time() - ROSTER_S


def member_status(out: Path, issuer: str, context: str, sub: str) -> str | None:
    """The member's status in the course's last roster (None: no roster read yet)."""
    db = connect(out)
    synced = db.execute("SELECT roster_synced_unix FROM lti_contexts WHERE issuer=? AND context=?",
                        (issuer, context)).fetchone()
    if synced is None or synced["roster_synced_unix"] is None:
        return None
    row = db.execute("SELECT status FROM lti_members WHERE issuer=? AND context=? AND sub=?",
                     (issuer, context, sub)).fetchone()
    return row["status"] if row else "Deleted"


def left(title: str) -> Refused:
    return Refused(403, f"You are no longer a member of {title or 'this course'} in the LMS, so this service "
                        f"takes no more submissions from you. If this is a mistake, ask your instructor to "
                        f"enrol you again.", code="left-course")


def left_course(out: Path, learner: str) -> Refused | None:
    """The refusal of an LMS learner no longer active in any course of theirs whose roster is known
    (None for a learner of a CSV roster, or one still active somewhere)."""
    db = connect(out)
    rows = db.execute(
        "SELECT m.status, c.title, c.roster_synced_unix FROM lti_users u JOIN lti_members m ON m.issuer=u.issuer "
        "AND m.sub=u.sub JOIN lti_contexts c ON c.issuer=m.issuer AND c.context=m.context WHERE u.learner=?",
        (learner,)).fetchall()
    known = [r for r in rows if r["roster_synced_unix"] is not None]
    if not known or any(r["status"] == "Active" for r in rows):
        return None
    return left(known[0]["title"])


def record_member(out: Path, launch) -> None:
    """A launch says the user is in the course now (the roster, until the next read)."""
    connect(out).execute(
        "INSERT INTO lti_members (issuer, context, sub, roles, status, name, email) VALUES (?, ?, ?, ?, 'Active', ?, ?) "
        "ON CONFLICT (issuer, context, sub) DO UPDATE SET roles=excluded.roles, name=excluded.name, "
        "email=excluded.email", (launch.platform.issuer, launch.context, launch.sub, json.dumps(list(launch.roles)),
                                 launch.name, launch.email))


def roster(out: Path) -> list[dict]:
    """Every LMS course member the service knows, with their learner id (the instructor's page)."""
    return [dict(r) for r in connect(out).execute(
        "SELECT c.title AS course, m.sub, m.name, m.email, m.status, m.roles, u.learner FROM lti_members m "
        "JOIN lti_contexts c ON c.issuer=m.issuer AND c.context=m.context LEFT JOIN lti_users u ON "
        "u.issuer=m.issuer AND u.sub=m.sub ORDER BY c.title, m.name, m.sub")]


# --- line items ----------------------------------------------------------------------------------

def known_lineitem(out: Path, issuer: str, context: str, assignment: str) -> str:
    row = connect(out).execute("SELECT lineitem FROM lti_lineitems WHERE issuer=? AND context=? AND assignment=?",
                               (issuer, context, assignment)).fetchone()
    return row["lineitem"] if row else ""


def record_lineitem(out: Path, issuer: str, context: str, assignment: str, lineitem: str) -> None:
    connect(out).execute("INSERT INTO lti_lineitems (issuer, context, assignment, lineitem) VALUES (?, ?, ?, ?) "
                         "ON CONFLICT (issuer, context, assignment) DO UPDATE SET lineitem=excluded.lineitem",
                         (issuer, context, assignment, lineitem))


def _with_query(url: str, **params) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit(parts._replace(query=query))


def find_lineitem(out: Path, platform: Platform, lineitems_url: str, assignment: str, *, session=None) -> str:
    """The platform's line item of ``assignment`` in the course (``resource_id`` = its id), or ""."""
    if not lineitems_url:
        return ""
    token = service_token(out, platform, LINEITEM_SCOPES, session=session)
    response = _get(session, _with_query(lineitems_url, resource_id=assignment), token, LINEITEMS_MEDIA)
    if response.status_code != 200:
        return ""
    try:
        data = response.json()
    except ValueError:
        return ""
    items = data if isinstance(data, list) else data.get("content", []) if isinstance(data, dict) else []
    for item in items:
        if isinstance(item, dict) and item.get("resourceId") == assignment and item.get("id"):
            return str(item["id"])
    return ""


# --- scores --------------------------------------------------------------------------------------

class GradeSync(threading.Thread):
    """Posts the counting grades of every LMS course to its line items (see the module docstring).

    ``folders``: assignment id -> its results folder; ``log``: the service's log."""

    def __init__(self, out: Path, folders: dict[str, Path], log, *, interval: float = SYNC_S):
        super().__init__(name="grader-serve-lti-grades", daemon=True)
        self.out, self.folders, self.log, self.interval = Path(out), folders, log, interval
        self.wake, self.stopping = threading.Event(), threading.Event()
        self.rounds = 0

    def _corrected(self) -> tuple:
        """The corrections logs' state: a new override or rescore (``grader override`` run meanwhile)
        changes it, and the grades go out at once."""
        from ..corrections.log import LOG_FILE

        stamps = []
        for folder in self.folders.values():
            try:
                stamps.append((folder / LOG_FILE).stat().st_mtime_ns)
            except OSError:
                stamps.append(0)
        return tuple(stamps)

    def run(self) -> None:
        try:
            seen, due = self._corrected(), time.monotonic() + self.interval
            while not self.stopping.is_set():
                woken = self.wake.wait(1.0)
                now, corrected = time.monotonic(), self._corrected()
                if not (woken or corrected != seen or now >= due):
                    continue
                self.wake.clear()
                seen, due = corrected, now + self.interval
                if self.stopping.is_set():
                    break
                try:
                    self.post_all()
                except Exception as exc:  # noqa: BLE001 - a platform down: next round
                    self.log(f"LMS grades not posted this round: {type(exc).__name__}: {str(exc)[:200]}")
                self.rounds += 1
        finally:
            close_connections()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
        self.join(30)

    def post_all(self) -> None:
        from ..exceptions import GraderError
        from ..post.config import ConfigFile, Identity
        from ..post.send import post_results
        from .lti import identities, tool_key

        db = connect(self.out)
        items = db.execute("SELECT l.*, c.client_id FROM lti_lineitems l JOIN lti_contexts c ON "
                           "c.issuer=l.issuer AND c.context=l.context").fetchall()
        for item in items:
            folder = self.folders.get(item["assignment"])
            platform = find_platform(self.out, item["issuer"], item["client_id"])
            if folder is None or platform is None:
                continue
            subs = identities(self.out, platform.issuer)
            members = {r["sub"] for r in db.execute(
                "SELECT sub FROM lti_members WHERE issuer=? AND context=? AND status='Active'",
                (item["issuer"], item["context"]))}
            learners = {learner: Identity(learner=learner, lms_user_id=sub) for learner, sub in subs.items()
                        if sub in members}
            if not learners or not (folder / "results").is_dir():
                continue
            key = tool_key(self.out)
            try:
                report = post_results(folder, to="lti", config=ConfigFile(), learners=learners, only=set(learners),
                                      settings={"lineitem": item["lineitem"], "token_url": platform.token_url,
                                                "client_id": platform.client_id, "key_id": key.kid,
                                                "private_key_file": str(key.path)},
                                      retry={"attempts": 3, "base_delay": 0.5, "timeout": 15.0})
            except GraderError as exc:   # the outbox busy (a grader post), the platform refusing the tool
                self.log(f"LMS grades for {item['assignment']} not posted now: {exc}")
                continue
            sent = [o for o in report.outcomes if o.status == "sent" and not o.already_sent]
            if sent:
                self.log(f"posted {len(sent)} grade(s) of {item['assignment']} to the LMS "
                         f"({', '.join(o.learner for o in sent)})")


def lms_status(folder: Path, learner: str) -> dict | None:
    """Where the learner's grade stands with the LMS (the latest version): status, score, when.
    Read-only: a page never waits for the poster's transaction, nor writes to the outbox."""
    import sqlite3

    from ..post.outbox import OUTBOX_FILE

    path = folder / OUTBOX_FILE
    if not path.is_file():
        return None
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
    db.row_factory = sqlite3.Row
    try:
        latest = db.execute("SELECT * FROM deliveries WHERE destination='lti' AND learner=? "
                            "ORDER BY recorded_at DESC, seq DESC LIMIT 1", (learner,)).fetchone()
    except sqlite3.Error:
        return None
    finally:
        db.close()
    if latest is None:
        return None
    return {"status": latest["status"], "score": latest["score"], "max_score": latest["max_score"],
            "version": latest["seq"] + 1, "sent_at": latest["sent_at"] or "", "message": latest["message"]}
