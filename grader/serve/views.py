"""What the service's pages and status answers show: a submission as its learner may see it,
and the class as the instructor sees it.

A submission's live progress comes from its grading's events (:mod:`grader.events`,
the very ones ``grader check`` shows), read back from its progress file; only what
a learner may see leaves here: cells, the kernel's state, each part's verdict with
its message, and values measured on data the assignment hides are left out, as on
the feedback page.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from ..report.table import gradebook_rows
from .queue import PROGRESS_FILE
from .store import connect, submission_folder

STATES = {"queued": "waiting to be graded", "running": "being graded", "done": "graded"}


def progress(out: Path, submission_id: str) -> dict:
    """The learner's view of a grading's events so far."""
    view = {"kernel": "", "cells_total": 0, "cells_done": 0, "cell": None, "errors": [], "parts": {},
            "elapsed": 0.0}
    path = submission_folder(out, submission_id) / PROGRESS_FILE
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return view
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue  # the line being written
        kind = event.get("event")
        view["elapsed"] = event.get("elapsed", view["elapsed"])
        if kind == "started":
            view["cells_total"] = event.get("cells", 0)
        elif kind == "kernel_starting":
            view["kernel"] = "starting"
        elif kind == "kernel_ready":
            view["kernel"] = "ready"
        elif kind == "cell_started":
            view["cell"] = {"number": event.get("number"), "first_line": event.get("first_line", "")}
        elif kind == "cell_finished":
            view["cells_done"] = max(view["cells_done"], event.get("number") or 0)
            if event.get("status") in ("error", "timeout") and event.get("error"):
                view["errors"].append(f"cell {event.get('number')}: {event.get('error')}")
        elif kind == "part_judged":
            part = event.get("part") or {}
            hidden = bool(part.get("hidden"))
            view["parts"][part.get("id")] = {
                "id": part.get("id"), "status": part.get("status"), "points": part.get("points"),
                "max_points": part.get("max_points"),
                "measured": None if hidden else part.get("measured"),
                "message": "This part was measured on hidden data." if hidden else part.get("message", "")}
    view["parts"] = list(view["parts"].values())
    return view


def submission(service, row) -> dict:
    """A submission's status for its learner (the page and ``GET /submissions/ID/status``)."""
    state = row["state"]
    data = {"id": row["id"], "learner": row["learner"], "file_name": row["file_name"],
            "received_at": row["received_at"], "attempt": row["attempt"], "timing": row["timing"],
            "penalty": row["penalty"], "state": state, "state_text": STATES[state],
            "position": service.queue.position(row), "assignment": service.slot(row).title,
            "assignment_id": service.slot(row).assignment.id}
    if state == "running":
        data["progress"] = progress(service.out, row["id"])
    if state == "done":
        data["result"] = {"status": row["status"], "total": row["total"], "max_total": row["max_total"]}
    return data


def instructor(service) -> dict:
    """Queue, throughput and recent submissions (``GET /instructor/status``)."""
    db = connect(service.out)
    now = time.time()
    counts = {"queued": 0, "running": 0, "done": 0, **service.counts()}
    per_assignment = {a: {"queued": 0, "running": 0, "done": 0} for a in service.slots}
    for row in db.execute("SELECT assignment, state, COUNT(*) FROM submissions GROUP BY assignment, state"):
        per_assignment.setdefault(row[0] or service.assignment.id, {})[row[1]] = row[2]
    recent = db.execute("SELECT COUNT(*), AVG(finished_unix - received_unix) FROM submissions "
                        "WHERE state='done' AND finished_unix > ?", (now - 600,)).fetchone()
    oldest = db.execute("SELECT MIN(received_unix) FROM submissions WHERE state='queued'").fetchone()[0]
    rows = db.execute("SELECT * FROM submissions ORDER BY seq DESC LIMIT 50").fetchall()
    return {
        "counts": counts, "workers": service.workers, "cluster": service.cluster or "",
        "per_minute": round((recent[0] or 0) / 10, 2),
        "turnaround_s": round(recent[1], 1) if recent[1] is not None else None,
        "oldest_wait_s": round(now - oldest, 1) if oldest else 0,
        "failure": f"{type(service.failure).__name__}: {service.failure}" if service.failure else "",
        "learners": db.execute("SELECT COUNT(*) FROM learners").fetchone()[0],
        "lms_roster": _lms_roster(service.out),
        "assignments": [{"id": a, "title": service.slots[a].title, **c} for a, c in per_assignment.items()
                        if a in service.slots],
        "recent": [{"id": r["id"], "assignment": r["assignment"] or service.assignment.id,
                    "learner": r["learner"], "received_at": r["received_at"],
                    "attempt": r["attempt"], "timing": r["timing"], "penalty": r["penalty"],
                    "state": r["state"], "status": r["status"] or "", "total": r["total"],
                    "max_total": r["max_total"]} for r in rows],
    }


def gradebook(service, assignment_id: str | None = None) -> tuple[list[str], list[dict]]:
    """An assignment's class gradebook so far, as its ``gradebook.csv`` has it (corrections applied)."""
    from ..corrections import Corrections

    assignment_id = assignment_id or service.assignment.id
    return gradebook_rows(service.results(assignment_id),
                          corrections=Corrections.load(service.folder_of(assignment_id)))


def _lms_roster(out: Path) -> list[dict]:
    """The LMS courses' members (NRPS), each with their learner id here and status there."""
    from .lti_services import roster

    return [{"course": r["course"], "learner": r["learner"] or "", "name": r["name"], "email": r["email"],
             "status": r["status"], "roles": ", ".join(x.rsplit("#", 1)[-1] for x in json.loads(r["roles"]))}
            for r in roster(out)]
